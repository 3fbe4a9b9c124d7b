"""Portrait boxes: on the portrait whatever the card's rotation; absent when none is printed."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from conftest import specimen
from scenes import rotate_exact

from hkid_ocr.layout import TEMPLATES


def _portrait_centre_truth(name: str, turns: int) -> np.ndarray:
    """Centre of the template portrait in the turned image (the specimens fill the frame)."""
    img = specimen(name)
    h, w = img.shape[:2]
    x, y, pw, ph = TEMPLATES[name[9:13]].portrait
    c = np.array([(x + pw / 2) * w, (y + ph / 2) * h])
    for k in range(turns):
        hh = h if k % 2 == 0 else w
        c = np.array([hh - 1 - c[1], c[0]])
    return c


@pytest.mark.parametrize("name", ["specimen_2003.jpg", "specimen_2018.jpg"])
@pytest.mark.parametrize("turns", [0, 1, 2, 3])
def test_face_box_lands_on_the_portrait(recognizer, name, turns):
    scene = rotate_exact(specimen(name), turns)
    res = recognizer.recognize(scene.image)
    face = next(f for f in res.figure if f.type == "face")
    centre = np.array([face.box.x, face.box.y])
    assert np.linalg.norm(centre - _portrait_centre_truth(name, turns)) < 8
    # the face really is in that box: OpenCV's face detector finds one in the crop
    pts = np.array([[p.x, p.y] for p in face.points], np.float32)
    M = cv2.getPerspectiveTransform(pts, np.float32([[0, 0], [120, 0], [120, 160], [0, 160]]))
    crop = cv2.cvtColor(cv2.warpPerspective(scene.image, M, (120, 160)), cv2.COLOR_BGR2GRAY)
    cascade = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_default.xml")
    assert len(cascade.detectMultiScale(cv2.equalizeHist(crop), 1.1, 3, minSize=(30, 30))) >= 1
    # rotated card, rotated box: the angle follows the quarter turn
    assert abs(((face.box.angle - 90 * turns) + 180) % 360 - 180) < 3


def test_no_portrait_printed_gives_no_face(recognizer):
    img = specimen("specimen_2018.jpg").copy()
    h, w = img.shape[:2]
    x, y, pw, ph = TEMPLATES["2018"].portrait
    # paint the portrait area with the card's own background, as on a child's card
    x0, y0, x1, y1 = int(x * w) - 4, int(y * h) - 4, int((x + pw) * w) + 4, int((y + ph) * h) + 4
    img[y0:y1, x0:x1] = np.median(img[y0 - 10 : y0, x0:x1].reshape(-1, 3), axis=0)
    res = recognizer.recognize(img)
    assert not [f for f in res.figure if f.type == "face"]
