"""Weights: verified against the manifest; missing or corrupt weights name the fetch command."""

from __future__ import annotations

import json
import shutil

import pytest
from conftest import DATA

import hkid_ocr
from hkid_ocr.models import (
    DET_NAME,
    DRAFT_DICT_NAME,
    DRAFT_INT8_NAME,
    DRAFT_NAME,
    FETCH_COMMAND,
    INT8_NAME,
    INT8_SIDECAR,
    REC_NAME,
    build_int8,
    default_model_dir,
    resolve_models,
    sha256_of,
)


def test_bundled_weights_verify():
    files = resolve_models()
    assert files.rec.name == REC_NAME and files.det.name == DET_NAME


def test_manifest_file_matches_package_manifest():
    from hkid_ocr.models import _MANIFEST

    sums = (default_model_dir() / "SHA256SUMS").read_text().split("\n")
    listed = dict(reversed(line.split()) for line in sums if line.strip())
    assert listed == _MANIFEST


def test_missing_weights_raise_model_error(tmp_path):
    with pytest.raises(hkid_ocr.ModelError) as info:
        hkid_ocr.Recognizer(hkid_ocr.RecognizerConfig(model_dir=tmp_path))
    assert FETCH_COMMAND in str(info.value) and info.value.code == "modelUnavailable"


def test_corrupt_weights_raise_model_error(tmp_path):
    src = resolve_models()
    shutil.copy(src.det, tmp_path / DET_NAME)
    data = bytearray(src.rec.read_bytes())
    data[1000] ^= 0xFF
    (tmp_path / REC_NAME).write_bytes(bytes(data))
    with pytest.raises(hkid_ocr.ModelError) as info:
        resolve_models(tmp_path)
    assert "sha256" in str(info.value)
    assert sha256_of(tmp_path / DET_NAME) == sha256_of(src.det)


def _fp32_copy(tmp_path):
    src = resolve_models()
    for p in (src.rec, src.det):
        shutil.copy(p, tmp_path / p.name)
    return tmp_path


def test_int8_recogniser_is_built_from_the_verified_model_and_checked(tmp_path):
    root = _fp32_copy(tmp_path)
    assert resolve_models(root).rec_int8 is None  # not built yet
    built = build_int8(root, quiet=True)
    files = resolve_models(root)
    assert files.rec_int8 == built
    meta = json.loads((root / INT8_SIDECAR).read_text())
    assert meta["source"] == sha256_of(root / REC_NAME) and meta["sha256"] == sha256_of(built)
    # Same inputs, same bytes: the build is a pure function of the two files.
    first = sha256_of(built)
    build_int8(root, quiet=True)
    assert sha256_of(root / INT8_NAME) == first
    # It keeps the dictionary, so it can read on its own.
    rec = hkid_ocr.Recognizer(hkid_ocr.RecognizerConfig(model_dir=root, int8=True))
    assert rec.recognize(str(DATA / "specimen_2003.jpg")).data.idNumber == "C668668(E)"


def test_altered_or_stale_int8_file_is_not_used(tmp_path):
    root = _fp32_copy(tmp_path)
    built = build_int8(root, quiet=True)
    data = bytearray(built.read_bytes())
    data[-100] ^= 0xFF
    built.write_bytes(bytes(data))
    assert resolve_models(root).rec_int8 is None
    build_int8(root, quiet=True)
    meta = json.loads((root / INT8_SIDECAR).read_text())
    meta["ranges"] = "0" * 64  # built from another ranges table
    (root / INT8_SIDECAR).write_text(json.dumps(meta))
    assert resolve_models(root).rec_int8 is None


def test_int8_required_but_missing_names_the_fetch_command(tmp_path):
    root = _fp32_copy(tmp_path)
    with pytest.raises(hkid_ocr.ModelError) as info:
        hkid_ocr.Recognizer(hkid_ocr.RecognizerConfig(model_dir=root, int8=True))
    assert FETCH_COMMAND in str(info.value)
    # Without the int8 file, the default reads everything at full precision.
    rec = hkid_ocr.Recognizer(hkid_ocr.RecognizerConfig(model_dir=root))
    assert rec.recognize(str(DATA / "specimen_2018.jpg")).data.idNumber == "C668668(E)"


def test_ranges_that_do_not_fit_the_graph_are_refused(tmp_path):
    from hkid_ocr.runtime import quantize_recognizer

    bad = _edited_ranges(tmp_path, lambda doc: doc["ranges"].update(no_such_tensor=[0.0, 1.0]))
    with pytest.raises(hkid_ocr.ModelError, match="does not fit"):
        quantize_recognizer(resolve_models().rec, tmp_path / "x.onnx", bad)
    assert not (tmp_path / "x.onnx").exists()


def _edited_ranges(tmp_path, edit):
    """A copy of the shipped int8 ranges table, changed in place by ``edit(doc)``."""
    from hkid_ocr.models import INT8_RANGES

    doc = json.loads(INT8_RANGES.read_text())
    edit(doc)
    out = tmp_path / "ranges.json"
    out.write_text(json.dumps(doc))
    return out


def _gelu_ops(path):
    import onnx

    return {n.op_type for n in onnx.load(str(path)).graph.node if "Gelu" in n.op_type}


def test_int8_recipe_picks_the_gelu_form(tmp_path):
    """The shipped recipe fuses GELU into FastGelu (its tanh form); "erf" gives Gelu. On a
    synthetic line of strokes both builds pick the same class in every frame, and on
    average the tanh form moves the scores less than int8 itself moves them."""
    import numpy as np

    from hkid_ocr.models import INT8_RANGES
    from hkid_ocr.runtime import OnnxModel, quantize_recognizer

    assert json.loads(INT8_RANGES.read_text())["recipe"]["gelu"] == "tanh"
    fast = tmp_path / "fast.onnx"
    quantize_recognizer(resolve_models().rec, fast, INT8_RANGES)
    erf_ranges = _edited_ranges(tmp_path, lambda doc: doc["recipe"].update(gelu="erf"))
    exact = tmp_path / "erf.onnx"
    quantize_recognizer(resolve_models().rec, exact, erf_ranges)
    assert _gelu_ops(fast) == {"FastGelu"} and _gelu_ops(exact) == {"Gelu"}
    # A text line: dark strokes on a light ground, normalised as the recogniser does.
    rng = np.random.default_rng(0)
    line = np.full((1, 3, 48, 160), 0.9, np.float32)
    for x0 in range(8, 150, 14):
        line[:, :, 12:36, x0:x0 + 6] = -0.9
    line += rng.normal(0, 0.05, line.shape).astype(np.float32)
    p_fast = OnnxModel(fast, 1).run(line)[0]
    p_exact = OnnxModel(exact, 1).run(line)[0]
    p_fp32 = OnnxModel(resolve_models().rec, 1).run(line)[0]
    assert p_fast.shape == p_exact.shape == p_fp32.shape
    assert np.array_equal(p_fast.argmax(axis=1), p_exact.argmax(axis=1))
    # On average the tanh form moves the scores less than int8 itself moves them from fp32.
    assert float(np.abs(p_fast - p_exact).mean()) < float(np.abs(p_exact - p_fp32).mean())


def test_unknown_gelu_form_is_refused(tmp_path):
    from hkid_ocr.runtime import quantize_recognizer

    bad = _edited_ranges(tmp_path, lambda doc: doc["recipe"].update(gelu="sigmoid"))
    with pytest.raises(hkid_ocr.ModelError, match="GELU form"):
        quantize_recognizer(resolve_models().rec, tmp_path / "x.onnx", bad)
    assert not (tmp_path / "x.onnx").exists()


def test_draft_recogniser_is_used_only_when_both_its_files_match_the_manifest(tmp_path):
    src = resolve_models()
    if src.rec_draft is None or src.rec_draft_dict is None:
        pytest.skip("the draft recogniser has not been fetched")
    root = _fp32_copy(tmp_path)
    assert resolve_models(root).rec_draft is None  # not there
    shutil.copy(src.rec_draft, root / DRAFT_NAME)
    assert resolve_models(root).rec_draft is None  # its dictionary is missing: neither is used
    shutil.copy(src.rec_draft_dict, root / DRAFT_DICT_NAME)
    files = resolve_models(root)
    assert (files.rec_draft, files.rec_draft_dict) == (root / DRAFT_NAME, root / DRAFT_DICT_NAME)
    # A dictionary edited in place (same size): the model would read the wrong characters.
    text = (root / DRAFT_DICT_NAME).read_text(encoding="utf-8")
    (root / DRAFT_DICT_NAME).write_text(text.replace("A", "B", 1), encoding="utf-8")
    files = resolve_models(root)
    assert files.rec_draft is None and files.rec_draft_dict is None


def test_draft_int8_copy_is_built_from_the_verified_draft_and_checked(tmp_path):
    from hkid_ocr.models import DRAFT_INT8_SIDECAR

    src = resolve_models()
    if src.rec_draft is None or src.rec_draft_dict is None:
        pytest.skip("the draft recogniser has not been fetched")
    root = _fp32_copy(tmp_path)
    with pytest.raises(hkid_ocr.ModelError, match="missing"):
        build_int8(root, quiet=True, draft=True)  # no draft to build it from
    shutil.copy(src.rec_draft, root / DRAFT_NAME)
    shutil.copy(src.rec_draft_dict, root / DRAFT_DICT_NAME)
    assert resolve_models(root).rec_draft_int8 is None  # not built yet
    built = build_int8(root, quiet=True, draft=True)
    assert built == root / DRAFT_INT8_NAME and resolve_models(root).rec_draft_int8 == built
    meta = json.loads((root / DRAFT_INT8_SIDECAR).read_text())
    assert meta["source"] == sha256_of(root / DRAFT_NAME) and meta["sha256"] == sha256_of(built)
    first = sha256_of(built)
    build_int8(root, quiet=True, draft=True)
    assert sha256_of(built) == first  # a pure function of its two inputs
    # The recognizer drafts with it, unless int8 is off; and it reads.
    rec = hkid_ocr.Recognizer(hkid_ocr.RecognizerConfig(model_dir=root))
    assert rec._recognizer._draft.name.startswith("PP-OCRv6_rec_tiny.int8")
    assert rec.recognize(str(DATA / "specimen_2018.jpg")).data.birthDate == "01-01-1988"
    fp32 = hkid_ocr.Recognizer(hkid_ocr.RecognizerConfig(model_dir=root, int8=False))
    assert fp32._recognizer._draft.name.startswith("PP-OCRv6_rec_tiny.narrow")
    # Altered, or its draft no longer there: not used.
    data = bytearray(built.read_bytes())
    data[-100] ^= 0xFF
    built.write_bytes(bytes(data))
    assert resolve_models(root).rec_draft_int8 is None
    build_int8(root, quiet=True, draft=True)
    (root / DRAFT_DICT_NAME).unlink()
    assert resolve_models(root).rec_draft_int8 is None


def test_draft_required_but_missing_names_the_fetch_command(tmp_path):
    root = _fp32_copy(tmp_path)
    with pytest.raises(hkid_ocr.ModelError) as info:
        hkid_ocr.Recognizer(hkid_ocr.RecognizerConfig(model_dir=root, draft=True))
    assert FETCH_COMMAND in str(info.value) and "draft" in str(info.value)
    # By default a recognizer without it reads every line with the main model.
    assert hkid_ocr.Recognizer(hkid_ocr.RecognizerConfig(model_dir=root))._recognizer.drafted == frozenset()
