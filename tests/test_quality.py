"""Photocopy detection on the rectified card."""

from __future__ import annotations

import cv2
from conftest import specimen

from hkid_ocr.quality import card_chroma, is_photocopy


def test_colour_card_is_not_a_photocopy():
    for name in ("specimen_2003.jpg", "specimen_2018.jpg"):
        assert not is_photocopy(specimen(name))


def test_greyscale_copy_is_a_photocopy(recognizer):
    grey = cv2.cvtColor(cv2.cvtColor(specimen("specimen_2003.jpg"), cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
    assert is_photocopy(grey)
    assert card_chroma(grey) < card_chroma(specimen("specimen_2003.jpg"))
    res = recognizer.recognize(grey)
    assert res.ftype == 1 and any(w.code == "photocopy" for w in res.checks.warnings)


def test_recapture_score_sees_a_screen_grid(recognizer):
    """The specimen shown through a fine pixel grid scores far above the plain scan."""
    import numpy as np

    img = cv2.resize(specimen("specimen_2018.jpg"), None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC)
    from hkid_ocr.quality import RECAPTURE_THRESHOLD, recapture_score

    h, w = img.shape[:2]
    quad = np.array([[0, 0], [w, 0], [w, h], [0, h]], float)
    plain = recapture_score(img, quad)
    grid = img.astype(np.float32)
    grid[:, ::3] *= 0.55  # dark columns between screen pixels
    grid[::3, :] *= 0.7
    screen = recapture_score(np.clip(grid, 0, 255).astype(np.uint8), quad)
    assert plain < RECAPTURE_THRESHOLD <= screen
