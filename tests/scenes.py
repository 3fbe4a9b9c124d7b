"""Build test scenes from a card image: rotation, perspective, scale, cluttered background.

Every scene returns the image and the true card corners (TL, TR, BR, BL of the
upright card) in that image, so tests can check sliceRect as well as the fields.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class Scene:
    image: np.ndarray
    corners: np.ndarray  # (4, 2) TL, TR, BR, BL of the upright card


def clutter(h: int, w: int, seed: int) -> np.ndarray:
    """A busy, deterministic background: gradients, shapes, lines, a little texture."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    base = np.empty((h, w, 3), np.float32)
    for c in range(3):
        a, b, k = rng.uniform(40, 200), rng.uniform(-60, 60), rng.uniform(0.002, 0.02)
        base[:, :, c] = a + b * np.sin(k * xx + rng.uniform(0, 6)) * np.cos(k * yy)
    img = np.clip(base, 0, 255).astype(np.uint8)
    for _ in range(25):
        color = tuple(int(v) for v in rng.integers(0, 256, 3))
        kind = rng.integers(0, 3)
        p = (int(rng.integers(0, w)), int(rng.integers(0, h)))
        if kind == 0:
            q = (int(p[0] + rng.integers(-w // 4, w // 4)), int(p[1] + rng.integers(-h // 4, h // 4)))
            cv2.rectangle(img, p, q, color, -1)
        elif kind == 1:
            cv2.circle(img, p, int(rng.integers(5, max(6, min(h, w) // 8))), color, -1)
        else:
            q = (int(rng.integers(0, w)), int(rng.integers(0, h)))
            cv2.line(img, p, q, color, int(rng.integers(1, 6)))
    noise = rng.normal(0, 6, img.shape)
    return np.clip(img.astype(np.float32) + noise, 0, 255).astype(np.uint8)


def place(
    card: np.ndarray,
    *,
    canvas: tuple[int, int] = (1200, 1600),
    card_width: float = 0.6,
    rotate: float = 0.0,
    tilt: float = 0.0,
    seed: int = 0,
    background: str = "clutter",
) -> Scene:
    """Put ``card`` on a canvas (h, w): ``card_width`` of the canvas width, turned by
    ``rotate`` degrees clockwise, with perspective ``tilt`` (0..0.3) pulling two corners in.
    """
    H, W = canvas
    rng = np.random.default_rng(seed)
    out_w = card_width * W
    if out_w < card.shape[1]:
        # Shrink first with area averaging, as a camera's optics would: warping a large
        # image straight down to a small one aliases, which no real photo does.
        f = out_w / card.shape[1]
        card = cv2.resize(card, None, fx=f, fy=f, interpolation=cv2.INTER_AREA)
    ch, cw = card.shape[:2]
    out_h = out_w * ch / cw
    src = np.array([[0, 0], [cw, 0], [cw, ch], [0, ch]], np.float32)
    rect = np.array([[-out_w / 2, -out_h / 2], [out_w / 2, -out_h / 2],
                     [out_w / 2, out_h / 2], [-out_w / 2, out_h / 2]], np.float64)
    if tilt:
        # Keystone: the top edge recedes (shorter), as when a phone is tipped back.
        rect[0, 0] += tilt * out_w / 2
        rect[1, 0] -= tilt * out_w / 2
    a = np.deg2rad(rotate)
    R = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    centre = np.array([W / 2, H / 2]) + rng.uniform(-0.05, 0.05, 2) * [W, H]
    dst = (rect @ R.T + centre).astype(np.float32)
    M = cv2.getPerspectiveTransform(src, dst)
    bg = clutter(H, W, seed) if background == "clutter" else np.full((H, W, 3), 235, np.uint8)
    warped = cv2.warpPerspective(card, M, (W, H), flags=cv2.INTER_LINEAR)
    mask = cv2.warpPerspective(np.full((ch, cw), 255, np.uint8), M, (W, H))
    img = np.where(mask[:, :, None] > 127, warped, bg)
    return Scene(image=img, corners=dst.astype(np.float64))


def rotate_exact(card: np.ndarray, quarter_turns: int) -> Scene:
    """The card turned by quarter turns clockwise (lossless), with its corners."""
    h, w = card.shape[:2]
    k = quarter_turns % 4
    img = np.ascontiguousarray(np.rot90(card, -k))
    corners = np.array([[0, 0], [w - 1, 0], [w - 1, h - 1], [0, h - 1]], np.float64)
    for _ in range(k):
        # one clockwise quarter turn of an image of height hh: (x, y) -> (hh - 1 - y, x)
        hh = h if _ % 2 == 0 else w
        corners = np.stack([hh - 1 - corners[:, 1], corners[:, 0]], axis=1)
    return Scene(image=img, corners=corners)


def among_papers(
    card: np.ndarray, *, rotate: float = 0.0, tilt: float = 0.0, seed: int = 0, canvas: tuple[int, int] = (900, 1200)
) -> Scene:
    """``card`` (see :func:`place`) on a grey desk, over four light papers: one under
    each side, sticking out past it. No contour traces the card alone: every edge map
    joins its outline to the papers'."""
    scene = place(card, canvas=canvas, card_width=0.45, rotate=rotate, tilt=tilt, seed=seed, background="plain")
    rng = np.random.default_rng(seed)
    c = scene.corners
    img = np.full_like(scene.image, 95)
    for k in range(4):
        a, b = c[k], c[(k + 1) % 4]
        inward = c[(k + 3) % 4] - a  # from this side towards the opposite one
        lo, hi = sorted(rng.uniform(0.15, 0.85, 2))
        hi = max(hi, lo + 0.3)
        out = rng.uniform(0.3, 0.5)
        paper = np.array([a + lo * (b - a) + 0.3 * inward, a + hi * (b - a) + 0.3 * inward,
                          a + hi * (b - a) - out * inward, a + lo * (b - a) - out * inward])
        shade = tuple(int(v) for v in rng.integers(205, 240, 3))
        cv2.fillConvexPoly(img, np.round(paper).astype(np.int32), shade, lineType=cv2.LINE_AA)
    mask = np.zeros(img.shape[:2], np.uint8)
    cv2.fillConvexPoly(mask, np.round(c).astype(np.int32), 255)
    return Scene(image=np.where(mask[:, :, None] > 0, scene.image, img), corners=c)


def on_a_light_table(
    card: np.ndarray, *, rotate: float = 0.0, tilt: float = 0.0, seed: int = 0, canvas: tuple[int, int] = (900, 1200),
    depth: float = 6.0,
) -> Scene:
    """``card`` (see :func:`place`) printed on paper only ``depth`` grey levels brighter than
    the light table it lies on (with a gentle fall-off of light and a little noise): its
    border is too faint for the usual edge maps to trace."""
    scene = place(card, canvas=canvas, card_width=0.55, rotate=rotate, tilt=tilt, seed=seed, background="plain")
    H, W = canvas
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    rng = np.random.default_rng(seed)
    table = np.clip((215 + 18 * xx / W - 10 * yy / H)[:, :, None] + rng.normal(0, 2.0, (H, W, 3)), 0, 255)
    mask = np.zeros((H, W), np.uint8)
    cv2.fillConvexPoly(mask, np.round(scene.corners).astype(np.int32), 255, lineType=cv2.LINE_AA)
    # The print's darkness kept, on paper brought to the table's light.
    ink = (235 - scene.image.astype(np.float32).mean(axis=2, keepdims=True)).clip(0, None)
    printed = np.clip(table + depth - 0.8 * ink, 0, 255)
    a = (mask.astype(np.float32) / 255)[:, :, None]
    img = cv2.GaussianBlur((a * printed + (1 - a) * table).astype(np.uint8), (3, 3), 0)
    return Scene(image=img, corners=scene.corners)
