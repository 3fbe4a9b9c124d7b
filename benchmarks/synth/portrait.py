"""Synthetic, face-like portraits (no real person: drawn ellipses and shading).

A portrait is a head-and-shoulders figure on a light studio background: an oval
head with hair (short, long or tied back), eyes, brows, nose and mouth, a neck
and shoulders in clothing. Enough structure for a portrait/face locator to find
"a face-shaped thing" where the card has its photo, and enough variety (skin
tone, hair, clothing, head size and position) that the region is never the same
twice. Drawn at 2x and reduced with area interpolation for smooth edges.

Example:
    >>> import numpy as np
    >>> img = draw_portrait(np.random.default_rng(0), 120, 150, grayscale=True)
    >>> img.shape
    (150, 120, 3)
"""

from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np

__all__ = ["draw_portrait"]


def _bgr(values: Sequence[float] | np.ndarray) -> tuple[int, int, int]:
    b, g, r = (int(v) for v in values)
    return b, g, r


def _ellipse(img: np.ndarray, c: tuple[float, float], axes: tuple[float, float], angle: float,
             color: tuple[int, int, int], a0: float = 0, a1: float = 360) -> None:
    cv2.ellipse(img, (int(c[0]), int(c[1])), (max(int(axes[0]), 1), max(int(axes[1]), 1)),
                angle, a0, a1, color, thickness=-1, lineType=cv2.LINE_AA)


def draw_portrait(
    rng: np.random.Generator,
    width: int,
    height: int,
    *,
    grayscale: bool = False,
    background: tuple[int, int, int] | None = None,
) -> np.ndarray:
    """A BGR uint8 head-and-shoulders portrait of ``width`` x ``height`` pixels.

    Args:
        rng: random source (the card's generator).
        width, height: output size.
        grayscale: a monochrome (laser-engraved style) portrait, as on the 2018 card.
        background: studio background colour (BGR); a light grey-blue if None.
    """
    s = 2  # supersampling factor
    w, h = width * s, height * s
    if background is None:
        g = int(rng.integers(195, 235))
        background = (g + int(rng.integers(0, 12)), g, g - int(rng.integers(0, 10)))
    img = np.empty((h, w, 3), np.uint8)
    # Studio light: the background is a little brighter near the top.
    ramp = np.linspace(1.04, 0.94, h, dtype=np.float32)[:, None, None]
    img[:] = np.clip(np.array(background, np.float32)[None, None, :] * ramp, 0, 255).astype(np.uint8)

    # Skin tones (BGR) from light to dark; mostly the lighter East Asian range.
    tones = [(168, 196, 232), (152, 183, 222), (138, 170, 212), (122, 152, 196), (95, 122, 165)]
    tone_p = [0.3, 0.3, 0.2, 0.12, 0.08]
    skin_base = np.array(tones[int(rng.choice(len(tones), p=tone_p))], np.float32)
    skin = _bgr(np.clip(skin_base + rng.normal(0, 8, 3), 0, 255))
    hair_v = int(rng.integers(15, 70))
    # Black to dark brown: red >= green >= blue.
    warm = int(rng.integers(0, 18))
    hair = (hair_v, hair_v + warm // 2, hair_v + warm)
    cloth_choices = [(40, 30, 25), (235, 235, 235), (90, 60, 40), (60, 60, 60), (130, 90, 150),
                     (50, 80, 120), (30, 30, 30)]
    cloth = cloth_choices[int(rng.integers(len(cloth_choices)))]

    cx = w * (0.5 + rng.uniform(-0.04, 0.04))
    head_w = w * rng.uniform(0.25, 0.31)  # half-width of the head oval
    head_h = head_w * rng.uniform(1.22, 1.36)
    cy = h * rng.uniform(0.40, 0.46)
    long_hair = bool(rng.random() < 0.45)

    if long_hair:  # hair falling behind the shoulders, drawn first
        _ellipse(img, (cx, cy + head_h * 0.55), (head_w * 1.35, head_h * 1.25), 0, hair)
    # Shoulders and clothing.
    _ellipse(img, (cx, h * 1.08), (w * rng.uniform(0.46, 0.56), h * 0.3), 0, cloth)
    # Neck.
    neck_w = head_w * 0.45
    cv2.rectangle(img, (int(cx - neck_w), int(cy + head_h * 0.6)),
                  (int(cx + neck_w), int(h * 0.86)), _bgr([v * 0.9 for v in skin]), -1)
    if cloth[0] > 200:  # a collar line on a white shirt
        cv2.line(img, (int(cx - neck_w * 1.6), int(h * 0.84)), (int(cx), int(h * 0.93)),
                 (170, 170, 170), 2 * s, cv2.LINE_AA)
        cv2.line(img, (int(cx + neck_w * 1.6), int(h * 0.84)), (int(cx), int(h * 0.93)),
                 (170, 170, 170), 2 * s, cv2.LINE_AA)
    # Ears, then the face oval.
    for side in (-1, 1):
        _ellipse(img, (cx + side * head_w * 0.97, cy + head_h * 0.05), (head_w * 0.14, head_h * 0.2),
                 0, _bgr([v * 0.93 for v in skin]))
    _ellipse(img, (cx, cy), (head_w, head_h), 0, skin)
    # Round the face: darker towards the sides of the oval, as under studio light.
    face = np.zeros((h, w), np.uint8)
    _ellipse(face, (cx, cy), (head_w, head_h), 0, (255, 255, 255))
    xx = (np.arange(w, dtype=np.float32) - cx) / head_w
    shade = (1.0 - 0.22 * np.clip(xx, -1, 1) ** 2)[None, :, None]
    shaded = (img.astype(np.float32) * shade).astype(np.uint8)
    img = np.where(face[:, :, None] > 0, shaded, img)
    # Hair on top: a cap over the upper part of the head, with a parting or a fringe.
    _ellipse(img, (cx, cy - head_h * 0.32), (head_w * 1.08, head_h * 0.78), 0, hair, 180, 360)
    if rng.random() < 0.5:  # fringe
        _ellipse(img, (cx, cy - head_h * 0.38), (head_w * 1.0, head_h * 0.3), 0, hair, 0, 180)
    else:  # side parting: one side lower
        side = 1 if rng.random() < 0.5 else -1
        _ellipse(img, (cx + side * head_w * 0.45, cy - head_h * 0.36), (head_w * 0.6, head_h * 0.3),
                 side * 15, hair)
    # Eyes, brows, nose, mouth.
    eye_y = cy + head_h * rng.uniform(0.0, 0.08)
    eye_dx = head_w * rng.uniform(0.36, 0.44)
    eye_w, eye_h = head_w * 0.16, head_h * 0.045
    for side in (-1, 1):
        ex = cx + side * eye_dx
        _ellipse(img, (ex, eye_y), (eye_w, eye_h * 1.5), 0, (235, 235, 235))
        _ellipse(img, (ex, eye_y), (eye_h * 1.4, eye_h * 1.4), 0, (35, 30, 30))
        cv2.ellipse(img, (int(ex), int(eye_y - head_h * 0.13)), (int(eye_w * 1.2), int(eye_h * 1.5)),
                    0, 200, 340, hair, 2 * s + 1, cv2.LINE_AA)
    nose_top, nose_bot = eye_y + head_h * 0.12, eye_y + head_h * 0.36
    dark_skin = _bgr([v * 0.78 for v in skin])
    cv2.line(img, (int(cx), int(nose_top)), (int(cx - head_w * 0.05), int(nose_bot)),
             dark_skin, s + 1, cv2.LINE_AA)
    cv2.line(img, (int(cx - head_w * 0.12), int(nose_bot)), (int(cx + head_w * 0.1), int(nose_bot)),
             dark_skin, s + 1, cv2.LINE_AA)
    mouth_y = eye_y + head_h * rng.uniform(0.5, 0.56)
    lip = (int(skin[0] * 0.7), int(skin[1] * 0.65), int(min(skin[2] * 0.95, 255)))
    cv2.ellipse(img, (int(cx), int(mouth_y)), (int(head_w * 0.28), int(head_h * 0.06)), 0, 10, 170,
                lip, 2 * s + 1, cv2.LINE_AA)

    # Soft studio lighting: a smooth side-to-side brightness ramp and a little blur.
    light = np.linspace(rng.uniform(0.9, 1.0), rng.uniform(1.0, 1.1), w, dtype=np.float32)
    out = np.clip(img.astype(np.float32) * light[None, :, None], 0, 255)
    out = cv2.GaussianBlur(out, (0, 0), 1.2 * s)
    out += rng.normal(0, 2.5, out.shape).astype(np.float32)
    out = cv2.resize(np.clip(out, 0, 255).astype(np.uint8), (width, height),
                     interpolation=cv2.INTER_AREA)
    # Card photos are printed with muted colours.
    gray1 = cv2.cvtColor(cv2.cvtColor(out, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
    out = cv2.addWeighted(out, 0.7, gray1, 0.3, 0)
    if grayscale:
        gray = cv2.cvtColor(out, cv2.COLOR_BGR2GRAY)
        out = cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR)
    return out
