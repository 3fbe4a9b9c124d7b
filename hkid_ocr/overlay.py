"""Draw a result on its image: the card outline, every field box with its confidence,
and the portrait boxes. For eyeballing results and for documentation.

Example:
    >>> import hkid_ocr
    >>> res = hkid_ocr.recognize("tests/data/specimen_2003.jpg")  # doctest: +SKIP
    >>> draw_overlay("tests/data/specimen_2003.jpg", res, "overlay.png")  # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from .io import ImageSource, load_image
from .schema import HKIDResult

__all__ = ["draw_overlay", "render_overlay"]

_CARD = (0, 200, 255)
_FIELD = (40, 180, 40)
_FIGURE = (255, 80, 40)


def render_overlay(image: ImageSource, result: HKIDResult) -> np.ndarray:
    """The image (BGR) with the result drawn on it."""
    img = load_image(image).bgr.copy()
    scale = max(1.0, max(img.shape[:2]) / 800)
    thick = max(1, int(round(2 * scale)))
    s = result.sliceRect
    card = np.array([[s.x0, s.y0], [s.x1, s.y1], [s.x2, s.y2], [s.x3, s.y3]], np.int32)
    cv2.polylines(img, [card], True, _CARD, thick)
    cv2.circle(img, (s.x0, s.y0), 3 * thick, _CARD, -1)  # marks the card's top-left
    for kv in result.prism_keyValueInfo:
        pts = np.array([[p.x, p.y] for p in kv.valuePos], np.int32)
        cv2.polylines(img, [pts], True, _FIELD, max(1, thick // 2))
        label = f"{kv.key} {kv.valueProb}"
        org = (int(pts[0][0]), int(pts[0][1]) - 2)
        cv2.putText(img, label, org, cv2.FONT_HERSHEY_SIMPLEX, 0.35 * scale, _FIELD, max(1, thick // 2),
                    cv2.LINE_AA)
    for fig in result.figure:
        pts = np.array([[p.x, p.y] for p in fig.points], np.int32)
        cv2.polylines(img, [pts], True, _FIGURE, thick)
        cv2.putText(img, fig.type, (int(pts[0][0]), int(pts[0][1]) - 2), cv2.FONT_HERSHEY_SIMPLEX,
                    0.35 * scale, _FIGURE, max(1, thick // 2), cv2.LINE_AA)
    return img


def draw_overlay(image: ImageSource, result: HKIDResult, out_path: str | Path) -> Path:
    """Write the overlay as a PNG file and return its path."""
    out = Path(out_path)
    ok, buf = cv2.imencode(".png", render_overlay(image, result))
    if not ok:  # pragma: no cover
        raise RuntimeError("PNG encoding failed")
    out.write_bytes(buf.tobytes())
    return out
