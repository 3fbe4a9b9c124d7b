"""Batch runs: every image under a folder, on every core, resumable.

``hkid-ocr batch IN_DIR --out results.jsonl --workers N`` reads each image under
``IN_DIR`` (recursively; the same suffixes as ``recognize``) in ``N`` worker
processes, each with its own :class:`~hkid_ocr.Recognizer` running onnxruntime on one
thread (N processes x 1 thread uses N cores without oversubscribing them).

The output is JSON Lines, one line per image, in completion order::

    {"file": "sub/a.jpg", <the Data object>}
    {"file": "b.png", "error": {"code": "unsupportedImageFormat", "message": "..."}}

``file`` is the path relative to ``IN_DIR``. Each line is appended and flushed as
soon as its image is done, so an interrupted run (Ctrl-C, kill, crash, power loss)
loses at most the images in flight. Rerunning the same command resumes: images
already in the output file are skipped, and a last line cut off mid-write is
removed first. Failures are results too (they are not retried) unless
``retry_failed`` is set, which drops their lines and reads those images again.

Example:
    >>> import tempfile, pathlib
    >>> tmp = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (tmp / "out.jsonl").write_bytes(b'{"file": "a.jpg", "error": {"code": "x"}}\\n{"file": "b.j')
    >>> sorted(read_done(tmp / "out.jsonl"))  # the torn last line is dropped
    ['a.jpg']
"""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from .errors import RecognitionError

if TYPE_CHECKING:
    from .schema import HKIDResult

__all__ = ["BatchSummary", "IMAGE_SUFFIXES", "Progress", "find_images", "read_done", "read_records", "record_line", "run_batch"]

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp"})
#: Images queued per worker: enough to keep workers busy, few enough to stop quickly.
QUEUE_PER_WORKER = 4
#: Seconds between progress lines when stderr is not a terminal.
PROGRESS_EVERY_S = 5.0


@dataclass
class BatchSummary:
    """What a batch run did.

    Attributes:
        total: images under IN_DIR.
        skipped: images already recorded in the output (earlier runs).
        done: images read in this run (successes and failures).
        errors: error code -> count, over every image of IN_DIR (this run and earlier).
        seconds: wall time of this run.
        interrupted: the run stopped early (Ctrl-C or a worker died); rerun to resume.
        worker_died: a worker process ended abnormally (killed, or crashed in native code).
    """

    total: int = 0
    skipped: int = 0
    done: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0
    interrupted: bool = False
    worker_died: bool = False

    def line(self) -> str:
        """One-line summary for stderr.

        Example:
            >>> BatchSummary(total=3, skipped=1, done=2, errors=Counter({"noCardFound": 1})).line()
            'read 2/3 cards in 0.0s (2 this run, 1 already done); errors: noCardFound 1'
        """
        failed = sum(self.errors.values())
        errs = ", ".join(f"{code} {n}" for code, n in sorted(self.errors.items())) or "none"
        # Counted from what is recorded, so an interrupted run does not claim the rest.
        text = (f"read {self.skipped + self.done - failed}/{self.total} cards in {self.seconds:.1f}s "
                f"({self.done} this run, {self.skipped} already done); errors: {errs}")
        return text + ("; interrupted: rerun the same command to resume" if self.interrupted else "")


def find_images(in_dir: Path) -> list[str]:
    """Image files under ``in_dir``, as sorted POSIX paths relative to it.

    Example:
        >>> import tempfile, pathlib
        >>> d = pathlib.Path(tempfile.mkdtemp())
        >>> for name in ("b.JPG", "a/c.png", "notes.txt"):
        ...     (d / name).parent.mkdir(exist_ok=True); _ = (d / name).write_bytes(b"")
        >>> find_images(d)
        ['a/c.png', 'b.JPG']
    """
    return sorted(
        p.relative_to(in_dir).as_posix()
        for p in in_dir.rglob("*")
        if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
    )


def _repair_tail(out: Path) -> None:
    """Cut a last line that has no newline: the remains of a write interrupted by a crash.

    Every complete record ends with a newline (written in one call, then flushed), so
    anything after the last newline is a torn record. Appending after it would glue
    the next record onto it.
    """
    with open(out, "rb+") as fh:
        fh.seek(0, os.SEEK_END)
        size = fh.tell()
        if size == 0:
            return
        # Scan back in blocks for the last newline (the file can be large).
        pos, block = size, 64 * 1024
        while pos > 0:
            start = max(0, pos - block)
            fh.seek(start)
            chunk = fh.read(pos - start)
            idx = chunk.rfind(b"\n")
            if idx >= 0:
                cut = start + idx + 1
                break
            pos = start
        else:
            cut = 0
        if cut != size:
            fh.truncate(cut)


def read_records(out: Path) -> Iterator[dict[str, Any]]:
    with open(out, encoding="utf-8", errors="replace") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                # Not ours to fix (only a torn *last* line is expected); that image is redone.
                print(f"warning: {out}:{n} is not valid JSON; ignored", file=sys.stderr)
                continue
            if isinstance(rec, dict) and isinstance(rec.get("file"), str):
                yield rec


def read_done(out: Path, *, repair: bool = True) -> dict[str, str | None]:
    """Images already recorded in ``out``: file -> error code (None for a success).

    Args:
        out: the JSON Lines output of an earlier run (missing: nothing done).
        repair: first cut a torn last line off the file.

    Example:
        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "none.jsonl"
        >>> read_done(p)
        {}
    """
    if not out.exists():
        return {}
    if repair:
        _repair_tail(out)
    done: dict[str, str | None] = {}
    for rec in read_records(out):
        err = rec.get("error")
        done[rec["file"]] = str(err.get("code", "algorithmError")) if isinstance(err, dict) else None
    return done


def _drop_failures(out: Path) -> None:
    """Rewrite ``out`` without its error lines (atomically: a crash keeps the old file)."""
    tmp = out.with_name(out.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as dst:
        for rec in read_records(out):
            if "error" not in rec:
                dst.write(json.dumps(rec, ensure_ascii=False, sort_keys=True) + "\n")
        dst.flush()
        os.fsync(dst.fileno())
    os.replace(tmp, out)


# -- worker processes -----------------------------------------------------------------

_worker_rec: Any = None
_worker_error: tuple[str, str] | None = None


def plan_resume(images: list[str], dst: Path, summary: "BatchSummary", retry_failed: bool) -> list[str]:
    """The images still to read, given what ``dst`` already holds.

    Earlier failures count into ``summary.errors`` (or are dropped from ``dst`` to be
    retried when ``retry_failed``); images already recorded count as skipped. Shared by
    the local and the Ray engines so both resume the same way.
    """
    done = read_done(dst)
    if retry_failed and any(code is not None for code in done.values()):
        _drop_failures(dst)
        done = {f: c for f, c in done.items() if c is None}
    wanted = set(images)
    for rel, code in done.items():
        if rel in wanted and code is not None:
            summary.errors[code] += 1
    todo = [rel for rel in images if rel not in done]
    summary.skipped = len(images) - len(todo)
    return todo


def _init_worker(model_dir: str | None) -> None:
    """Build this process's Recognizer once (1 onnxruntime thread: one core per worker)."""
    global _worker_rec, _worker_error
    # Ctrl-C reaches the whole process group: the parent alone decides how to stop,
    # so a worker finishes its current image instead of dying mid-way.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    from .config import RecognizerConfig
    from .recognizer import Recognizer

    try:
        _worker_rec = Recognizer(RecognizerConfig(model_dir=Path(model_dir) if model_dir else None, threads=1))
    except RecognitionError as exc:
        # Raising here would break the whole pool; report it with every image instead.
        _worker_error = (exc.code, exc.message)


def _read_one(in_dir: str, rel: str) -> tuple[str, str, str | None]:
    """Runs in a worker: (file, JSON line, error code or None). Never raises."""

    def read() -> HKIDResult:
        if _worker_rec is None:
            raise RecognitionError(*(_worker_error or ("worker has no recognizer", "algorithmError")))
        return _worker_rec.recognize(os.path.join(in_dir, rel))

    line, code = record_line(rel, read)
    return rel, line, code


def record_line(rel: str, read: Callable[[], HKIDResult]) -> tuple[str, str | None]:
    """One output record: ``(JSON line, error code)``; both batch engines write these.

    Never raises: a :class:`~hkid_ocr.RecognitionError` becomes its code, anything else
    ``algorithmError`` (one bad image must not stop a million-card run).

    Args:
        rel: the image's name relative to the source (the record's ``file``).
        read: runs the recognition.

    Example:
        >>> from hkid_ocr.errors import NoCardFoundError
        >>> def fail(): raise NoCardFoundError("no identity card found in the image")
        >>> record_line("a.jpg", fail)
        ('{"error": {"code": "noCardFound", "message": "no identity card found in the image"}, "file": "a.jpg"}\\n', 'noCardFound')
    """
    code: str | None
    try:
        record: dict[str, Any] = {"file": rel, **read().to_dict()}
        code = None
    except RecognitionError as exc:
        record = {"file": rel, "error": {"code": exc.code, "message": exc.message}}
        code = exc.code
    except Exception as exc:  # noqa: BLE001 - one bad image must not end the run
        record = {"file": rel, "error": {"code": "algorithmError", "message": f"{type(exc).__name__}: {exc}"}}
        code = "algorithmError"
    # Serialised in the worker: the parent only writes bytes.
    return json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n", code


# -- the run --------------------------------------------------------------------------


class Progress:
    """Progress lines on ``stream``: a live bar on a terminal, a line every few seconds otherwise."""

    def __init__(self, total: int, stream: IO[str]) -> None:
        self.total = total
        self.stream = stream
        self.tty = stream.isatty()
        self.start = time.perf_counter()
        self.last = self.start

    def update(self, done: int, failed: int, final: bool = False) -> None:
        now = time.perf_counter()
        if not final and not self.tty and now - self.last < PROGRESS_EVERY_S:
            return
        self.last = now
        rate = done / max(1e-9, now - self.start)
        left = (self.total - done) / rate if rate > 0 else 0.0
        text = f"{done}/{self.total} images, {failed} failed, {rate:.1f}/s, ~{left:.0f}s left"
        if self.tty:
            self.stream.write("\r" + text + ("\n" if final else ""))
        else:
            self.stream.write(text + "\n")
        self.stream.flush()


def run_batch(in_dir: str | os.PathLike[str], out: str | os.PathLike[str], workers: int | None = None, *,
              retry_failed: bool = False, model_dir: str | os.PathLike[str] | None = None,
              progress: IO[str] | None = None) -> BatchSummary:
    """Read every image under ``in_dir`` into ``out`` (JSON Lines), resuming a previous run.

    Args:
        in_dir: folder of images (searched recursively).
        out: output file; appended to, never truncated (except a torn last line).
        workers: worker processes (default: every core).
        retry_failed: read again the images whose earlier result was an error.
        model_dir: weights folder (default: the usual lookup).
        progress: where progress and warnings go (default: stderr).

    Returns:
        The summary; ``summary.errors`` empty means every image was read.

    Raises:
        ModelError: the weights are missing (checked once, before any worker starts).
        NotADirectoryError: ``in_dir`` is not a folder.

    Example:
        >>> import tempfile, pathlib
        >>> empty = pathlib.Path(tempfile.mkdtemp())
        >>> run_batch(empty, empty / "out.jsonl").total
        0
    """
    from .models import resolve_models

    src, dst = Path(in_dir), Path(out)
    stream = progress if progress is not None else sys.stderr
    if not src.is_dir():
        raise NotADirectoryError(f"{src} is not a folder")
    start = time.perf_counter()
    images = find_images(src)
    summary = BatchSummary(total=len(images))
    if not images:
        return summary
    resolve_models(Path(model_dir) if model_dir else None)  # fail fast, in one place
    dst.parent.mkdir(parents=True, exist_ok=True)
    todo = plan_resume(images, dst, summary, retry_failed)
    if not todo:
        summary.seconds = time.perf_counter() - start
        return summary
    n = max(1, min(workers or os.cpu_count() or 1, len(todo)))
    bar = Progress(len(todo), stream)
    # spawn: a clean interpreter per worker; forking a process that may hold
    # onnxruntime or OpenCV threads can deadlock.
    ctx = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(max_workers=n, mp_context=ctx, initializer=_init_worker,
                               initargs=(str(model_dir) if model_dir else None,))
    pending: set[Future[tuple[str, str, str | None]]] = set()
    queue = iter(todo)
    failed_now = 0
    try:
        with open(dst, "a", encoding="utf-8") as fh:
            _fill(pool, pending, queue, str(src), n * QUEUE_PER_WORKER)
            while pending:
                finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                for fut in finished:
                    rel, line, code = fut.result()
                    # One write per record, flushed at once: a crash leaves whole lines
                    # plus at most one torn last line, which the next run cuts off.
                    fh.write(line)
                    fh.flush()
                    summary.done += 1
                    if code is not None:
                        summary.errors[code] += 1
                        failed_now += 1
                _fill(pool, pending, queue, str(src), n * QUEUE_PER_WORKER)
                bar.update(summary.done, failed_now)
            os.fsync(fh.fileno())
    except KeyboardInterrupt:
        summary.interrupted = True
    except BrokenProcessPool:
        # A worker died (killed, or crashed in native code). What is written stays written.
        print("error: a worker process died; the results so far are saved", file=stream)
        summary.interrupted = summary.worker_died = True
    finally:
        pool.shutdown(wait=not summary.interrupted, cancel_futures=True)
    bar.update(summary.done, failed_now, final=True)
    summary.seconds = time.perf_counter() - start
    return summary


def _fill(pool: ProcessPoolExecutor, pending: set[Future[tuple[str, str, str | None]]],
          queue: Iterable[str], src: str, size: int) -> None:
    """Top the queue of submitted images up to ``size`` (a bounded window, not all at once)."""
    it = iter(queue)
    while len(pending) < size:
        rel = next(it, None)
        if rel is None:
            return
        pending.add(pool.submit(_read_one, src, rel))
