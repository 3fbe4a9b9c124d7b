"""Draw text runs into a coverage mask and report where the ink landed.

Fields are drawn into a float coverage mask (0..1) the size of the card, one run
at a time, and the exact ink box of each field is measured from the pixels it
drew (Pillow's ``getbbox`` reports the advance box horizontally, which is wider
than the ink). The renderer later composites the mask with an ink colour, so
all text of a card shares one printing effect.

Example:
    >>> import numpy as np
    >>> mask = np.zeros((100, 300), np.float32)
    >>> box = draw_run(mask, "A123", "ocrb", 32, pen_x=10, baseline=60)
    >>> box[0] > 10 and box[3] <= 62
    True
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw

from .fonts import font

__all__ = ["Box", "draw_cjk_grid", "draw_run", "ink_box", "run_width", "union"]

#: (x0, y0, x1, y1) in pixels, x1/y1 exclusive.
Box = tuple[int, int, int, int]


def run_width(text: str, font_name: str, size: int, tracking: float = 0.0) -> float:
    """Advance width of a run (what it occupies on the card's pitch grid)."""
    f = font(font_name, size)
    return sum(f.getlength(ch) for ch in text) + tracking * max(len(text) - 1, 0)


def _stamp(mask: np.ndarray, patch: np.ndarray, x0: int, y0: int) -> Box | None:
    """Max-composite ``patch`` (0..255) into ``mask`` at (x0, y0); return its ink box."""
    ys, xs = np.nonzero(patch > 24)
    if len(xs) == 0:
        return None
    h, w = mask.shape
    px0, py0 = max(x0, 0), max(y0, 0)
    px1, py1 = min(x0 + patch.shape[1], w), min(y0 + patch.shape[0], h)
    if px1 <= px0 or py1 <= py0:
        return None
    sub = patch[py0 - y0:py1 - y0, px0 - x0:px1 - x0].astype(np.float32) / 255.0
    np.maximum(mask[py0:py1, px0:px1], sub, out=mask[py0:py1, px0:px1])
    return (x0 + int(xs.min()), y0 + int(ys.min()), x0 + int(xs.max()) + 1, y0 + int(ys.max()) + 1)


def draw_run(
    mask: np.ndarray,
    text: str,
    font_name: str,
    size: int,
    pen_x: float,
    baseline: float,
    tracking: float = 0.0,
) -> Box | None:
    """Draw ``text`` with its first pen position at ``pen_x`` on ``baseline``.

    Characters are placed one by one so ``tracking`` (extra pixels between
    characters) works for any font. Returns the ink box, or None for blank text.
    """
    f = font(font_name, size)
    ascent, descent = f.getmetrics()
    width = int(np.ceil(run_width(text, font_name, size, tracking))) + 2 * size
    height = ascent + descent + size // 2
    pad = size
    img = Image.new("L", (width + pad, height), 0)
    draw = ImageDraw.Draw(img)
    # Sub-pixel pen positions would be rounded by Pillow; keep the fractional part
    # in the patch offset so long runs do not drift.
    ox = int(np.floor(pen_x)) - pad // 2
    oy = int(round(baseline)) - ascent - size // 4
    x = pen_x - ox
    for ch in text:
        draw.text((x, baseline - oy), ch, font=f, fill=255, anchor="ls")
        x += f.getlength(ch) + tracking
    return _stamp(mask, np.asarray(img), ox, oy)


def draw_cjk_grid(
    mask: np.ndarray, text: str, font_name: str, size: int, x: float, top: float, pitch: float
) -> Box | None:
    """Draw CJK characters on a fixed grid: first ink-left at ``x``, ink-top at ``top``.

    The grid is anchored on the em box of a full-height reference character (國)
    so that a character with little ink at the top (一, 二) still sits on the
    same line as it would on a real card.
    """
    f = font(font_name, size)
    ref = _reference_ink(font_name, size)
    boxes: list[Box | None] = []
    for i, ch in enumerate(text):
        img = Image.new("L", (size * 2, size * 2), 0)
        ImageDraw.Draw(img).text((size // 2, size // 2), ch, font=f, fill=255, anchor="lt")
        # Place the em box so the reference character's ink would start at (x, top).
        ox = int(round(x + i * pitch - ref[0])) - size // 2
        oy = int(round(top - ref[1])) - size // 2
        boxes.append(_stamp(mask, np.asarray(img), ox, oy))
    return union(boxes)


@lru_cache(maxsize=64)
def _reference_ink(font_name: str, size: int) -> tuple[int, int]:
    """Ink left/top of 國 drawn at (size/2, size/2) with anchor "lt", relative to that point."""
    img = Image.new("L", (size * 2, size * 2), 0)
    ImageDraw.Draw(img).text((size // 2, size // 2), "國", font=font(font_name, size), fill=255,
                             anchor="lt")
    ys, xs = np.nonzero(np.asarray(img) > 24)
    return int(xs.min()) - size // 2, int(ys.min()) - size // 2


def union(boxes: list[Box | None]) -> Box | None:
    """Smallest box containing every non-None box (None if there are none)."""
    real = [b for b in boxes if b is not None]
    if not real:
        return None
    return (min(b[0] for b in real), min(b[1] for b in real),
            max(b[2] for b in real), max(b[3] for b in real))


def ink_box(mask: np.ndarray, threshold: float = 0.1) -> Box | None:
    """Bounding box of the pixels of ``mask`` above ``threshold``."""
    ys, xs = np.nonzero(mask > threshold)
    if len(xs) == 0:
        return None
    return (int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1)
