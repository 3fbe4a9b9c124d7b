"""Batch runs on a Ray cluster: millions of cards, the same output as ``hkid-ocr batch``.

``hkid-ocr batch SOURCE --out results.jsonl --engine ray --address auto`` (or
:func:`run_distributed`) reads every image under ``SOURCE`` with Ray Data and
recognises them in a pool of Ray actors. Each actor holds one
:class:`~hkid_ocr.Recognizer` on one inference thread (sessions loaded once per
actor), so one actor per CPU core uses the cluster without oversubscribing it.

``SOURCE`` is a local folder (on a multi-node cluster it must be visible at the same
path on every node, e.g. an NFS mount) or any URI that ``pyarrow.fs`` and Ray Data's
``read_binary_files`` accept: ``s3://bucket/prefix``, ``gs://bucket/prefix``,
``hdfs://...``. It is searched recursively for the suffixes of
:data:`hkid_ocr.batch.IMAGE_SUFFIXES`.

The output is exactly :mod:`hkid_ocr.batch`'s: JSON Lines, one record per image, in
completion order, ``file`` relative to ``SOURCE``::

    {"file": "sub/a.jpg", <the Data object, with "checks">}
    {"file": "b.png", "error": {"code": "unsupportedImageFormat", "message": "..."}}

The actors serialise each record; the driver only appends the lines to the output
file and flushes them, batch by batch. A rerun resumes: the output is read first
(a torn last line is cut off, as :func:`hkid_ocr.batch.read_done` does) and only the
images not yet in it are given to Ray. Failures are records with their code, never
dropped; ``retry_failed`` reads them again. Optionally the finished JSON Lines are
also converted to one Parquet file (:func:`jsonl_to_parquet`).

Ray is an optional dependency (``pip install "hkid-ocr[ray]"``); this module imports
it only when a run starts, and raises :class:`RayUnavailableError` naming that
command when it is missing.

Example:
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "a.jpg").write_bytes(b""); _ = (d / "notes.txt").write_text("x")
    >>> listing = list_images(str(d))
    >>> listing.files, listing.is_local
    (['a.jpg'], True)
"""

from __future__ import annotations

import functools
import inspect
import json
import logging
import os
import re
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from .batch import IMAGE_SUFFIXES, BatchSummary, Progress, find_images, plan_resume, read_records, record_line
from .errors import RecognitionError

if TYPE_CHECKING:  # pragma: no cover - typing only; pyarrow comes with ray[data]
    import numpy as np
    import pyarrow.fs

__all__ = [
    "CardReader",
    "DEFAULT_BATCH_SIZE",
    "ImageListing",
    "RayUnavailableError",
    "cluster_cpus",
    "jsonl_to_parquet",
    "list_images",
    "run_distributed",
]

#: Images per actor call. A card takes ~0.25-1 s on one core, so a call of 4 is
#: 1-4 s of work: Ray's per-call overhead (a few ms) stays under 1%, and the tail of
#: a run (the last calls, when some actors are already idle) stays short.
DEFAULT_BATCH_SIZE = 4
#: Most read blocks of one run. Each block is one actor call's work, so blocks of
#: ``batch_size`` images keep every actor busy to the end and results flowing back
#: (left to itself, Ray Data reads images in a few large blocks: 40 images came back
#: in two bursts); past this many blocks (millions of images) a block holds more
#: images, to bound the number of Ray tasks.
MAX_READ_BLOCKS = 10_000
#: Actors one reading task keeps fed. Reads ask for no CPU (below), and Ray starts a
#: worker process for every zero-CPU task it can run at once: unbounded, 30 small
#: reads started 26 processes on a 2-core machine. One reader fetching images one
#: after another (~100-300 KB each; tens of ms from an object store) keeps several
#: actors at ~2-4 cards/s each busy.
ACTORS_PER_READER = 8
#: Blocks whose reading may fail (a file removed after the listing, a storage error)
#: before the run stops. Their images are recorded as ``illegalImageUrl`` errors at
#: the end (``--retry-failed`` reads them again), so a few bad reads do not end a long
#: run; more than this is a systematic problem (no access on the nodes), better
#: stopped than recorded a million times.
MAX_ERRORED_BLOCKS = 10
#: The error recorded for an image that Ray listed but could not read.
UNREAD_ERROR = ("illegalImageUrl", "the file could not be read (removed after listing, or a storage error)")
RAY_INSTALL_HINT = 'pip install "hkid-ocr[ray]"'


class RayUnavailableError(ImportError):
    """Ray (with Ray Data) is not installed; the message names the install command.

    Example:
        >>> str(RayUnavailableError())
        'the ray engine needs Ray Data: pip install "hkid-ocr[ray]"'
    """

    def __init__(self, detail: str = "") -> None:
        super().__init__(f"the ray engine needs Ray Data: {RAY_INSTALL_HINT}" + (f" ({detail})" if detail else ""))


def _import_ray() -> tuple[Any, Any]:
    """``(ray, ray.data)``, or :class:`RayUnavailableError`."""
    try:
        import ray
        import ray.data
    except ImportError as exc:
        raise RayUnavailableError(str(exc)) from exc
    return ray, ray.data


# -- inputs ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ImageListing:
    """The images under a source.

    Attributes:
        root: the source as a path of ``filesystem`` (no scheme), without a trailing ``/``.
        files: image paths relative to ``root``, POSIX style, sorted (the ``file`` of
            each record).
        filesystem: a ``pyarrow.fs.FileSystem`` that reads ``root``; ``None`` for a
            local folder (read with ``pyarrow.fs.LocalFileSystem``).
        is_local: the source is a folder of this machine's file system.
    """

    root: str
    files: list[str]
    filesystem: Any = None
    is_local: bool = True

    def paths(self, rels: list[str]) -> list[str]:
        """Full paths (of ``filesystem``) of the given relative names, for Ray to read.

        Example:
            >>> ImageListing(root="/data/in", files=["a.jpg"]).paths(["a.jpg", "s/b.png"])
            ['/data/in/a.jpg', '/data/in/s/b.png']
        """
        return [f"{self.root}/{rel}" for rel in rels]


def _has_scheme(source: str) -> bool:
    # "s3://b/p" has a scheme; "C:\\x" or "./a:b" do not (a scheme is letters before "://").
    head, sep, _ = source.partition("://")
    return bool(sep) and head.replace("+", "").replace("-", "").replace(".", "").isalnum()


def list_images(source: str | os.PathLike[str], filesystem: pyarrow.fs.FileSystem | None = None) -> ImageListing:
    """List the images under ``source`` (recursively), as :func:`hkid_ocr.batch.find_images` does.

    Args:
        source: a local folder, or a URI ``pyarrow.fs`` understands (``s3://bucket/prefix``,
            ``gs://...``, ``hdfs://...``, ``file:///...``).
        filesystem: a ready ``pyarrow.fs.FileSystem`` (e.g. one with credentials, or an
            fsspec file system wrapped in ``pyarrow.fs.PyFileSystem``); ``source`` is then
            a path of it.

    Returns:
        The listing; ``files`` are relative to ``source``.

    Raises:
        NotADirectoryError: a local ``source`` that is not a folder.
        OSError, ValueError: a URI that cannot be listed (unknown scheme, no access).

    Example:
        >>> import tempfile, pathlib
        >>> d = pathlib.Path(tempfile.mkdtemp())
        >>> (d / "sub").mkdir(); _ = (d / "sub" / "b.PNG").write_bytes(b"")
        >>> list_images(d).files
        ['sub/b.PNG']
    """
    text = os.fspath(source)
    if filesystem is None and not _has_scheme(text):
        # A local folder: the very listing the local engine makes, so both engines
        # name and skip the same files. Resolved, so the paths Ray reports back
        # (absolute) start with it.
        folder = Path(text).resolve()
        if not folder.is_dir():
            raise NotADirectoryError(f"{text} is not a folder")
        return ImageListing(root=folder.as_posix().rstrip("/"), files=find_images(folder), is_local=True)

    import pyarrow.fs as pafs  # a dependency of ray[data]; only needed for URIs

    if filesystem is None:
        filesystem, root = pafs.FileSystem.from_uri(text)
    else:
        root = text
    root = root.rstrip("/")
    info = filesystem.get_file_info(root)
    if info.type == pafs.FileType.NotFound:
        raise NotADirectoryError(f"{text} does not exist")
    if info.type != pafs.FileType.Directory:
        raise NotADirectoryError(f"{text} is not a folder (or a prefix holding objects)")
    prefix = root + "/"
    files = sorted(
        fi.path[len(prefix):]
        for fi in filesystem.get_file_info(pafs.FileSelector(root, recursive=True))
        if fi.type == pafs.FileType.File
        and fi.path.startswith(prefix)
        and os.path.splitext(fi.path)[1].lower() in IMAGE_SUFFIXES
    )
    return ImageListing(root=root, files=files, filesystem=filesystem, is_local=False)


# -- records --------------------------------------------------------------------------


class CardReader:
    """The Ray Data callable class: one Recognizer per actor, built once.

    Ray constructs it in each actor of the pool; each call gets a batch of
    ``read_binary_files`` rows (``path``, ``bytes``) and returns one row per image:
    ``file``, ``line`` (the JSON record) and ``code`` (the error code, ``""`` for a
    success, since a column of only nulls would not have a string type).

    Args:
        root: the listing's root; ``file`` is each path relative to it.
        model_dir: weights folder on the worker nodes (default: the usual lookup).

    Raises:
        ModelError: this node has no (valid) weights. Raised, not recorded per image:
            Ray Data then stops the run (at the first actor that cannot start, by
            default), rather than writing a million ``modelUnavailable`` records from
            one misconfigured node.

    Example:
        >>> import numpy as np
        >>> reader = CardReader("/in")  # doctest: +SKIP
        >>> reader({"path": np.array(["/in/x.jpg"]), "bytes": np.array([b""], dtype=object)})["code"]  # doctest: +SKIP
        array(['illegalImageContent'], dtype=object)
    """

    def __init__(self, root: str, model_dir: str | None = None) -> None:
        from .config import RecognizerConfig
        from .recognizer import Recognizer

        self._prefix = root.rstrip("/") + "/"
        # One inference thread: Ray gives this actor one CPU, and N actors x 1 thread
        # fills N cores without threads fighting over them.
        self._rec = Recognizer(RecognizerConfig(model_dir=Path(model_dir) if model_dir else None, threads=1))

    def _rel(self, path: str) -> str:
        # Ray reports the path it read (ours, normalised). Not under the root should not
        # happen; keep the full path then rather than lose the image.
        return path[len(self._prefix):] if path.startswith(self._prefix) else path

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Recognise one batch of images (``path``, ``bytes`` columns)."""
        import numpy as np

        files, lines, codes = [], [], []
        for path, data in zip(batch["path"], batch["bytes"]):
            rel = self._rel(str(path))
            line, code = record_line(rel, functools.partial(self._rec.recognize, bytes(data)))
            files.append(rel)
            lines.append(line)
            codes.append(code or "")
        return {"file": np.array(files, dtype=object), "line": np.array(lines, dtype=object),
                "code": np.array(codes, dtype=object)}


# -- the cluster ----------------------------------------------------------------------


def _default_address() -> str | None:
    # Inside `ray job submit` (or a shell that exported it) RAY_ADDRESS names the
    # cluster: join it (ray.init reads it when given no address) rather than start a
    # second Ray inside the head node.
    return None if os.environ.get("RAY_ADDRESS") else "local"


def cluster_cpus(ray: Any) -> int:
    """CPUs of the connected Ray cluster (at least 1): the default number of actors.

    Example:
        >>> import ray  # doctest: +SKIP
        >>> cluster_cpus(ray)  # doctest: +SKIP
        2
    """
    return max(1, int(ray.cluster_resources().get("CPU", 1)))


def _connect(ray: Any, address: str | None, num_cpus: int | None) -> bool:
    """Connect to Ray (or start it); True when this call started the connection."""
    if ray.is_initialized():
        return False  # the caller's Ray session (a notebook, a test, a job): use it as is
    if address is None:
        address = _default_address()
    kwargs: dict[str, Any] = {"include_dashboard": False, "logging_level": logging.WARNING}
    if address == "local":
        # "local" always starts a fresh single-node instance, even when a cluster runs here.
        ray.init(address="local", num_cpus=num_cpus, **kwargs)
    else:
        ray.init(address=address, **kwargs)
    return True


def _read_kwargs(ray_data: Any, actors: int) -> dict[str, Any]:
    """Arguments of ``read_binary_files``: paths reported, reads needing no CPU, few readers.

    The actors hold every CPU (one each); reading is I/O, so read tasks ask for no CPU
    (otherwise none could ever be scheduled and the run would stall), and at most one
    runs per :data:`ACTORS_PER_READER` actors. Newer Ray takes ``num_cpus`` directly,
    older Ray through ``ray_remote_args``.
    """
    kwargs: dict[str, Any] = {"include_paths": True, "concurrency": max(1, -(-actors // ACTORS_PER_READER)),
                              # A file gone since the listing is recorded at the end, not fatal.
                              "ignore_missing_paths": True}
    if "num_cpus" in inspect.signature(ray_data.read_binary_files).parameters:
        kwargs["num_cpus"] = 0
    else:  # pragma: no cover - Ray before the named resource arguments
        kwargs["ray_remote_args"] = {"num_cpus": 0}
    return kwargs


def _result_batches(ray_data: Any, listing: ImageListing, todo: list[str], actors: int, batch_size: int,
                    model_dir: str | None, runtime_env: dict[str, Any] | None) -> Iterator[dict[str, np.ndarray]]:
    """The Ray Data pipeline: read -> actor pool -> batches back to the driver, as they finish."""
    fs = listing.filesystem
    if fs is None:
        import pyarrow.fs as pafs

        fs = pafs.LocalFileSystem()
    blocks = max(1, min(-(-len(todo) // batch_size), MAX_READ_BLOCKS))
    ds = ray_data.read_binary_files(listing.paths(todo), filesystem=fs, override_num_blocks=blocks,
                                    **_read_kwargs(ray_data, actors))
    # Only when asked for: older Ray has no runtime_env argument here.
    extra: dict[str, Any] = {"runtime_env": runtime_env} if runtime_env else {}
    ds = ds.map_batches(
        CardReader,
        fn_constructor_kwargs={"root": listing.root, "model_dir": model_dir},
        batch_size=batch_size,
        batch_format="numpy",
        compute=ray_data.ActorPoolStrategy(size=actors),
        # One CPU per actor, for its one inference thread. Ray Data's own fault
        # tolerance stays on: an actor lost with its node is restarted elsewhere and
        # its calls retried.
        num_cpus=1,
        **extra,
    )
    # batch_size=None: each finished block as it is, in completion order.
    yield from ds.iter_batches(batch_size=None, batch_format="numpy")


def _failure_text(exc: BaseException) -> str:
    """What a failed Ray job says: our own error when one is inside, else its first line.

    An actor that could not start (no weights on its node) reaches the driver as Ray's
    ``ActorDiedError``, whose text holds the remote traceback: the ``ModelError`` line
    there is the useful part (it names the fetch command).

    Example:
        >>> _failure_text(RuntimeError("ActorDiedError\\n  hkid_ocr.errors.ModelError: modelUnavailable: gone"))
        'modelUnavailable: gone'
    """
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, RecognitionError):
            return str(cause)
        cause = cause.__cause__ or getattr(cause, "cause", None)
    lines = str(exc).strip().splitlines()
    for line in lines:
        found = re.search(r"hkid_ocr\.errors\.\w+: (.*)", line)
        if found:
            return found.group(1).strip()
    return f"{type(exc).__name__}: {lines[0] if lines else ''}"


def run_distributed(source: str | os.PathLike[str], out: str | os.PathLike[str], *, address: str | None = None,
                    actors: int | None = None, batch_size: int = DEFAULT_BATCH_SIZE, retry_failed: bool = False,
                    model_dir: str | os.PathLike[str] | None = None, parquet: str | os.PathLike[str] | None = None,
                    num_cpus: int | None = None, filesystem: pyarrow.fs.FileSystem | None = None,
                    runtime_env: dict[str, Any] | None = None, progress: IO[str] | None = None) -> BatchSummary:
    """Read every image under ``source`` on a Ray cluster into ``out`` (JSON Lines), resuming.

    Args:
        source: local folder (shared at the same path on every node of a multi-node
            cluster) or URI (``s3://bucket/prefix``, ...); see :func:`list_images`.
        out: JSON Lines output on the driver's machine; appended to, never truncated
            (except a torn last line).
        address: ``"local"`` starts a local Ray instance (shut down at the end),
            ``"auto"`` joins the cluster running here, or any address ``ray.init``
            accepts (``ray://head:10001``). Default: ``$RAY_ADDRESS`` when set (as in
            a Ray job), else ``"local"``. Ignored when Ray is already initialised in this
            process (that session is used and left running).
        actors: size of the actor pool (default: the cluster's CPUs, one actor each).
        batch_size: images per actor call.
        retry_failed: read again the images whose earlier result was an error.
        model_dir: weights folder, on every node (default: the usual lookup there).
        parquet: also write the finished results to this Parquet file (see
            :func:`jsonl_to_parquet`); only after a complete run.
        num_cpus: CPUs of a ``"local"`` instance (default: every core).
        filesystem: a ``pyarrow.fs.FileSystem`` for ``source`` (credentials, fsspec).
        runtime_env: Ray runtime environment of the actors, e.g.
            ``{"env_vars": {"HKID_OCR_MODELS": "/shared/models"}}``.
        progress: where progress and warnings go (default: stderr).

    Returns:
        The summary (as :func:`hkid_ocr.batch.run_batch`'s); ``interrupted`` with
        ``worker_died`` when the Ray job failed (the message went to ``progress``).

    Raises:
        RayUnavailableError: Ray is not installed (and there was work to do).
        ModelError: the weights are missing on this machine (checked before Ray starts).
        NotADirectoryError: ``source`` is not a folder.
        ValueError: ``actors`` or ``batch_size`` below 1.

    Example:
        >>> summary = run_distributed("scans/", "results.jsonl", address="local")  # doctest: +SKIP
        >>> print(summary.line())  # doctest: +SKIP
        read 40/40 cards in 31.2s (40 this run, 0 already done); errors: none
    """
    from .models import resolve_models

    if (actors is not None and actors < 1) or batch_size < 1:
        raise ValueError("actors and batch_size must be at least 1")
    stream = progress if progress is not None else sys.stderr
    start = time.perf_counter()
    listing = list_images(source, filesystem)
    images = listing.files
    summary = BatchSummary(total=len(images))
    if not images:
        return summary
    dst = Path(out)
    # Fail fast, in one place, as the local engine does. Worker nodes check their own
    # copy when their actors start.
    resolve_models(Path(model_dir) if model_dir else None)
    dst.parent.mkdir(parents=True, exist_ok=True)
    todo = plan_resume(images, dst, summary, retry_failed)
    if todo:
        _run(listing, todo, dst, summary, stream, address=address, actors=actors, batch_size=batch_size,
             model_dir=str(model_dir) if model_dir else None, num_cpus=num_cpus, runtime_env=runtime_env)
    if parquet is not None and not summary.interrupted:
        jsonl_to_parquet(dst, parquet)
    summary.seconds = time.perf_counter() - start
    return summary


def _run(listing: ImageListing, todo: list[str], dst: Path, summary: BatchSummary, stream: IO[str], *,
         address: str | None, actors: int | None, batch_size: int, model_dir: str | None,
         num_cpus: int | None, runtime_env: dict[str, Any] | None) -> None:
    """Run the Ray pipeline over ``todo``, appending records to ``dst`` and counting them."""
    ray, ray_data = _import_ray()
    started = _connect(ray, address, num_cpus)
    ctx = ray_data.DataContext.get_current()
    bars, errored = ctx.enable_progress_bars, ctx.max_errored_blocks
    ctx.max_errored_blocks = MAX_ERRORED_BLOCKS
    data_log = logging.getLogger("ray.data")
    level = data_log.level
    # Our own progress line (the same as the local engine's) instead of Ray's bars and
    # its per-run INFO lines; Ray Data's errors still show.
    ctx.enable_progress_bars = False
    data_log.setLevel(logging.ERROR)
    pending = set(todo)
    bar = Progress(len(todo), stream)
    failed_now = stray = 0
    try:
        # No more actors than there are calls to make: each one loads the models.
        n = max(1, min(actors or cluster_cpus(ray), -(-len(todo) // batch_size)))
        with open(dst, "a", encoding="utf-8") as fh:
            for batch in _result_batches(ray_data, listing, todo, n, batch_size, model_dir, runtime_env):
                chunk = []
                for rel, line, code in zip(batch["file"], batch["line"], batch["code"]):
                    # Exactly once, even if Ray re-ran a call whose result had arrived.
                    if rel not in pending:
                        stray += 1
                        continue
                    pending.discard(rel)
                    chunk.append(line)
                    summary.done += 1
                    if code:
                        summary.errors[str(code)] += 1
                        failed_now += 1
                # Whole lines in one write, flushed: a crash leaves at most one torn
                # last line, which the next run cuts off.
                fh.write("".join(chunk))
                fh.flush()
                bar.update(summary.done, failed_now)
            if stray:
                print(f"warning: {stray} results were repeats or not in the listing; ignored", file=stream)
            # The run finished, yet Ray returned nothing for these: their reads failed
            # (or the files vanished). Recorded, never dropped; --retry-failed rereads them.
            unread, message = UNREAD_ERROR
            for rel in sorted(pending):
                record = {"file": rel, "error": {"code": unread, "message": message}}
                fh.write(json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n")
                summary.done += 1
                summary.errors[unread] += 1
                failed_now += 1
            fh.flush()
            os.fsync(fh.fileno())
    except KeyboardInterrupt:
        summary.interrupted = True
    except Exception as exc:  # noqa: BLE001 - a failed Ray job: keep what is written, say why
        print(f"error: the Ray job failed ({_failure_text(exc)}); the results so far are saved, "
              "rerun to resume", file=stream)
        summary.interrupted = summary.worker_died = True
    finally:
        ctx.enable_progress_bars, ctx.max_errored_blocks = bars, errored
        data_log.setLevel(level)
        if started:
            ray.shutdown()
    bar.update(summary.done, failed_now, final=True)


# -- Parquet --------------------------------------------------------------------------


def jsonl_to_parquet(jsonl: str | os.PathLike[str], parquet: str | os.PathLike[str], *,
                     rows_per_group: int = 10_000) -> int:
    """Convert a results file (JSON Lines) to Parquet; returns the number of rows.

    Columns: ``file``; ``error_code`` and ``error_message`` (null on success);
    ``data`` (a struct of the nine card fields, null on failure); ``checks`` (JSON
    text, null on failure); ``record`` (the whole record as JSON text, so nothing of
    the Data object is lost). Streamed in row groups, so a file of millions of records
    needs little memory; written to a temporary file and renamed, so a reader never
    sees half a file.

    Args:
        jsonl: the output of a batch run (either engine).
        parquet: the Parquet file to (over)write.
        rows_per_group: records per Parquet row group.

    Example:
        >>> jsonl_to_parquet("results.jsonl", "results.parquet")  # doctest: +SKIP
        40
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    from .types import FIELD_KEYS

    data_type = pa.struct([(key, pa.string()) for key in FIELD_KEYS])
    schema = pa.schema([("file", pa.string()), ("error_code", pa.string()), ("error_message", pa.string()),
                        ("data", data_type), ("checks", pa.string()), ("record", pa.string())])
    src, dst = Path(jsonl), Path(parquet)
    tmp = dst.with_name(dst.name + ".tmp")
    rows = 0
    cols: dict[str, list[Any]] = {name: [] for name in schema.names}

    def flush(writer: Any) -> None:
        if cols["file"]:
            writer.write_table(pa.table(cols, schema=schema))
            for values in cols.values():
                values.clear()

    dst.parent.mkdir(parents=True, exist_ok=True)
    with pq.ParquetWriter(tmp, schema) as writer:
        for rec in read_records(src):
            err = rec.get("error") if isinstance(rec.get("error"), dict) else None
            data = rec.get("data") if isinstance(rec.get("data"), dict) else None
            cols["file"].append(rec["file"])
            cols["error_code"].append(str(err.get("code", "algorithmError")) if err else None)
            cols["error_message"].append(str(err.get("message", "")) if err else None)
            cols["data"].append({key: str(data.get(key, "")) for key in FIELD_KEYS} if data and not err else None)
            checks = rec.get("checks")
            cols["checks"].append(json.dumps(checks, ensure_ascii=False, sort_keys=True)
                                  if checks is not None and not err else None)
            cols["record"].append(json.dumps(rec, ensure_ascii=False, sort_keys=True))
            rows += 1
            if len(cols["file"]) >= rows_per_group:
                flush(writer)
        flush(writer)
    os.replace(tmp, dst)
    return rows
