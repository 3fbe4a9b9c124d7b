"""Weights: verified against the manifest; missing or corrupt weights name the fetch command."""

from __future__ import annotations

import shutil

import pytest

import hkid_ocr
from hkid_ocr.models import DET_NAME, FETCH_COMMAND, REC_NAME, default_model_dir, resolve_models, sha256_of


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
