"""Scoring of one system's answers against the corpus truth.

Per card: exact match of each of the nine fields (a field absent on the card
must come back as ""), all-fields exact, character edit distance per field,
corner error (largest corner distance over the card diagonal, ``sliceRect``
against the true ``card_quad``), ftype right or wrong, latency. Aggregates are
computed for any group of cards (all, by level, by design, special slices).

Example:
    >>> levenshtein("C668668(E)", "C668668(F)")
    1
    >>> round(corner_error({"x0": 0, "y0": 0, "x1": 10, "y1": 0, "x2": 10, "y2": 5, "x3": 0, "y3": 5},
    ...                    [[0, 0], [10, 0], [10, 5], [0, 6]]), 3)
    0.086
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

import numpy as np

__all__ = [
    "FIELDS",
    "CardScore",
    "aggregate",
    "corner_error",
    "levenshtein",
    "score_card",
]

FIELDS = ("nameCn", "nameEn", "nameCode", "birthDate", "sex", "issuedCode", "firstIssuedDate",
          "issuedDate", "idNumber")


def levenshtein(a: str, b: str) -> int:
    """Edit distance (insertions, deletions, substitutions) between two strings."""
    if a == b:
        return 0
    if len(a) < len(b):
        a, b = b, a
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def corner_error(slice_rect: dict[str, Any] | None, card_quad: Sequence[Sequence[float]]) -> float | None:
    """Largest distance between predicted and true corners, over the true card diagonal.

    Corners are compared in order (TL, TR, BR, BL of the upright card), so a card
    located right but read upside down scores about 1.0. None when the system
    reports no corners.
    """
    if not slice_rect:
        return None
    try:
        pred = np.array([[float(slice_rect[f"x{i}"]), float(slice_rect[f"y{i}"])] for i in range(4)])
    except (KeyError, TypeError, ValueError):
        return None
    truth = np.asarray(card_quad, np.float64)
    diag = max(float(np.linalg.norm(truth[2] - truth[0])), float(np.linalg.norm(truth[3] - truth[1])))
    return float(np.max(np.linalg.norm(pred - truth, axis=1)) / max(diag, 1e-9))


@dataclass
class CardScore:
    """Everything measured on one card for one system."""

    id: str
    level: str
    design: str
    tags: tuple[str, ...]  # photocopy, recapture, missing_char, no_chinese_name, drawn ...
    ok: bool  # the system returned a result (no error)
    error: str  # error code or exception type when not ok
    exact: dict[str, bool] = field(default_factory=dict)
    dist: dict[str, int] = field(default_factory=dict)
    length: dict[str, int] = field(default_factory=dict)
    corner: float | None = None
    ftype_ok: bool = False
    latency_s: float = 0.0
    predicted: dict[str, str] = field(default_factory=dict)

    @property
    def all_exact(self) -> bool:
        return bool(self.exact) and all(self.exact.values())


def score_card(truth: dict[str, Any], answer: dict[str, Any] | None, error: str = "",
               latency_s: float = 0.0) -> CardScore:
    """Score one answer (the cloud ``Data`` dict, or None on failure) against ``truth``."""
    tags = []
    if truth.get("ftype") == 1:
        tags.append("photocopy")
    if truth.get("recapture"):
        tags.append("recapture")
    if truth.get("missing_char"):
        tags.append("missing_char")
    if not truth["data"].get("nameCn"):
        tags.append("no_chinese_name")
    tags.append(f"source_{truth.get('source', 'specimen')}")
    tags.append("permanent" if truth.get("permanent") else "non_permanent")
    s = CardScore(truth["id"], truth["level"], truth["design"], tuple(tags), answer is not None, error,
                  latency_s=latency_s)
    data = (answer or {}).get("data") or {}
    for k in FIELDS:
        want = truth["data"].get(k, "") or ""
        got = data.get(k, "") or ""
        got = got if isinstance(got, str) else str(got)
        s.predicted[k] = got
        s.exact[k] = got == want
        s.dist[k] = levenshtein(got, want)
        s.length[k] = len(want)
    if answer is not None:
        s.corner = corner_error(answer.get("sliceRect"), truth["card_quad"])
        try:
            s.ftype_ok = int(answer.get("ftype", 0)) == int(truth.get("ftype", 0))
        except (TypeError, ValueError):
            s.ftype_ok = False
    return s


def _pct(values: list[float], q: float) -> float | None:
    return float(np.percentile(values, q)) if values else None


def aggregate(scores: Iterable[CardScore]) -> dict[str, Any]:
    """Summary of a group of cards: rates in 0..1, CER, corner error, latency percentiles."""
    sc = list(scores)
    n = len(sc)
    if n == 0:
        return {"n": 0}
    field_exact = {k: sum(s.exact[k] for s in sc) / n for k in FIELDS}
    field_cer = {}
    for k in FIELDS:
        length = sum(s.length[k] for s in sc)
        field_cer[k] = sum(s.dist[k] for s in sc) / length if length else None
    total_len = sum(sum(s.length.values()) for s in sc)
    corners = [s.corner for s in sc if s.corner is not None]
    lat = [s.latency_s for s in sc if s.ok]
    errors: dict[str, int] = {}
    for s in sc:
        if not s.ok:
            errors[s.error] = errors.get(s.error, 0) + 1
    return {
        "n": n,
        "answered": sum(s.ok for s in sc) / n,
        "all_fields_exact": sum(s.all_exact for s in sc) / n,
        "mean_field_exact": float(np.mean(list(field_exact.values()))),
        "field_exact": field_exact,
        "cer": sum(sum(s.dist.values()) for s in sc) / total_len if total_len else None,
        "field_cer": field_cer,
        "corner_error_median": _pct(corners, 50),
        "corner_error_p95": _pct(corners, 95),
        "corner_within_5pct": (sum(c <= 0.05 for c in corners) / n) if corners else None,
        "ftype_accuracy": sum(s.ftype_ok for s in sc) / n,
        "latency_p50_s": _pct(lat, 50),
        "latency_p95_s": _pct(lat, 95),
        "errors": errors,
    }


def finite(x: float | None) -> bool:
    """True for a real number (not None, not NaN)."""
    return x is not None and not (isinstance(x, float) and math.isnan(x))
