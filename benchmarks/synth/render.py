"""Print an identity onto a blank card: the upright, flat 1000 x 630 card image.

The renderer knows where each field goes (:mod:`.layout`), prints it in the
card's fonts and ink, places a synthetic portrait (and the ghost / laser
portrait), and reports the exact ink box of every printed field and the
portrait box, in card pixels. :mod:`.degrade` then turns the flat card into a
scan or a photo and maps those boxes into the output image.

Run ``python -m benchmarks.synth.render --overlay OUT.png`` to print each
specimen's own identity on its erased background and compare with the real
scan (red: original only, cyan: synthetic only): the check behind the layout.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from datetime import date

import cv2
import numpy as np

from .background import INK_COLOR, composite, drawn_background, specimen_blank
from .identities import Identity
from .layout import CARD_H, CARD_W, LAYOUTS, LatinSpec
from .portrait import draw_portrait
from .text import Box, draw_cjk_grid, draw_run, run_width, union

__all__ = ["RenderedCard", "name_fits", "render_card"]

# Latin faces for drawn cards: mostly OCR-B (what the cards use), some look-alikes
# so a reader cannot overfit to one font. Specimen-based cards always use OCR-B.
_LATIN_FONTS = (("ocrb", 0.75), ("dejavu_mono", 0.15), ("noto_mono_cjk", 0.10))
_CN_FONTS = (("uming", 0.75), ("ukai", 0.10), ("noto_serif_cjk", 0.15))


@dataclass(frozen=True)
class RenderedCard:
    """A flat upright card and where everything on it is."""

    image: np.ndarray  # (CARD_H, CARD_W, 3) BGR uint8
    field_boxes: dict[str, Box]  # ink box of each printed (non-empty) field
    portrait_box: Box | None  # main portrait, None when the card has none
    latin_font: str
    cn_font: str


def name_fits(design: str, name_en: str) -> bool:
    """Whether ``name_en`` fits the English-name field of ``design`` without shrinking.

    Measured with OCR-B, the widest of the Latin faces the renderer uses.
    """
    spec = LAYOUTS[design].latin["nameEn"]
    return spec.pen_x + run_width(name_en, "ocrb", spec.size) <= spec.max_right


def _choose(rng: np.random.Generator, options: tuple[tuple[str, float], ...]) -> str:
    names = [n for n, _ in options]
    p = np.array([w for _, w in options], np.float64)
    return names[int(rng.choice(len(names), p=p / p.sum()))]


def _place_portrait(img: np.ndarray, rng: np.random.Generator, box: tuple[int, int, int, int],
                    *, grayscale: bool, opacity: float, feather: float,
                    background: tuple[int, int, int] | None = None) -> None:
    """Draw a synthetic portrait into ``box`` with softened edges (in place)."""
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    face = draw_portrait(rng, w, h, grayscale=grayscale, background=background).astype(np.float32)
    alpha = np.zeros((h, w), np.float32)
    m = int(max(feather, 1))
    cv2.rectangle(alpha, (m, m), (w - 1 - m, h - 1 - m), 1.0, -1)
    alpha = cv2.GaussianBlur(alpha, (0, 0), feather)[:, :, None] * opacity
    region = img[y0:y1, x0:x1].astype(np.float32)
    img[y0:y1, x0:x1] = np.clip(region * (1 - alpha) + face * alpha, 0, 255).astype(np.uint8)


def _erase_region(img: np.ndarray, box: tuple[int, int, int, int]) -> None:
    """Fill ``box`` with a smooth continuation of its surroundings (no portrait)."""
    x0, y0, x1, y1 = box
    pad = 12
    X0, Y0 = max(x0 - pad, 0), max(y0 - pad, 0)
    X1, Y1 = min(x1 + pad, img.shape[1]), min(y1 + pad, img.shape[0])
    roi = img[Y0:Y1, X0:X1]
    # Inpaint at quarter scale (a large hole is slow and blotchy at full scale).
    small = cv2.resize(roi, None, fx=0.25, fy=0.25, interpolation=cv2.INTER_AREA)
    mask = np.zeros(small.shape[:2], np.uint8)
    cv2.rectangle(mask, ((x0 - X0) // 4, (y0 - Y0) // 4), ((x1 - X0) // 4, (y1 - Y0) // 4), 255, -1)
    filled = cv2.inpaint(small, mask, 5, cv2.INPAINT_TELEA)
    filled = cv2.GaussianBlur(filled, (0, 0), 2)
    big = cv2.resize(filled, (X1 - X0, Y1 - Y0), interpolation=cv2.INTER_CUBIC)
    img[y0:y1, x0:x1] = big[y0 - Y0:y1 - Y0, x0 - X0:x1 - X0]


def _print_latin(mask: np.ndarray, text: str, spec: LatinSpec, font_name: str,
                 jitter: tuple[float, float]) -> Box | None:
    return draw_run(mask, text, font_name, spec.size, spec.pen_x + jitter[0],
                    spec.baseline + jitter[1])


def render_card(
    identity: Identity,
    design: str,
    source: str,
    rng: np.random.Generator,
    *,
    portrait: bool = True,
    jitter: bool = True,
) -> RenderedCard:
    """Print ``identity`` on a blank card of ``design`` ("specimen" or "drawn" background).

    Args:
        identity: what to print.
        design: "2003" or "2018".
        source: "specimen" (erased real scan) or "drawn" (synthetic background).
        rng: the card's random generator.
        portrait: False for a card without a photo (some under-11 cards).
        jitter: shift the printed text by a few random pixels, as printers do.
    """
    lay = LAYOUTS[design]
    if source == "specimen":
        img = specimen_blank(design, identity.permanent).copy()
        latin_font, cn_font = "ocrb", "uming"
    elif source == "drawn":
        img = drawn_background(design, identity.permanent, rng)
        latin_font, cn_font = _choose(rng, _LATIN_FONTS), _choose(rng, _CN_FONTS)
    else:
        raise ValueError(f"unknown source {source!r}")

    # Portraits first: the text is printed over nothing else, but the 2003 ghost
    # portrait sits under nothing either; order only matters for overlaps.
    portrait_box: Box | None = None
    if portrait:
        if design == "2003":
            _place_portrait(img, rng, lay.portrait, grayscale=False, opacity=1.0, feather=3.0,
                            background=(212, 208, 204) if source == "specimen" else None)
            # Ghost portrait: faint, grey, bottom-left.
            gx0, gy0, gx1, gy1 = lay.ghost
            cx = (gx0 + gx1) // 2
            _place_portrait(img, rng, (cx - 45, gy0 + 6, cx + 45, gy1 - 6), grayscale=True,
                            opacity=0.28, feather=8.0)
        else:
            _place_portrait(img, rng, lay.portrait, grayscale=True, opacity=1.0, feather=4.0,
                            background=(236, 236, 236))
            gx0, gy0, gx1, gy1 = lay.ghost
            _place_portrait(img, rng, (gx0 + 8, gy0 + 8, gx1 - 8, gy1 - 8), grayscale=True,
                            opacity=0.9, feather=3.0, background=(238, 238, 238))
        portrait_box = lay.portrait
    elif source == "specimen":
        # The specimen's own photos must go: no real face on a card without a portrait.
        _erase_region(img, lay.portrait)
        _erase_region(img, lay.ghost)

    # Small per-card print offsets: a card printer is not pixel-exact.
    dx, dy = (rng.uniform(-3, 3), rng.uniform(-2, 2)) if jitter else (0.0, 0.0)
    mask = np.zeros((CARD_H, CARD_W), np.float32)
    boxes: dict[str, Box | None] = {}
    if identity.name_cn:
        c = lay.name_cn
        boxes["nameCn"] = draw_cjk_grid(mask, identity.name_cn, cn_font, c.size, c.x + dx,
                                        c.top + dy, c.pitch)
    for key, text in (("nameEn", identity.name_en), ("nameCode", identity.name_code),
                      ("birthDate", identity.birth_date), ("issuedCode", identity.issued_code),
                      ("firstIssuedDate", identity.first_issued_date),
                      ("issuedDate", identity.issued_date), ("idNumber", identity.id_number)):
        if text:
            boxes[key] = _print_latin(mask, text, lay.latin[key], latin_font, (dx, dy))
    # Sex: 女 / 男 in the Chinese face, then the letter (the 2003 card leaves a gap).
    s = lay.sex
    cn_box = draw_cjk_grid(mask, identity.sex[0], cn_font, s.cn_size, s.cn_x + dx, s.cn_top + dy,
                           0)
    lat_box = _print_latin(mask, identity.sex[1], s.latin, latin_font, (dx, dy))
    boxes["sex"] = union([cn_box, lat_box])

    ink = tuple(int(np.clip(v + rng.normal(0, 6), 0, 255)) for v in INK_COLOR[design])
    # Thermal-transfer print is slightly soft; blur the coverage a little.
    soft = cv2.GaussianBlur(mask, (0, 0), float(rng.uniform(0.5, 0.9)))
    composite(img, soft, ink, float(rng.uniform(0.9, 1.0)))  # type: ignore[arg-type]

    if design == "2018":
        # The small number window (top right) repeats the number without its check digit.
        wmask = np.zeros((CARD_H, CARD_W), np.float32)
        number = identity.id_number.split("(")[0]
        w = run_width(number, "dejavu_serif_italic", 17)
        draw_run(wmask, number, "dejavu_serif_italic", 17, 723 - w / 2, 145)
        composite(img, cv2.GaussianBlur(wmask, (0, 0), 0.6), (70, 70, 74), 0.8)

    field_boxes = {k: b for k, b in boxes.items() if b is not None}
    return RenderedCard(img, field_boxes, portrait_box, latin_font, cn_font)


def _specimen_identity(design: str) -> Identity:
    """The specimens' own printed strings (for the overlay check)."""
    if design == "2003":
        cn, en, code, birth, first, issued = ("李智能", "LEE, Chi Nan", "2621 2535 5174",
                                              "01-01-1968", "(01-79)", "15-09-03")
    else:
        cn, en, code, birth, first, issued = ("申智能", "SAN, Chi Nan", "3947 2535 5174",
                                              "01-01-1988", "(01-99)", "15-09-18")
    return Identity(cn, en, code, birth, "女F", "***AZ", first, issued, "C668668(E)", True, False,
                    date(2000, 1, 1), date(2003, 9, 15), 35)


def overlay(out_path: str) -> None:
    """Write a red/cyan overlay of each specimen against its re-rendered self."""
    from .background import _specimen_scaled

    rows = []
    for design in ("2003", "2018"):
        card = render_card(_specimen_identity(design), design, "specimen",
                           np.random.default_rng(0), portrait=False, jitter=False)
        orig = cv2.cvtColor(_specimen_scaled(design), cv2.COLOR_BGR2GRAY)
        synth = cv2.cvtColor(card.image, cv2.COLOR_BGR2GRAY)
        rows.append(np.dstack([synth, synth, orig]))  # B,G from synthetic; R from original
    cv2.imwrite(out_path, np.vstack(rows))


def main() -> None:
    """Command line: ``--overlay OUT.png`` writes the layout check image."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--overlay", required=True, help="output PNG")
    overlay(ap.parse_args().overlay)


if __name__ == "__main__":
    main()
