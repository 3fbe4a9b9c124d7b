"""Command line: ``hkid-ocr recognize IMAGE...`` (or ``hkid-ocr IMAGE...``), ``batch``,
``serve`` and ``models``.

``recognize`` prints the cloud ``Data`` object as JSON: one object for one image
(``--pretty`` to indent), one JSON line per image for several, each line carrying
``file`` and, on failure, ``error`` {code, message} instead of the result.

``batch IN_DIR --out results.jsonl`` reads a folder on every core and resumes after an
interruption (:mod:`hkid_ocr.batch`). ``serve`` runs the local HTTP service that the
cloud SDK can call (:mod:`hkid_ocr.server`).

Exit codes: 0 every image was read; 1 at least one image failed (its error is in the
output); 2 bad usage, no input found, the models are missing, or ``serve`` refused to
start (e.g. a non-loopback address without access keys); 130 ``batch`` interrupted
(Ctrl-C; a worker process dying is 1).

Example:
    $ hkid-ocr tests/data/specimen_2003.jpg --pretty
    $ hkid-ocr batch scans/ --out results.jsonl --workers 4
    $ hkid-ocr batch s3://bucket/scans --out results.jsonl --engine ray --address auto
    $ hkid-ocr serve --host 127.0.0.1 --port 8080 --keys keys.json
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import sys
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path

from . import __version__
from .errors import ModelError, RecognitionError

__all__ = ["main"]

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp"}
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
EXIT_INTERRUPTED = 130  # the shell's convention for "stopped by Ctrl-C"


def _expand(inputs: Sequence[str]) -> Iterator[Path]:
    """Files as given; folders walked for images (sorted); globs expanded (sorted)."""
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        elif any(ch in item for ch in "*?["):
            yield from (Path(p) for p in sorted(glob.glob(item, recursive=True)) if Path(p).is_file())
        else:
            yield path  # a missing file is reported as an error for that file


def _progress(done: int, total: int, failed: int, start: float) -> None:
    # A redrawn progress line only makes sense on a terminal; logs get the summary.
    if not sys.stderr.isatty():
        return
    rate = done / max(1e-9, time.perf_counter() - start)
    sys.stderr.write(f"\r{done}/{total} images, {failed} failed, {rate:.1f}/s")
    if done == total:
        sys.stderr.write("\n")
    sys.stderr.flush()


def _cmd_recognize(args: argparse.Namespace) -> int:
    from .config import RecognizerConfig
    from .recognizer import Recognizer

    files = list(_expand(args.images))
    if not files:
        print("error: no images found in the given paths", file=sys.stderr)
        return EXIT_USAGE
    try:
        rec = Recognizer(RecognizerConfig(threads=args.threads))
    except ModelError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return EXIT_USAGE
    single = len(files) == 1
    out = open(args.output, "w", encoding="utf-8") if args.output else sys.stdout
    errors: Counter[str] = Counter()
    start = time.perf_counter()
    try:
        for i, path in enumerate(files, 1):
            try:
                res = rec.recognize(path)
                if args.overlay:
                    from .overlay import draw_overlay

                    target = Path(args.overlay)
                    if not single:
                        target.mkdir(parents=True, exist_ok=True)
                        target = target / f"{path.stem}.overlay.png"
                    draw_overlay(path, res, target)
                record = res.to_dict()
            except RecognitionError as exc:
                errors[exc.code] += 1
                record = {"error": {"code": exc.code, "message": exc.message}}
                print(f"{path}: {exc.code}: {exc.message}", file=sys.stderr)
            if single and not args.output:
                if args.pretty:
                    print(json.dumps(record, ensure_ascii=False, indent=2, sort_keys=True), file=out)
                else:
                    print(json.dumps(record, ensure_ascii=False, sort_keys=True), file=out)
            else:
                line = {"file": str(path), **record}
                print(json.dumps(line, ensure_ascii=False, sort_keys=True), file=out, flush=True)
            if not single:
                _progress(i, len(files), sum(errors.values()), start)
    finally:
        if out is not sys.stdout:
            out.close()
    if not single:
        took = time.perf_counter() - start
        summary = ", ".join(f"{code} {n}" for code, n in sorted(errors.items())) or "none"
        print(f"read {len(files) - sum(errors.values())}/{len(files)} cards in {took:.1f}s; errors: {summary}",
              file=sys.stderr)
    return EXIT_FAILED if errors else EXIT_OK


def _cmd_batch(args: argparse.Namespace) -> int:
    from .batch import run_batch

    if args.engine == "ray":
        return _cmd_batch_ray(args)
    if args.address is not None or args.actors is not None or args.parquet is not None:
        print("error: --address, --actors and --parquet need --engine ray", file=sys.stderr)
        return EXIT_USAGE
    in_dir = Path(args.in_dir)
    if not in_dir.is_dir():
        print(f"error: {in_dir} is not a folder", file=sys.stderr)
        return EXIT_USAGE
    if args.workers is not None and args.workers < 1:
        print("error: --workers must be at least 1", file=sys.stderr)
        return EXIT_USAGE
    try:
        summary = run_batch(in_dir, args.out, args.workers, retry_failed=args.retry_failed)
    except ModelError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:  # before the workers started
        return EXIT_INTERRUPTED
    if summary.total == 0:
        print(f"error: no images found in {in_dir}", file=sys.stderr)
        return EXIT_USAGE
    print(summary.line(), file=sys.stderr)
    if summary.worker_died:
        return EXIT_FAILED  # not the user's Ctrl-C: a failure, though a rerun resumes
    if summary.interrupted:
        return EXIT_INTERRUPTED
    return EXIT_FAILED if summary.errors else EXIT_OK


def _cmd_batch_ray(args: argparse.Namespace) -> int:
    """``batch --engine ray``: the same run on a Ray cluster (:mod:`hkid_ocr.distributed`)."""
    from .distributed import RayUnavailableError, run_distributed

    if args.workers is not None:
        print("error: --workers is for --engine local; with --engine ray use --actors", file=sys.stderr)
        return EXIT_USAGE
    if args.actors is not None and args.actors < 1:
        print("error: --actors must be at least 1", file=sys.stderr)
        return EXIT_USAGE
    try:
        summary = run_distributed(args.in_dir, args.out, address=args.address, actors=args.actors,
                                  retry_failed=args.retry_failed, parquet=args.parquet)
    except ModelError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return EXIT_USAGE
    except (RayUnavailableError, NotADirectoryError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (OSError, ValueError) as exc:  # a URI that cannot be listed, no Ray cluster at --address
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:  # before Ray started
        return EXIT_INTERRUPTED
    if summary.total == 0:
        print(f"error: no images found in {args.in_dir}", file=sys.stderr)
        return EXIT_USAGE
    print(summary.line(), file=sys.stderr)
    if summary.worker_died:
        return EXIT_FAILED  # the Ray job failed: what was written stays, a rerun resumes
    if summary.interrupted:
        return EXIT_INTERRUPTED
    return EXIT_FAILED if summary.errors else EXIT_OK


def _cmd_serve(args: argparse.Namespace) -> int:
    import logging

    from .auth import load_credentials

    try:
        credentials = load_credentials(args.keys)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.max_concurrency < 1 or args.threads < 0:
        print("error: --max-concurrency must be at least 1 and --threads at least 0", file=sys.stderr)
        return EXIT_USAGE
    try:
        from .server import create_app, is_loopback_host, serve
    except ImportError:
        print('error: the service needs FastAPI and uvicorn: pip install "hkid-ocr[server]"', file=sys.stderr)
        return EXIT_USAGE
    if credentials is None and not is_loopback_host(args.host):
        # Without keys anyone who reaches the port reads identity cards with it.
        print(f"error: refusing to serve on {args.host} without access keys; configure keys "
              "(--keys FILE, or HKID_OCR_ACCESS_KEY_ID and HKID_OCR_ACCESS_KEY_SECRET), "
              "bind to 127.0.0.1, or pass --insecure", file=sys.stderr)
        return EXIT_USAGE
    logging.basicConfig(level=getattr(logging, args.log_level.upper()), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if credentials is None:
        where = "anyone on this network" if not is_loopback_host(args.host) else "any local process"
        logging.getLogger("hkid_ocr.server").warning("no access keys configured: %s can use this service", where)
    from .config import RecognizerConfig
    from .recognizer import Recognizer

    threads = args.threads or max(1, (os.cpu_count() or 1) // args.max_concurrency)
    try:
        rec = Recognizer(RecognizerConfig(threads=threads))
    except ModelError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return EXIT_USAGE
    app = create_app(rec, credentials, allow_url=args.allow_url, max_concurrency=args.max_concurrency,
                     max_pending=max(args.max_pending, args.max_concurrency))
    auth = f"{len(credentials)} access key(s)" if credentials else "none"
    print(f"hkid-ocr {__version__}: RecognizeHKIdcard on http://{args.host}:{args.port}/ "
          f"(authentication: {auth}; image URLs: {'on' if args.allow_url else 'off'}; "
          f"{args.max_concurrency} at a time)", file=sys.stderr, flush=True)
    try:
        serve(app, args.host, args.port, log_level=args.log_level)
    except SystemExit as exc:  # uvicorn exits when it cannot bind (port in use, bad address)
        return EXIT_USAGE if exc.code else EXIT_OK
    return EXIT_OK


def _cmd_models(args: argparse.Namespace) -> int:
    from .models import _main as models_main

    argv = [args.action] + (["--dir", str(args.dir)] if args.dir else [])
    return models_main(argv)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hkid-ocr",
        description="Read Hong Kong identity cards offline; prints the cloud API's Data JSON.",
    )
    parser.add_argument("--version", action="version", version=f"hkid-ocr {__version__}")
    sub = parser.add_subparsers(dest="command")
    rec = sub.add_parser("recognize", help="read card images (files, folders, globs)")
    rec.add_argument("images", nargs="+", help="image files, folders or glob patterns")
    rec.add_argument("--pretty", action="store_true", help="indent the JSON (one image)")
    rec.add_argument("-o", "--output", help="write JSON Lines to this file instead of stdout")
    rec.add_argument("--overlay", help="draw the result on the image: a PNG path (one image) or a folder")
    rec.add_argument("--threads", type=int, default=0, help="cores one recognition uses (0 = all cores)")
    rec.set_defaults(func=_cmd_recognize)
    bat = sub.add_parser("batch", help="read every image under a folder on all cores (resumable)")
    bat.add_argument("in_dir", help="folder of images (searched recursively)")
    bat.add_argument("--out", required=True, help="JSON Lines output; appended to, so a rerun resumes")
    bat.add_argument("--workers", type=int, default=None, help="worker processes (default: all cores)")
    bat.add_argument("--retry-failed", action="store_true", help="read again images whose result was an error")
    bat.add_argument("--engine", choices=["local", "ray"], default="local",
                     help="local: worker processes on this machine (default); ray: a Ray cluster "
                          '(pip install "hkid-ocr[ray]"; IN_DIR may then also be a URI such as s3://bucket/prefix)')
    bat.add_argument("--address", default=None,
                     help="ray: 'local' starts a Ray instance here, 'auto' joins the running cluster, or a Ray "
                          "address (default: $RAY_ADDRESS when set, else local)")
    bat.add_argument("--actors", type=int, default=None,
                     help="ray: recognizer actors, one CPU each (default: the cluster's CPUs)")
    bat.add_argument("--parquet", default=None, help="ray: also write the results to this Parquet file")
    bat.set_defaults(func=_cmd_batch)
    srv = sub.add_parser("serve", help="run the local RecognizeHKIdcard HTTP service (cloud SDK compatible)")
    srv.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    srv.add_argument("--port", type=int, default=8080, help="port (default 8080)")
    srv.add_argument("--keys", help="access keys file: JSON {id: secret} or INI [keys] id = secret")
    srv.add_argument("--insecure", action="store_true",
                     help="allow a non-loopback address without access keys (anyone reaching it can use it)")
    srv.add_argument("--allow-url", action="store_true",
                     help="fetch images from the Url parameter (public http/https only; SSRF risk)")
    srv.add_argument("--max-concurrency", type=int, default=2, help="recognitions at once (default 2)")
    srv.add_argument("--max-pending", type=int, default=64, help="requests waiting at most; more get 503")
    srv.add_argument("--threads", type=int, default=0,
                     help="cores one recognition uses (0 = cores / max-concurrency)")
    srv.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    srv.set_defaults(func=_cmd_serve)
    mod = sub.add_parser("models", help="fetch or verify the recognition weights")
    mod.add_argument("action", choices=["fetch", "verify"])
    mod.add_argument("--dir", type=Path, default=None, help="model folder")
    mod.set_defaults(func=_cmd_models)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``hkid-ocr`` console script; returns the exit code."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    known = {"recognize", "batch", "serve", "models", "-h", "--help", "--version"}
    if args_list and args_list[0] not in known:
        args_list = ["recognize", *args_list]  # `hkid-ocr IMAGE` is `hkid-ocr recognize IMAGE`
    parser = _parser()
    try:
        args = parser.parse_args(args_list)
    except SystemExit as exc:  # argparse exits 2 on bad usage, 0 on --help
        return int(exc.code or 0)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
