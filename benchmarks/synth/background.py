"""Blank card backgrounds: erased specimen scans and fully drawn cards.

Two sources of card backgrounds, both 1000 x 630 BGR:

* ``specimen``: the two real specimen scans, scaled up 2.1x, with every printed
  variable field erased (``cv2.inpaint`` over the dark text pixels only, so the
  security print around the letters survives), the "樣本 SAMPLE" mark and the
  small number window emptied, the ghost portrait blurred out. For
  non-permanent cards the title is erased too and reprinted as "香港居民身份證 /
  HONG KONG IDENTITY CARD" in matching colour, size and spacing.
* ``drawn``: a synthetic card in the design's colours: gradient, guilloche-like
  sine lines, title, labels, a gold chip and arrow (2003) or a flower rosette,
  number window and vertical 香港 (2018).

Both are cached per process (the erasing costs ~0.2 s; a card then only copies it).

Example:
    >>> bg = specimen_blank("2003", permanent=True)  # doctest: +SKIP
    >>> bg.shape
    (630, 1000, 3)
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np

from .fonts import font
from .layout import CARD_H, CARD_W, LAYOUTS
from .text import draw_run, run_width

__all__ = [
    "SPECIMEN_DIR",
    "bgr",
    "composite",
    "draw_labels",
    "draw_title",
    "drawn_background",
    "specimen_blank",
]

#: The two specimen scans (part of the repository's test data).
SPECIMEN_DIR = Path(__file__).resolve().parents[2] / "tests" / "data"

# Boxes (x0, y0, x1, y1 at 1000 x 630) around each printed variable field of the
# specimens, with a margin; only the dark text pixels inside are erased.
_ERASE_BOXES: dict[str, list[tuple[int, int, int, int]]] = {
    "2003": [(44, 110, 215, 162), (44, 164, 327, 202), (296, 216, 630, 260),
             (297, 343, 536, 384), (610, 338, 690, 381), (298, 389, 419, 428),
             (302, 475, 464, 516), (302, 538, 537, 588), (646, 535, 936, 584)],
    "2018": [(50, 121, 218, 172), (49, 169, 323, 218), (391, 230, 712, 272),
             (390, 360, 623, 402), (648, 360, 716, 406), (391, 406, 509, 445),
             (395, 490, 551, 531), (392, 547, 616, 594), (681, 544, 955, 591)],
}
# The blue "樣本 SAMPLE" mark (2003) and the number in the small window (2018).
_MARK_BOXES: dict[str, tuple[int, int, int, int]] = {
    "2003": (655, 134, 915, 184),
    "2018": (684, 125, 762, 151),
}

#: Title, label and window colours (BGR) as printed on each design.
TITLE_COLOR = {"2003": (92, 140, 172), "2018": (100, 112, 38)}
LABEL_COLOR = {"2003": (88, 88, 96), "2018": (128, 122, 40)}
INK_COLOR = {"2003": (52, 52, 58), "2018": (40, 38, 38)}

_TITLES = {
    True: ("香港永久性居民身份證", "HONG KONG PERMANENT IDENTITY CARD"),
    False: ("香港居民身份證", "HONG KONG IDENTITY CARD"),
}
# Title fonts: 2003 prints a Hei Chinese title over a wide serif English line; 2018
# a Ming-style Chinese title over a sans-serif English line.
_TITLE_FONTS = {"2003": ("noto_sans_cjk", "liberation_serif"),
                "2018": ("noto_serif_cjk_bold", "liberation_sans")}


def bgr(values: Sequence[float] | np.ndarray) -> tuple[int, int, int]:
    """Three numbers as an integer BGR colour tuple (what OpenCV drawing wants)."""
    b, g, r = (int(v) for v in values)
    return b, g, r


def composite(img: np.ndarray, mask: np.ndarray, color: tuple[int, int, int],
              opacity: float = 1.0) -> None:
    """Print ``mask`` (0..1 coverage) onto ``img`` in place, multiplying like ink on paper.

    Multiplying keeps the background's texture visible through light ink, which a
    plain alpha blend would flatten.
    """
    ys, xs = np.nonzero(mask > 0.003)
    if len(xs) == 0:
        return
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    a = (mask[y0:y1, x0:x1] * opacity)[:, :, None]
    region = img[y0:y1, x0:x1].astype(np.float32)
    ink = np.array(color, np.float32)[None, None, :] / 255.0
    out = region * (1.0 - a + a * ink)
    img[y0:y1, x0:x1] = np.clip(out + 0.5, 0, 255).astype(np.uint8)


def _text_pixels(gray: np.ndarray, box: tuple[int, int, int, int], delta: float) -> np.ndarray:
    """Mask of pixels in ``box`` darker than their local background by ``delta``."""
    x0, y0, x1, y1 = box
    roi = gray[y0:y1, x0:x1]
    bg = np.asarray(cv2.medianBlur(roi, 31), np.float32)
    m = np.zeros(gray.shape, np.uint8)
    darker = (bg - roi.astype(np.float32)) > delta
    m[y0:y1, x0:x1] = darker.astype(np.uint8) * 255
    return m


def _erase_box(mask: np.ndarray, pixels: np.ndarray, box: tuple[int, int, int, int]) -> None:
    """Mark for erasing the bounding box of ``pixels`` inside ``box``, padded 4 px.

    The padding never leaves ``box``: the 2003 chip sits just below the English
    name, and inpainting must not pull its gold upwards.
    """
    x0, y0, x1, y1 = box
    ys, xs = np.nonzero(pixels[y0:y1, x0:x1])
    if len(xs):
        mask[max(y0 + ys.min() - 4, y0):min(y0 + ys.max() + 5, y1),
             max(x0 + xs.min() - 4, x0):min(x0 + xs.max() + 5, x1)] = 255


@lru_cache(maxsize=2)
def _specimen_scaled(design: str) -> np.ndarray:
    path = SPECIMEN_DIR / f"specimen_{design}.jpg"
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise FileNotFoundError(f"specimen scan missing: {path}")
    return cv2.resize(img, (CARD_W, CARD_H), interpolation=cv2.INTER_CUBIC)


def _sharpen(img: np.ndarray) -> np.ndarray:
    """A light unsharp mask: the 2.1x upscale is soft next to freshly printed text.

    Applied after erasing: sharpening first would leave bright halos around the
    old letters that the inpainting then spreads into the erased area.
    """
    blur = cv2.GaussianBlur(img, (0, 0), 2.0)
    return cv2.addWeighted(img, 1.35, blur, -0.35, 0)


@lru_cache(maxsize=4)
def specimen_blank(design: str, permanent: bool) -> np.ndarray:
    """The specimen of ``design`` with its variable fields erased (read-only array)."""
    img = _specimen_scaled(design).copy()
    gray = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
    mask = np.zeros(gray.shape, np.uint8)
    # Whole boxes around the printed pixels, not just the dark pixels: erasing only
    # the letters leaves their soft JPEG halos, which read as ghost text after
    # inpainting.
    for box in _ERASE_BOXES[design]:
        _erase_box(mask, _text_pixels(gray, box, 12), box)
    x0, y0, x1, y1 = box = _MARK_BOXES[design]
    if design == "2003":
        # Blue mark: find it by colour rather than by darkness.
        roi = img[y0:y1, x0:x1].astype(np.int16)
        blue = np.zeros(gray.shape, np.uint8)
        blue[y0:y1, x0:x1] = ((roi[:, :, 0] - roi[:, :, 2]) > 18).astype(np.uint8) * 255
        _erase_box(mask, blue, box)
    else:
        _erase_box(mask, _text_pixels(gray, box, 14), box)
    if not permanent:
        lay = LAYOUTS[design]
        for box in (lay.title_cn_box, lay.title_en_box):
            _erase_box(mask, _text_pixels(gray, box, 12), box)
    # Grow the mask past the soft JPEG edges of the letters, or their halos stay.
    grown = cv2.dilate(mask, np.ones((3, 3), np.uint8), iterations=1)
    filled = np.asarray(cv2.inpaint(img, grown, 3, cv2.INPAINT_TELEA), np.float32)
    # Inpainted areas are smoother than the scan around them; give them the scan's
    # grain back (fixed seed: the blank must be identical in every process).
    grain = np.random.default_rng(int(design)).normal(0, 2.2, filled.shape).astype(np.float32)
    soft = np.asarray(cv2.GaussianBlur(grown, (0, 0), 2), np.float32)[:, :, None] / 255.0
    out = np.clip(filled + grain * soft, 0, 255).astype(np.uint8)
    # The ghost portrait (2003) still shows the specimen holder faintly: smear it
    # into its surroundings; a synthetic ghost is printed over it per card.
    if design == "2003":
        gx0, gy0, gx1, gy1 = LAYOUTS[design].ghost
        region = out[gy0:gy1, gx0:gx1]
        smooth = cv2.GaussianBlur(region, (0, 0), 9)
        inner = np.zeros(region.shape[:2], np.float32)
        cv2.rectangle(inner, (8, 8), (region.shape[1] - 9, region.shape[0] - 9), 1.0, -1)
        feather = np.asarray(cv2.GaussianBlur(inner, (0, 0), 5), np.float32)[:, :, None]
        out[gy0:gy1, gx0:gx1] = (region * (1 - feather) + smooth * feather).astype(np.uint8)
    out = _sharpen(out)
    if not permanent:
        draw_title(out, design, permanent=False)
    out.setflags(write=False)
    return out


@lru_cache(maxsize=8)
def _title_geometry(design: str) -> tuple[tuple[int, float, float], tuple[int, float, float]]:
    """(size, tracking, baseline) for the Chinese and English title lines of ``design``.

    Fitted to the permanent specimen title: the font size from the ink height, the
    tracking from the ink width, so a reprinted title has the same spacing.
    """
    cn_font, en_font = _TITLE_FONTS[design]
    # Measured ink boxes of the specimens' titles (x0, x1, top, bottom).
    measured = {"2003": ((298, 706, 31, 61), (123, 873, 72, 94)),
                "2018": ((305, 701, 27, 62), (130, 866, 75, 99))}[design]
    out = []
    for (x0, x1, top, bottom), fname, text in zip(measured, (cn_font, en_font), _TITLES[True]):
        height = bottom - top
        ref = "國" if "cjk" in fname else "H"
        probe = font(fname, 100).getbbox(ref, anchor="ls")
        ratio = (probe[3] - probe[1]) / 100.0
        size = max(int(round(height / ratio)), 8)
        natural = run_width(text, fname, size)
        tracking = ((x1 - x0) - natural) / (len(text) - 1)
        baseline = top - font(fname, size).getbbox(ref, anchor="ls")[1]
        out.append((size, tracking, baseline))
    return out[0], out[1]


def draw_title(img: np.ndarray, design: str, permanent: bool) -> None:
    """Print the two title lines of ``design`` centred on the card (in place)."""
    cn_font, en_font = _TITLE_FONTS[design]
    mask = np.zeros(img.shape[:2], np.float32)
    centre = {"2003": 502.0, "2018": 498.5}[design]
    for (size, tracking, baseline), fname, text in zip(_title_geometry(design), (cn_font, en_font),
                                                       _TITLES[permanent]):
        width = run_width(text, fname, size, tracking)
        draw_run(mask, text, fname, size, centre - width / 2, baseline, tracking)
    composite(img, cv2.GaussianBlur(mask, (0, 0), 0.7), TITLE_COLOR[design], 0.95)


def draw_labels(img: np.ndarray, design: str) -> None:
    """Print "出生日期 Date of Birth" and "簽發日期 Date of Issue" (drawn cards)."""
    lay = LAYOUTS[design]
    mask = np.zeros(img.shape[:2], np.float32)
    size = lay.label_size
    cn_font = "uming" if design == "2003" else "noto_sans_cjk"
    for (x, base), cn, en in ((lay.dob_label, "出生日期", "Date of Birth"),
                             (lay.doi_label, "簽發日期", "Date of Issue")):
        draw_run(mask, cn, cn_font, size - 3, x, base)
        cn_w = run_width(cn, cn_font, size - 3)
        draw_run(mask, en, "liberation_sans", size, x + cn_w + 6, base)
    composite(img, cv2.GaussianBlur(mask, (0, 0), 0.6), LABEL_COLOR[design])


def _gradient(rng: np.random.Generator, colors: list[tuple[int, int, int]]) -> np.ndarray:
    """A smooth multi-colour wash: each colour pulls towards a random anchor point."""
    yy, xx = np.mgrid[0:CARD_H, 0:CARD_W].astype(np.float32)
    acc = np.zeros((CARD_H, CARD_W, 3), np.float32)
    wsum = np.zeros((CARD_H, CARD_W, 1), np.float32)
    for c in colors:
        ax, ay = rng.uniform(0, CARD_W), rng.uniform(0, CARD_H)
        d2 = ((xx - ax) ** 2 + (yy - ay) ** 2) / (CARD_W * 0.45) ** 2
        wgt = np.exp(-d2)[:, :, None] + 1e-3
        acc += wgt * np.array(c, np.float32)[None, None, :]
        wsum += wgt
    return acc / wsum


def _guilloche(img: np.ndarray, rng: np.random.Generator, color: tuple[int, int, int],
               n: int, amp: float) -> None:
    """Families of thin sine curves, the fine line pattern of security printing."""
    xs = np.arange(0, CARD_W + 1, 4, dtype=np.float32)
    f1, f2 = rng.uniform(0.004, 0.012), rng.uniform(0.015, 0.03)
    for i in range(n):
        y0 = -40 + i * (CARD_H + 80) / n
        phase = i * rng.uniform(0.15, 0.3)
        ys = y0 + amp * np.sin(xs * f1 + phase) + amp * 0.3 * np.sin(xs * f2 - phase * 2)
        pts = np.stack([xs, ys], 1).astype(np.int32)
        cv2.polylines(img, [pts], False, color, 1, cv2.LINE_AA)


def _rosette(img: np.ndarray, centre: tuple[float, float], radius: float,
             color: tuple[int, int, int], petals: int = 5) -> None:
    """A faint five-petal flower outline (the 2018 card's bauhinia motif, stylised)."""
    t = np.linspace(0, 2 * np.pi, 720, dtype=np.float32)
    for k in range(6):
        r = radius * (0.55 + 0.45 * np.abs(np.cos(petals * t / 2))) * (1 - k * 0.06)
        pts = np.stack([centre[0] + r * np.cos(t + k * 0.05), centre[1] + r * np.sin(t + k * 0.05)], 1)
        cv2.polylines(img, [pts.astype(np.int32)], True, color, 2, cv2.LINE_AA)


def _chip(img: np.ndarray, rng: np.random.Generator) -> None:
    """The gold contact chip and the arrow to its left (2003 design)."""
    x0, y0, x1, y1 = 100, 210, 247, 346
    gold = np.array([60, 170, 225], np.float32) + rng.normal(0, 6, 3)
    chip = np.zeros((y1 - y0, x1 - x0, 3), np.float32)
    yy = np.linspace(0, 1, y1 - y0, dtype=np.float32)[:, None, None]
    chip[:] = gold[None, None, :] * (1.05 - 0.25 * yy)
    dark = bgr(gold * 0.55)
    c8 = np.clip(chip, 0, 255).astype(np.uint8)
    w, h = x1 - x0, y1 - y0
    # Contact pads: a central column and three rows of pads each side.
    cv2.rectangle(c8, (int(w * 0.38), int(h * 0.1)), (int(w * 0.62), int(h * 0.9)), dark, 2)
    for fy in (0.33, 0.66):
        cv2.line(c8, (0, int(h * fy)), (int(w * 0.38), int(h * fy)), dark, 2)
        cv2.line(c8, (int(w * 0.62), int(h * fy)), (w, int(h * fy)), dark, 2)
    hard = np.zeros((h, w), np.uint8)
    cv2.rectangle(hard, (6, 6), (w - 7, h - 7), 255, -1)
    mask = cv2.GaussianBlur(hard, (0, 0), 4)
    cv2.rectangle(c8, (0, 0), (w - 1, h - 1), dark, 3)
    a = (mask.astype(np.float32) / 255.0)[:, :, None]
    img[y0:y1, x0:x1] = (img[y0:y1, x0:x1] * (1 - a) + c8 * a).astype(np.uint8)
    tri = np.array([[32, 278], [72, 222], [72, 334]], np.int32)
    cv2.fillPoly(img, [tri], (120, 120, 125), cv2.LINE_AA)


def drawn_background(design: str, permanent: bool, rng: np.random.Generator) -> np.ndarray:
    """A fully synthetic blank card of ``design`` (title, labels, patterns; no fields)."""
    if design == "2003":
        palette = [(190, 225, 215), (215, 215, 235), (175, 225, 225), (230, 215, 225),
                   (200, 230, 205)]
    else:
        palette = [(225, 215, 240), (240, 232, 215), (235, 240, 220), (220, 225, 245),
                   (245, 238, 230)]
    colors = [bgr(np.clip(np.array(palette[i]) + rng.normal(0, 6, 3), 0, 255))
              for i in rng.permutation(len(palette))[:4]]
    img = np.clip(_gradient(rng, colors), 0, 255).astype(np.uint8)
    _guilloche(img, rng, bgr(np.array(colors[0]) * 0.88), n=int(rng.integers(50, 90)),
               amp=float(rng.uniform(15, 45)))
    _guilloche(img, rng, bgr(np.array(colors[1]) * 0.9), n=int(rng.integers(30, 60)),
               amp=float(rng.uniform(30, 80)))
    if design == "2003":
        _chip(img, rng)
    else:
        _rosette(img, (560, 330), 190, (225, 210, 235))
        # Number window (top right) and the vertical 香港 at the right edge.
        cv2.ellipse(img, (722, 138), (48, 17), -8, 0, 360, (205, 200, 200), -1, cv2.LINE_AA)
        mask = np.zeros(img.shape[:2], np.float32)
        draw_run(mask, "香", "uming", 62, 918, 110)
        draw_run(mask, "港", "uming", 62, 918, 180)
        composite(img, cv2.GaussianBlur(mask, (0, 0), 1.0), (185, 170, 200), 0.6)
    # Light paper grain so flat areas are not perfectly clean.
    grain = rng.normal(0, 2.0, img.shape).astype(np.float32)
    img = np.clip(img.astype(np.float32) + grain, 0, 255).astype(np.uint8)
    draw_title(img, design, permanent)
    draw_labels(img, design)
    return img
