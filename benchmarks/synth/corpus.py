"""Build (or reuse) a corpus of synthetic HKID card images with ground truth.

A corpus is fully determined by ``(seed, count, GENERATOR_VERSION)``: card ``i``
draws everything from ``numpy.random.default_rng(SeedSequence([seed, i]))``, and
the plan (which level, design, status ... each card gets) from the seed alone.
So the same seed gives byte-identical images on any machine with the same
library versions, and a corpus can be generated in parallel, in any order, or
resumed.

Layout on disk::

    <root>/seed<seed>_n<count>_v<version>/
        images/<id>.jpg      the captured card
        truth/<id>.json      ground truth (see :func:`generate_card`)
        manifest.json        all truth records, written when the corpus is complete

Example:
    >>> card = generate_card(seed=0, index=3, count=10)  # doctest: +SKIP
    >>> sorted(card.truth)[:3]  # doctest: +SKIP
    ['card_quad', 'data', 'design']
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

import cv2
import numpy as np

from .degrade import LEVELS, make_scene, map_points
from .identities import Design, sample_identity
from .layout import CARD_H, CARD_W
from .render import name_fits, render_card

__all__ = [
    "GENERATOR_VERSION",
    "CardPlan",
    "GeneratedCard",
    "build_corpus",
    "corpus_dir",
    "generate_card",
    "level_counts",
    "plan_corpus",
]

#: Bump when a change alters the images, so cached corpora are not reused.
GENERATOR_VERSION = 1

# Shares of the corpus (the brief: ~15% without Chinese name, ~3% missing dictionary
# character, ~8% photocopies, ~5% screen recaptures).
P_NO_CHINESE = 0.15
P_MISSING_CHAR = 0.03
P_PHOTOCOPY = 0.08
P_RECAPTURE = 0.05
P_PERMANENT = 0.8
P_DRAWN = 0.3
LEVEL_SHARES = {"clean": 0.4, "photo": 0.4, "hard": 0.2}


@dataclass(frozen=True)
class CardPlan:
    """What kind of card index ``index`` of a corpus is (decided before drawing it)."""

    index: int
    level: str
    design: Design
    permanent: bool
    source: str  # "specimen" | "drawn"
    chinese_name: bool
    missing_char: bool
    photocopy: bool
    recapture: bool


@dataclass(frozen=True)
class GeneratedCard:
    """One generated card: encoded JPEG bytes and its ground truth record."""

    id: str
    jpeg: bytes
    truth: dict[str, Any]
    # With keep_flat: the upright card before capture and its field ink boxes (card pixels).
    flat: np.ndarray | None = None
    flat_boxes: dict[str, tuple[int, int, int, int]] | None = None


def level_counts(count: int) -> dict[str, int]:
    """How many cards of each level a corpus of ``count`` has (40/40/20, exact total).

    Example:
        >>> level_counts(600)
        {'clean': 240, 'photo': 240, 'hard': 120}
    """
    counts = {lv: int(count * share) for lv, share in LEVEL_SHARES.items()}
    for lv in LEVELS:  # hand out the rounding remainder, easiest level first
        if sum(counts.values()) >= count:
            break
        counts[lv] += 1
    return counts


def plan_corpus(seed: int, count: int) -> list[CardPlan]:
    """The plan of every card: exact level counts, the rest drawn per card.

    Levels are shuffled so that any prefix of the corpus mixes all levels. The
    exact shares (design, status ...) are drawn with fixed quotas where it
    matters for coverage: both designs and both statuses appear in any corpus
    of 8 cards or more.
    """
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0xC0FFEE]))
    levels = [lv for lv, n in level_counts(count).items() for _ in range(n)]
    order = rng.permutation(count)
    plans: list[CardPlan] = []
    for i in range(count):
        level = levels[int(order[i])]
        # Alternate designs and cycle status through the first cards so that even a
        # tiny corpus holds both designs, permanent and non-permanent.
        design: Design = "2003" if i % 2 == 0 else "2018"
        permanent = bool(rng.random() < P_PERMANENT) if i >= 4 else i not in (1, 2)
        chinese = bool(rng.random() >= P_NO_CHINESE) if i >= 4 else i != 3
        missing = chinese and bool(rng.random() < P_MISSING_CHAR)
        r = rng.random()
        photocopy = bool(r < P_PHOTOCOPY)
        recapture = bool(P_PHOTOCOPY <= r < P_PHOTOCOPY + P_RECAPTURE)
        source = "drawn" if rng.random() < P_DRAWN else "specimen"
        plans.append(CardPlan(i, level, design, permanent, source, chinese, missing, photocopy,
                              recapture))
    return plans


def _quad(h: np.ndarray, box: tuple[float, float, float, float]) -> list[list[float]]:
    """Corners TL, TR, BR, BL of a card-space box mapped into the image (rounded to 0.1 px)."""
    x0, y0, x1, y1 = box
    pts = map_points(h, np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], np.float64))
    return [[round(float(x), 1), round(float(y), 1)] for x, y in pts]


def card_id(seed: int, index: int) -> str:
    """Stable file name stem of a card."""
    return f"s{seed}_{index:05d}"


def generate_card(seed: int, index: int, count: int, plan: CardPlan | None = None,
                  keep_flat: bool = False) -> GeneratedCard:
    """Generate card ``index`` of the corpus ``(seed, count)``: image bytes and truth.

    Truth record keys: id, design, permanent, level, source, ftype (1 photocopy),
    recapture, missing_char, data (the cloud ``data`` object, exact printed
    strings), card_quad (card corners TL, TR, BR, BL of the upright card, in
    image pixels), portrait_quad (or None), field_quads (key -> 4 corners, only
    printed fields), image_size [w, h], jpeg_quality, fonts.
    """
    if plan is None:
        plan = plan_corpus(seed, count)[index]
    rng = np.random.default_rng(np.random.SeedSequence([seed, index]))
    ident = sample_identity(
        rng, plan.design, plan.permanent, chinese_name=plan.chinese_name,
        missing_char=plan.missing_char, name_fits=lambda n: name_fits(plan.design, n))
    # Children under 11 sometimes have no photo on the card.
    has_portrait = ident.age_at_issue >= 11 or rng.random() < 0.7
    card = render_card(ident, plan.design, plan.source, rng, portrait=has_portrait)
    scene = make_scene(card.image, plan.level, rng, photocopy=plan.photocopy,
                       recapture=plan.recapture)
    ok, buf = cv2.imencode(".jpg", scene.image, [cv2.IMWRITE_JPEG_QUALITY, scene.jpeg_quality])
    if not ok:  # pragma: no cover
        raise RuntimeError("JPEG encoding failed")
    h = scene.homography
    truth: dict[str, Any] = {
        "id": card_id(seed, index),
        "design": plan.design,
        "permanent": plan.permanent,
        "level": plan.level,
        "source": plan.source,
        "ftype": 1 if plan.photocopy else 0,
        "recapture": plan.recapture,
        "missing_char": ident.missing_char,
        "data": ident.data(),
        "card_quad": _quad(h, (0, 0, CARD_W, CARD_H)),
        "portrait_quad": _quad(h, card.portrait_box) if card.portrait_box else None,
        "field_quads": {k: _quad(h, b) for k, b in card.field_boxes.items()},
        "image_size": [int(scene.image.shape[1]), int(scene.image.shape[0])],
        "jpeg_quality": scene.jpeg_quality,
        "fonts": {"latin": card.latin_font, "cn": card.cn_font},
    }
    if keep_flat:
        return GeneratedCard(truth["id"], buf.tobytes(), truth, card.image, dict(card.field_boxes))
    return GeneratedCard(truth["id"], buf.tobytes(), truth)


def corpus_dir(root: Path, seed: int, count: int) -> Path:
    """Folder of the corpus ``(seed, count)`` under ``root``."""
    return Path(root) / f"seed{seed}_n{count}_v{GENERATOR_VERSION}"


def _write_card(args: tuple[int, int, str, CardPlan]) -> dict[str, Any]:
    """Worker: generate one card and write its files (skips cards already on disk)."""
    seed, count, out, plan = args
    out_dir = Path(out)
    cid = card_id(seed, plan.index)
    truth_path = out_dir / "truth" / f"{cid}.json"
    img_path = out_dir / "images" / f"{cid}.jpg"
    if truth_path.is_file() and img_path.is_file():
        truth: dict[str, Any] = json.loads(truth_path.read_text(encoding="utf-8"))
        return truth
    card = generate_card(seed, plan.index, count, plan)
    # Write to temporary names first so an interrupted run never leaves a half file
    # that a later run would take as done.
    tmp_img = img_path.with_suffix(".jpg.tmp")
    tmp_img.write_bytes(card.jpeg)
    os.replace(tmp_img, img_path)
    tmp_truth = truth_path.with_suffix(".json.tmp")
    tmp_truth.write_text(json.dumps(card.truth, ensure_ascii=False, indent=1), encoding="utf-8")
    os.replace(tmp_truth, truth_path)
    return card.truth


def _init_worker() -> None:
    # One OpenCV thread per worker process: the pool already uses every core.
    cv2.setNumThreads(1)


def build_corpus(
    root: Path,
    seed: int,
    count: int,
    *,
    levels: Iterable[str] | None = None,
    workers: int = 1,
    regenerate: bool = False,
    progress: Callable[[int, int, float], None] | None = None,
) -> tuple[Path, list[dict[str, Any]]]:
    """Generate the corpus ``(seed, count)`` under ``root`` or reuse what is there.

    Args:
        root: parent folder (e.g. ``benchmarks/corpus``).
        seed, count: identify the corpus.
        levels: only generate (and return) cards of these levels; the plan, and so
            every card's content, does not depend on this filter.
        workers: processes to generate with.
        regenerate: delete the cached cards first.
        progress: called as ``progress(done, total, elapsed_s)``.

    Returns:
        (corpus folder, truth records in index order).
    """
    out = corpus_dir(root, seed, count)
    if regenerate and out.exists():
        for sub in ("images", "truth"):
            for f in (out / sub).glob("*"):
                f.unlink()
        (out / "manifest.json").unlink(missing_ok=True)
    (out / "images").mkdir(parents=True, exist_ok=True)
    (out / "truth").mkdir(parents=True, exist_ok=True)
    wanted = set(levels) if levels else set(LEVELS)
    plans = [p for p in plan_corpus(seed, count) if p.level in wanted]
    manifest = out / "manifest.json"
    if manifest.is_file() and not regenerate:
        records: list[dict[str, Any]] = json.loads(manifest.read_text(encoding="utf-8"))
        by_index = {i: r for i, r in enumerate(records)}
        if len(records) == count and all((out / "images" / f"{r['id']}.jpg").is_file()
                                         for r in records):
            chosen = [by_index[p.index] for p in plans]
            if progress:
                progress(len(chosen), len(chosen), 0.0)
            return out, chosen
    t0 = time.perf_counter()
    jobs = [(seed, count, str(out), p) for p in plans]
    results: dict[int, dict[str, Any]] = {}
    if workers <= 1:
        _init_worker()
        for n, job in enumerate(jobs, 1):
            results[job[3].index] = _write_card(job)
            if progress:
                progress(n, len(jobs), time.perf_counter() - t0)
    else:
        ctx = mp.get_context("spawn" if os.name == "nt" else "fork")
        with ctx.Pool(workers, initializer=_init_worker) as pool:
            for n, (job, truth) in enumerate(zip(jobs, pool.imap(_write_card, jobs, chunksize=4)), 1):
                results[job[3].index] = truth
                if progress:
                    progress(n, len(jobs), time.perf_counter() - t0)
    chosen = [results[p.index] for p in plans]
    if len(plans) == count:  # complete corpus: write the manifest for fast reuse
        tmp = manifest.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(chosen, ensure_ascii=False), encoding="utf-8")
        os.replace(tmp, manifest)
    return out, chosen
