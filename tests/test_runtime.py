"""The ONNX runtime module: the narrowed recogniser's graph edit, the denormal weights
zeroed, and a start-up that does not import the onnx package."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np

from hkid_ocr.models import resolve_models
from hkid_ocr.runtime import OnnxModel, dictionary, narrow_recognizer, without_denormals

REPO = Path(__file__).resolve().parent.parent


def test_narrowing_slices_the_head_as_onnx_s_own_helpers_read_it() -> None:
    # Edited through the protobuf schema alone: checked against the onnx package's own
    # reading of both files, for the fp32 model and the int8 one (quantised head).
    import onnx
    from onnx import numpy_helper

    files = resolve_models()
    for path in (files.rec, files.rec_int8):
        assert path is not None
        before, after = onnx.load(str(path)), onnx.load_from_string(narrow_recognizer(path, "0123456789-"))
        chars = dictionary({p.key: p.value for p in before.metadata_props}["character"])
        n = len(chars) + 2
        keep = [0] + [i + 1 for i, c in enumerate(chars) if c in set("0123456789-")] + [n - 1]
        old = {t.name: numpy_helper.to_array(t) for t in before.graph.initializer}
        new = {t.name: numpy_helper.to_array(t) for t in after.graph.initializer}
        assert old.keys() == new.keys()
        sliced = [k for k in old if old[k].ndim and old[k].shape[-1] == n]
        assert len(sliced) >= 2  # the class layer's weight and bias at least
        for k in old:
            want = old[k][..., keep] if k in sliced else old[k]
            assert new[k].dtype == old[k].dtype and np.array_equal(new[k], want), k
        assert [nd.SerializeToString() for nd in after.graph.node] == [
            nd.SerializeToString() for nd in before.graph.node
        ]
        kept = {p.key: p.value for p in after.metadata_props}["character"].split("\n")
        assert kept == list("-0123456789")


def test_a_recognizer_starts_without_importing_onnx() -> None:
    # Importing onnx costs ~0.6 s (its ml_dtypes): a fresh process reads a card without
    # it, and can still import onnx afterwards (the same schema registered twice).
    code = (
        "import sys, hkid_ocr\n"
        "rec = hkid_ocr.Recognizer()\n"
        "r = rec.recognize('tests/data/specimen_2003.jpg')\n"
        "print(r.data.idNumber, 'onnx' in sys.modules, 'ml_dtypes' in sys.modules)\n"
        "import onnx\n"
        "from hkid_ocr.models import resolve_models\n"
        "print(len(onnx.load(str(resolve_models().rec)).graph.node) > 0)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["C668668(E)", "False", "False", "True"]


def _tiny_conv(tmp_path: Path, weight: np.ndarray) -> Path:
    """A one-layer model (a 1x1 conv, no bias) with ``weight`` of shape (out, in, 1, 1)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    out_c, in_c = weight.shape[:2]
    graph = helper.make_graph(
        [helper.make_node("Conv", ["x", "w"], ["y"])], "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, in_c, 4, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, out_c, 4, 4])],
        [numpy_helper.from_array(weight.astype(np.float32), "w")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    path = tmp_path / "tiny.onnx"
    onnx.save(model, str(path))
    return path


def test_denormal_weights_are_zeroed_and_nothing_else_changes(tmp_path: Path) -> None:
    import onnx
    from onnx import numpy_helper

    rng = np.random.default_rng(0)
    w = rng.normal(size=(6, 5, 1, 1)).astype(np.float32)
    tiny = np.float32(np.finfo(np.float32).tiny)
    w[0, :3] = tiny / 8  # denormal
    w[1, 0] = -tiny / 1024  # denormal, negative
    w[2, 0] = tiny  # the smallest normal number: kept
    w[3, 0] = 0.0
    path = _tiny_conv(tmp_path, w)
    flushed = without_denormals(path)
    assert flushed is not None
    got = numpy_helper.to_array(onnx.load_from_string(flushed).graph.initializer[0])
    want = w.copy()
    want[0, :3] = 0.0
    want[1, 0] = 0.0
    assert got.dtype == np.float32 and np.array_equal(got, want)
    assert np.signbit(got[1, 0]) == np.False_  # a plain zero, not a sign kept from the denormal
    # The model still runs and computes the same function as with the tiny weights (their
    # products vanish next to the others).
    x = rng.normal(size=(1, 5, 4, 4)).astype(np.float32)
    y0 = OnnxModel(path, 1).run(x)
    y1 = OnnxModel(path, 1, source=flushed).run(x)
    assert np.allclose(y0, y1, rtol=0, atol=1e-6)
    # A model with none is left alone (loaded from its file as it is).
    assert without_denormals(_tiny_conv(tmp_path, want)) is None


def test_a_model_with_external_weights_is_left_to_load_from_its_path(tmp_path: Path) -> None:
    # Its weights are in a file beside it, which onnxruntime finds only from the model's path.
    import onnx

    w = np.full((2, 3, 1, 1), np.finfo(np.float32).tiny / 8, np.float32)
    model = onnx.load(str(_tiny_conv(tmp_path, w)))
    ext = tmp_path / "ext"
    ext.mkdir()
    onnx.save(model, str(ext / "tiny.onnx"), save_as_external_data=True, location="tiny.data", size_threshold=0)
    assert (ext / "tiny.data").is_file()
    assert without_denormals(ext / "tiny.onnx") is None
    x = np.ones((1, 3, 4, 4), np.float32)
    assert OnnxModel(ext / "tiny.onnx", 1).run(x).shape == (1, 2, 4, 4)


def test_the_detector_s_denormal_weights_are_zeroed_and_its_maps_stay_the_same() -> None:
    # The reason for the edit (see runtime.without_denormals): if a later detector has
    # none, the edit is a no-op and this test says so.
    import cv2
    import onnx
    from onnx import numpy_helper

    det = resolve_models().det
    flushed = without_denormals(det)
    assert flushed is not None
    tiny = np.finfo(np.float32).tiny
    before = {t.name: numpy_helper.to_array(t) for t in onnx.load(str(det)).graph.initializer}
    after = {t.name: numpy_helper.to_array(t) for t in onnx.load_from_string(flushed).graph.initializer}
    assert before.keys() == after.keys()
    zeroed = 0
    for k, a in before.items():
        if a.dtype != np.float32:
            assert np.array_equal(after[k], a), k
            continue
        small = (a != 0) & (np.abs(a) < tiny)
        zeroed += int(small.sum())
        assert np.array_equal(after[k], np.where(small, np.float32(0), a)), k
    assert zeroed > 100_000
    # The maps are the same, bit for bit, at the engine's sizes (screening, finer look, card).
    from hkid_ocr.textmap import TextDetector

    card = cv2.imread(str(REPO / "tests" / "data" / "specimen_2003.jpg"))
    plain, zeroed_model = TextDetector(OnnxModel(det, 1)), TextDetector(OnnxModel(det, 1, source=flushed))
    for size in ((256, 160), (416, 256), (512, 320)):
        x = cv2.resize(card, size, interpolation=cv2.INTER_AREA)
        assert np.array_equal(plain.probability([x])[0], zeroed_model.probability([x])[0]), size
