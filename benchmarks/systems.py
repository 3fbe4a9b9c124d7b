"""The two systems under test behind one call signature, and their process pools.

``engine`` is this project (``hkid_ocr.Recognizer``); ``baseline`` is RapidOCR +
a regex parser (:mod:`benchmarks.baseline`). Both answer ``(data_dict | None,
error_code)`` for an image path, where ``data_dict`` holds the cloud ``Data``
keys the benchmark scores (``data``, ``sliceRect``, ``ftype``).

Accuracy and throughput are measured in a pool of worker processes, each with
its own system instance and ``threads`` onnxruntime threads, so that all cores
are busy (2 workers x 1 thread on the reference 2-core machine).
"""

from __future__ import annotations

import multiprocessing as mp
import time
from typing import Any, Callable, Iterator

__all__ = ["SYSTEMS", "SystemUnavailable", "make_system", "run_pool"]

SYSTEMS = ("engine", "baseline")

Answer = tuple[dict[str, Any] | None, str]


class SystemUnavailable(RuntimeError):
    """A system cannot run here (not importable, API missing, weights missing)."""


def _engine(threads: int) -> Callable[[str], Answer]:
    try:
        import hkid_ocr
    except ImportError as exc:  # the package itself is broken or not installed
        raise SystemUnavailable(f"cannot import hkid_ocr: {exc}") from exc
    missing = [n for n in ("Recognizer", "RecognitionError") if not hasattr(hkid_ocr, n)]
    if missing:
        raise SystemUnavailable(f"hkid_ocr lacks {', '.join(missing)} (engine not finished?)")
    error_type = hkid_ocr.RecognitionError
    try:
        config_cls = getattr(hkid_ocr, "RecognizerConfig", None)
        rec = hkid_ocr.Recognizer(config_cls(threads=threads)) if config_cls else hkid_ocr.Recognizer()
    except error_type as exc:  # ModelError: weights missing -> tell how to fetch them
        raise SystemUnavailable(f"hkid_ocr.Recognizer() failed: {exc}") from exc

    def run(path: str) -> Answer:
        try:
            res = rec.recognize(path)
        except error_type as exc:
            return None, str(getattr(exc, "code", type(exc).__name__))
        d = res.to_dict()
        return {"data": d.get("data"), "sliceRect": d.get("sliceRect"), "ftype": d.get("ftype", 0),
                "figure": len(d.get("figure") or []),
                # seconds per pipeline stage (load, locate, recognise, fields, quality)
                "timings": dict(getattr(res, "timings", {}) or {})}, ""

    return run


def _baseline(threads: int) -> Callable[[str], Answer]:
    try:
        from .baseline import Baseline

        base = Baseline(threads=threads)
    except (ImportError, FileNotFoundError) as exc:
        raise SystemUnavailable(f"baseline unavailable: {exc} (pip install rapidocr==3.10.0)") from exc

    def run(path: str) -> Answer:
        d = base.recognize(path)
        return {"data": d["data"], "sliceRect": None, "ftype": 0, "figure": 0}, ""

    return run


def make_system(name: str, threads: int = 0) -> Callable[[str], Answer]:
    """Build system ``name`` ("engine" or "baseline") with ``threads`` inference threads.

    Raises:
        SystemUnavailable: with the reason, when the system cannot be built here.
    """
    if name == "engine":
        return _engine(threads)
    if name == "baseline":
        return _baseline(threads)
    raise ValueError(f"unknown system {name!r}")


# --- worker pool -----------------------------------------------------------------

_RUN: Callable[[str], Answer] | None = None


def _init(name: str, threads: int) -> None:
    global _RUN
    import cv2

    cv2.setNumThreads(1)
    _RUN = make_system(name, threads)


def _task(item: tuple[str, str]) -> tuple[str, dict[str, Any] | None, str, float, float]:
    """Run one card; unexpected exceptions are recorded, never allowed to kill the run."""
    card_id, path = item
    assert _RUN is not None
    t0 = time.perf_counter()
    try:
        answer, err = _RUN(path)
    except Exception as exc:  # noqa: BLE001 - a crash is a result to report
        answer, err = None, f"crash:{type(exc).__name__}"
    t1 = time.perf_counter()
    return card_id, answer, err, t0, t1


def run_pool(name: str, items: list[tuple[str, str]], workers: int, threads: int
             ) -> Iterator[tuple[str, dict[str, Any] | None, str, float, float]]:
    """Yield ``(id, answer, error, t_start, t_end)`` for each (id, path), in order.

    Fresh ("spawn") processes: each builds its own system, as a deployment would.
    ``t_start``/``t_end`` are ``time.perf_counter()`` values (CLOCK_MONOTONIC on
    Linux, comparable across processes), so throughput can exclude start-up.
    """
    ctx = mp.get_context("spawn")
    with ctx.Pool(workers, initializer=_init, initargs=(name, threads)) as pool:
        yield from pool.imap(_task, items, chunksize=1)
