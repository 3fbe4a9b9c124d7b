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

from collections.abc import Iterator, Sequence
from typing import NamedTuple

import cv2
import numpy as np

from .rectify import CARD_ASPECT, order_clockwise
from .types import CardCandidate
from .workers import SERIAL, Workers

__all__ = [
    "FINE_SNAP", "WORK_SIDE", "WorkImage", "find_candidates", "gradients", "iter_candidates", "same_outline",
    "snap_twice", "straight_outlines", "TRACED_SNAP",
]

#: Long side of the working copy used to find the outline.
WORK_SIDE = 640
MIN_AREA_FRACTION = 0.03
MAX_CANDIDATES = 4
#: An outline covering this share of the frame goes before the whole frame (whole_first).
LARGE_OUTLINE = 0.6


def _line_intersection(l1: np.ndarray, l2: np.ndarray) -> np.ndarray | None:
    (vx1, vy1, x1, y1), (vx2, vy2, x2, y2) = l1, l2
    a = np.array([[vx1, -vx2], [vy1, -vy2]], np.float64)
    if abs(np.linalg.det(a)) < 1e-6:
        return None
    t = np.linalg.solve(a, np.array([x2 - x1, y2 - y1], np.float64))
    return np.array([x1 + vx1 * t[0], y1 + vy1 * t[0]])


def _corners_from_sides(lines: list[np.ndarray]) -> np.ndarray | None:
    """Corners where consecutive side lines (vx, vy, x0, y0) meet; None if two are parallel."""
    out = []
    for i in range(4):
        p = _line_intersection(lines[i - 1], lines[i])
        if p is None:
            return None
        out.append(p)
    return np.array(out)


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
    res = _corners_from_sides(lines)
    if res is None:
        return quad
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


def _median_u8(a: np.ndarray) -> float:
    """``np.median`` of a uint8 array, from its histogram (exact, ~4x faster)."""
    cum = np.cumsum(np.bincount(a.ravel(), minlength=256))
    n = a.size
    lo = int(np.searchsorted(cum, (n - 1) // 2, side="right"))
    hi = int(np.searchsorted(cum, n // 2, side="right"))
    return (lo + hi) / 2


#: Canny thresholds of the fixed-threshold edge map (the other one follows the image's
#: median brightness).
FIXED_CANNY = (20.0, 60.0)


def _canny_map(blur: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Dilated Canny edges of an already blurred grey image."""
    e = cv2.Canny(blur, max(5.0, lo), max(15.0, hi))
    return cv2.dilate(e, np.ones((3, 3), np.uint8))


def _colour_map(small: np.ndarray) -> np.ndarray | None:
    """Colour edges: a pale card on a grey table of equal brightness differs in hue."""
    lab = cv2.cvtColor(cv2.GaussianBlur(small, (5, 5), 0), cv2.COLOR_BGR2Lab)
    grad = np.zeros(small.shape[:2], np.float32)
    for c in (1, 2):
        ch = lab[:, :, c].astype(np.float32)
        gx = cv2.Sobel(ch, cv2.CV_32F, 1, 0, ksize=3)
        gy = cv2.Sobel(ch, cv2.CV_32F, 0, 1, ksize=3)
        grad = np.maximum(grad, cv2.magnitude(gx, gy))
    if grad.max() <= 0:
        return None
    thr = _percentile_at_least(grad, 90, 20.0)
    return cv2.dilate((grad > thr).astype(np.uint8) * 255, np.ones((3, 3), np.uint8))


def _percentile_at_least(a: np.ndarray, q: float, floor: float) -> float:
    """``max(floor, np.percentile(a, q))``, exactly, without sorting when the floor wins.

    The percentile lies between the order statistics at floor(pos) and floor(pos) + 1
    (pos = q% of n - 1): when at least floor(pos) + 2 values are <= ``floor``, it cannot
    exceed ``floor``. A counted comparison settles that ~100x faster than the partial
    sort (most of a scan's colour gradients are faint).
    """
    n = a.size
    pos = q / 100.0 * (n - 1)
    if n - np.count_nonzero(a > floor) >= int(np.floor(pos)) + 2:
        return floor
    return max(floor, float(np.percentile(a, q)))


def _region_maps(gray: np.ndarray) -> list[np.ndarray]:
    """Binary masks of bright, low-texture regions (the card's face) for contour finding."""
    blur = cv2.GaussianBlur(gray, (7, 7), 0)
    _, otsu = cv2.threshold(blur, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    k = np.ones((9, 9), np.uint8)
    closed = cv2.morphologyEx(otsu, cv2.MORPH_CLOSE, k)
    opened = cv2.morphologyEx(closed, cv2.MORPH_OPEN, k)
    return [opened]


def same_outline(quad: np.ndarray, other: np.ndarray, tolerance: float = 0.04) -> bool:
    """Whether two quads are the same outline (corners within ``tolerance`` of the first's diagonal)."""
    return bool(np.abs(quad - other).max() < tolerance * float(np.linalg.norm(quad[2] - quad[0])))


def _dedupe(cands: list[tuple[float, np.ndarray, str]]) -> list[tuple[float, np.ndarray, str]]:
    kept: list[tuple[float, np.ndarray, str]] = []
    for score, quad, src in sorted(cands, key=lambda c: -c[0]):
        if any(same_outline(quad, q) for _, q, _ in kept):
            continue
        kept.append((score, quad, src))
    return kept


def _ransac_line(rows: np.ndarray, pts: np.ndarray, offs: np.ndarray, n_rows: int,
                 rng: np.random.Generator, prefer: str = "support") -> tuple[np.ndarray, np.ndarray] | None:
    """The straight line supported by the most sample rows (one candidate point each).

    ``rows`` (ascending) says which sample row each point of ``pts`` comes from.

    ``prefer``: "support" takes the line of the most rows (the outermost between equals);
    "inner" (or "outer") the innermost (outermost) line whose support is close to the
    best: searching outward from the card's text (inward from a scan's frame), the first
    long edge met is the card's border.
    """
    if len(pts) < 2:
        return None
    tries = min(300, len(pts) * (len(pts) - 1) // 2)
    idx = rng.integers(0, len(pts), size=(tries, 2))
    i0, i1 = idx[:, 0], idx[:, 1]
    other_row = rows[i0] != rows[i1]
    if not other_row.any():
        return None
    # x and y as contiguous vectors: the same numbers as from columns of ``pts``, but
    # without its stride in every step below (with the gather below, this function went
    # from ~300 to ~230 us a call, the same lines: measured on 2,106 recorded calls).
    px, py = np.ascontiguousarray(pts[:, 0]), np.ascontiguousarray(pts[:, 1])
    i0, i1 = i0[other_row], i1[other_row]
    x0, y0 = px[i0], py[i0]
    dx, dy = px[i1] - x0, py[i1] - y0
    norm = np.hypot(dx, dy)
    ok = norm > 1e-6
    if not ok.all():
        x0, y0, dx, dy, norm = x0[ok], y0[ok], dx[ok], dy[ok], norm[ok]
        if len(x0) == 0:
            return None
    nx, ny = -dy / norm, dx / norm
    # All hypotheses at once: distance of every point to every hypothesised line
    # (written out per coordinate and in place: the same numbers as an einsum, several
    # times faster).
    dist = px[None, :] - x0[:, None]
    dist *= nx[:, None]
    across = py[None, :] - y0[:, None]
    across *= ny[:, None]
    dist += across
    inl = np.abs(dist, out=dist) < 1.5
    # Support: the rows with an inlier. Points come row by row (rows ascending), so
    # each row's points are one run of columns, a few long: OR-ing the runs' k-th
    # columns is cheaper than a reduceat (a run shorter than k ORs its first column
    # again, which changes nothing). (Not a matrix product: numpy would hand it to a
    # multithreaded BLAS that then competes with the recogniser's lanes.)
    starts = np.flatnonzero(np.concatenate(([True], rows[1:] != rows[:-1])))
    counts = np.diff(np.append(starts, len(rows)))
    seen = inl[:, starts]
    for k in range(1, int(counts.max())):
        seen |= inl[:, starts + np.minimum(k, counts - 1)]
    support = seen.sum(axis=1)
    best_support = int(support.max())
    if best_support < max(6, n_rows // 3):
        return None

    def mean_off(which: np.ndarray) -> np.ndarray:
        # Where the inliers of the hypotheses ``which`` lie across the side, on average
        # (only the hypotheses still in the running need it).
        sel = inl[which]
        return (sel * offs[None, :]).sum(axis=1) / np.maximum(1, sel.sum(axis=1))

    if prefer != "support":
        # Searching from the card's text outward (from the frame inward): the first long
        # edge is its border.
        strong = np.flatnonzero(support >= max(0.6 * best_support, n_rows // 2))
        if len(strong) == 0:
            strong = np.flatnonzero(support == best_support)
        offs_strong = mean_off(strong)
        pick = int(strong[np.argmin(offs_strong) if prefer == "inner" else np.argmax(offs_strong)])
    else:
        # Most rows first; between equals, the outermost line (the card's border lies
        # outside every printed or photographed edge on the card).
        tied = np.flatnonzero(support == best_support)
        pick = int(tied[np.argmax(mean_off(tied))])
    best_inl = inl[pick]
    sel = pts[best_inl]
    c = sel.mean(axis=0)
    # Only V: without the n x n U (the same V, ~3x faster).
    _, _, vt = np.linalg.svd(sel - c, full_matrices=False)
    return vt[0], c


def upper_quartile(a: np.ndarray) -> np.ndarray:
    """Each row's 75th percentile: ``np.percentile(a, 75, axis=1)``, the same numbers.

    numpy's percentile spends ~40 us a call on generality; a snap asks for one on
    4 x 48 values. Here: the two order statistics around the quantile by a partition,
    and numpy's own linear interpolation between them.

    Example:
        >>> a = np.arange(12.0).reshape(2, 6)
        >>> upper_quartile(a).tolist() == np.percentile(a, 75, axis=1).tolist()
        True
    """
    n = a.shape[1]
    # numpy's virtual index for q = 0.75 (its "linear" method: alpha = beta = 1).
    at = n * 0.75 + (1 + 0.75 * -1) - 1
    lo = int(np.floor(at))
    hi = min(n - 1, lo + 1)
    t = at - lo
    v = np.partition(a, (lo, hi), axis=1) if hi > lo else np.partition(a, lo, axis=1)
    below, above = v[:, lo], v[:, hi]
    diff = above - below
    # As numpy's _lerp: from the lower value below half the step, from the upper above.
    return above - diff * (1 - t) if t >= 0.5 else below + diff * t


def gradients(gray: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Horizontal and vertical Sobel gradients of a grey image (float32)."""
    g = gray.astype(np.float32)
    return cv2.Sobel(g, cv2.CV_32F, 1, 0, ksize=3), cv2.Sobel(g, cv2.CV_32F, 0, 1, ksize=3)


#: A traced outline whose corners lie within this share of the diagonal of another quad
#: (clockwise from the top left) is the same outline (see same_outline): traced outlines
#: are rough until snapped, so a looser match than the default.
ROUGHLY_SAME_OUTLINE = 0.1


class WorkImage:
    """One image at the outline finder's working size (WORK_SIDE), its grey and its
    gradients, each computed on first use and then kept.

    Made per recognition: the outline search, registration and refits all work on the
    same downscaled image, and most clear cards never need the gradients.
    """

    def __init__(self, bgr: np.ndarray) -> None:
        self.bgr = bgr
        h, w = bgr.shape[:2]
        #: Working size over original size (at most 1).
        self.scale = min(1.0, WORK_SIDE / max(h, w))
        self._small: np.ndarray | None = None
        self._gray: np.ndarray | None = None
        self._grads: tuple[np.ndarray, np.ndarray] | None = None
        #: Every outline the candidate search found, best first (score, working-size corners).
        self.outlines: list[tuple[float, np.ndarray]] = []

    def traced_like(self, quad: np.ndarray) -> np.ndarray | None:
        """The first of :attr:`outlines` that is roughly ``quad`` (ROUGHLY_SAME_OUTLINE; working
        pixels, ``quad`` clockwise from the top left), as traced; None when none is."""
        return next((o for _, o in self.outlines if same_outline(quad, order_clockwise(o), ROUGHLY_SAME_OUTLINE)), None)

    @property
    def small(self) -> np.ndarray:
        """The image at working size (the image itself when it is smaller)."""
        if self._small is None:
            h, w = self.bgr.shape[:2]
            size = (max(1, round(w * self.scale)), max(1, round(h * self.scale)))
            self._small = cv2.resize(self.bgr, size, interpolation=cv2.INTER_AREA) if self.scale < 1 else self.bgr
        return self._small

    @property
    def gray(self) -> np.ndarray:
        if self._gray is None:
            self._gray = cv2.cvtColor(self.small, cv2.COLOR_BGR2GRAY)
        return self._gray

    @property
    def grads(self) -> tuple[np.ndarray, np.ndarray]:
        """Sobel gradients of :attr:`gray` (see :func:`gradients`)."""
        if self._grads is None:
            self._grads = gradients(self.gray)
        return self._grads


def _across_sides(grads: tuple[np.ndarray, np.ndarray], pts: np.ndarray, n: np.ndarray) -> np.ndarray:
    """The gradient across each side at sample points: |grad . n| at ``pts`` (side,
    place along it, offset across it, xy), ``n`` the sides' unit normals; 0 off the image."""
    gx, gy = grads
    shape = pts.shape[:3]
    mx = pts[..., 0].astype(np.float32).reshape(-1, shape[2])
    my = pts[..., 1].astype(np.float32).reshape(-1, shape[2])
    sx = cv2.remap(gx, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    sy = cv2.remap(gy, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    return np.abs(sx.reshape(shape) * n[:, 0, None, None] + sy.reshape(shape) * n[:, 1, None, None])


def snap_to_edges(
    gray: np.ndarray | tuple[np.ndarray, np.ndarray],
    quad: np.ndarray,
    radius: float = 0.04,
    samples: int = 48,
    outward: tuple[float, float] | None = None,
    inward: float | None = None,
) -> np.ndarray:
    """Move each side of ``quad`` onto the straight edge near it that most of the side shares.

    Along the middle of each side, the gradient across the side is sampled within
    ``radius`` (fraction of the card's diagonal); the strongest few responses of each
    profile are candidates, and the line through candidates of the most profiles wins
    (RANSAC), ties going to the outermost. Partial occlusion, a background object
    touching the card, or a strong edge inside the card (the portrait) then no longer
    bends the corners: only the card's border runs the whole length of a side.

    With ``outward=(inner, outer)`` (fractions of the diagonal) the search runs from
    just inside each side to well outside it and takes the innermost long edge: used
    when the quad is the block of the card's text, whose border lies a little outside.
    With ``inward`` (a fraction of the diagonal) it runs from each side inward that far
    and takes the outermost long edge: used when the quad is a scan's frame, and the card
    lies inside with a margin.
    """
    q = np.asarray(quad, np.float64)
    # Several snaps on one image share its gradients (pass gradients(gray) instead).
    gx, gy = gray if isinstance(gray, tuple) else gradients(gray)
    diag = float(np.linalg.norm(q[2] - q[0]))
    prefer = "support"
    if inward is not None:
        outward, prefer = (-inward, 0.0), "outer"
    elif outward is not None:
        prefer = "inner"
    if outward is None:
        r = max(3.0, radius * diag)
        offsets = np.linspace(-r, r, int(2 * r) + 1, dtype=np.float32)
    else:
        lo, hi = outward[0] * diag, outward[1] * diag
        r = max(abs(lo), abs(hi))
        offsets = np.linspace(lo, hi, int(hi - lo) + 1, dtype=np.float32)
    ts = np.linspace(0.08, 0.92, samples, dtype=np.float32)
    rng = np.random.default_rng(0)  # fixed: the same image always gives the same corners
    # The four sides are sampled together (one remap for all: ~4x fewer calls).
    a = q
    ab = np.roll(q, -1, axis=0) - a
    # Per side, as np.linalg.norm of one vector computes it (a dot product).
    lengths = np.array([float(np.linalg.norm(v)) for v in ab])
    if lengths.min() < 8:
        return q
    u = ab / lengths[:, None]
    n = np.stack([u[:, 1], -u[:, 0]], axis=1)  # outward for clockwise corners (y down)
    base = a[:, None, :] + ts[None, :, None] * ab[:, None, :]
    pts = base[:, :, None, :] + offsets[None, None, :, None] * n[:, None, None, :]
    resp = _across_sides((gx, gy), pts, n)
    # Candidates: local maxima of each profile, the strongest three, above a floor.
    floor = np.maximum(10.0, 0.2 * upper_quartile(resp.max(axis=2)))
    peak = (resp >= np.roll(resp, 1, axis=2)) & (resp >= np.roll(resp, -1, axis=2)) & (resp > floor[:, None, None])
    peak[:, :, 0] = peak[:, :, -1] = False
    # Each row's three strongest peaks, row by row, strongest first.
    score = np.where(peak, resp, -1.0)
    top = np.argsort(-score, axis=2, kind="stable")[:, :, :3]
    keeps = np.take_along_axis(score, top, axis=2) > 0
    row_of = np.repeat(np.arange(len(ts)), top.shape[2])
    lines = []
    for i in range(4):
        keep = keeps[i].ravel()
        rows = row_of[keep]
        cols = top[i].ravel()[keep]
        fit = None
        if len(rows):
            fit = _ransac_line(rows, pts[i, rows, cols].astype(np.float64), offsets[cols], len(ts), rng,
                               prefer=prefer)
        if fit is None:
            lines.append(np.array([u[i, 0], u[i, 1], a[i, 0], a[i, 1]]))
        else:
            (vx, vy), (x0, y0) = fit
            lines.append(np.array([vx, vy, x0, y0], np.float64))
    res = _corners_from_sides(lines)
    if res is None:
        return q
    if not cv2.isContourConvex(res.astype(np.float32).reshape(-1, 1, 2)):
        return q
    if np.abs(res - q).max() > 2.5 * r:
        return q
    return res


#: Radius of the last, fine snap of a quad's sides (fraction of its diagonal).
FINE_SNAP = 0.012
#: Radius of the first snap of a traced outline's sides (see snap_twice).
TRACED_SNAP = 0.04


def snap_twice(grads: tuple[np.ndarray, np.ndarray], quad: np.ndarray, radius: float) -> np.ndarray:
    """:func:`snap_to_edges` in two passes: a coarse one of ``radius`` that can travel to
    an edge some way off, then a fine one (FINE_SNAP) that settles on it."""
    return snap_to_edges(grads, snap_to_edges(grads, quad, radius=radius), radius=FINE_SNAP)


#: Gradient across a side (Sobel of 8-bit grey) above which a sample counts as on an edge.
EDGE_RESPONSE = 30.0


def edge_support(grads: tuple[np.ndarray, np.ndarray], quad: np.ndarray, samples: int = 48) -> np.ndarray:
    """Per side of ``quad``, the share of its length that lies on an edge running along it.

    Each side is sampled along its whole length (bar the rounded corners), and a sample
    counts when the gradient across the side, within a pixel of it, is strong. A card's
    border runs the whole length of each side; a line through clutter or print does not.
    ``quad`` may also be a stack of quads (n, 4, 2): the result is then (n, 4).
    """
    q = np.asarray(quad, np.float64)
    many = q.reshape(-1, 4, 2)
    ab = np.roll(many, -1, axis=1) - many
    lengths = np.linalg.norm(ab, axis=2)
    u = ab / np.maximum(lengths, 1e-9)[..., None]
    n = np.stack([u[..., 1], -u[..., 0]], axis=2).reshape(-1, 2)
    ts = np.linspace(0.05, 0.95, samples)
    offsets = np.array([-1.0, 0.0, 1.0])
    base = many.reshape(-1, 1, 2) + ts[None, :, None] * ab.reshape(-1, 1, 2)
    pts = base[:, :, None, :] + offsets[None, None, :, None] * n[:, None, None, :]
    across = _across_sides(grads, pts, n).max(axis=2)
    support = (across > EDGE_RESPONSE).mean(axis=1).reshape(-1, 4)
    # A side shorter than a pixel has no edge to run along.
    support[(lengths < 1).any(axis=1)] = 0.0
    return support if q.ndim == 3 else support[0]


#: How far a re-placed side must move to be worth judging (fraction of the diagonal).
REPAIR_MIN_MOVE = 0.03
#: Radius of the snap that settles a re-placed side (fraction of the diagonal): the
#: card's proportions place it only roughly under perspective.
REPAIR_SNAP = 0.05


def repaired_outlines(grads: tuple[np.ndarray, np.ndarray], quad: np.ndarray) -> list[tuple[float, np.ndarray]]:
    """Outlines with one side of ``quad`` re-placed by the card's proportions, best first.

    A card lying against an object of its own brightness often traces an outline
    with three true sides and a fourth along the other object's edge. Each side in
    turn is taken as the wrong one: the sides next to it are cut to the length the
    card's aspect gives from the side opposite (which may be a long or a short side:
    both are tried), and the quad is snapped to the edges near it. Returns (the
    shortest edge support among the four sides, see :func:`edge_support`, corners),
    in the grads' pixels; a true outline scores near 1.
    """
    q = order_clockwise(np.asarray(quad, np.float64))
    diag = float(np.linalg.norm(q[2] - q[0]))
    lengths = [float(np.linalg.norm(q[(i + 1) % 4] - q[i])) for i in range(4)]
    out = []
    for k in range(4):
        # Side k runs q[k] -> q[k+1]; the sides next to it end there, starting from the
        # opposite side's corners q[k+3] and q[k+2].
        a, b = q[(k + 3) % 4], q[(k + 2) % 4]
        ua = (q[k] - a) / max(float(np.linalg.norm(q[k] - a)), 1e-9)
        ub = (q[(k + 1) % 4] - b) / max(float(np.linalg.norm(q[(k + 1) % 4] - b)), 1e-9)
        for ratio in (1 / CARD_ASPECT, CARD_ASPECT):
            length = lengths[(k + 2) % 4] * ratio
            moved = q.copy()
            moved[k], moved[(k + 1) % 4] = a + ua * length, b + ub * length
            if np.linalg.norm(moved - q, axis=1).max() < REPAIR_MIN_MOVE * diag:
                continue
            snapped = snap_to_edges(grads, moved, radius=REPAIR_SNAP)
            out.append((float(edge_support(grads, snapped).min()), snapped))
    return sorted(out, key=lambda r: -r[0])


#: Straight-edge outlines (see straight_outlines): segments shorter than this share of
#: the working image's long side are texture or print, not a card's side.
STRAIGHT_MIN_SEGMENT = 0.04
#: Segments within this angle (degrees) and this distance (share of the long side) of
#: a line are pieces of it (a side broken by whatever lies across the card).
STRAIGHT_SAME_ANGLE = 2.5
STRAIGHT_SAME_OFFSET = 0.008
#: Lines kept, longest in total first; quads judged by their edges, best covered first.
STRAIGHT_LINES = 30
STRAIGHT_JUDGED = 40
#: Opposite sides of a card differ by less than this angle (degrees) under the
#: perspective of a hand-held photo, and neighbouring sides by more than this.
STRAIGHT_PARALLEL = 20.0
STRAIGHT_CORNER = 55.0
#: The band of aspect ratios accepted around ID-1's (|log| of the ratio), the shortest
#: side (share of the long side of the image), and how far past the frame a corner
#: may lie (the same share: a card cut by the frame keeps its lines).
STRAIGHT_ASPECT = 0.3
STRAIGHT_MIN_SIDE = 0.08
STRAIGHT_PAST_FRAME = 0.1
#: A card's side ends at its corners, while the lines of a quad that papers' edges
#: make run on past them: the mean share of each side's line covered within this
#: share of its length beyond its corners counts against a quad, times this weight.
STRAIGHT_REACH = 0.25
STRAIGHT_OVERHANG = 0.5
#: A card's front is covered in print, a blank paper is not: the share of a quad's
#: inside near an edge counts for it, times this weight (small: a tie-breaker between
#: outlines equally straight; clutter has edges inside too).
STRAIGHT_PRINT = 0.1


class _Lines(NamedTuple):
    """Straight lines through the image's segments: per line its normal (unit), its
    offset along the normal, its angle in [0, pi), and the spans its segments cover along
    its direction (zero-length spans pad the rows)."""

    normal: np.ndarray  # (n, 2)
    offset: np.ndarray  # (n,)
    angle: np.ndarray  # (n,)
    starts: np.ndarray  # (n, most segments of a line)
    ends: np.ndarray


def _straight_lines(gray: np.ndarray) -> _Lines | None:
    """The image's longest straight lines, each gathered from its collinear segments."""
    side = max(gray.shape)
    # Half size: a card's sides survive it, print and texture mostly do not (~4 ms
    # instead of ~15 at the working size); the quads are refined at full size anyway.
    half = cv2.resize(gray, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
    found = cv2.createLineSegmentDetector(cv2.LSD_REFINE_NONE).detect(half)[0]
    if found is None:
        return None
    segs = found.reshape(-1, 4).astype(np.float64) * 2.0
    d = segs[:, 2:] - segs[:, :2]
    length = np.hypot(d[:, 0], d[:, 1])
    keep = length >= STRAIGHT_MIN_SEGMENT * side
    segs, d, length = segs[keep], d[keep], length[keep]
    angle = np.arctan2(d[:, 1], d[:, 0]) % np.pi
    normal = np.stack([-np.sin(angle), np.cos(angle)], axis=1)
    mid = (segs[:, :2] + segs[:, 2:]) / 2
    same_angle, same_offset = np.radians(STRAIGHT_SAME_ANGLE), STRAIGHT_SAME_OFFSET * side
    # near[i, h]: segment i lies along segment h's line (within the angle, and its middle
    # within the offset of that line). Every pair at once, then the greedy pass below
    # looks the answers up (~3x faster than testing each segment against the lines' heads
    # in the pass; the same numbers).
    turn = np.abs(angle[None, :] - angle[:, None])
    across = (mid[:, None, 0] - mid[None, :, 0]) * normal[None, :, 0]
    across += (mid[:, None, 1] - mid[None, :, 1]) * normal[None, :, 1]
    near = (np.minimum(turn, np.pi - turn) < same_angle) & (np.abs(across) < same_offset)
    lines: list[list[int]] = []  # segment indices, the longest (the line's own) first
    heads = np.zeros(len(segs), np.int64)  # the first segment of each line so far
    for i in np.argsort(-length, kind="stable"):
        # The first line (in the order they were started) whose head the segment lies along.
        hit = near[i, heads[: len(lines)]]
        k = int(hit.argmax()) if len(lines) else 0
        if len(lines) and hit[k]:
            lines[k].append(int(i))
        else:
            heads[len(lines)] = i
            lines.append([int(i)])
    if len(lines) < 4:
        return None
    total = np.array([length[m].sum() for m in lines])
    lines = [lines[k] for k in np.argsort(-total, kind="stable")[:STRAIGHT_LINES]]
    first = np.array([m[0] for m in lines])
    direction = np.stack([normal[first, 1], -normal[first, 0]], axis=1)
    starts = np.zeros((len(lines), max(len(m) for m in lines)))
    ends = np.zeros_like(starts)
    for r, members in enumerate(lines):
        a, b = segs[members, :2] @ direction[r], segs[members, 2:] @ direction[r]
        starts[r, : len(members)], ends[r, : len(members)] = np.minimum(a, b), np.maximum(a, b)
    return _Lines(normal[first], (mid[first] * normal[first]).sum(axis=1), angle[first], starts, ends)


def _print_inside(
    grads: tuple[np.ndarray, np.ndarray], quads: np.ndarray, grid: tuple[int, int] = (12, 8)
) -> np.ndarray:
    """Per quad (n, 4, 2), the share of a grid of points over its middle (the outer tenth
    left out: its own edges) that lie on or beside an edge: print, a portrait, a pattern."""
    gx, gy = grads
    near_edge = cv2.blur(np.abs(gx) + np.abs(gy), (5, 5))
    u = np.tile((np.arange(grid[0]) + 0.5) / grid[0] * 0.8 + 0.1, grid[1])
    v = np.repeat((np.arange(grid[1]) + 0.5) / grid[1] * 0.8 + 0.1, grid[0])
    # Bilinear between the corners: close enough to the perspective map inside a card.
    top = quads[:, 0, None, :] * (1 - u)[None, :, None] + quads[:, 1, None, :] * u[None, :, None]
    bottom = quads[:, 3, None, :] * (1 - u)[None, :, None] + quads[:, 2, None, :] * u[None, :, None]
    pts = (top * (1 - v)[None, :, None] + bottom * v[None, :, None]).astype(np.float32)
    sampled = cv2.remap(near_edge, pts[..., 0], pts[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    return np.asarray((sampled > EDGE_RESPONSE).mean(axis=1), np.float64)


def straight_outlines(work: WorkImage, keep: int = 2) -> list[tuple[float, np.ndarray]]:
    """Card-shaped quads whose four sides run along straight edges of the image, best first.

    For a card whose outline never closes in any map: it touches papers or objects
    of its own brightness on several sides, so every traced contour runs on around
    them. Its four sides are still straight edges. Lines are gathered from the
    image's segments; every two pairs of roughly parallel lines, roughly at right
    angles, make a quad; card-shaped quads are ranked first by how much of each side
    the lines' own segments cover, then the best by their edge support (see
    :func:`edge_support`), both less what runs on past the corners (STRAIGHT_OVERHANG).
    Returns up to ``keep`` (score, corners in working pixels, clockwise): the score
    is the weakest side's support plus half the mean, less the overhang, plus a
    little for print inside (STRAIGHT_PRINT); 1.5 for a blank card-shaped outline.

    Example:
        >>> import numpy as np, cv2
        >>> img = np.full((400, 600, 3), 60, np.uint8)
        >>> _ = cv2.rectangle(img, (100, 100), (417, 300), (225, 225, 225), -1)
        >>> score, quad = straight_outlines(WorkImage(img))[0]
        >>> bool(score > 1.4 and np.abs(quad - [[100, 100], [417, 100], [417, 300], [100, 300]]).max() < 3)
        True
    """
    if keep <= 0:
        return []
    gray = work.gray
    sh, sw = gray.shape
    side = max(sh, sw)
    lines = _straight_lines(gray)
    if lines is None:
        return []
    N, R, T = lines.normal, lines.offset, lines.angle
    I, J = np.triu_indices(len(R), 1)
    turn = np.abs(T[I] - T[J])
    turn = np.minimum(turn, np.pi - turn)
    # Distance between the two lines (their normals point either way).
    apart = np.abs(R[I] - np.sign((N[I] * N[J]).sum(axis=1)) * R[J])
    pair = (turn < np.radians(STRAIGHT_PARALLEL)) & (apart > STRAIGHT_MIN_SIDE * side)
    PI, PJ = I[pair], J[pair]
    A, B = np.triu_indices(len(PI), 1)
    i, j, k, m = PI[A], PJ[A], PI[B], PJ[B]
    corner = np.abs(T[i] - T[k])
    corner = np.minimum(corner, np.pi - corner)
    ok = (i != k) & (i != m) & (j != k) & (j != m) & (corner > np.radians(STRAIGHT_CORNER))
    i, j, k, m = i[ok], j[ok], k[ok], m[ok]
    if not len(i):
        return []

    def meet(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        det = N[a, 0] * N[b, 1] - N[a, 1] * N[b, 0]  # far from 0: the lines cross at >55 degrees
        return np.stack([(R[a] * N[b, 1] - R[b] * N[a, 1]) / det, (N[a, 0] * R[b] - N[b, 0] * R[a]) / det], axis=-1)

    # Corners in order round the quad; side s runs from corner s to s+1 along line on[:, s].
    quads = np.stack([meet(i, k), meet(k, j), meet(j, m), meet(m, i)], axis=1)
    on = np.stack([k, j, m, i], axis=1)
    lo, x_hi, y_hi = -STRAIGHT_PAST_FRAME * side, sw + STRAIGHT_PAST_FRAME * side, sh + STRAIGHT_PAST_FRAME * side
    ok = ((quads[..., 0] > lo) & (quads[..., 1] > lo) & (quads[..., 0] < x_hi) & (quads[..., 1] < y_hi)).all(axis=1)
    quads, on = quads[ok], on[ok]
    edges = np.roll(quads, -1, axis=1) - quads
    turns = edges[..., 0] * np.roll(edges, -1, axis=1)[..., 1] - edges[..., 1] * np.roll(edges, -1, axis=1)[..., 0]
    lengths = np.linalg.norm(edges, axis=2)
    one_way, other_way = (lengths[:, 0] + lengths[:, 2]) / 2, (lengths[:, 1] + lengths[:, 3]) / 2
    aspect = np.maximum(one_way, other_way) / np.maximum(np.minimum(one_way, other_way), 1e-6)
    area = 0.5 * np.abs(turns.sum(axis=1))  # shoelace, from the same cross products
    ok = (
        ((turns > 0).all(axis=1) | (turns < 0).all(axis=1))  # convex
        & (np.abs(np.log(aspect / CARD_ASPECT)) < STRAIGHT_ASPECT)
        & (area > MIN_AREA_FRACTION * sh * sw)
    )
    quads, on = quads[ok], on[ok]
    if not len(quads):
        return []
    # How much of each side its line's segments cover: cheap, and rules out most quads
    # (lines that cross far from where their segments lie) before the edges are sampled.
    direction = np.stack([N[on][..., 1], -N[on][..., 0]], axis=-1)
    t0 = (quads * direction).sum(axis=2)
    t1 = (np.roll(quads, -1, axis=1) * direction).sum(axis=2)
    lo_t, hi_t = np.minimum(t0, t1)[..., None], np.maximum(t0, t1)[..., None]

    def spanned(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Per side, the share of [a, b] along its line that the line's segments cover."""
        covered = np.clip(np.minimum(lines.ends[on], b) - np.maximum(lines.starts[on], a), 0, None).sum(axis=-1)
        return covered / np.maximum(b - a, 1e-6)[..., 0]

    cover = spanned(lo_t, hi_t)
    reach = STRAIGHT_REACH * (hi_t - lo_t)
    overhang = np.maximum(spanned(lo_t - reach, lo_t), spanned(hi_t, hi_t + reach)).mean(axis=1)
    rough = cover.min(axis=1) + 0.5 * cover.mean(axis=1) - STRAIGHT_OVERHANG * overhang
    judged = np.argsort(-rough, kind="stable")[:STRAIGHT_JUDGED]
    support = edge_support(work.grads, quads[judged])
    score = (
        support.min(axis=1) + 0.5 * support.mean(axis=1) - STRAIGHT_OVERHANG * overhang[judged]
        + STRAIGHT_PRINT * _print_inside(work.grads, quads[judged])
    )
    out: list[tuple[float, np.ndarray]] = []
    for o in np.argsort(-score, kind="stable"):
        quad = order_clockwise(quads[judged[o]])
        if not any(same_outline(quad, q) for _, q in out):
            out.append((float(score[o]), quad))
            if len(out) == keep:
                break
    return out


def find_candidates(bgr: np.ndarray) -> list[CardCandidate]:
    """Card-shaped quadrilaterals in ``bgr``, best first, then the whole frame.

    Corners are in original-image pixels, clockwise from the top-left-most.
    """
    return list(iter_candidates(bgr))


def iter_candidates(
    bgr: np.ndarray, whole_first: bool = False, work: WorkImage | None = None
) -> Iterator[CardCandidate]:
    """:func:`find_candidates` one at a time.

    The outlines are found and ranked up front; each one's corners are snapped to the
    card's edges only when the caller asks for it, so a caller that stops at the first
    good candidate does not pay for refining the others.

    With ``whole_first`` (an image shaped like a card: most likely a tight scan), the
    whole frame comes first, after only the outlines that fill most of it (a scan with a
    margin around the card); the first of those is looked for in one edge map before the
    others are made, so a scan's card is often screened before they are.
    """
    h, w = bgr.shape[:2]
    work = work if work is not None else WorkImage(bgr)
    scale, small = work.scale, work.small
    sh, sw = small.shape[:2]
    image_area = float(sh * sw)

    def large(item: tuple[float, np.ndarray, str]) -> bool:
        return float(cv2.contourArea(item[1].astype(np.float32))) >= LARGE_OUTLINE * image_area

    def snapped(item: tuple[float, np.ndarray, str]) -> CardCandidate:
        return CardCandidate(quad=snap_twice(work.grads, item[1], TRACED_SNAP) / scale, source=item[2])

    blur = cv2.GaussianBlur(work.gray, (5, 5), 0)
    fixed = _outlines(_canny_map(blur, *FIXED_CANNY), "edges", sw, sh)
    early = None
    if whole_first:
        # A scan's card outline, when it has one, shows in the fixed-threshold edge map
        # (on the benchmark's clean scans, the same first outline as from all the maps
        # for 239 of 240): it is tried before the other maps are made (~7 ms).
        first = [k for k in _dedupe(fixed)[:MAX_CANDIDATES] if large(k)]
        if first:
            early = first[0]
            yield snapped(early)
        elif (inset := _inset(work)) is not None:
            # No closed outline: a light card on a light scanner lid shows only faint
            # edges. Straight edges of the card's shape found inward from the frame are
            # tried before anything else (the whole frame would need a refit, ~25 ms).
            early = (1.0, inset, "inset")
            yield CardCandidate(quad=inset / scale, source="inset")
    whole = CardCandidate(quad=np.array([[0, 0], [w - 1, 0], [w - 1, h - 1], [0, h - 1]], np.float64),
                          source="whole")
    whole_done = whole_first and early is None
    if whole_done:
        # A scan without a traced outline: the whole frame (which the recognizer refits
        # to the card inside) comes before the other maps are made (~6 ms).
        yield whole
    med = _median_u8(blur)
    found = _outlines(_canny_map(blur, 0.66 * med, 1.33 * med), "edges", sw, sh) + fixed
    if (colour := _colour_map(small)) is not None:
        found += _outlines(colour, "edges", sw, sh)
    for m in _region_maps(work.gray):
        found += _outlines(m, "region", sw, sh)
    ranked = _dedupe(found)
    # All of them, for the text search to draw on (see outlines_over).
    work.outlines = [(score, quad) for score, quad, _ in ranked]
    kept = ranked[:MAX_CANDIDATES]
    if early is not None:
        kept = [k for k in kept if not same_outline(k[1], early[1])]
    # None stands for the whole frame (unless it was tried already).
    frame: list[None] = [] if whole_done else [None]
    if whole_first:
        big = [k for k in kept if large(k)]
        order: list[tuple[float, np.ndarray, str] | None] = [*big, *frame, *(k for k in kept if k not in big)]
    else:
        order = [*kept, *frame]
    for item in order:
        yield whole if item is None else snapped(item)


#: Canny thresholds of the faint edge maps (see faint_outlines): a light card on a light
#: table shows a border a few grey levels deep, below FIXED_CANNY's.
FAINT_CANNY = ((10.0, 30.0), (6.0, 18.0))
#: Faint outlines screened at most: on the benchmark's photos the card, when these maps
#: find it at all, is their best outline.
FAINT_KEEP = 1


def faint_outlines(work: WorkImage) -> Iterator[np.ndarray]:
    """Card-shaped outlines of edges too faint for the outline search's maps, best first
    (working-image pixels, each snapped like the traced ones as it is asked for), without
    those the search traced already (``work.outlines``, filled by :func:`iter_candidates`),
    at most FAINT_KEEP.

    A light card on a light table (a white card on paper, a grey photocopy on a grey
    desk) has a border only a few grey levels deep: the fixed and median Canny maps break
    it into pieces, and its card is found only by the text search of the whole image
    (~120 ms more). Edge maps at lower thresholds close such a border, but they also close
    texture and shadows that the usual maps leave open: they are asked only once the usual
    outlines have failed.
    """
    sh, sw = work.small.shape[:2]
    blur = cv2.GaussianBlur(work.gray, (5, 5), 0)
    found: list[tuple[float, np.ndarray, str]] = []
    for lo, hi in FAINT_CANNY:
        found += _outlines(_canny_map(blur, lo, hi), "faint", sw, sh)
    # One roughly the same as a traced outline is that outline again, already ranked and
    # screened or passed over: not offered again.
    new = [quad for _, quad, _ in _dedupe(found) if work.traced_like(order_clockwise(quad)) is None]
    for quad in new[:FAINT_KEEP]:
        yield snap_twice(work.grads, quad, TRACED_SNAP)


#: How far inside a scan's frame its card's border is looked for (fraction of the diagonal).
INSET_DEPTH = 0.15
#: ... and how close to a card's aspect the four edges found there must be.
INSET_ASPECT_TOLERANCE = 0.03


def _inset(work: WorkImage) -> np.ndarray | None:
    """The card inside a scan's frame from the outermost long straight edges within it
    (working-image pixels), when the four of them have the card's aspect; else None."""
    sh, sw = work.small.shape[:2]
    frame = np.array([[0, 0], [sw - 1, 0], [sw - 1, sh - 1], [0, sh - 1]], np.float64)
    quad = snap_to_edges(work.grads, frame, inward=INSET_DEPTH)
    if np.abs(quad - frame).max() < 2:
        return None
    width = (np.linalg.norm(quad[1] - quad[0]) + np.linalg.norm(quad[2] - quad[3])) / 2
    height = (np.linalg.norm(quad[3] - quad[0]) + np.linalg.norm(quad[2] - quad[1])) / 2
    if height < 1 or abs(width / height / CARD_ASPECT - 1) > INSET_ASPECT_TOLERANCE:
        return None
    return snap_to_edges(work.grads, quad, radius=FINE_SNAP)


#: Overlap (intersection over union) an outline needs with a quad found from the text to
#: stand in for it.
OUTLINE_OVER_TEXT = 0.5


def outlines_over(work: WorkImage, quads: Sequence[np.ndarray], skip: Sequence[np.ndarray] = ()) -> list[np.ndarray]:
    """For each quad found from the card's text, the outline of :attr:`WorkImage.outlines`
    that covers it best (intersection over union at least OUTLINE_OVER_TEXT), snapped; one
    of each, none near a quad of ``skip`` (already judged). Corners in original pixels.

    A quad from the text is only as good as the layout fits: under perspective it is off
    by a fair part of the card, while an outline that traced the card's edges is exact.
    Such an outline may not have been screened at all, when other card-shaped things
    (papers, other cards) ranked before it.
    """
    done = [order_clockwise(np.asarray(q, np.float64) * work.scale) for q in skip]
    polys = [order_clockwise(o).astype(np.float32) for _, o in work.outlines]
    areas = [float(cv2.contourArea(p)) for p in polys]
    out: list[np.ndarray] = []
    for quad in quads:
        q = order_clockwise(np.asarray(quad, np.float64) * work.scale).astype(np.float32)
        area = float(cv2.contourArea(q))
        best, best_iou = None, OUTLINE_OVER_TEXT
        for (_, o), poly, o_area in zip(work.outlines, polys, areas):
            inter, _ = cv2.intersectConvexConvex(q, poly)
            union = area + o_area - inter
            if union > 0 and inter / union >= best_iou:
                best, best_iou = o, inter / union
        if best is None:
            continue
        snapped = order_clockwise(snap_twice(work.grads, best, TRACED_SNAP))
        if not any(same_outline(snapped, d) for d in done):
            done.append(snapped)
            out.append(snapped / work.scale)
    return out


def _outlines(mask: np.ndarray, src: str, sw: int, sh: int) -> list[tuple[float, np.ndarray, str]]:
    """Card-shaped quads (with their shape scores) of the contours of one binary map."""
    image_area = float(sw * sh)
    out = []
    min_area = MIN_AREA_FRACTION * image_area
    contours, _ = cv2.findContours(mask, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
    for c in contours:
        # Most contours of an edge map are specks: a hull lies inside its contour's
        # bounding box, so the box alone rules them out without building the hull.
        _, _, bw, bh = cv2.boundingRect(c)
        if bw * bh < min_area:
            continue
        area = float(cv2.contourArea(cv2.convexHull(c)))
        if area < min_area:
            continue
        quad = _quad_from_contour(c)
        if quad is None:
            continue
        score = _shape_score(quad, area, image_area)
        # A quad that is the frame itself is the "whole" candidate, added below.
        if score > 0 and not (np.ptp(quad[:, 0]) > 0.97 * sw and np.ptp(quad[:, 1]) > 0.97 * sh):
            out.append((score, quad, src))
    return out


#: Where printed text spans on the upright card (both designs), as fractions: the
#: text block from the English name's left edge to the card number's right edge,
#: and from the title's top to the issue date's bottom.
_TEXT_SPAN_X = (0.05, 0.93)
_TEXT_SPAN_Y = (0.05, 0.91)


def quad_from_text(
    text_map: np.ndarray, gray: np.ndarray | tuple[np.ndarray, np.ndarray], threshold: float = 0.3
) -> np.ndarray | None:
    """Estimate the card from where its text is, when its outline cannot be traced.

    ``text_map`` is the detector's probability map over the whole (downscaled) image
    and ``gray`` the same image in grey (or its :func:`gradients`). The largest cluster
    of text lines gives the card's rotation (the lines' direction) and extent (the text
    block covers a known share of the card); the sides are then snapped onto the card's
    edges where they are visible. Returns corners clockwise from the top-left-most, in map pixels.
    """
    h, w = text_map.shape
    binary = (text_map > threshold).astype(np.uint8)
    if binary.sum() < 50:
        return None
    n, labels, stats, _ = cv2.connectedComponentsWithStats(binary, connectivity=8)
    # Line direction: angle of elongated components, weighted by their length.
    angles, weights, thick, comp_ids = [], [], [], []
    for i in range(1, n):
        if stats[i, cv2.CC_STAT_AREA] < 12:
            continue
        ys, xs = np.nonzero(labels[stats[i, 1]: stats[i, 1] + stats[i, 3], stats[i, 0]: stats[i, 0] + stats[i, 2]] == i)
        pts = np.stack([xs, ys], axis=1).astype(np.float32)
        (_, _), (rw, rh), ang = cv2.minAreaRect(pts)
        if max(rw, rh) < 2.5 * max(1.0, min(rw, rh)):
            continue
        a = ang if rw >= rh else ang + 90.0
        angles.append(np.deg2rad(a) * 2)  # doubled: lines have no direction
        weights.append(max(rw, rh))
        thick.append(min(rw, rh))
        comp_ids.append(i)
    if len(angles) < 3:
        return None
    theta = _dominant_angle(np.array(angles), np.array(weights))
    # Group lines into one card: join components whose gap is under a few line
    # heights (rows of one card sit ~1.5 line heights apart; columns join via rows).
    # Only lines that run with the card's text and are of its print size: text on
    # papers or screens around the card is usually turned differently or sized apart.
    # Length-weighted: the card's long lines set the print size, not specks.
    order = np.argsort(thick)
    cum = np.cumsum(np.array(weights)[order])
    med_t = float(np.array(thick)[order][np.searchsorted(cum, cum[-1] / 2)])
    dev = np.abs(np.angle(np.exp(1j * (np.array(angles) - 2 * theta)))) / 2
    keep = [i for i, d, t in zip(comp_ids, dev, thick) if d < np.deg2rad(10) and 0.7 * med_t <= t <= 1.6 * med_t]
    if len(keep) < 3:
        return None
    boxes = np.array([[stats[i, 0], stats[i, 1], stats[i, 0] + stats[i, 2], stats[i, 1] + stats[i, 3]]
                      for i in keep], np.float64)
    reach = 5.0 * med_t
    parent = list(range(len(keep)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i in range(len(keep)):
        gx = np.maximum(0, np.maximum(boxes[:, 0] - boxes[i, 2], boxes[i, 0] - boxes[:, 2]))
        gy = np.maximum(0, np.maximum(boxes[:, 1] - boxes[i, 3], boxes[i, 1] - boxes[:, 3]))
        for j in np.flatnonzero(np.hypot(gx, gy) < reach):
            parent[root(int(j))] = root(i)
    areas: dict[int, int] = {}
    for idx, i in enumerate(keep):
        r = root(idx)
        areas[r] = areas.get(r, 0) + int(stats[i, cv2.CC_STAT_AREA])
    best = max(areas, key=lambda r: areas[r])
    members = [i for idx, i in enumerate(keep) if root(idx) == best]
    mask = np.isin(labels, members)
    ys, xs = np.nonzero(mask)
    if len(xs) < 30:
        return None
    c, s = np.cos(-theta), np.sin(-theta)
    rx = xs * c - ys * s
    ry = xs * s + ys * c
    x0, x1 = float(rx.min()), float(rx.max())
    y0, y1 = float(ry.min()), float(ry.max())
    tw, th = x1 - x0, y1 - y0
    # The text block itself; its sides are then pushed out to the card's border.
    cw, ch = tw, th
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    rect = np.array([[cx - cw / 2, cy - ch / 2], [cx + cw / 2, cy - ch / 2],
                     [cx + cw / 2, cy + ch / 2], [cx - cw / 2, cy + ch / 2]])
    cb, sb = np.cos(theta), np.sin(theta)
    quad = np.stack([rect[:, 0] * cb - rect[:, 1] * sb, rect[:, 0] * sb + rect[:, 1] * cb], axis=1)
    quad = order_clockwise(quad)
    block = quad.copy()
    grads = gray if isinstance(gray, tuple) else gradients(gray)
    quad = snap_to_edges(grads, quad, outward=(-0.005, 0.12))
    if np.allclose(quad, block):
        # No border found: assume the usual margins around the text (symmetric, since
        # the half turn is not known yet).
        sx = _TEXT_SPAN_X[1] - _TEXT_SPAN_X[0]
        sy = _TEXT_SPAN_Y[1] - _TEXT_SPAN_Y[0]
        c = quad.mean(axis=0)
        u = (quad[1] - quad[0]) / 2
        v = (quad[3] - quad[0]) / 2
        u, v = u / sx, v / sy
        quad = np.array([c - u - v, c + u - v, c + u + v, c - u + v])
    return snap_to_edges(grads, quad, radius=FINE_SNAP)


def _dominant_angle(angles: np.ndarray, weights: np.ndarray) -> float:
    """The most common line direction (radians, modulo pi), robust to other text.

    ``angles`` are doubled (so opposite directions agree). A weighted histogram's
    peak picks the card's direction even when papers around it carry text at another
    angle, which would drag a plain average between the two; the peak is then refined
    by averaging the lines within 10 degrees of it.
    """
    bins = 90  # 2 degrees of line direction per bin
    idx = ((angles % (2 * np.pi)) / (2 * np.pi) * bins).astype(int) % bins
    hist = np.bincount(idx, weights=weights, minlength=bins)
    smooth = hist + np.roll(hist, 1) + np.roll(hist, -1)
    peak = (int(smooth.argmax()) + 0.5) / bins * 2 * np.pi
    near = np.abs(np.angle(np.exp(1j * (angles - peak)))) < np.deg2rad(20)
    return float(0.5 * np.arctan2((np.sin(angles[near]) * weights[near]).sum(),
                                  (np.cos(angles[near]) * weights[near]).sum()))


def text_direction(text_map: np.ndarray, threshold: float = 0.3) -> float | None:
    """The dominant direction of text lines in a map (radians, modulo pi), or None."""
    binary = (text_map > threshold).astype(np.uint8)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(binary, connectivity=8)
    angles, weights = [], []
    for i in range(1, n):
        if stats[i, cv2.CC_STAT_AREA] < 12:
            continue
        x, y, bw, bh = stats[i, :4]
        ys, xs = np.nonzero(labels[y: y + bh, x: x + bw] == i)
        (_, _), (rw, rh), ang = cv2.minAreaRect(np.stack([xs, ys], axis=1).astype(np.float32))
        if max(rw, rh) < 2.5 * max(1.0, min(rw, rh)):
            continue
        angles.append(np.deg2rad(ang if rw >= rh else ang + 90.0) * 2)
        weights.append(max(rw, rh))
    if len(angles) < 3:
        return None
    return _dominant_angle(np.array(angles), np.array(weights))


_LAYOUT_SEARCH_SIDE = 320


def quads_from_layout(
    text_map: np.ndarray,
    min_width: float = 0.28,
    step: float = 1.08,
    *,
    upright: bool = False,
    side: int | None = None,
    coarse: int | None = None,
    keep: int = 8,
    workers: Workers = SERIAL,
) -> list[tuple[float, np.ndarray]]:
    """Find the card by its printed layout in a whole-image text map.

    The map is turned so the text runs level, then each design's line pattern is
    matched at a range of sizes and both half turns. Text around the card (receipts,
    forms, a screen) does not share the card's pattern, so this finds the card where
    outlines and text clusters fail. Returns (score, corners in reading order TL, TR,
    BR, BL, in map pixels), best first; empty when the map has no text lines.
    ``min_width`` is the narrowest card searched for, as a share of the map's width
    (after levelling); sizes grow from there by ``step``. When the orientation is known
    (``upright``), the half turn is not searched; ``side``
    is the long side the map is matched at (default 320 px). With ``coarse`` (a
    smaller side), every size is searched at that side first and only the best ``keep``
    (design, half turn, size) are matched again at ``side``, each at its size and the
    two next to it: about a third of the work for the same corners. The matches are
    shared among ``workers``.
    """
    theta = text_direction(text_map)
    if theta is None:
        return []
    side = side or _LAYOUT_SEARCH_SIDE
    level, A = _level_map(text_map, theta, side)
    lh, lw = level.shape
    sizes = []
    tw = min_width * max(lw, lh)
    while tw <= lw:
        sizes.append(tw)
        tw *= step
    flips = (False,) if upright else (False, True)
    jobs = [(design, flipped, tw) for tw in sizes for design in _templates() for flipped in flips]
    if coarse is not None and coarse < side:
        clevel, _ = _level_map(text_map, theta, coarse)
        ratio = clevel.shape[1] / lw
        scores = workers.map(lambda j: _match(clevel, j[0], j[1], j[2] * ratio)[0], jobs)
        found = sorted(
            ((score, design, flipped, tw) for score, (design, flipped, tw) in zip(scores, jobs)),
            key=lambda r: -r[0],
        )
        jobs = list(dict.fromkeys(
            (design, flipped, tw * step ** k) for _, design, flipped, tw in found[:keep] for k in (-1, 0, 1)
        ))
    results = workers.map(lambda j: _match(level, *j), jobs)
    results = [r for r in results if r[0] > -np.inf]
    if not results:
        return []
    Ainv = cv2.invertAffineTransform(A)
    out = []
    for score, rect in sorted(results, key=lambda r: -r[0])[:3]:
        out.append((score, rect @ Ainv[:, :2].T + Ainv[:, 2]))
    return out


def _templates() -> dict:
    from .layout import TEMPLATES  # layout does not import locate

    return TEMPLATES


def _level_map(text_map: np.ndarray, theta: float, side: int) -> tuple[np.ndarray, np.ndarray]:
    """The text map turned by ``theta`` so its lines run level, long side ``side``; and that affine map."""
    h, w = text_map.shape
    deg = float(np.degrees(theta))
    M = cv2.getRotationMatrix2D((w / 2, h / 2), deg, 1.0)
    cos, sin = abs(M[0, 0]), abs(M[0, 1])
    nw, nh = int(h * sin + w * cos) + 1, int(h * cos + w * sin) + 1
    M[0, 2] += nw / 2 - w / 2
    M[1, 2] += nh / 2 - h / 2
    f = side / max(nw, nh)
    S = np.array([[f, 0, 0], [0, f, 0]], np.float64)
    A = S @ np.vstack([M, [0, 0, 1]])  # map -> level, downscaled
    level = cv2.warpAffine(text_map.astype(np.float32), A, (max(8, int(nw * f)), max(8, int(nh * f))),
                           flags=cv2.INTER_AREA)
    # A faint fixed texture: normalised correlation is undefined on flat (all-zero)
    # patches, such as the corners the turn brings in, and would report them as 1.0.
    texture = np.random.default_rng(0).random(level.shape, dtype=np.float32) * np.float32(1e-3)
    return cv2.GaussianBlur(level, (3, 3), 0) + texture, A


def _match(level: np.ndarray, design: str, flipped: bool, tw: float) -> tuple[float, np.ndarray]:
    """Best place of ``design``'s line pattern, ``tw`` px wide, on a levelled map: (score, rect)."""
    from .layout import template_mask  # layout does not import locate

    lh, lw = level.shape
    size = (int(round(tw)), int(round(tw / CARD_ASPECT)))
    if not (8 <= size[0] <= lw and 4 <= size[1] <= lh):
        return -np.inf, np.zeros((4, 2))
    tmpl = cv2.GaussianBlur(template_mask(design, *size), (3, 3), 0)  # type: ignore[arg-type]
    t = tmpl[::-1, ::-1] if flipped else tmpl
    res = cv2.matchTemplate(level, np.ascontiguousarray(t), cv2.TM_CCOEFF_NORMED)
    _, score, _, (x, y) = cv2.minMaxLoc(res)
    rect = np.array([[x, y], [x + size[0], y], [x + size[0], y + size[1]], [x, y + size[1]]], np.float64)
    if flipped:
        rect = np.roll(rect, -2, axis=0)
    return float(score), rect
