"""Per-design templates: where each printed line and the portrait sit on the card.

Coordinates are fractions of the card's width and height (upright card, origin at the
top-left corner). Line boxes are *text kernels* as the text detector sees them on the
two real specimen scans (the detector reports the core of each line, a little smaller
than the ink); :func:`text_box` grows a kernel to the box the recogniser reads.

Variable-length fields (names, code line, symbols) are stored at their specimen
width plus ``max_w``, the widest the line can run before it would meet another
element of the card.

Example:
    >>> line = TEMPLATES["2003"].line("idNumber")
    >>> round(line.x, 3), line.kind
    (0.66, 'field')
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

import cv2
import numpy as np

from .types import Design

__all__ = ["LineSpec", "Template", "TEMPLATES", "misplaced_lines", "template_mask", "text_box"]

LineKind = Literal["static", "field"]


@dataclass(frozen=True)
class LineSpec:
    """One printed line of a design (a kernel box in card fractions)."""

    key: str
    x: float
    y: float
    w: float
    h: float
    kind: LineKind
    max_w: float = 0.0  # widest extent for variable-length lines (0: fixed width)
    # Fraction of the specimen width that every card prints (titles differ between
    # permanent and other cards, names differ in length): used for layout matching.
    match_from: float = 0.0
    match_to: float = 1.0

    @property
    def cy(self) -> float:
        return self.y + self.h / 2


@dataclass(frozen=True)
class Template:
    """A card design: its printed lines and its portrait area."""

    design: Design
    lines: tuple[LineSpec, ...]
    portrait: tuple[float, float, float, float]  # x, y, w, h of the main portrait
    ghost: tuple[float, float, float, float]  # the small second portrait

    def line(self, key: str) -> LineSpec:
        for spec in self.lines:
            if spec.key == key:
                return spec
        raise KeyError(key)


# Measured on the specimens (476x300 scans upsampled to 960x608, PP-OCRv6 det kernels).
# Titles: only the middle part is common to permanent and non-permanent cards.
TEMPLATES: dict[Design, Template] = {
    "2003": Template(
        design="2003",
        lines=(
            LineSpec("titleCn", 0.303, 0.059, 0.390, 0.028, "static", match_from=0.3, match_to=0.7),
            LineSpec("titleEn", 0.125, 0.122, 0.743, 0.023, "static", match_from=0.25, match_to=0.75),
            LineSpec("nameCn", 0.055, 0.199, 0.146, 0.036, "field", max_w=0.42, match_to=0.6),
            LineSpec("nameEn", 0.051, 0.278, 0.266, 0.028, "field", max_w=0.60, match_to=0.5),
            LineSpec("nameCode", 0.310, 0.363, 0.306, 0.028, "field", max_w=0.40, match_to=0.6),
            LineSpec("dobLabel", 0.307, 0.500, 0.248, 0.023, "static"),
            LineSpec("birthDate", 0.309, 0.564, 0.216, 0.025, "field"),
            LineSpec("sex", 0.620, 0.556, 0.061, 0.033, "field"),
            LineSpec("issuedCode", 0.308, 0.635, 0.100, 0.026, "field", max_w=0.30, match_to=0.4),
            LineSpec("issueLabel", 0.308, 0.706, 0.256, 0.021, "static"),
            LineSpec("firstIssuedDate", 0.315, 0.773, 0.138, 0.028, "field"),
            LineSpec("issuedDate", 0.318, 0.877, 0.206, 0.031, "field"),
            LineSpec("idNumber", 0.660, 0.873, 0.261, 0.030, "field", max_w=0.30),
        ),
        portrait=(0.714, 0.358, 0.210, 0.417),
        ghost=(0.040, 0.610, 0.240, 0.235),
    ),
    "2018": Template(
        design="2018",
        lines=(
            LineSpec("titleCn", 0.318, 0.053, 0.365, 0.031, "static", match_from=0.3, match_to=0.7),
            LineSpec("titleEn", 0.145, 0.123, 0.711, 0.025, "static", match_from=0.25, match_to=0.75),
            LineSpec("nameCn", 0.061, 0.212, 0.144, 0.038, "field", max_w=0.42, match_to=0.6),
            LineSpec("nameEn", 0.060, 0.289, 0.251, 0.028, "field", max_w=0.60, match_to=0.5),
            LineSpec("nameCode", 0.403, 0.383, 0.294, 0.028, "field", max_w=0.42, match_to=0.6),
            LineSpec("dobLabel", 0.400, 0.525, 0.236, 0.023, "static"),
            LineSpec("birthDate", 0.404, 0.590, 0.214, 0.033, "field"),
            LineSpec("sex", 0.651, 0.590, 0.052, 0.033, "field"),
            LineSpec("issuedCode", 0.403, 0.661, 0.096, 0.028, "field", max_w=0.30, match_to=0.4),
            LineSpec("issueLabel", 0.401, 0.727, 0.239, 0.025, "static"),
            LineSpec("firstIssuedDate", 0.407, 0.794, 0.131, 0.030, "field"),
            LineSpec("issuedDate", 0.407, 0.887, 0.197, 0.033, "field"),
            LineSpec("idNumber", 0.695, 0.885, 0.246, 0.030, "field", max_w=0.28),
        ),
        portrait=(0.058, 0.390, 0.257, 0.540),
        ghost=(0.735, 0.580, 0.105, 0.240),
    ),
}


@lru_cache(maxsize=8)
def template_mask(design: Design, width: int, height: int) -> np.ndarray:
    """A float32 mask of the lines every card of ``design`` prints, at ``width`` x ``height``.

    Used to match a detected text map against each design and orientation.
    """
    mask = np.zeros((height, width), np.float32)
    for spec in TEMPLATES[design].lines:
        x0 = spec.x + spec.w * spec.match_from
        x1 = spec.x + spec.w * spec.match_to
        p0 = (int(round(x0 * width)), int(round(spec.y * height)))
        p1 = (int(round(x1 * width)) - 1, int(round((spec.y + spec.h) * height)) - 1)
        cv2.rectangle(mask, p0, p1, 1.0, thickness=-1)
    mask.setflags(write=False)
    return mask


def text_box(
    kernel: tuple[float, float, float, float], lead: float = 0.55
) -> tuple[float, float, float, float]:
    """Grow a detector kernel box (x0, y0, x1, y1) to the box the recogniser reads.

    The detector's kernel is the core of the line; the ink reaches about 40% of the
    kernel height beyond it on each side, and the recogniser wants a little air too.
    ``lead`` is the air before the line, in kernel heights: more for lines that start
    with a narrow capital or letter the kernel tends to leave out.

    Example:
        >>> text_box((100, 50, 200, 60))
        (94.5, 43.5, 205.5, 66.5)
    """
    x0, y0, x1, y1 = kernel
    h = y1 - y0
    dy = 0.65 * h
    dx = 0.55 * h
    return (x0 - lead * h, y0 - dy, x1 + dx, y1 + dy)


@dataclass(frozen=True)
class LayoutMatch:
    """How well a text map matches one design in one orientation."""

    design: Design
    flipped: bool  # True when the map must be turned 180 degrees to be upright
    score: float  # normalised correlation, -1..1
    shift: tuple[float, float]  # (dx, dy) of the printed layout against the template, canonical px


_MATCH_SIZE = (128, 80)
_MATCH_MARGIN = (8, 8)  # search +-6% of the width and +-10% of the height


def match_layout(text_map: np.ndarray) -> list[LayoutMatch]:
    """Score every design and both orientations against a canonical text map, best first."""
    h, w = text_map.shape
    mw, mh = _MATCH_SIZE
    mx, my = _MATCH_MARGIN
    small = cv2.resize(text_map, (mw, mh), interpolation=cv2.INTER_AREA)
    out: list[LayoutMatch] = []
    for flipped in (False, True):
        m = small[::-1, ::-1] if flipped else small
        padded = cv2.copyMakeBorder(np.ascontiguousarray(m), my, my, mx, mx, cv2.BORDER_CONSTANT, value=0)
        for design in TEMPLATES:
            tmpl = template_mask(design, mw, mh)
            res = cv2.matchTemplate(padded, tmpl, cv2.TM_CCOEFF_NORMED)
            _, score, _, loc = cv2.minMaxLoc(res)
            dx = (loc[0] - mx) * w / mw
            dy = (loc[1] - my) * h / mh
            out.append(LayoutMatch(design, flipped, float(score), (float(dx), float(dy))))
    out.sort(key=lambda m: -m.score)
    return out


#: The lines the recogniser reads, and the template lines each one spans.
READ_LINES: dict[str, tuple[str, ...]] = {
    "titleEn": ("titleEn",),
    "nameCn": ("nameCn",),
    "nameEn": ("nameEn",),
    "nameCode": ("nameCode",),
    "birthDate+sex": ("birthDate", "sex"),
    "issuedCode": ("issuedCode",),
    "firstIssuedDate": ("firstIssuedDate",),
    "issuedDate": ("issuedDate",),
    "idNumber": ("idNumber",),
}

TEXT_THRESHOLD = 0.3
#: The English title spans ~74% of the card width on permanent cards
#: ("HONG KONG PERMANENT IDENTITY CARD") and ~52% on others.
PERMANENT_TITLE_MIN_WIDTH = 0.63


def locate_lines(
    text_map: np.ndarray,
    design: Design,
    shift: tuple[float, float],
    lines: dict[str, tuple[str, ...]] | None = None,
) -> dict[str, tuple[tuple[float, float, float, float], bool]]:
    """Each read line's kernel box (x0, y0, x1, y1) in canonical px, and whether text was seen.

    The template, moved by the layout ``shift``, says where to look; the detector's
    connected text components inside a window around it say where the line really is,
    so a line is never cut by a small rectification error. A line with no text in its
    window keeps its template box (an empty field).
    """
    H, W = text_map.shape
    tmpl = TEMPLATES[design]
    binary = (text_map > TEXT_THRESHOLD).astype(np.uint8)
    n, _, stats, _ = cv2.connectedComponentsWithStats(binary, connectivity=4)
    # Specks below 6 px at 512 x 320 are noise; the floor scales with the map's area.
    min_area = max(2.0, 6.0 * W * H / (512 * 320))
    comps = [
        (float(x), float(y), float(x + cw), float(y + ch))
        for x, y, cw, ch, area in stats[1:n]
        if area >= min_area
    ]
    dx, dy = shift
    out: dict[str, tuple[tuple[float, float, float, float], bool]] = {}
    for read_key, parts in (lines or READ_LINES).items():
        specs = [tmpl.line(k) for k in parts]
        ex0 = min(s.x for s in specs) * W + dx
        ex1 = max(s.x + max(s.w, s.max_w) for s in specs) * W + dx
        if read_key in ("titleEn", "titleCn"):
            ex0, ex1 = 0.04 * W + dx, 0.96 * W + dx
        ey0 = min(s.y for s in specs) * H + dy
        ey1 = max(s.y + s.h for s in specs) * H + dy
        ecy = (ey0 + ey1) / 2
        eh = ey1 - ey0
        win_x0 = ex0 - 0.03 * W
        win_x1 = ex1 + 0.02 * W
        win_dy = max(0.032 * H, 0.7 * eh)
        cands = [
            c for c in comps
            if abs((c[1] + c[3]) / 2 - ecy) < win_dy
            and c[2] > win_x0 and c[0] < win_x1
            and (c[3] - c[1]) < 2.5 * eh
        ]
        if not cands:
            out[read_key] = ((ex0, ey0, specs[0].x * W + dx + specs[0].w * W, ey1), False)
            continue

        def cost(c: tuple[float, float, float, float]) -> float:
            return abs((c[1] + c[3]) / 2 - ecy) / H + 0.3 * max(0.0, c[0] - ex0) / W
        anchor = min(cands, key=cost)
        acy = (anchor[1] + anchor[3]) / 2
        ah = anchor[3] - anchor[1]
        line = [c for c in cands if abs((c[1] + c[3]) / 2 - acy) < max(0.6 * ah, 0.5 * eh)]
        x0 = max(win_x0, min(c[0] for c in line))
        x1 = min(win_x1, max(c[2] for c in line))
        if len(specs) > 1:
            # A line holding two fields (date of birth and sex): the detector may miss a
            # faint second field, so the line always runs to the last field's end.
            last = specs[-1]
            x1 = max(x1, (last.x + last.w) * W + dx + 0.01 * W)
        y0 = min(c[1] for c in line)
        y1 = max(c[3] for c in line)
        out[read_key] = ((x0, y0, x1, y1), True)
    return out


#: Field lines printed from a fixed left edge, and how far right of it (share of the
#: card width) a located line may start: 99% of lines on the benchmark corpus start
#: within 0.02 of it; a lost first letter of a name is ~0.03.
_LEFT_ALIGNED = ("nameCn", "nameEn", "nameCode", "birthDate+sex", "issuedCode", "firstIssuedDate", "issuedDate")
_MAX_LEFT_GAP = 0.025


def misplaced_lines(
    lines: dict[str, tuple[tuple[float, float, float, float], bool]],
    design: Design,
    shift: tuple[float, float],
    size: tuple[int, int],
) -> list[str]:
    """Field lines located well right of where their design starts them.

    Such a line has lost its start: the text map ran it into the line above, or
    split it. ``lines`` is :func:`locate_lines`' result on a map of ``size`` (w, h).

    Example:
        >>> spec = TEMPLATES["2003"].line("nameEn")
        >>> x = spec.x * 512
        >>> misplaced_lines({"nameEn": ((x + 40, 90, x + 200, 98), True)}, "2003", (0, 0), (512, 320))
        ['nameEn']
        >>> misplaced_lines({"nameEn": ((x + 2, 90, x + 200, 98), True)}, "2003", (0, 0), (512, 320))
        []
    """
    W = size[0]
    out = []
    for key in _LEFT_ALIGNED:
        box, found = lines.get(key, ((0.0, 0.0, 0.0, 0.0), False))
        if found and box[0] - (TEMPLATES[design].line(READ_LINES[key][0]).x * W + shift[0]) > _MAX_LEFT_GAP * W:
            out.append(key)
    return out


#: Lines whose left edge (or, for the centred titles, centre) sits at the same place
#: on every card of a design: anchors for registering the printed layout.
_ANCHOR_LINES = ("titleCn", "titleEn", "nameCn", "nameEn", "nameCode", "dobLabel", "birthDate",
                 "issuedCode", "issueLabel", "firstIssuedDate", "issuedDate")
_CENTRED = ("titleCn", "titleEn")

#: The lines a card without a Chinese name leaves blank (see register_layout). Measured
#: at the true corners of the benchmark corpus's 240 clean scans, on screening maps:
#: the full map asked 19 of the 37 cards without a Chinese name to move their corners
#: by 0.016 of the diagonal or more (the screening tolerance), against 7 of the 203
#: cards with one (two anchors at the left edge); the similarity asks none of the 37.
#: Each such move cost a card ~80 ms (two screenings and two rectifications at
#: CARD_SIZE) for corners that were right. On a CARD_SIZE map the full map stays:
#: there it mended a photo's misplaced corners that a similarity could not.
_CHINESE_NAME_LINES = ("nameCn", "nameCode")


def register_layout(
    text_map: np.ndarray, design: Design, shift: tuple[float, float], coarse: bool = False
) -> np.ndarray | None:
    """An affine map (2x3) from template positions to where the lines really are.

    Identity when the card was rectified exactly. A scale or skew away from identity
    means the card's corners were found wrong (an edge lost in clutter, a border taken
    for the card), and the map tells how to correct them. None when fewer than five
    anchor lines are visible.

    ``coarse``: the map is a screening map (see recognizer.SCREEN_SIZE). On a card
    without a Chinese name, the English name is then the only anchor at the card's
    left edge, so the full map's width scale hangs on where one line starts, quantised
    to a map pixel: the map returned is then a similarity (rotation, one scale, shift)
    whenever that explains every line as well (see _CHINESE_NAME_LINES).

    Example:
        >>> import numpy as np
        >>> register_layout(np.zeros((320, 512), np.float32), "2003", (0.0, 0.0)) is None
        True
    """
    H, W = text_map.shape
    tmpl = TEMPLATES[design]
    found = locate_lines(text_map, design, shift, {k: (k,) for k in _ANCHOR_LINES})
    src, dst = [], []
    for key in _ANCHOR_LINES:
        box, ok = found[key]
        if not ok:
            continue
        spec = tmpl.line(key)
        cy = (box[1] + box[3]) / 2
        if key in _CENTRED:
            # Only the title's centre is common to permanent and other cards.
            src.append(((spec.x + spec.w / 2) * W, spec.cy * H))
            dst.append(((box[0] + box[2]) / 2, cy))
        else:
            src.append((spec.x * W, spec.cy * H))
            dst.append((box[0], cy))
    if len(src) < 5:
        return None
    threshold = max(1.5, 3.0 * W / 512)  # 3 px at 512 x 320
    p, q = np.array(src, np.float32), np.array(dst, np.float32)
    A, inliers = cv2.estimateAffine2D(p, q, method=cv2.RANSAC, ransacReprojThreshold=threshold)
    if A is None or inliers is None or int(inliers.sum()) < 5:
        return None
    if coarse and not any(found[k][1] for k in _CHINESE_NAME_LINES):
        # The similarity most of the full map's inliers agree on (least median: one
        # line's quantised start must not tilt it either), if it fits them all.
        keep = inliers.ravel().astype(bool)
        S, _ = cv2.estimateAffinePartial2D(p[keep], q[keep], method=cv2.LMEDS)
        if S is not None and np.abs(p[keep] @ S[:, :2].T + S[:, 2] - q[keep]).max() <= threshold:
            return S.astype(np.float64)
    return A.astype(np.float64)
