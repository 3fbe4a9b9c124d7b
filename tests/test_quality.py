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
