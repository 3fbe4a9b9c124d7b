"""The ONNX runtime module: the narrowed recogniser's graph edit, and a start-up that does
not import the onnx package."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np

from hkid_ocr.models import resolve_models
from hkid_ocr.runtime import dictionary, narrow_recognizer

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
