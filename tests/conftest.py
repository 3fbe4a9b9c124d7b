"""Shared fixtures: the specimens with their truth, and one recognizer per session."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

DATA = Path(__file__).parent / "data"
sys.path.insert(0, str(Path(__file__).parent))  # tests/scenes.py

SPECIMENS = ("specimen_2003.jpg", "specimen_2018.jpg")


@pytest.fixture(scope="session")
def truth() -> dict:
    return json.loads((DATA / "truth.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def recognizer():
    import hkid_ocr

    return hkid_ocr.Recognizer()


def specimen(name: str) -> np.ndarray:
    img = cv2.imread(str(DATA / name))
    assert img is not None, name
    return img


def corner_error(slice_rect: dict, corners: np.ndarray) -> float:
    """Largest corner distance between sliceRect and the truth, over the card diagonal."""
    q = np.array([[slice_rect[f"x{i}"], slice_rect[f"y{i}"]] for i in range(4)], float)
    return float(np.linalg.norm(q - corners, axis=1).max() / np.linalg.norm(corners[2] - corners[0]))
