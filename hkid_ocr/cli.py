"""Command line: ``hkid-ocr recognize IMAGE...`` (or ``hkid-ocr IMAGE...``) and ``hkid-ocr models``.

Prints the cloud ``Data`` object as JSON: one object for one image (``--pretty`` to
indent), one JSON line per image for several, each line carrying ``file`` and, on
failure, ``error`` {code, message} instead of the result.

Exit codes: 0 every image was read; 1 at least one image failed (its error is in the
output); 2 bad usage, no input found, or the models are missing.

Example:
    $ hkid-ocr tests/data/specimen_2003.jpg --pretty
"""

from __future__ import annotations

import argparse
import glob
import json
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
    rec.add_argument("--threads", type=int, default=0, help="inference threads (0 = all cores)")
    rec.set_defaults(func=_cmd_recognize)
    mod = sub.add_parser("models", help="fetch or verify the recognition weights")
    mod.add_argument("action", choices=["fetch", "verify"])
    mod.add_argument("--dir", type=Path, default=None, help="model folder")
    mod.set_defaults(func=_cmd_models)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``hkid-ocr`` console script; returns the exit code."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    known = {"recognize", "models", "-h", "--help", "--version"}
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
