"""Make an int8 ranges table (the format of ``hkid_ocr/data/*_int8_ranges.json``) for a
PP-OCR recogniser from line crops.

Run once by a developer, not at install time: the table is shipped, and
``hkid_ocr.runtime.quantize_recognizer`` builds the int8 model from it on the user's
machine. The recipe is the small recogniser's (``data/rec_int8_ranges.json``); the
graph is prepared by the code that function uses (``runtime._prepared_for_int8``),
every tensor the recipe quantises is read over the crops, and each range is the
tensor's 0.01st to 99.99th percentile of a pooled sample (widened to take in 0). The
depthwise convolutions stay in fp32 (cheap there, and sensitive in int8).

The crops must not come from a corpus the engine is scored on. The draft recogniser's
table (``data/rec_draft_int8_ranges.json``) was made from the lines the fp32 draft read
on a generated corpus of seed 31 (80 cards)::

    python scripts/calibrate_int8.py --collect-draft /tmp/cal draft_lines.npz
    python scripts/calibrate_int8.py models/PP-OCRv6_rec_tiny.onnx draft_lines.npz \
        hkid_ocr/data/rec_draft_int8_ranges.json
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hkid_ocr.models import INT8_RANGES  # noqa: E402
from hkid_ocr.runtime import _int8_tensors, _prepared_for_int8  # noqa: E402

PERCENTILE = 99.99
SAMPLE = 20000  # values kept per tensor and crop


def collect_draft_lines(corpus_root: Path, out: Path, seed: int = 31, count: int = 80) -> int:
    """Generate the corpus (``seed``, ``count``) under ``corpus_root``, read it with the fp32
    draft recogniser, and save every line it drafted (preprocessed) to ``out``."""
    import hkid_ocr
    from benchmarks.synth.corpus import build_corpus
    recognize = importlib.import_module("hkid_ocr.recognize")  # the module (hkid_ocr.recognize is the function)
    from hkid_ocr.models import DRAFT_INT8_NAME, DRAFT_INT8_SIDECAR, default_model_dir

    folder, _ = build_corpus(corpus_root, seed, count, workers=2)
    # The engine as it reads by default, but with the fp32 draft: a model folder of links
    # to every file but the draft's int8 copy.
    models = tempfile.TemporaryDirectory()
    for f in default_model_dir().iterdir():
        if f.name not in (DRAFT_INT8_NAME, DRAFT_INT8_SIDECAR):
            (Path(models.name) / f.name).symlink_to(f.resolve())
    rec = hkid_ocr.Recognizer(hkid_ocr.RecognizerConfig(threads=1, model_dir=Path(models.name)))
    draft = rec._recognizer._draft
    if draft is None:
        raise SystemExit("the draft recogniser has not been fetched")
    lines: list[np.ndarray] = []
    read_one = recognize.TextRecognizer._read_one

    def keep(self, crop, key, model, classes):  # type: ignore[no-untyped-def]
        if model is draft:
            lines.append(self.preprocess([crop])[0][0])
        return read_one(self, crop, key, model, classes)

    recognize.TextRecognizer._read_one = keep  # type: ignore[method-assign]
    try:
        for path in sorted((folder / "images").glob("*.jpg")):
            try:
                rec.recognize(path)
            except hkid_ocr.RecognitionError:
                pass  # a card the engine cannot read gives no lines
    finally:
        recognize.TextRecognizer._read_one = read_one  # type: ignore[method-assign]
        models.cleanup()
    np.savez_compressed(out, *lines)
    print(f"{out}: {len(lines)} draft lines from {folder}")
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--collect-draft", nargs=2, metavar=("CORPUS_ROOT", "OUT.npz"),
                    help="make the calibration lines instead (see the module's notes)")
    ap.add_argument("model", nargs="?")
    ap.add_argument("crops", nargs="?")
    ap.add_argument("out", nargs="?")
    args = ap.parse_args(argv)
    if args.collect_draft:
        return collect_draft_lines(Path(args.collect_draft[0]), Path(args.collect_draft[1]))
    if not (args.model and args.crops and args.out):
        ap.error("MODEL, CROPS and OUT are required")
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper

    # The small recogniser's recipe; the nodes kept in fp32 are this model's own.
    recipe = {k: v for k, v in json.loads(INT8_RANGES.read_text(encoding="utf-8"))["recipe"].items()
              if k != "nodes_to_exclude"}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        prepared = _prepared_for_int8(onnx.load(args.model), recipe, tmp)
        depthwise = [n.name for n in prepared.graph.node if n.op_type == "Conv"
                     and next((a.i for a in n.attribute if a.name == "group"), 1) > 1]
        # Every tensor of those op types, the kept ones' too (as quantize_recognizer checks).
        need = sorted(_int8_tensors(prepared, recipe["op_types_to_quantize"]))
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
           "recipe": {**recipe, "nodes_to_exclude": depthwise}}
    Path(args.out).write_text(json.dumps(doc, indent=0, sort_keys=True) + "\n", encoding="utf-8")
    print(f"{args.out}: {len(ranges)} tensors from {len(data.files)} crops, "
          f"{len(depthwise)} depthwise convs kept in fp32")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
