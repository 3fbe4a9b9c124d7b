"""Load and validate an input image: a path, encoded bytes, or a numpy array.

Limits follow the cloud API: PNG, JPEG, BMP, GIF, TIFF or WebP; each side more than
15 and less than 8192 pixels; aspect ratio under 50; at most 10 MB of encoded bytes.
The header is read and checked before any pixel is decoded, so a small file that
declares a huge image (a decompression bomb) is refused without allocating it.

Hostile input is expected (issue #8): only :class:`~hkid_ocr.errors.RecognitionError`
leaves :func:`load_image`; a path must name a regular file and is read with a cap (a
FIFO or ``/dev/zero`` would block or never end); a legal image decodes with at most the
decoder's copy and the output alive (about 470 MB at 8191 x 8191); and concurrent calls
leave the process's warning filters untouched.

Example:
    >>> import numpy as np
    >>> img = load_image(np.zeros((300, 476, 3), np.uint8))
    >>> (img.width, img.height, img.source_format)
    (476, 300, 'array')
"""

from __future__ import annotations

import contextlib
import io
import os
import stat
import threading
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Union

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError

from .errors import AlgorithmError, ImageFormatError, ImageSizeError, RecognitionError
from .types import LoadedImage

__all__ = ["ImageSource", "MAX_BYTES", "MAX_SIDE", "MIN_SIDE", "MAX_ASPECT", "load_image"]

ImageSource = Union[str, os.PathLike, bytes, bytearray, memoryview, np.ndarray]

MAX_BYTES = 10 * 1024 * 1024
MIN_SIDE = 15  # exclusive: a side must be > 15 px
MAX_SIDE = 8192  # exclusive: a side must be < 8192 px
MAX_ASPECT = 50.0  # exclusive

SUPPORTED_FORMATS = frozenset({"PNG", "JPEG", "BMP", "GIF", "TIFF", "WEBP", "MPO"})


def _check_size(width: int, height: int) -> None:
    if width <= MIN_SIDE or height <= MIN_SIDE:
        raise ImageSizeError(f"image is {width}x{height}; each side must be more than {MIN_SIDE} px")
    if width >= MAX_SIDE or height >= MAX_SIDE:
        raise ImageSizeError(f"image is {width}x{height}; each side must be less than {MAX_SIDE} px")
    if max(width, height) / min(width, height) >= MAX_ASPECT:
        raise ImageSizeError(f"image is {width}x{height}; the aspect ratio must be under {MAX_ASPECT:g}")


def _read_bytes(source: str | os.PathLike) -> bytes:
    try:
        path = Path(source)
        st = path.stat()
    except FileNotFoundError:
        raise ImageFormatError(f"no such file: {source!s:.200}", code="illegalImageUrl") from None
    except OSError as exc:  # permission, name too long, loop of links ...
        raise ImageFormatError(
            f"cannot read {source!s:.200}: {exc.strerror or type(exc).__name__}", code="illegalImageUrl"
        ) from None
    except (ValueError, TypeError):
        # A NUL byte in the path, or a PathLike whose fspath is not a str.
        raise ImageFormatError("not a usable file path", code="illegalImageUrl") from None
    if stat.S_ISDIR(st.st_mode):
        raise ImageFormatError(f"{path} is a folder, not an image file", code="illegalImageUrl")
    if not stat.S_ISREG(st.st_mode):
        # A FIFO, socket or device (/dev/zero, /dev/stdin) has no trustworthy size and can
        # block or never end: only regular files are images.
        raise ImageFormatError(f"{path} is not a regular file", code="illegalImageUrl")
    if st.st_size > MAX_BYTES:
        raise ImageSizeError(
            f"file is {st.st_size} bytes; the limit is {MAX_BYTES} bytes", code="exceededImageContent"
        )
    try:
        with path.open("rb") as fh:
            # One byte over the limit is enough to know it is too big, even when the file
            # grew after stat(): never read an unbounded amount.
            data = fh.read(MAX_BYTES + 1)
    except OSError as exc:
        raise ImageFormatError(
            f"cannot read {path}: {exc.strerror or type(exc).__name__}", code="illegalImageUrl"
        ) from None
    if len(data) > MAX_BYTES:
        raise ImageSizeError(f"file is over the limit of {MAX_BYTES} bytes", code="exceededImageContent")
    return data


def _from_array(source: np.ndarray) -> LoadedImage:
    # Subclasses (np.matrix, masked arrays) break reshape/indexing rules: use the plain
    # ndarray view of the same memory.
    arr = np.asarray(source)
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (1, 3, 4)):
        raise ImageFormatError(
            f"array of shape {arr.shape} is not an image (expected HxW, HxWx3 BGR or HxWx4 BGRA)",
            code="illegalImageContent",
        )
    _check_size(int(arr.shape[1]), int(arr.shape[0]))
    if arr.dtype == np.uint16:
        arr = (arr >> 8).astype(np.uint8)
    elif arr.dtype in (np.float32, np.float64):
        if not np.isfinite(arr).all():
            raise ImageFormatError("float image holds NaN or infinity", code="illegalImageContent")
        scale = 255.0 if float(arr.max(initial=0.0)) <= 1.0 else 1.0
        arr = np.clip(arr * scale, 0, 255).astype(np.uint8)
    elif arr.dtype != np.uint8:
        raise ImageFormatError(f"unsupported array dtype {arr.dtype}", code="illegalImageContent")
    gray = arr.ndim == 2 or arr.shape[2] == 1
    if gray:
        arr = arr.reshape(arr.shape[0], arr.shape[1])
        bgr = np.repeat(arr[:, :, None], 3, axis=2)
    elif arr.shape[2] == 4:
        alpha = arr[:, :, 3:4].astype(np.float32) / 255.0
        bgr = (arr[:, :, :3].astype(np.float32) * alpha + 255.0 * (1.0 - alpha)).astype(np.uint8)
    else:
        bgr = arr
    return LoadedImage(bgr=np.ascontiguousarray(bgr), source_format="array", grayscale_source=gray)


#: Bytes of decoded pixels converted per strip: the image is turned into BGR a band of
#: rows at a time, straight into the output array, so no second full-size copy (PIL's
#: tobytes, a mode conversion, a float widening) is ever made.
_STRIP_BYTES = 4 * 1024 * 1024
_GRAY_MODES = frozenset({"1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "F"})
_WIDE_GRAY_MODES = frozenset({"I", "I;16", "I;16B", "I;16L"})
#: EXIF orientation -> the numpy view that shows the image upright (the same pixel
#: permutations as PIL's ImageOps.exif_transpose, applied after decoding so PIL never
#: holds two full-size copies).
_ORIENT: dict[int, Callable[[np.ndarray], np.ndarray]] = {
    2: lambda a: a[:, ::-1],
    3: lambda a: a[::-1, ::-1],
    4: lambda a: a[::-1],
    5: lambda a: a.transpose(1, 0, 2),
    6: lambda a: np.rot90(a, -1),
    7: lambda a: np.rot90(a, 2).transpose(1, 0, 2),
    8: lambda a: np.rot90(a, 1),
}


def _strips(im: Image.Image) -> Iterator[tuple[int, int, Image.Image]]:
    """(first row, end row, that band of ``im``), top to bottom."""
    w, h = im.size
    rows = max(1, _STRIP_BYTES // max(1, 4 * w))
    for r in range(0, h, rows):
        r1 = min(h, r + rows)
        yield r, r1, im.crop((0, r, w, r1))


def _wide_gray_factor(im: Image.Image) -> float:
    """Scale of 16/32-bit grey to 8 bits: by the range actually used, so a 16-bit scan
    keeps its contrast (values above 255 mean the full 16-bit range)."""
    hi = 0.0
    for _, _, band in _strips(im):
        hi = max(hi, float(np.asarray(band).max(initial=0)))
    return 255.0 / (65535.0 if hi > 255 else 255.0)


def _band_pixels(band: Image.Image, mode: str, factor: float) -> np.ndarray:
    """One band as uint8: HxW grey for the grey modes, HxWx3 RGB for the others."""
    if mode in _WIDE_GRAY_MODES or mode == "F":
        a = np.asarray(band).astype(np.float64) * factor
        return np.clip(np.nan_to_num(a), 0, 255).astype(np.uint8)
    if mode in ("1", "L"):
        return np.asarray(band.convert("L") if mode == "1" else band)
    if mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in band.info):
        # Transparent pixels become white paper, not black (pasting through the alpha
        # channel is the same blend as alpha_composite over white).
        rgba = band.convert("RGBA")
        rgb = Image.new("RGB", rgba.size, (255, 255, 255))
        rgb.paste(rgba, (0, 0), rgba)
        return np.asarray(rgb)
    return np.asarray(band if mode == "RGB" else band.convert("RGB"))  # CMYK, YCbCr, P ...


def _pil_to_bgr(im: Image.Image) -> tuple[np.ndarray, bool]:
    """BGR uint8 pixels of a loaded PIL image (stored orientation), and whether it was
    single-channel. Peak memory: the decoded image plus the output, nothing more."""
    mode = im.mode
    factor = _wide_gray_factor(im) if mode in _WIDE_GRAY_MODES else 1.0
    w, h = im.size
    out = np.empty((h, w, 3), np.uint8)
    for r0, r1, band in _strips(im):
        px = _band_pixels(band, mode, factor)
        out[r0:r1] = px[:, :, None] if px.ndim == 2 else px[:, :, ::-1]
    return out, mode in _GRAY_MODES


def _exif_orientation(im: Image.Image) -> int:
    """The EXIF (or XMP) orientation tag, 1 when absent or unreadable.

    A damaged EXIF block does not make the pixels unusable: the image is then taken as
    stored rather than refused.
    """
    try:
        value = im.getexif().get(0x0112, 1)
        return int(value) if int(value) in _ORIENT else 1
    except MemoryError:
        raise
    except Exception:  # noqa: BLE001 - unreadable EXIF: keep the stored orientation
        return 1


#: warnings.catch_warnings swaps the process-wide filter list and is not thread-safe
#: before Python 3.14: two overlapping uses restore each other's saved state, which leaves
#: an "ignore" filter installed for good (seen with 8 threads). Decoding holds this lock,
#: so only one thread at a time has the filters swapped.
_WARNINGS_LOCK = threading.Lock()


@contextlib.contextmanager
def _quiet_pillow() -> Iterator[None]:
    """Silence Pillow's warnings (corrupt EXIF, truncated reads, large images): every
    problem they describe is reported as an error code or handled here instead."""
    with _WARNINGS_LOCK, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def _from_bytes(data: bytes) -> LoadedImage:
    if len(data) == 0:
        raise ImageFormatError("empty input: no image bytes", code="illegalImageContent")
    if len(data) > MAX_BYTES:
        raise ImageSizeError(
            f"input is {len(data)} bytes; the limit is {MAX_BYTES} bytes", code="exceededImageContent"
        )
    with _quiet_pillow():
        bgr, gray, fmt, orientation = _decode(data)
    if orientation != 1:
        bgr = np.ascontiguousarray(_ORIENT[orientation](bgr))
    # EXIF rotation may swap the sides; the limits are symmetric so no re-check needed.
    return LoadedImage(bgr=bgr, source_format=fmt, grayscale_source=gray)


def _decode(data: bytes) -> tuple[np.ndarray, bool, str, int]:
    """BGR pixels as stored, whether single-channel, the format, the EXIF orientation."""
    try:
        im = Image.open(io.BytesIO(data))
    except UnidentifiedImageError:
        raise ImageFormatError(
            "not an image in a supported format (PNG, JPEG, BMP, GIF, TIFF, WebP)"
        ) from None
    except Image.DecompressionBombError as exc:
        raise ImageSizeError(f"declared image size is too large: {exc}") from None
    except Exception as exc:  # noqa: BLE001 - any parser failure means bad bytes
        raise ImageFormatError(f"cannot parse image header: {type(exc).__name__}") from None
    try:
        fmt = (im.format or "").upper()
        if fmt not in SUPPORTED_FORMATS:
            raise ImageFormatError(f"image format {fmt or 'unknown'} is not supported")
        # Checked on the declared size, before decoding a single pixel.
        _check_size(*im.size)
        fast = _decode_plain(data, im)
        if fast is not None:
            return fast, False, fmt, _exif_orientation(im)
        try:
            im.seek(0)  # animated GIF / multi-page TIFF: the first frame
            im.load()
            orientation = _exif_orientation(im)
            bgr, gray = _pil_to_bgr(im)
        except Image.DecompressionBombError as exc:
            raise ImageSizeError(f"declared image size is too large: {exc}") from None
        except MemoryError:
            # Not the image's fault: this process is out of memory for a legal image.
            raise AlgorithmError("out of memory while decoding the image") from None
        except Exception as exc:  # noqa: BLE001 - any decoder failure means bad image data
            raise ImageFormatError(
                f"{fmt} data is corrupt or truncated ({type(exc).__name__})", code="illegalImageContent"
            ) from None
    finally:
        im.close()  # free the decoded pixels before an upright copy is made
    return bgr, gray, fmt, orientation


#: How a complete file of each format ends: the fast decoder is only trusted with
#: those (a truncated file must still be refused, as Pillow refuses it).
_COMPLETE_END = {"JPEG": b"\xff\xd9", "PNG": b"IEND\xaeB`\x82"}


def _decode_plain(data: bytes, im: Image.Image) -> np.ndarray | None:
    """BGR pixels of a complete 8-bit RGB JPEG or PNG from OpenCV's decoder, else None.

    Most inputs are such files, and OpenCV decodes them straight to BGR about three
    times faster than Pillow's decode plus the channel swap (same libjpeg/libpng
    results: checked pixel for pixel by the tests). Anything else (other modes,
    transparency, trailing bytes, a decoder complaint) returns None and takes the
    Pillow path, which owns every error message.
    """
    end = _COMPLETE_END.get((im.format or "").upper())
    if end is None or im.mode != "RGB" or "transparency" in im.info or not data.endswith(end):
        return None
    # The EXIF orientation is applied by the caller, as for every other input.
    bgr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION)
    if bgr is None or bgr.shape[:2] != (im.size[1], im.size[0]):
        return None
    return bgr


def load_image(source: ImageSource) -> LoadedImage:
    """Decode and validate ``source`` into a BGR uint8 image with EXIF orientation applied.

    Raises:
        ImageFormatError: not an image, unsupported format, corrupt data, missing file.
        ImageSizeError: sides, aspect ratio or byte size outside the limits.
        AlgorithmError: the process ran out of memory decoding a legal image.
    """
    try:
        return _load(source)
    except RecognitionError:
        raise
    except MemoryError:
        raise AlgorithmError("out of memory while loading the image") from None
    except Exception as exc:  # noqa: BLE001
        # Last line of defence: the recognizer lets only RecognitionError out, and this
        # stage runs outside its own guard, so a surprise here is reported as bad input.
        raise ImageFormatError(
            f"cannot load the image ({type(exc).__name__})", code="illegalImageContent"
        ) from None


def _load(source: ImageSource) -> LoadedImage:
    if isinstance(source, np.ndarray):
        return _from_array(source)
    if isinstance(source, (bytes, bytearray, memoryview)):
        return _from_bytes(bytes(source))
    if isinstance(source, (str, os.PathLike)):
        return _from_bytes(_read_bytes(source))
    raise ImageFormatError(
        f"cannot read an image from {type(source).__name__}; pass a path, bytes or a numpy array",
        code="illegalImageContent",
    )
