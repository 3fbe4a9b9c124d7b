"""Turn a flat card into a scan or a photo, and track where the card went.

Three levels of difficulty, each deterministic for a given random generator:

* ``clean``: a flat scan. The card fills most of the image on a light scanner
  background, upright, with a slight scale/offset/rotation and mild JPEG.
* ``photo``: a phone photo. The card covers 30-90% of the image on a cluttered
  background (wood, cloth, papers, printed text), rotated by any multiple of 90
  degrees plus up to +-15, with perspective tilt, mild blur, noise, a lighting
  gradient, sometimes a glare spot or a shadow, JPEG.
* ``hard``: as ``photo`` but stronger: the card can be as small as 15% of the
  image, stronger tilt, blur (also motion blur), noise, glare and low light.

Two capture kinds cut across levels: a *photocopy* (grey, contrast pushed,
toner specks, the card on a sheet of paper; the cloud API's ``ftype`` 1) and a
*screen recapture* (the card shown on a display and photographed: pixel grid,
moire, colour shift).

Every geometric step is a homography, so :func:`make_scene` returns the total
card->image mapping; the corpus maps the card corners, field boxes and portrait
box through it for the ground truth.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .layout import CARD_H, CARD_W

__all__ = ["LEVELS", "MAX_SIDE", "Scene", "make_scene", "map_points"]

LEVELS = ("clean", "photo", "hard")
#: Longest side of any output image.
MAX_SIDE = 2000
# Corner radius of an ID-1 card (3.18 mm of 85.6 mm) at the canonical 1000 px width.
_CORNER_R = 37


@dataclass(frozen=True)
class Scene:
    """The captured image and the card->image homography."""

    image: np.ndarray  # BGR uint8, or single-channel uint8 for some photocopies
    homography: np.ndarray  # 3x3, maps canonical card pixels to image pixels
    jpeg_quality: int


def map_points(h: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """Apply homography ``h`` to an (N, 2) array of points."""
    p = np.asarray(pts, np.float64).reshape(-1, 1, 2)
    return cv2.perspectiveTransform(p, h).reshape(-1, 2)


def _card_alpha() -> np.ndarray:
    """Coverage of the card with rounded corners (float32, CARD_H x CARD_W)."""
    a = np.zeros((CARD_H, CARD_W), np.uint8)
    r = _CORNER_R
    cv2.rectangle(a, (r, 0), (CARD_W - 1 - r, CARD_H - 1), 255, -1)
    cv2.rectangle(a, (0, r), (CARD_W - 1, CARD_H - 1 - r), 255, -1)
    for cx, cy in ((r, r), (CARD_W - 1 - r, r), (r, CARD_H - 1 - r), (CARD_W - 1 - r, CARD_H - 1 - r)):
        cv2.circle(a, (cx, cy), r, 255, -1, cv2.LINE_AA)
    return a.astype(np.float32) / 255.0


_ALPHA = _card_alpha()
_CARD_CORNERS = np.array([[0, 0], [CARD_W, 0], [CARD_W, CARD_H], [0, CARD_H]], np.float64)


# ---------------------------------------------------------------------------
# Backgrounds
# ---------------------------------------------------------------------------


def _wood(rng: np.random.Generator, w: int, h: int) -> np.ndarray:
    """Wood-like grain: stretched noise bent by slow sines, in a brown tone."""
    small = rng.random((max(h // 8, 2), max(w // 64, 2))).astype(np.float32)
    grain = cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
    yy = np.arange(h, dtype=np.float32)[:, None]
    xx = np.arange(w, dtype=np.float32)[None, :]
    rings = 0.5 + 0.5 * np.sin(yy * rng.uniform(0.05, 0.15) + 6 * grain
                               + 3 * np.sin(xx * rng.uniform(0.002, 0.006)))
    base = np.array([rng.uniform(40, 90), rng.uniform(80, 130), rng.uniform(120, 180)], np.float32)
    img = base[None, None, :] * (0.75 + 0.35 * rings[:, :, None])
    return np.clip(img, 0, 255).astype(np.uint8)


def _fabric(rng: np.random.Generator, w: int, h: int) -> np.ndarray:
    """A plain coloured surface with fine noise (tablecloth, desk mat)."""
    color = rng.uniform(30, 220, 3).astype(np.float32)
    raw = rng.normal(0, rng.uniform(4, 14), (h, w, 1)).astype(np.float32)
    noise: np.ndarray = cv2.GaussianBlur(raw, (0, 0), rng.uniform(0.6, 2.0))[:, :, None]
    return np.clip(color[None, None, :] + noise, 0, 255).astype(np.uint8)


_CLUTTER_WORDS = ("RECEIPT", "TOTAL HK$", "12-05-2021", "OCTOPUS", "Tel: 2345 6789", "INVOICE",
                  "No. A123456", "MTR", "08:45", "HKD 1,280.00", "Date of Birth", "PASSPORT",
                  "30-06-1997", "Kowloon Bay", "Shop 12, G/F", "VISA **** 4821", "CHAN TAI MAN",
                  "(03-88)", "Z683365(5)", "IDENTITY", "Queen's Road", "Room 1203")


def _clutter(img: np.ndarray, rng: np.random.Generator, n: int) -> None:
    """Papers, cards, boxes and printed text lying around (in place)."""
    h, w = img.shape[:2]
    fonts = (cv2.FONT_HERSHEY_SIMPLEX, cv2.FONT_HERSHEY_DUPLEX, cv2.FONT_HERSHEY_PLAIN,
             cv2.FONT_HERSHEY_COMPLEX)
    for _ in range(n):
        cx, cy = rng.uniform(-0.1, 1.1) * w, rng.uniform(-0.1, 1.1) * h
        rw, rh = rng.uniform(0.08, 0.5) * w, rng.uniform(0.05, 0.4) * h
        ang = rng.uniform(0, 180)
        box = cv2.boxPoints(((cx, cy), (rw, rh), ang)).astype(np.int32)
        paper = rng.random() < 0.55
        color = (tuple(int(v) for v in rng.uniform(200, 250, 3)) if paper
                 else tuple(int(v) for v in rng.uniform(20, 240, 3)))
        cv2.fillPoly(img, [box], color, cv2.LINE_AA)
        if paper and rng.random() < 0.8:
            # Printed lines on the paper: words and numbers, some of them card-like.
            lines = int(rng.integers(2, 9))
            scale = rng.uniform(0.5, 1.6) * max(w, h) / 1500
            for li in range(lines):
                word = _CLUTTER_WORDS[int(rng.integers(len(_CLUTTER_WORDS)))]
                px = int(cx - rw / 3 + rng.uniform(-10, 10))
                py = int(cy - rh / 3 + li * 34 * scale)
                cv2.putText(img, word, (px, py), fonts[int(rng.integers(len(fonts)))], scale,
                            (int(rng.uniform(10, 90)),) * 3, max(int(scale * 1.5), 1), cv2.LINE_AA)


def _background(rng: np.random.Generator, w: int, h: int, busy: bool) -> np.ndarray:
    if not busy:
        # Scanner lid / plain sheet: near white, slightly uneven.
        v = rng.uniform(225, 252)
        img = np.full((h, w, 3), v, np.float32)
        img += rng.normal(0, 1.5, (h, w, 1)).astype(np.float32)
        return np.clip(img, 0, 255).astype(np.uint8)
    img = _wood(rng, w, h) if rng.random() < 0.45 else _fabric(rng, w, h)
    _clutter(img, rng, int(rng.integers(3, 14)))
    return img


def _paper(rng: np.random.Generator, w: int, h: int) -> np.ndarray:
    """A photocopy sheet: off-white with toner specks."""
    v = rng.uniform(225, 250)
    img = np.full((h, w), v, np.float32) + rng.normal(0, 2.5, (h, w)).astype(np.float32)
    specks = rng.random((h, w)) < rng.uniform(0.0003, 0.0015)
    img[specks] = rng.uniform(40, 120)
    return cv2.cvtColor(np.clip(img, 0, 255).astype(np.uint8), cv2.COLOR_GRAY2BGR)


# ---------------------------------------------------------------------------
# Card-level effects
# ---------------------------------------------------------------------------


def _photocopy_card(card: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Grey, contrast pushed (security print washes out), toner noise and streaks."""
    g = cv2.cvtColor(card, cv2.COLOR_BGR2GRAY).astype(np.float32)
    black, white = rng.uniform(40, 90), rng.uniform(185, 225)
    g = np.clip((g - black) / (white - black), 0, 1) ** rng.uniform(0.8, 1.4) * 255
    g += rng.normal(0, rng.uniform(3, 8), g.shape).astype(np.float32)
    specks = rng.random(g.shape) < rng.uniform(0.0005, 0.003)
    g[specks] = rng.uniform(0, 80)
    if rng.random() < 0.5:  # drum streaks
        for _ in range(int(rng.integers(1, 4))):
            x = int(rng.integers(0, g.shape[1]))
            g[:, x:x + int(rng.integers(1, 3))] *= rng.uniform(0.75, 0.95)
    g = cv2.GaussianBlur(g, (0, 0), rng.uniform(0.4, 0.9))
    return cv2.cvtColor(np.clip(g, 0, 255).astype(np.uint8), cv2.COLOR_GRAY2BGR)


def _screen_effects(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """What a display adds: colour/gamut shift, lifted blacks, subpixel grid, moire bands."""
    f = img.astype(np.float32) / 255.0
    # Gamut: mix channels a little and tint (displays are often bluish), lift blacks.
    mix = np.eye(3, dtype=np.float32) * 0.85 + rng.uniform(0, 0.08, (3, 3)).astype(np.float32)
    f = f @ mix.T
    tint = np.array([rng.uniform(1.0, 1.15), rng.uniform(0.95, 1.05), rng.uniform(0.85, 1.0)],
                    np.float32)
    f = f * tint[None, None, :]
    f = 0.1 + 0.85 * np.clip(f, 0, 1)
    h, w = f.shape[:2]
    xx = np.arange(w, dtype=np.float32)[None, :]
    yy = np.arange(h, dtype=np.float32)[:, None]
    period = rng.uniform(2.6, 4.5)
    grid_depth = rng.uniform(0.12, 0.3)
    for c in range(3):  # RGB stripes, one third of a pixel period apart
        stripe = 0.5 + 0.5 * np.cos(2 * np.pi * xx / period - c * 2 * np.pi / 3)
        f[:, :, 2 - c] *= 1 - grid_depth * stripe
    f *= (1 - grid_depth * 0.6 * (0.5 + 0.5 * np.cos(2 * np.pi * yy / period)))[:, :, None]
    # Moire: slowly bending interference bands.
    fx, fy = rng.uniform(0.01, 0.05), rng.uniform(0.01, 0.05)
    phase = 2 * np.pi * (fx * xx + fy * yy) + 3 * np.sin(xx / rng.uniform(80, 200)) \
        + 2 * np.sin(yy / rng.uniform(60, 160))
    f *= (1 + rng.uniform(0.06, 0.15) * np.sin(phase))[:, :, None]
    return np.clip(f * 255, 0, 255).astype(np.uint8)


# ---------------------------------------------------------------------------
# Geometry
# ---------------------------------------------------------------------------


def _rotation(theta_deg: float) -> np.ndarray:
    t = np.deg2rad(theta_deg)
    return np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])


def _place(rng: np.random.Generator, out_w: int, out_h: int, area_frac: float, angle: float,
           tilt: float, margin: float) -> np.ndarray | None:
    """Destination quad for the card corners, or None if it cannot fit the frame."""
    scale = np.sqrt(area_frac * out_w * out_h / (CARD_W * CARD_H))
    centred = (_CARD_CORNERS - [CARD_W / 2, CARD_H / 2]) * scale
    # Perspective: each corner moves independently by up to `tilt` of the card size.
    jitter = rng.uniform(-tilt, tilt, (4, 2)) * [CARD_W * scale, CARD_H * scale]
    quad = (centred + jitter) @ _rotation(angle).T
    lo, hi = quad.min(0), quad.max(0)
    span = hi - lo
    room_x = out_w * (1 - 2 * margin) - span[0]
    room_y = out_h * (1 - 2 * margin) - span[1]
    if room_x < 0 or room_y < 0:
        return None
    ox = out_w * margin + rng.uniform(0, room_x) - lo[0]
    oy = out_h * margin + rng.uniform(0, room_y) - lo[1]
    return quad + [ox, oy]


def _warp_onto(bg: np.ndarray, card: np.ndarray, alpha: np.ndarray, h: np.ndarray,
               shadow: float, rng: np.random.Generator) -> np.ndarray:
    """Composite the card through homography ``h`` onto ``bg`` (with an optional drop shadow)."""
    out_h, out_w = bg.shape[:2]
    # Pre-shrink a card that will be drawn much smaller (warpPerspective does not
    # filter, and a 4x minification would alias the text into noise).
    dst = map_points(h, _CARD_CORNERS)
    scale = np.sqrt(cv2.contourArea(dst.astype(np.float32)) / (CARD_W * CARD_H))
    src_card, src_alpha, hh = card, alpha, h
    if scale < 0.75:
        f = max(scale * 1.25, 0.1)
        sw, sh = max(int(round(CARD_W * f)), 8), max(int(round(CARD_H * f)), 8)
        src_card = cv2.resize(card, (sw, sh), interpolation=cv2.INTER_AREA)
        src_alpha = cv2.resize(alpha, (sw, sh), interpolation=cv2.INTER_AREA)
        s = np.diag([CARD_W / sw, CARD_H / sh, 1.0])
        hh = h @ s
    warped = cv2.warpPerspective(src_card, hh, (out_w, out_h), flags=cv2.INTER_LINEAR,
                                 borderMode=cv2.BORDER_CONSTANT)
    a = cv2.warpPerspective(src_alpha, hh, (out_w, out_h), flags=cv2.INTER_LINEAR,
                            borderMode=cv2.BORDER_CONSTANT)[:, :, None]
    base = bg.astype(np.float32)
    if shadow > 0:
        off = rng.uniform(-1, 1, 2) * 0.02 * max(out_w, out_h)
        m = np.array([[1, 0, off[0]], [0, 1, off[1]]], np.float32)
        moved = cv2.warpAffine(a[:, :, 0], m, (out_w, out_h))
        sh_a = cv2.GaussianBlur(moved, (0, 0), 0.01 * max(out_w, out_h) + 1)
        base *= (1 - shadow * sh_a)[:, :, None]
    out = base * (1 - a) + warped.astype(np.float32) * a
    return np.clip(out, 0, 255).astype(np.uint8)


# ---------------------------------------------------------------------------
# Photometric effects on the whole image
# ---------------------------------------------------------------------------


def _lighting(img: np.ndarray, rng: np.random.Generator, strength: float) -> np.ndarray:
    h, w = img.shape[:2]
    gx, gy = rng.uniform(-1, 1, 2) * strength
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    plane = 1 + gx * (xx / w - 0.5) * 2 + gy * (yy / h - 0.5) * 2
    return np.clip(img.astype(np.float32) * plane[:, :, None], 0, 255).astype(np.uint8)


def _glare(img: np.ndarray, rng: np.random.Generator, quad: np.ndarray, strength: float) -> np.ndarray:
    """A specular highlight somewhere on the card: blends towards white."""
    h, w = img.shape[:2]
    u, v = rng.uniform(0.1, 0.9, 2)
    top = quad[0] + (quad[1] - quad[0]) * u
    bot = quad[3] + (quad[2] - quad[3]) * u
    cx, cy = top + (bot - top) * v
    side = np.sqrt(cv2.contourArea(quad.astype(np.float32)))
    sx, sy = rng.uniform(0.06, 0.2) * side, rng.uniform(0.04, 0.12) * side
    ang = rng.uniform(0, np.pi)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    dx, dy = xx - cx, yy - cy
    rx = dx * np.cos(ang) + dy * np.sin(ang)
    ry = -dx * np.sin(ang) + dy * np.cos(ang)
    g = np.exp(-0.5 * ((rx / sx) ** 2 + (ry / sy) ** 2)) * strength
    out = img.astype(np.float32)
    out = out + (255 - out) * g[:, :, None]
    return np.clip(out, 0, 255).astype(np.uint8)


def _shadow(img: np.ndarray, rng: np.random.Generator, depth: float) -> np.ndarray:
    """A soft-edged shadow (hand or phone) over part of the frame."""
    h, w = img.shape[:2]
    pts = np.stack([rng.uniform(-0.2, 1.2, 5) * w, rng.uniform(-0.2, 1.2, 5) * h], 1)
    hull = cv2.convexHull(pts.astype(np.float32)).astype(np.int32)
    hard = np.zeros((h, w), np.float32)
    cv2.fillPoly(hard, [hull], 1.0)
    m = cv2.GaussianBlur(hard, (0, 0), 0.03 * max(w, h) + 1)
    return np.clip(img.astype(np.float32) * (1 - depth * m)[:, :, None], 0, 255).astype(np.uint8)


def _motion_blur(img: np.ndarray, rng: np.random.Generator, length: int) -> np.ndarray:
    line = np.zeros((length, length), np.float32)
    line[length // 2, :] = 1.0
    rot = cv2.getRotationMatrix2D((length / 2 - 0.5, length / 2 - 0.5), rng.uniform(0, 180), 1.0)
    k = np.asarray(cv2.warpAffine(line, rot, (length, length)), np.float32)
    k /= max(float(k.sum()), 1e-6)
    return cv2.filter2D(img, -1, k)


def _noise(img: np.ndarray, rng: np.random.Generator, sigma: float) -> np.ndarray:
    # float32 draws directly: half the time of normal() + astype on a 2 MP image.
    n = rng.standard_normal(img.shape, dtype=np.float32)
    n *= sigma
    n += img
    return np.clip(n, 0, 255).astype(np.uint8)


# ---------------------------------------------------------------------------
# Scene assembly
# ---------------------------------------------------------------------------

# Per-level parameters: ranges are (low, high) for rng.uniform.
_PARAMS: dict[str, dict[str, tuple[float, float]]] = {
    "photo": {"long": (1000, 1600), "area": (0.30, 0.90), "skew": (-15, 15), "tilt": (0.0, 0.07),
              "blur": (0.0, 1.1), "noise": (1.5, 5.0), "jpeg": (65, 90), "light": (0.05, 0.25),
              "glare_p": (0.15, 0.15), "glare": (0.3, 0.7), "shadow_p": (0.3, 0.3),
              "dark": (0.85, 1.05), "motion_p": (0.05, 0.05)},
    "hard": {"long": (1200, 2000), "area": (0.15, 0.45), "skew": (-15, 15), "tilt": (0.03, 0.13),
             "blur": (0.6, 2.2), "noise": (4.0, 11.0), "jpeg": (40, 75), "light": (0.15, 0.4),
             "glare_p": (0.35, 0.35), "glare": (0.5, 0.9), "shadow_p": (0.5, 0.5),
             "dark": (0.45, 0.9), "motion_p": (0.3, 0.3)},
}
_ASPECTS = (4 / 3, 3 / 4, 16 / 9, 9 / 16, 1.0, 3 / 2)


def _clean_scene(card: np.ndarray, rng: np.random.Generator, copy: bool) -> tuple[np.ndarray, np.ndarray]:
    """A flatbed scan: card 88-98% of the width, near upright, light background."""
    out_w = int(rng.integers(640, 1300))
    frac = rng.uniform(0.88, 0.98)
    card_w = out_w * frac
    s = card_w / CARD_W
    card_h = CARD_H * s
    margin_y = rng.uniform(0.01, 0.06) * card_h
    out_h = int(round(card_h + 2 * margin_y))
    angle = rng.uniform(-1.5, 1.5)
    centre = np.array([out_w / 2 + rng.uniform(-1, 1) * (out_w - card_w) / 4,
                       out_h / 2 + rng.uniform(-1, 1) * margin_y / 2])
    quad = ((_CARD_CORNERS - [CARD_W / 2, CARD_H / 2]) * s) @ _rotation(angle).T + centre
    h = cv2.getPerspectiveTransform(_CARD_CORNERS.astype(np.float32), quad.astype(np.float32))
    bg = _paper(rng, out_w, out_h) if copy else _background(rng, out_w, out_h, busy=False)
    img = _warp_onto(bg, card, _ALPHA, h.astype(np.float64), 0.0, rng)
    return img, h.astype(np.float64)


def _photo_geometry(rng: np.random.Generator, p: dict[str, tuple[float, float]]
                    ) -> tuple[int, int, np.ndarray]:
    """Frame size and card quad for a photo-level capture."""
    long_side = int(rng.uniform(*p["long"]))
    aspect = _ASPECTS[int(rng.integers(len(_ASPECTS)))]
    out_w, out_h = (long_side, int(long_side / aspect)) if aspect >= 1 else \
        (int(long_side * aspect), long_side)
    k = int(rng.choice(4, p=[0.55, 0.15, 0.15, 0.15]))  # quarter turns: mostly upright
    angle = 90.0 * k + rng.uniform(*p["skew"])
    tilt = rng.uniform(*p["tilt"])
    area = rng.uniform(*p["area"])
    for _ in range(30):
        quad = _place(rng, out_w, out_h, area, angle, tilt, margin=0.02)
        if quad is not None:
            return out_w, out_h, quad
        area *= 0.9  # too big for this frame and angle: shrink and retry
    raise RuntimeError("card does not fit the frame")  # pragma: no cover


def make_scene(
    card: np.ndarray,
    level: str,
    rng: np.random.Generator,
    *,
    photocopy: bool = False,
    recapture: bool = False,
) -> Scene:
    """Capture the flat ``card`` (CARD_H x CARD_W BGR) at ``level``.

    Args:
        card: the rendered upright card.
        level: "clean", "photo" or "hard".
        rng: the card's random generator.
        photocopy: print the card as a grey photocopy on paper first.
        recapture: show the card on a screen and photograph the screen.
    """
    if level not in LEVELS:
        raise ValueError(f"unknown level {level!r}")
    src = _photocopy_card(card, rng) if photocopy else card
    if level == "clean":
        img, h = _clean_scene(src, rng, photocopy)
        if recapture:
            img = _screen_effects(img, rng)
        img = cv2.GaussianBlur(img, (0, 0), rng.uniform(0.3, 0.7))
        img = _noise(img, rng, rng.uniform(0.5, 2.0))
        quality = int(rng.integers(85, 96))
    else:
        p = _PARAMS[level]
        out_w, out_h, quad = _photo_geometry(rng, p)
        h = cv2.getPerspectiveTransform(_CARD_CORNERS.astype(np.float32),
                                        quad.astype(np.float32)).astype(np.float64)
        if photocopy:
            bg = _paper(rng, out_w, out_h)
        elif recapture:
            # A phone or monitor showing a photo viewer: dark surround.
            bg = np.full((out_h, out_w, 3), rng.uniform(5, 60), np.uint8)
        else:
            bg = _background(rng, out_w, out_h, busy=True)
        shadow = 0.0 if (photocopy or recapture) else rng.uniform(0.2, 0.5) * (rng.random() < 0.6)
        img = _warp_onto(bg, src, _ALPHA, h, shadow, rng)
        if recapture:
            img = _screen_effects(img, rng)
        img = _lighting(img, rng, rng.uniform(*p["light"]))
        if rng.random() < p["shadow_p"][0]:
            img = _shadow(img, rng, rng.uniform(0.2, 0.5))
        if rng.random() < p["glare_p"][0]:
            img = _glare(img, rng, quad, rng.uniform(*p["glare"]))
        dark = rng.uniform(*p["dark"])
        if dark < 1.0:  # low light: darker, warmer
            warm = np.array([rng.uniform(0.8, 0.95), 1.0, rng.uniform(1.0, 1.1)], np.float32)
            img = np.clip(img.astype(np.float32) * dark * warm, 0, 255).astype(np.uint8)
        sigma = rng.uniform(*p["blur"])
        if sigma > 0.2:
            img = cv2.GaussianBlur(img, (0, 0), sigma)
        if rng.random() < p["motion_p"][0]:
            img = _motion_blur(img, rng, int(rng.integers(3, 10)))
        img = _noise(img, rng, rng.uniform(*p["noise"]))
        quality = int(rng.integers(int(p["jpeg"][0]), int(p["jpeg"][1]) + 1))
    if photocopy:
        gray = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
        # Some photocopies are saved as single-channel greyscale files.
        img = gray if rng.random() < 0.3 else cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR)
    if max(img.shape[:2]) > MAX_SIDE:  # pragma: no cover - the ranges above stay below
        f = MAX_SIDE / max(img.shape[:2])
        img = cv2.resize(img, None, fx=f, fy=f, interpolation=cv2.INTER_AREA)
        h = np.diag([f, f, 1.0]) @ h
    return Scene(img, h, quality)
