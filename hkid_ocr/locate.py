"""Find quadrilaterals in the image that may be the card.

Candidates come from the card's outline (edges of several strengths, colour and
brightness segmentation) and from the whole frame (a scan where the card fills
the image). They are ranked here by shape alone; the recognizer then keeps the
one whose text layout matches a card design (see :mod:`hkid_ocr.layout`).

Rounded card corners are handled by fitting a straight line to each side of the
outline and intersecting neighbouring sides, so the corners land where the sides
of the card would meet.

Example:
    >>> import numpy as np, cv2
    >>> img = np.full((400, 600, 3), 40, np.uint8)
    >>> _ = cv2.rectangle(img, (100, 100), (417, 300), (230, 230, 230), -1)
    >>> cands = find_candidates(img)
    >>> bool(np.abs(cands[0].quad - [[100, 100], [417, 100], [417, 300], [100, 300]]).max() < 4)
    True
    >>> cands[-1].source  # the whole frame is always the last resort
    'whole'
"""

from __future__ import annotations

import cv2
import numpy as np

from .rectify import CARD_ASPECT, order_clockwise
from .types import CardCandidate

__all__ = ["WORK_SIDE", "find_candidates"]

#: Long side of the working copy used to find the outline.
WORK_SIDE = 640
MIN_AREA_FRACTION = 0.03
MAX_CANDIDATES = 4


def _line_intersection(l1: np.ndarray, l2: np.ndarray) -> np.ndarray | None:
    (vx1, vy1, x1, y1), (vx2, vy2, x2, y2) = l1, l2
    a = np.array([[vx1, -vx2], [vy1, -vy2]], np.float64)
    if abs(np.linalg.det(a)) < 1e-6:
        return None
    t = np.linalg.solve(a, np.array([x2 - x1, y2 - y1], np.float64))
    return np.array([x1 + vx1 * t[0], y1 + vy1 * t[0]])


def _refine_sides(quad: np.ndarray, contour: np.ndarray) -> np.ndarray:
    """Fit a line to the contour points along each side and intersect neighbours."""
    pts = contour.reshape(-1, 2).astype(np.float64)
    lines = []
    for i in range(4):
        a, b = quad[i], quad[(i + 1) % 4]
        ab = b - a
        length = float(np.linalg.norm(ab))
        if length < 1:
            return quad
        u = ab / length
        n = np.array([-u[1], u[0]])
        rel = pts - a
        along = rel @ u
        dist = np.abs(rel @ n)
        # Middle 70% of the side only: the rounded corners bend away from the line.
        sel = (along > 0.15 * length) & (along < 0.85 * length) & (dist < max(3.0, 0.03 * length))
        if sel.sum() < 5:
            lines.append(np.array([u[0], u[1], a[0], a[1]]))
            continue
        vx, vy, x0, y0 = cv2.fitLine(pts[sel].astype(np.float32), cv2.DIST_HUBER, 0, 0.01, 0.01).ravel()
        lines.append(np.array([vx, vy, x0, y0], np.float64))
    out = []
    for i in range(4):
        p = _line_intersection(lines[i - 1], lines[i])
        if p is None:
            return quad
        out.append(p)
    res = np.array(out)
    # A refinement that moves a corner far is a bad fit: keep the polygon corners then.
    if np.abs(res - quad).max() > 0.1 * max(np.ptp(quad[:, 0]), np.ptp(quad[:, 1])):
        return quad
    return res


def _quad_from_contour(contour: np.ndarray) -> np.ndarray | None:
    hull = cv2.convexHull(contour)
    peri = cv2.arcLength(hull, True)
    for eps in (0.01, 0.02, 0.03, 0.05, 0.08):
        approx = cv2.approxPolyDP(hull, eps * peri, True)
        if len(approx) == 4:
            quad = order_clockwise(approx.reshape(4, 2))
            return _refine_sides(quad, hull)
        if len(approx) < 4:
            break
    # Fall back to the minimum-area rectangle (fine for little perspective).
    rect = cv2.minAreaRect(hull)
    return order_clockwise(cv2.boxPoints(rect))


def _shape_score(quad: np.ndarray, contour_area: float, image_area: float) -> float:
    """How card-like a quad is: aspect ratio near ID-1, convex, well filled by its contour."""
    if not cv2.isContourConvex(quad.astype(np.float32).reshape(-1, 1, 2)):
        return 0.0
    sides = [float(np.linalg.norm(quad[(i + 1) % 4] - quad[i])) for i in range(4)]
    if min(sides) < 8:
        return 0.0
    a = (sides[0] + sides[2]) / 2
    b = (sides[1] + sides[3]) / 2
    aspect = max(a, b) / max(min(a, b), 1e-6)
    # Perspective distorts the apparent aspect; tolerate a wide band around 1.586.
    aspect_err = abs(np.log(aspect / CARD_ASPECT))
    if aspect_err > 0.45:
        return 0.0
    quad_area = float(cv2.contourArea(quad.astype(np.float32)))
    if quad_area < MIN_AREA_FRACTION * image_area:
        return 0.0
    fill = min(1.0, contour_area / max(quad_area, 1.0))
    size = min(1.0, quad_area / image_area)
    return float((1.0 - aspect_err / 0.45) * 0.5 + fill * 0.3 + size * 0.2)


def _edge_maps(small: np.ndarray) -> list[np.ndarray]:
    gray = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)
    blur = cv2.GaussianBlur(gray, (5, 5), 0)
    med = float(np.median(blur))
    maps = []
    for lo, hi in ((0.66 * med, 1.33 * med), (20.0, 60.0)):
        e = cv2.Canny(blur, max(5.0, lo), max(15.0, hi))
        maps.append(cv2.dilate(e, np.ones((3, 3), np.uint8)))
    # Colour edges: a pale card on a grey table of equal brightness differs in hue.
    lab = cv2.cvtColor(cv2.GaussianBlur(small, (5, 5), 0), cv2.COLOR_BGR2Lab)
    grad = np.zeros(gray.shape, np.float32)
    for c in (1, 2):
        ch = lab[:, :, c].astype(np.float32)
        gx = cv2.Sobel(ch, cv2.CV_32F, 1, 0, ksize=3)
        gy = cv2.Sobel(ch, cv2.CV_32F, 0, 1, ksize=3)
        grad = np.maximum(grad, cv2.magnitude(gx, gy))
    if grad.max() > 0:
        thr = max(20.0, float(np.percentile(grad, 90)))
        maps.append(cv2.dilate((grad > thr).astype(np.uint8) * 255, np.ones((3, 3), np.uint8)))
    return maps


def _region_maps(small: np.ndarray) -> list[np.ndarray]:
    """Binary masks of bright, low-texture regions (the card's face) for contour finding."""
    gray = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)
    blur = cv2.GaussianBlur(gray, (7, 7), 0)
    _, otsu = cv2.threshold(blur, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    k = np.ones((9, 9), np.uint8)
    closed = cv2.morphologyEx(otsu, cv2.MORPH_CLOSE, k)
    opened = cv2.morphologyEx(closed, cv2.MORPH_OPEN, k)
    return [opened]


def _dedupe(cands: list[tuple[float, np.ndarray, str]]) -> list[tuple[float, np.ndarray, str]]:
    kept: list[tuple[float, np.ndarray, str]] = []
    for score, quad, src in sorted(cands, key=lambda c: -c[0]):
        diag = float(np.linalg.norm(quad[2] - quad[0]))
        if any(np.abs(quad - q).max() < 0.04 * diag for _, q, _ in kept):
            continue
        kept.append((score, quad, src))
    return kept


def snap_to_edges(gray: np.ndarray, quad: np.ndarray, radius: float = 0.04, samples: int = 48) -> np.ndarray:
    """Move each side of ``quad`` onto the strongest straight edge near it.

    For points along the middle of each side, the gradient across the side is sampled
    within ``radius`` (fraction of the card's diagonal) and the strongest response is
    kept; a robust line through those points replaces the side. Partial occlusion, a
    background object touching the card, or a contour that leaked into the background
    then no longer bends the corners: most of each side is still a clean edge.
    """
    q = np.asarray(quad, np.float64)
    g = gray.astype(np.float32)
    gx = cv2.Sobel(g, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(g, cv2.CV_32F, 0, 1, ksize=3)
    diag = float(np.linalg.norm(q[2] - q[0]))
    r = max(3.0, radius * diag)
    offsets = np.linspace(-r, r, int(2 * r) + 1, dtype=np.float32)
    ts = np.linspace(0.12, 0.88, samples, dtype=np.float32)
    lines = []
    for i in range(4):
        a, b = q[i], q[(i + 1) % 4]
        length = float(np.linalg.norm(b - a))
        if length < 8:
            return q
        u = (b - a) / length
        n = np.array([u[1], -u[0]])  # outward for clockwise corners (y down)
        base = a[None, :] + ts[:, None] * (b - a)[None, :]
        pts = base[:, None, :] + offsets[None, :, None] * n[None, None, :]
        mx = pts[:, :, 0].astype(np.float32)
        my = pts[:, :, 1].astype(np.float32)
        sx = cv2.remap(gx, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        sy = cv2.remap(gy, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        resp = np.abs(sx * n[0] + sy * n[1])
        # Prefer edges near the current side when responses are comparable.
        resp = resp * (1.0 - 0.3 * np.abs(offsets)[None, :] / r)
        best = resp.argmax(axis=1)
        strength = resp[np.arange(len(ts)), best]
        ok = strength > max(12.0, 0.35 * float(np.median(strength)))
        if ok.sum() < samples // 3:
            lines.append(np.array([u[0], u[1], a[0], a[1]]))
            continue
        sel = pts[np.arange(len(ts)), best][ok].astype(np.float32)
        vx, vy, x0, y0 = cv2.fitLine(sel, cv2.DIST_HUBER, 0, 0.01, 0.01).ravel()
        lines.append(np.array([vx, vy, x0, y0], np.float64))
    out = []
    for i in range(4):
        p = _line_intersection(lines[i - 1], lines[i])
        if p is None:
            return q
        out.append(p)
    res = np.array(out)
    if not cv2.isContourConvex(res.astype(np.float32).reshape(-1, 1, 2)):
        return q
    if np.abs(res - q).max() > 2 * r:
        return q
    return res


def find_candidates(bgr: np.ndarray) -> list[CardCandidate]:
    """Card-shaped quadrilaterals in ``bgr``, best first, then the whole frame.

    Corners are in original-image pixels, clockwise from the top-left-most.
    """
    h, w = bgr.shape[:2]
    scale = min(1.0, WORK_SIDE / max(h, w))
    small = cv2.resize(bgr, (max(1, round(w * scale)), max(1, round(h * scale))),
                       interpolation=cv2.INTER_AREA) if scale < 1 else bgr
    sh, sw = small.shape[:2]
    image_area = float(sh * sw)
    found: list[tuple[float, np.ndarray, str]] = []
    masks = [(m, "edges") for m in _edge_maps(small)] + [(m, "region") for m in _region_maps(small)]
    for mask, src in masks:
        contours, _ = cv2.findContours(mask, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
        for c in contours:
            area = float(cv2.contourArea(cv2.convexHull(c)))
            if area < MIN_AREA_FRACTION * image_area:
                continue
            quad = _quad_from_contour(c)
            if quad is None:
                continue
            score = _shape_score(quad, area, image_area)
            # A quad that is the frame itself is the "whole" candidate, added below.
            if score > 0 and not (np.ptp(quad[:, 0]) > 0.97 * sw and np.ptp(quad[:, 1]) > 0.97 * sh):
                found.append((score, quad, src))
    kept = _dedupe(found)[:MAX_CANDIDATES]
    gray = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)
    out = []
    for _, q, src in kept:
        # Two passes: a coarse one that can travel, then a fine one.
        q = snap_to_edges(gray, q, radius=0.04)
        q = snap_to_edges(gray, q, radius=0.012)
        out.append(CardCandidate(quad=q / scale, source=src))
    whole = np.array([[0, 0], [w - 1, 0], [w - 1, h - 1], [0, h - 1]], np.float64)
    out.append(CardCandidate(quad=whole, source="whole"))
    return out
