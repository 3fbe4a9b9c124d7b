"""Make an int8 ranges table (the format of ``hkid_ocr/data/*_int8_ranges.json``) for a
PP-OCR recogniser from line crops.

Run once by a developer, not at install time: the table is shipped, and
``hkid_ocr.runtime.quantize_recognizer`` builds the int8 model from it on the user's
machine. The graph is prepared exactly as that function prepares it (opset 17,
onnxruntime's quantisation pre-processing, GELU fused), every tensor the recipe
quantises is read over the crops, and each range is the tensor's 0.01st to 99.99th
percentile of a pooled sample (widened to take in 0). The depthwise convolutions stay
in fp32 (cheap there, and sensitive in int8).

The crops must not come from a corpus the engine is scored on: generate a corpus of
its own seed (``benchmarks.synth.corpus.build_corpus``) and collect the crops the
engine reads from it (an .npz of preprocessed (3, 48, W) float32 arrays).

Usage:
    python scripts/calibrate_int8.py MODEL.onnx CROPS.npz OUT.json [--dictionary DICT.txt]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hkid_ocr.runtime import _fuse_gelu  # noqa: E402

RECIPE = {
    "activation_type": "QUInt8",
    "extra_options": {},
    "fuse_gelu": True,
    "gelu": "tanh",
    "op_types_to_quantize": ["Conv", "MatMul"],
    "opset": 17,
    "per_channel": True,
    "quant_format": "QDQ",
    "weight_type": "QInt8",
}
PERCENTILE = 99.99
SAMPLE = 20000  # values kept per tensor and crop


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model")
    ap.add_argument("crops")
    ap.add_argument("out")
    args = ap.parse_args(argv)
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper, version_converter
    from onnxruntime.quantization.shape_inference import quant_pre_process

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        onnx.save(version_converter.convert_version(onnx.load(args.model), RECIPE["opset"]), str(tmp / "op17.onnx"))
        quant_pre_process(str(tmp / "op17.onnx"), str(tmp / "pre.onnx"), skip_symbolic_shape=True)
        prepared = onnx.load(str(tmp / "pre.onnx"))
        _fuse_gelu(prepared, RECIPE["gelu"])
        inits = {i.name: i for i in prepared.graph.initializer}
        depthwise = [n.name for n in prepared.graph.node if n.op_type == "Conv"
                     and next((a.i for a in n.attribute if a.name == "group"), 1) > 1]
        # Every tensor of those op types, the kept ones' too (as quantize_recognizer checks).
        need = sorted({t for n in prepared.graph.node if n.op_type in RECIPE["op_types_to_quantize"]
                       for t in [*n.input[:1], *n.output]} - set(inits))
        outputs = {o.name for o in prepared.graph.output}
        for t in need:
            if t not in outputs:
                prepared.graph.output.append(helper.make_tensor_value_info(t, TensorProto.FLOAT, None))
        onnx.save(prepared, str(tmp / "exposed.onnx"))
        session = ort.InferenceSession(str(tmp / "exposed.onnx"), providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    first = session.get_inputs()[0].name
    data = np.load(args.crops)
    rng = np.random.default_rng(0)
    pool: dict[str, list[np.ndarray]] = {t: [] for t in need}
    for key in data.files:
        x = data[key].astype(np.float32)[None]
        values = dict(zip(names, session.run(None, {first: x})))
        values.setdefault(first, x)
        for t in need:
            flat = np.asarray(values[t]).ravel()
            pool[t].append(rng.choice(flat, size=min(flat.size, SAMPLE), replace=False))
    ranges = {}
    for t in need:
        lo, hi = np.percentile(np.concatenate(pool[t]), [100 - PERCENTILE, PERCENTILE])
        ranges[t] = [float(min(lo, 0.0)), float(max(hi, 0.0))]
    doc = {"format": "hkid_ocr-int8-ranges/1", "calibration_method": "Percentile", "ranges": ranges,
           "recipe": {**RECIPE, "nodes_to_exclude": depthwise}}
    Path(args.out).write_text(json.dumps(doc, indent=0, sort_keys=True) + "\n", encoding="utf-8")
    print(f"{args.out}: {len(ranges)} tensors from {len(data.files)} crops, {len(depthwise)} depthwise convs kept in fp32")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
