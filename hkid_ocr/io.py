"""Load and validate an input image: a path, encoded bytes, or a numpy array.

Limits follow the cloud API: PNG, JPEG, BMP, GIF, TIFF or WebP; each side more than
15 and less than 8192 pixels; aspect ratio under 50; at most 10 MB of encoded bytes.
The header is read and checked before any pixel is decoded, so a small file that
declares a huge image (a decompression bomb) is refused without allocating it.

Example:
    >>> import numpy as np
    >>> img = load_image(np.zeros((300, 476, 3), np.uint8))
    >>> (img.width, img.height, img.source_format)
    (476, 300, 'array')
"""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path
from typing import Union

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import ImageFormatError, ImageSizeError
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
    path = Path(source)
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise ImageFormatError(f"no such file: {path}", code="illegalImageUrl") from None
    except OSError as exc:
        raise ImageFormatError(f"cannot read {path}: {exc.strerror}", code="illegalImageUrl") from None
    if path.is_dir():
        raise ImageFormatError(f"{path} is a folder, not an image file", code="illegalImageUrl")
    if size > MAX_BYTES:
        raise ImageSizeError(
            f"file is {size} bytes; the limit is {MAX_BYTES} bytes", code="exceededImageContent"
        )
    return path.read_bytes()


def _from_array(arr: np.ndarray) -> LoadedImage:
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


def _pil_to_bgr(im: Image.Image) -> tuple[np.ndarray, bool]:
    mode = im.mode
    gray = mode in ("1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "F")
    if mode in ("I;16", "I;16B", "I;16L", "I"):
        # 16/32-bit grey: scale by the actual range rather than clip, so a 16-bit scan
        # keeps its contrast.
        a = np.asarray(im, dtype=np.float64)
        hi = float(a.max(initial=0.0)) or 1.0
        hi = 65535.0 if hi > 255 else 255.0
        g = np.clip(a * (255.0 / hi), 0, 255).astype(np.uint8)
        return np.repeat(g[:, :, None], 3, axis=2), True
    if mode == "F":
        a = np.asarray(im, dtype=np.float64)
        g = np.clip(a, 0, 255).astype(np.uint8)
        return np.repeat(g[:, :, None], 3, axis=2), True
    if mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in im.info):
        # Transparent pixels become white paper, not black.
        rgba = im.convert("RGBA")
        bg = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        rgb = Image.alpha_composite(bg, rgba).convert("RGB")
    else:
        rgb = im.convert("RGB")  # CMYK, YCbCr, P, L, 1 ...
    arr = np.asarray(rgb, dtype=np.uint8)[:, :, ::-1]
    return np.ascontiguousarray(arr), gray


def _from_bytes(data: bytes) -> LoadedImage:
    if len(data) == 0:
        raise ImageFormatError("empty input: no image bytes", code="illegalImageContent")
    if len(data) > MAX_BYTES:
        raise ImageSizeError(
            f"input is {len(data)} bytes; the limit is {MAX_BYTES} bytes", code="exceededImageContent"
        )
    try:
        with warnings.catch_warnings():
            # Pillow warns about large images; we enforce our own, stricter limit below.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im = Image.open(io.BytesIO(data))
    except UnidentifiedImageError:
        raise ImageFormatError(
            "not an image in a supported format (PNG, JPEG, BMP, GIF, TIFF, WebP)"
        ) from None
    except Image.DecompressionBombError as exc:
        raise ImageSizeError(f"declared image size is too large: {exc}") from None
    except Exception as exc:  # noqa: BLE001 - any parser failure means bad bytes
        raise ImageFormatError(f"cannot parse image header: {type(exc).__name__}") from None
    fmt = (im.format or "").upper()
    if fmt not in SUPPORTED_FORMATS:
        raise ImageFormatError(f"image format {fmt or 'unknown'} is not supported")
    # Checked on the declared size, before decoding a single pixel.
    _check_size(*im.size)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            im.seek(0)  # animated GIF / multi-page TIFF: the first frame
            im.load()
            im = ImageOps.exif_transpose(im) or im
            bgr, gray = _pil_to_bgr(im)
    except Image.DecompressionBombError as exc:
        raise ImageSizeError(f"declared image size is too large: {exc}") from None
    except (OSError, ValueError, SyntaxError, EOFError, IndexError) as exc:
        raise ImageFormatError(
            f"{fmt} data is corrupt or truncated ({type(exc).__name__})", code="illegalImageContent"
        ) from None
    finally:
        im.close()
    # EXIF rotation may swap the sides; the limits are symmetric so no re-check needed.
    return LoadedImage(bgr=bgr, source_format=fmt, grayscale_source=gray)


def load_image(source: ImageSource) -> LoadedImage:
    """Decode and validate ``source`` into a BGR uint8 image with EXIF orientation applied.

    Raises:
        ImageFormatError: not an image, unsupported format, corrupt data, missing file.
        ImageSizeError: sides, aspect ratio or byte size outside the limits.
    """
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
