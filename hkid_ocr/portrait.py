"""The portrait boxes (the cloud's ``figure``) in original-image coordinates.

The design's template says where the portrait sits on the upright card; the box is
carried to the original image through the card homography, so a rotated or tilted
card gives a rotated box, reported as an OpenCV RotatedRect like the cloud does.

Whether a portrait is printed at all (cards of children under 11 may have none) is
decided on the upright portrait area: OpenCV's frontal-face Haar cascade finds a face,
or the area holds the dark masses of hair and clothing that the card's pale
background never has.
"""

from __future__ import annotations

import threading

import cv2
import numpy as np

from .layout import TEMPLATES
from .rectify import map_points
from .schema import Figure, Point, RotatedBox
from .types import CardView

__all__ = ["figures", "has_portrait", "portrait_crop", "quad_to_figure"]

_local = threading.local()
# A portrait shows dark hair, eyes or clothes: at least this share of its area is much
# darker than the card around it.
_DARK_SHARE = 0.06


def _face_cascade() -> "cv2.CascadeClassifier | None":
    # One classifier per thread: detectMultiScale is not documented as thread-safe.
    if not hasattr(_local, "cascade"):
        cascade = None
        data = getattr(cv2, "data", None)
        if data is not None and hasattr(cv2, "CascadeClassifier"):
            c = cv2.CascadeClassifier(str(data.haarcascades) + "haarcascade_frontalface_default.xml")
            cascade = None if c.empty() else c
        _local.cascade = cascade
    return _local.cascade


def has_portrait(crop_bgr: np.ndarray, card_gray_median: float) -> bool:
    """Whether an upright portrait-area crop holds a portrait (a face or a photo's dark masses)."""
    gray = cv2.cvtColor(crop_bgr, cv2.COLOR_BGR2GRAY)
    if float((gray < 0.55 * card_gray_median).mean()) >= _DARK_SHARE:
        return True
    cascade = _face_cascade()
    if cascade is None:
        return False
    faces = cascade.detectMultiScale(cv2.equalizeHist(gray), scaleFactor=1.1, minNeighbors=4,
                                     minSize=(gray.shape[1] // 4, gray.shape[1] // 4))
    return len(faces) > 0


def quad_to_figure(kind: str, quad: np.ndarray) -> Figure:
    """A Figure from four original-image corners (TL, TR, BR, BL of the upright portrait)."""
    q = np.asarray(quad, np.float64)
    # RotatedRect of the upright portrait: width along its top edge, angle of that
    # edge clockwise from the image x axis (y points down).
    cx, cy = q.mean(axis=0)
    w = (np.linalg.norm(q[1] - q[0]) + np.linalg.norm(q[2] - q[3])) / 2
    h = (np.linalg.norm(q[3] - q[0]) + np.linalg.norm(q[2] - q[1])) / 2
    top = (q[1] - q[0]) + (q[2] - q[3])
    angle = float(np.degrees(np.arctan2(top[1], top[0])))
    x0, y0 = np.floor(q.min(axis=0)).astype(int)
    x1, y1 = np.ceil(q.max(axis=0)).astype(int)
    return Figure(
        type=kind,
        x=int(x0),
        y=int(y0),
        w=int(x1 - x0),
        h=int(y1 - y0),
        box=RotatedBox(x=round(float(cx), 1), y=round(float(cy), 1), w=round(float(w), 1),
                       h=round(float(h), 1), angle=round(float(angle), 2)),
        points=[Point(x=int(round(px)), y=int(round(py))) for px, py in q],
    )


def _box_quad(view: CardView, box: tuple[float, float, float, float]) -> np.ndarray:
    W, H = view.size
    x, y, w, h = box
    pts = [(x * W, y * H), ((x + w) * W, y * H), ((x + w) * W, (y + h) * H), (x * W, (y + h) * H)]
    return map_points(view.homography, pts)


def _crop(image: np.ndarray, view: CardView, box: tuple[float, float, float, float], height: int) -> np.ndarray:
    from .rectify import warp_region

    W, H = view.size
    x, y, w, h = box
    return warp_region(image, view.homography, (x * W, y * H, (x + w) * W, (y + h) * H), height, 4 * height)


def figures(image: np.ndarray, view: CardView) -> list[Figure]:
    """The main portrait ("face") and the small second portrait ("ghost_face").

    Empty when the card prints no portrait.
    """
    tmpl = TEMPLATES[view.design]
    card_median = float(np.median(cv2.cvtColor(view.image, cv2.COLOR_BGR2GRAY)))
    if not has_portrait(_crop(image, view, tmpl.portrait, 160), card_median):
        return []
    return [
        quad_to_figure("face", _box_quad(view, tmpl.portrait)),
        quad_to_figure("ghost_face", _box_quad(view, tmpl.ghost)),
    ]


def portrait_crop(image: np.ndarray, view: CardView, height: int = 240) -> bytes:
    """The main portrait, upright, as PNG bytes."""
    crop = _crop(image, view, TEMPLATES[view.design].portrait, height)
    ok, buf = cv2.imencode(".png", crop)
    if not ok:  # pragma: no cover - PNG encoding of a valid array does not fail
        raise RuntimeError("PNG encoding failed")
    return buf.tobytes()
