"""Hostile and broken input (issue #8): never crash, never hang, never leak.

Every input below is generated here (nothing is downloaded). Each one must end, within
its time bound, either in a result that validates or in a :class:`RecognitionError` with
the cloud's code -- never another exception, never a hang, and a declared-huge image is
refused from its header without being decoded.

Expected outcome per case ("result" = a validated result; "= 2003" / "= 2018" = every
field equal to that specimen's truth):

==========================  =====================================  ===================================
case                        input                                  expected
==========================  =====================================  ===================================
empty                       b""                                    illegalImageContent
truncated-jpeg              specimen JPEG, first half              illegalImageContent
truncated-jpeg-header       specimen JPEG, first 200 bytes (cut    unsupportedImageFormat (as any
                            before its frame header)               garbage after a magic number)
truncated-png               specimen PNG, first half               illegalImageContent
truncated-gif               GIF cut inside its pixel data          illegalImageContent
png-named-jpg               PNG bytes in a file called card.jpg    result = 2003 (content decides)
text / pdf / zip / svg /    not an image format we accept          unsupportedImageFormat
heic / random
1x1 / 15x15                 tiny PNGs                              illegalImageSize
16x16                       smallest legal size, blank             noCardFound
9000x9000                   solid PNG, 79 kB on disk               illegalImageSize (header only)
bomb-png-60000              valid 1-bit PNG, 60000x60000, 438 kB   illegalImageSize (header only)
bomb-gif-60000              GIF header declaring 60000x60000       illegalImageSize (header only)
bomb-jpeg-60000             JPEG SOF patched to 60000x60000        illegalImageSize (header only)
aspect-60                   1200x20 PNG                            illegalImageSize
over-10mb                   10 MB + 1 byte file                    exceededImageContent (stat only)
missing / folder /          paths that are not image files (a      illegalImageUrl
nul-in-path / fifo /        FIFO or /dev/zero would block or never
dev-zero / url-as-path /    end if read; a URL is a path here and
symlink-loop                is never fetched)
animated-gif                frame 0 the 2018 card, frame 1 noise   result = 2018 (first frame)
png-16bit-gray              2003 card, 16-bit grey PNG             result = 2003
png-16bit-rgb               2018 card, 16-bit colour PNG           result = 2018
cmyk-jpeg                   2003 card, CMYK JPEG                   result = 2003
rgba-png                    2018 card on a transparent canvas      result = 2018
palette-png                 2003 card, 256-colour palette PNG      result = 2003
gray-jpeg                   2018 card, greyscale JPEG              result = 2018
exif-6 / exif-3 / exif-8    pixels turned the other way + EXIF     result = that card, upright size,
                            orientation (2003 / 2018 / 2003)       sliceRect on the upright frame
broken-exif                 JPEG whose EXIF block is garbage       result = 2003 (EXIF ignored)
card-5-percent              2018 card covering 5% of a cluttered   result (any valid) or noCardFound
                            photo
two-cards                   both specimens side by side            result = 2003 or = 2018, not a mix
card-back                   pale card, text block + barcode        noCardFound
blank-card                  card-sized plain rectangle             noCardFound
matrix                      np.matrix of the 2003 grey channel     result (any valid) or noCardFound
==========================  =====================================  ===================================

Besides the table: the bombs are checked not to reach the pixel decoder (in process) and
to stay under 500 MB peak (in a fresh interpreter); the whole path runs with sockets
blocked; one recognizer shared by 8 threads answers exactly as it does sequentially; the
JSON is byte-identical across runs and instances; no field value reaches the log;
failures close every file they open; Pillow's warnings never reach the caller, and
concurrent decoding leaves the process's warning filters as they were.
"""

from __future__ import annotations

import io
import json
import logging
import os
import socket
import struct
import subprocess
import sys
import threading
import time
import warnings
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from conftest import DATA, corner_error, specimen
from PIL import Image, ImageFile
from scenes import place, rotate_exact

import hkid_ocr
import hkid_ocr.models
from hkid_ocr.io import MAX_BYTES, ImageSource, load_image
from hkid_ocr.schema import HKIDResult
from hkid_ocr.types import FIELD_KEYS

RESULT = "result"
#: Every code the engine may answer with; anything else (or any other exception) fails.
KNOWN_CODES = frozenset(hkid_ocr.errors.ERROR_STATUS)


# -- building hostile inputs -------------------------------------------------------------


def encode(img: Image.Image, fmt: str, **kw: Any) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kw)
    return buf.getvalue()


def pil(name: str) -> Image.Image:
    """A specimen as an RGB PIL image."""
    return Image.fromarray(cv2.cvtColor(specimen(name), cv2.COLOR_BGR2RGB))


def solid_png(width: int, height: int, bit_depth: int = 1) -> bytes:
    """A valid all-black greyscale PNG of any size, built without ever holding its pixels.

    The zlib stream is one compressed block of zero rows repeated: after a full flush the
    compressor's state is reset, so compressing the same block again gives the same
    bytes. 60000 x 60000 at 1 bit (450 MB of raw rows) comes out at about 440 kB.
    """
    rowbytes = 1 + (width * bit_depth + 7) // 8  # filter byte + packed pixels
    block_rows = max(1, (4 << 20) // rowbytes)
    full, rest = divmod(height, block_rows)
    comp = zlib.compressobj(9)
    parts: list[bytes] = []
    if full:
        block = bytes(rowbytes * block_rows)
        parts.append(comp.compress(block) + comp.flush(zlib.Z_FULL_FLUSH))
        if full > 1:
            parts.append((comp.compress(block) + comp.flush(zlib.Z_FULL_FLUSH)) * (full - 1))
    if rest:
        parts.append(comp.compress(bytes(rowbytes * rest)) + comp.flush(zlib.Z_FULL_FLUSH))
    n = rowbytes * height
    # Final empty fixed-Huffman block, then Adler-32 of n zero bytes: a = 1, b = n.
    idat = b"".join(parts) + b"\x03\x00" + struct.pack(">I", ((n % 65521) << 16) | 1)
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def gif_bomb(width: int, height: int) -> bytes:
    """A GIF whose screen and only frame declare ``width`` x ``height``, with 3 bytes of
    LZW data (clear code, end code): decoded it would be all background."""
    head = b"GIF89a" + struct.pack("<HHBBB", width, height, 0x80, 0, 0) + b"\x00\x00\x00\xff\xff\xff"
    frame = b"\x2c" + struct.pack("<HHHHB", 0, 0, width, height, 0)
    # min code size 2: clear = 4, end = 5, packed LSB first in 3-bit codes -> 0x2c
    return head + frame + b"\x02\x01\x2c\x00" + b"\x3b"


def jpeg_declaring(width: int, height: int) -> bytes:
    """The 2003 specimen JPEG with its frame header (SOF0) patched to another size."""
    data = (DATA / "specimen_2003.jpg").read_bytes()
    sof = data.index(b"\xff\xc0")
    return data[: sof + 5] + struct.pack(">HH", height, width) + data[sof + 9 :]


def exif_rotated(name: str, orientation: int) -> bytes:
    """The specimen's pixels turned the opposite way, saved with EXIF ``orientation`` so a
    viewer (and we) show it upright again."""
    undo = {6: 1, 3: 2, 8: -1}[orientation]  # np.rot90 turns counter-clockwise
    stored = np.ascontiguousarray(np.rot90(specimen(name), undo))
    exif = Image.Exif()
    exif[0x0112] = orientation
    rgb = Image.fromarray(cv2.cvtColor(stored, cv2.COLOR_BGR2RGB))
    return encode(rgb, "JPEG", quality=95, exif=exif.tobytes())


def broken_exif() -> bytes:
    """A JPEG whose APP1 Exif block is a TIFF header pointing into nowhere."""
    jpeg = encode(pil("specimen_2003.jpg"), "JPEG", quality=95)
    body = b"Exif\x00\x00" + b"II*\x00" + struct.pack("<I", 0xFFFFFF00) + b"\xde\xad" * 20
    app1 = b"\xff\xe1" + struct.pack(">H", len(body) + 2) + body
    return jpeg[:2] + app1 + jpeg[2:]


def animated_gif() -> bytes:
    first = pil("specimen_2018.jpg")
    noise = Image.fromarray(np.random.default_rng(0).integers(0, 256, (300, 476, 3), np.uint8))
    return encode(first, "GIF", save_all=True, append_images=[noise], duration=100, loop=0)


def png16_rgb(name: str) -> bytes:
    ok, buf = cv2.imencode(".png", specimen(name).astype(np.uint16) * 257)
    assert ok
    return buf.tobytes()


def png16_gray(name: str) -> bytes:
    gray = cv2.cvtColor(specimen(name), cv2.COLOR_BGR2GRAY).astype(np.uint16) * 257
    return encode(Image.fromarray(gray), "PNG")


def rgba_on_transparent(name: str) -> bytes:
    card = np.asarray(pil(name))
    canvas = np.zeros((500, 760, 4), np.uint8)  # fully transparent black: must read as white
    canvas[100:400, 142:618, :3] = card
    canvas[100:400, 142:618, 3] = 255
    return encode(Image.fromarray(canvas, "RGBA"), "PNG")


def two_cards() -> np.ndarray:
    left = place(specimen("specimen_2003.jpg"), canvas=(900, 800), card_width=0.75, seed=11).image
    right = place(specimen("specimen_2018.jpg"), canvas=(900, 800), card_width=0.75, seed=12).image
    return np.hstack([left, right])


def _card_canvas(h: int = 300, w: int = 476, colour: tuple[int, int, int] = (232, 226, 221)) -> np.ndarray:
    card = np.empty((h, w, 3), np.uint8)
    card[:] = colour
    ramp = np.linspace(-8, 8, w, dtype=np.float32)[None, :, None]  # a faint print gradient
    return np.clip(card + ramp, 0, 255).astype(np.uint8)


def card_back() -> np.ndarray:
    """Something like the back of an identity card: a pale card, a short block of small
    print and a barcode-like stripe -- no front layout, no portrait."""
    card = _card_canvas()
    lines = ["This card is the property of the", "Government of the Hong Kong SAR.",
             "If found, please return it to any", "Immigration office."]
    for i, text in enumerate(lines):
        cv2.putText(card, text, (30, 60 + 22 * i), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (70, 70, 70), 1, cv2.LINE_AA)
    rng = np.random.default_rng(8)
    x = 60
    while x < 416:
        bar = int(rng.integers(1, 5))
        if rng.random() < 0.6:
            card[200:260, x : x + bar] = (30, 30, 30)
        x += bar + int(rng.integers(1, 4))
    return place(card, card_width=0.5, rotate=4, seed=21).image


def blank_card() -> np.ndarray:
    return place(_card_canvas(colour=(245, 245, 245)), card_width=0.5, rotate=-6, seed=22).image


def _matrix() -> np.ndarray:
    """np.matrix of one channel: an ndarray subclass whose reshape and indexing rules
    differ (it stays 2-D), which once made load_image raise a bare ValueError."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        return np.matrix(specimen("specimen_2003.jpg")[:, :, 1])


def write(tmp: Path, name: str, data: bytes) -> Path:
    path = tmp / name
    path.write_bytes(data)
    return path


def fifo(tmp: Path) -> Path:
    if not hasattr(os, "mkfifo"):
        pytest.skip("no FIFOs on this platform")
    path = tmp / "card.jpg"
    os.mkfifo(path)  # reading it would block forever: no writer ever comes
    return path


def _symlink_loop(tmp: Path) -> Path:
    a, b = tmp / "a.jpg", tmp / "b.jpg"
    a.symlink_to(b)
    b.symlink_to(a)
    return a


def over_limit(tmp: Path) -> Path:
    path = tmp / "huge.jpg"
    with path.open("wb") as fh:
        fh.write(b"\xff\xd8\xff\xe0")
        fh.truncate(MAX_BYTES + 1)  # sparse: costs no disk and no time
    return path


def _zip_of_card() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("card.jpg", (DATA / "specimen_2003.jpg").read_bytes())
    return buf.getvalue()


# -- the table -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One hostile input and what it must lead to."""

    build: Callable[[Path], ImageSource]
    expect: frozenset[str]  # RESULT and/or error codes
    reads: tuple[str, ...] = ()  # a result's data must equal one of these specimens' truth
    upright: str | None = None  # EXIF cases: size and sliceRect checked on this specimen upright
    huge: bool = False  # declared huge: must be refused from the header, never decoded
    limit_s: float = 5.0


def _c(build: Callable[[Path], ImageSource], *expect: str, **kw: Any) -> Case:
    return Case(build=build, expect=frozenset(expect), **kw)


_SPEC_2003 = (DATA / "specimen_2003.jpg").read_bytes()
_PNG_2003 = encode(pil("specimen_2003.jpg"), "PNG")

CASES: dict[str, Case] = {
    "empty": _c(lambda t: b"", "illegalImageContent"),
    "truncated-jpeg": _c(lambda t: _SPEC_2003[: len(_SPEC_2003) // 2], "illegalImageContent"),
    # cut before Pillow can even identify it: like any garbage after a magic number
    "truncated-jpeg-header": _c(lambda t: _SPEC_2003[:200], "unsupportedImageFormat"),
    "truncated-png": _c(lambda t: _PNG_2003[: len(_PNG_2003) // 2], "illegalImageContent"),
    "truncated-gif": _c(lambda t: (g := animated_gif())[: len(g) // 4], "illegalImageContent"),
    "png-named-jpg": _c(lambda t: write(t, "card.jpg", _PNG_2003), RESULT, reads=("specimen_2003.jpg",)),
    "text": _c(lambda t: b"Name: LEE, Chi Nan\nID: C668668(E)\n" * 20, "unsupportedImageFormat"),
    "pdf": _c(lambda t: b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n%%EOF\n",
              "unsupportedImageFormat"),
    "zip": _c(lambda t: _zip_of_card(), "unsupportedImageFormat"),
    "svg": _c(lambda t: b'<svg xmlns="http://www.w3.org/2000/svg" width="476" height="300"/>',
              "unsupportedImageFormat"),
    "heic": _c(lambda t: b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + bytes(200),
               "unsupportedImageFormat"),
    "random": _c(lambda t: np.random.default_rng(1).integers(0, 256, 5000, np.uint8).tobytes(),
                 "unsupportedImageFormat"),
    "1x1": _c(lambda t: encode(Image.new("RGB", (1, 1), "white"), "PNG"), "illegalImageSize"),
    "15x15": _c(lambda t: encode(Image.new("RGB", (15, 15), "white"), "PNG"), "illegalImageSize"),
    "16x16": _c(lambda t: encode(Image.new("RGB", (16, 16), "white"), "PNG"), "noCardFound"),
    "9000x9000": _c(lambda t: solid_png(9000, 9000, 8), "illegalImageSize", huge=True),
    "bomb-png-60000": _c(lambda t: solid_png(60000, 60000), "illegalImageSize", huge=True),
    "bomb-gif-60000": _c(lambda t: gif_bomb(60000, 60000), "illegalImageSize", huge=True),
    "bomb-jpeg-60000": _c(lambda t: jpeg_declaring(60000, 60000), "illegalImageSize", huge=True),
    "aspect-60": _c(lambda t: encode(Image.new("L", (1200, 20), 200), "PNG"), "illegalImageSize"),
    "over-10mb": _c(over_limit, "exceededImageContent"),
    "missing": _c(lambda t: t / "nope.jpg", "illegalImageUrl"),
    "folder": _c(lambda t: t, "illegalImageUrl"),
    "nul-in-path": _c(lambda t: str(t / "card\x00.jpg"), "illegalImageUrl"),
    "fifo": _c(fifo, "illegalImageUrl"),
    "url-as-path": _c(lambda t: "https://example.com/card.jpg", "illegalImageUrl"),  # a path, never fetched
    "symlink-loop": _c(lambda t: _symlink_loop(t), "illegalImageUrl"),
    "dev-zero": _c(lambda t: "/dev/zero" if os.path.exists("/dev/zero") else pytest.skip("no /dev/zero"),
                   "illegalImageUrl"),
    "animated-gif": _c(lambda t: animated_gif(), RESULT, reads=("specimen_2018.jpg",)),
    "png-16bit-gray": _c(lambda t: png16_gray("specimen_2003.jpg"), RESULT, reads=("specimen_2003.jpg",)),
    "png-16bit-rgb": _c(lambda t: png16_rgb("specimen_2018.jpg"), RESULT, reads=("specimen_2018.jpg",)),
    "cmyk-jpeg": _c(lambda t: encode(pil("specimen_2003.jpg").convert("CMYK"), "JPEG", quality=95),
                    RESULT, reads=("specimen_2003.jpg",)),
    "rgba-png": _c(lambda t: rgba_on_transparent("specimen_2018.jpg"), RESULT, reads=("specimen_2018.jpg",)),
    "palette-png": _c(lambda t: encode(pil("specimen_2003.jpg").quantize(256), "PNG"),
                      RESULT, reads=("specimen_2003.jpg",)),
    "gray-jpeg": _c(lambda t: encode(pil("specimen_2018.jpg").convert("L"), "JPEG", quality=95),
                    RESULT, reads=("specimen_2018.jpg",)),
    "exif-6": _c(lambda t: exif_rotated("specimen_2003.jpg", 6), RESULT,
                 reads=("specimen_2003.jpg",), upright="specimen_2003.jpg"),
    "exif-3": _c(lambda t: exif_rotated("specimen_2018.jpg", 3), RESULT,
                 reads=("specimen_2018.jpg",), upright="specimen_2018.jpg"),
    "exif-8": _c(lambda t: exif_rotated("specimen_2003.jpg", 8), RESULT,
                 reads=("specimen_2003.jpg",), upright="specimen_2003.jpg"),
    "broken-exif": _c(lambda t: broken_exif(), RESULT, reads=("specimen_2003.jpg",)),
    "card-5-percent": _c(lambda t: place(specimen("specimen_2018.jpg"), card_width=0.245, seed=5).image,
                         RESULT, "noCardFound"),
    "two-cards": _c(lambda t: two_cards(), RESULT, reads=("specimen_2003.jpg", "specimen_2018.jpg")),
    "card-back": _c(lambda t: card_back(), "noCardFound"),
    "blank-card": _c(lambda t: blank_card(), "noCardFound"),
    "matrix": _c(lambda t: _matrix(), RESULT, "noCardFound"),
}


# -- checking outcomes --------------------------------------------------------------------


def check_result(res: HKIDResult, width: int, height: int) -> dict[str, Any]:
    """Assert that a returned result is well formed; return its cloud ``Data`` dict.

    The JSON must parse back into the schema unchanged, sizes must be the input's, and
    each prism_keyValueInfo entry must be one of the nine keys, once, with the value
    that ``data`` holds and four corners.
    """
    assert isinstance(res, HKIDResult)
    text = res.to_json()
    assert HKIDResult.model_validate_json(text).to_json() == text
    d = res.to_dict()
    assert (d["orgWidth"], d["orgHeight"]) == (width, height)
    assert d["width"] > 0 and d["height"] > 0
    keys = [kv["key"] for kv in d["prism_keyValueInfo"]]
    assert len(keys) == len(set(keys)) and set(keys) <= set(FIELD_KEYS), keys
    for kv in d["prism_keyValueInfo"]:
        assert kv["value"] and kv["value"] == d["data"][kv["key"]], kv["key"]
        assert len(kv["valuePos"]) == 4 and 0 <= kv["valueProb"] <= 100
    return d


def outcome(recognizer: hkid_ocr.Recognizer, source: ImageSource) -> tuple[str, HKIDResult | None, float]:
    """("result" or the error code, the result, seconds). Any other exception propagates
    and fails the calling test, which is the point."""
    t0 = time.perf_counter()
    try:
        res = recognizer.recognize(source)
    except hkid_ocr.RecognitionError as exc:
        assert exc.code in KNOWN_CODES and exc.status == hkid_ocr.errors.ERROR_STATUS[exc.code]
        return exc.code, None, time.perf_counter() - t0
    return RESULT, res, time.perf_counter() - t0


def _input_size(source: ImageSource) -> tuple[int, int]:
    """(width, height) of an input as stored (EXIF cases override it with the upright size)."""
    if isinstance(source, np.ndarray):
        return int(source.shape[1]), int(source.shape[0])
    data = source if isinstance(source, bytes) else Path(source).read_bytes()  # type: ignore[arg-type]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the broken-EXIF case makes Pillow complain
        with Image.open(io.BytesIO(data)) as im:
            return im.size


@pytest.mark.parametrize("name", sorted(CASES))
def test_hostile_input(recognizer: hkid_ocr.Recognizer, truth: dict, tmp_path: Path, name: str) -> None:
    case = CASES[name]
    source = case.build(tmp_path)
    code, res, elapsed = outcome(recognizer, source)
    assert code in case.expect, f"{name}: got {code}, expected one of {sorted(case.expect)}"
    assert elapsed < case.limit_s, f"{name}: took {elapsed:.2f}s"
    if res is None:
        return
    size = _input_size(source)
    if case.upright is not None:
        size = (specimen(case.upright).shape[1], specimen(case.upright).shape[0])
    d = check_result(res, *size)
    if case.reads:
        assert any(d["data"] == truth[n]["data"] for n in case.reads), d["data"]
    if case.upright is not None:
        # sliceRect is given in the upright image: EXIF was applied before locating.
        assert corner_error(d["sliceRect"], rotate_exact(specimen(case.upright), 0).corners) < 0.02


@pytest.mark.parametrize("name", sorted(n for n, c in CASES.items() if c.huge))
def test_declared_huge_is_never_decoded(
    recognizer: hkid_ocr.Recognizer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    """The refusal comes from the header: Pillow's pixel decoder is never entered."""
    decoded: list[str] = []
    real_load = ImageFile.ImageFile.load

    def spy(self: ImageFile.ImageFile) -> Any:
        decoded.append(f"{self.format} {self.size}")
        return real_load(self)

    monkeypatch.setattr(ImageFile.ImageFile, "load", spy)
    data = CASES[name].build(tmp_path)
    assert isinstance(data, bytes) and len(data) < 500_000  # a small file ...
    code, _, _ = outcome(recognizer, data)
    assert code == "illegalImageSize" and decoded == []


def test_solid_png_builder_is_a_real_png() -> None:
    """The bomb builder makes genuine PNGs (so the bombs are not just bad headers)."""
    for w, h, depth in [(40, 30, 1), (300, 200, 8), (2000, 1200, 8)]:
        im = Image.open(io.BytesIO(solid_png(w, h, depth)))
        im.load()
        assert im.size == (w, h) and np.asarray(im).max() == 0


# -- memory ------------------------------------------------------------------------------

_MEMORY_CHILD = r"""
import json, sys, time
import hkid_ocr

def peak_mb():
    # VmHWM: this process's own peak RSS. Not ru_maxrss: across fork+exec Linux carries
    # the parent's high-water mark into the child's, and the parent holds the models.
    with open("/proc/self/status") as fh:
        return next(int(l.split()[1]) for l in fh if l.startswith("VmHWM:")) / 1024

rec = hkid_ocr.Recognizer()
report = {"base_mb": peak_mb(), "cases": []}
for path in sys.argv[1:]:
    t0 = time.perf_counter()
    try:
        rec.recognize(path)
        code = "result"
    except hkid_ocr.RecognitionError as exc:
        code = exc.code
    report["cases"].append({"path": path, "code": code, "s": time.perf_counter() - t0, "peak_mb": peak_mb()})
print(json.dumps(report))
"""

#: Peak resident memory allowed for a fresh process that loads the models and then meets
#: every bomb (the brief's bound; the models and libraries take about 160 MB of it).
BOMB_PEAK_MB = 500
#: A legal 8000 x 8000 image (a 6 kB JPEG that declares it) must be decoded: pixels
#: (192 MB BGR + Pillow's 256 MB RGBX copy) plus the pipeline stay under this.
FLOOD_PEAK_MB = 1000


def _encoded(source: ImageSource) -> bytes:
    assert isinstance(source, bytes)
    return source


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc")
def test_bomb_peak_memory(tmp_path: Path) -> None:
    """Bombs refused in a fresh interpreter (the test process already holds models):
    its own peak RSS, read after each case, stays under the bound."""
    bombs = [write(tmp_path, f"{n}.img", _encoded(CASES[n].build(tmp_path))) for n in sorted(CASES) if CASES[n].huge]
    flood = write(tmp_path, "flood-8000.jpg", jpeg_declaring(8000, 8000))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, "-c", _MEMORY_CHILD, *map(str, bombs), str(flood)],
        capture_output=True, text=True, timeout=120, env=env, cwd=Path(__file__).parent.parent,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    *bomb_runs, flood_run = report["cases"]
    for run in bomb_runs:
        assert run["code"] == "illegalImageSize", run
        assert run["s"] < 1.0, run
    # Refusing from the header allocates nothing: the peak is the model load's.
    assert bomb_runs[-1]["peak_mb"] < BOMB_PEAK_MB, report
    assert bomb_runs[-1]["peak_mb"] - report["base_mb"] < 50, report
    assert flood_run["code"] in {"noCardFound", "illegalImageContent"}, flood_run
    assert flood_run["peak_mb"] < FLOOD_PEAK_MB, report


# -- offline, threads, determinism, logs ----------------------------------------------------


class _NetworkUsed(AssertionError):
    pass


def test_offline_whole_path(monkeypatch: pytest.MonkeyPatch, truth: dict) -> None:
    """With every way out through the socket module blocked, a fresh Recognizer builds
    (model verification included) and reads a card."""
    attempts: list[str] = []

    def refuse(what: str) -> Callable[..., Any]:
        def blocked(*args: Any, **kwargs: Any) -> Any:
            attempts.append(what)
            raise _NetworkUsed(f"network access attempted: {what}")

        return blocked

    monkeypatch.setattr(socket.socket, "connect", refuse("socket.connect"))
    monkeypatch.setattr(socket.socket, "connect_ex", refuse("socket.connect_ex"))
    monkeypatch.setattr(socket.socket, "sendto", refuse("socket.sendto"))
    monkeypatch.setattr(socket, "create_connection", refuse("create_connection"))
    monkeypatch.setattr(socket, "getaddrinfo", refuse("getaddrinfo"))
    verified: Any = getattr(hkid_ocr.models, "_verified", None)
    if hasattr(verified, "cache_clear"):
        verified.cache_clear()  # the weights' sha256 check runs again, under the block
    rec = hkid_ocr.Recognizer(hkid_ocr.RecognizerConfig(threads=1))
    d = rec.recognize(str(DATA / "specimen_2018.jpg"), portrait=True).to_dict()
    assert d["data"] == truth["specimen_2018.jpg"]["data"]
    with pytest.raises(hkid_ocr.RecognitionError):
        rec.recognize(b"GIF89a not really")
    assert attempts == []  # not even an attempt that something swallowed


def _answer(recognizer: hkid_ocr.Recognizer, image: ImageSource) -> str:
    """The full observable answer: the JSON, or the error's code and message."""
    try:
        return recognizer.recognize(image).to_json()
    except hkid_ocr.RecognitionError as exc:
        return f"error {exc.code}: {exc.message}"


@pytest.fixture(scope="module")
def reference(recognizer: hkid_ocr.Recognizer) -> tuple[list[ImageSource], list[str]]:
    """A few inputs and their sequential answers: three cards (array, path, upside down)
    and a non-card, so both results and errors are compared."""
    images: list[ImageSource] = [
        specimen("specimen_2003.jpg"),
        str(DATA / "specimen_2018.jpg"),
        rotate_exact(specimen("specimen_2018.jpg"), 2).image,
        np.random.default_rng(0).integers(0, 256, (300, 476, 3), np.uint8),
    ]
    answers = [_answer(recognizer, img) for img in images]
    assert [a.startswith("{") for a in answers] == [True, True, True, False]
    return images, answers


def test_shared_recognizer_from_eight_threads(
    recognizer: hkid_ocr.Recognizer, reference: tuple[list[ImageSource], list[str]]
) -> None:
    images, sequential = reference
    answers: dict[int, str] = {}
    failures: list[BaseException] = []
    start = threading.Barrier(8)

    def work(k: int) -> None:
        try:
            start.wait(timeout=30)  # all eight inside recognize() together
            answers[k] = _answer(recognizer, images[k % len(images)])
        except BaseException as exc:  # noqa: BLE001 - reported below, not lost in the thread
            failures.append(exc)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not failures and not any(t.is_alive() for t in threads)
    assert all(answers[k] == sequential[k % len(images)] for k in range(8))


def test_json_identical_across_runs_and_instances(
    recognizer: hkid_ocr.Recognizer, reference: tuple[list[ImageSource], list[str]]
) -> None:
    """Byte-identical JSON for the same image: again on the shared instance (the thread
    test repeats every reference image too), and on a second, separately built one."""
    images, answers = reference
    scene = place(specimen("specimen_2003.jpg"), canvas=(600, 800), card_width=0.6, rotate=-15, tilt=0.1,
                  seed=9).image
    first = recognizer.recognize(scene).to_json()
    assert recognizer.recognize(scene.copy()).to_json() == first
    other = hkid_ocr.Recognizer(hkid_ocr.RecognizerConfig(threads=1))
    assert other.recognize(scene).to_json() == first
    assert _answer(other, images[0]) == answers[0]


def test_no_field_values_or_input_in_logs_and_errors(
    recognizer: hkid_ocr.Recognizer, truth: dict, caplog: pytest.LogCaptureFixture
) -> None:
    """Personal data never reaches the log, and an error message never echoes the input."""
    caplog.set_level(logging.DEBUG)
    data = truth["specimen_2003.jpg"]["data"]
    recognizer.recognize(specimen("specimen_2003.jpg"))
    secret = b"SECRET-C668668(E)-" * 10
    with pytest.raises(hkid_ocr.RecognitionError) as info:
        recognizer.recognize(secret)
    logged = "\n".join(r.getMessage() for r in caplog.records)
    for value in (data["nameEn"], data["idNumber"], data["nameCn"], data["birthDate"]):
        assert value not in logged
    assert "SECRET" not in str(info.value) and "SECRET" not in logged


def test_hostile_input_raises_no_warnings(tmp_path: Path) -> None:
    """Pillow's complaints (corrupt EXIF, truncated data, deprecated formats, huge sizes)
    do not reach the caller as warnings: the outcome says it all."""
    names = ["broken-exif", "text", "truncated-png", "truncated-gif", "bomb-gif-60000", "9000x9000", "palette-png"]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for name in names:
            try:
                load_image(CASES[name].build(tmp_path))
            except hkid_ocr.RecognitionError:
                pass
    assert [f"{w.category.__name__}: {w.message}" for w in caught] == []


def test_concurrent_loads_leave_the_warning_filters_alone() -> None:
    """Eight threads decoding at once leave warnings.filters exactly as they found it
    (catch_warnings is not thread-safe: unguarded, overlapping uses left a filter behind)."""
    before = list(warnings.filters)
    data = (DATA / "specimen_2003.jpg").read_bytes()
    start = threading.Barrier(8)

    def work() -> None:
        start.wait(timeout=30)
        for _ in range(10):
            load_image(data)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert list(warnings.filters) == before


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.skipif(not Path("/proc/self/fd").exists(), reason="needs /proc")
def test_failures_leak_no_file_descriptors(recognizer: hkid_ocr.Recognizer, tmp_path: Path) -> None:
    """Refused files, paths and bombs close everything they open."""
    cheap = [n for n, c in CASES.items() if RESULT not in c.expect and "noCardFound" not in c.expect]
    sources: list[ImageSource] = []
    for n in cheap:
        (tmp_path / n).mkdir()  # each case gets its own folder (fixed file names inside)
        sources.append(CASES[n].build(tmp_path / n))
    for source in sources:  # warm-up: lazy imports may open files once
        outcome(recognizer, source)
    before = _open_fds()
    for _ in range(3):
        for source in sources:
            outcome(recognizer, source)
    assert _open_fds() == before
