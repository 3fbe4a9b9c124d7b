"""Image loading: formats, limits, EXIF orientation, corrupt data."""

from __future__ import annotations

import io

import cv2
import numpy as np
import pytest
from conftest import DATA
from PIL import Image

from hkid_ocr.errors import ImageFormatError, ImageSizeError
from hkid_ocr.io import MAX_BYTES, load_image


def _encode(img: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kw)
    return buf.getvalue()


def _rgb(w: int = 64, h: int = 40) -> Image.Image:
    a = np.zeros((h, w, 3), np.uint8)
    a[:, : w // 2] = (255, 0, 0)  # left half red (RGB)
    return Image.fromarray(a)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "BMP", "GIF", "TIFF", "WEBP"])
def test_supported_formats_decode_to_bgr(fmt):
    img = load_image(_encode(_rgb(), fmt))
    assert img.bgr.shape == (40, 64, 3) and img.bgr.dtype == np.uint8
    assert img.source_format == fmt
    # red in RGB is the last channel in BGR
    assert img.bgr[20, 5, 2] > 200 and img.bgr[20, 5, 0] < 60


def test_path_and_bytes_agree():
    path = DATA / "specimen_2003.jpg"
    a = load_image(path).bgr
    b = load_image(path.read_bytes()).bgr
    c = load_image(str(path)).bgr
    assert np.array_equal(a, b) and np.array_equal(a, c)


def test_exif_orientation_is_applied():
    base = _rgb(64, 40)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 CW to display
    data = _encode(base, "JPEG", exif=exif.tobytes())
    img = load_image(data)
    assert img.bgr.shape[:2] == (64, 40)


@pytest.mark.parametrize("mode", ["L", "RGBA", "P", "CMYK", "I;16"])
def test_modes_convert(mode):
    base = _rgb()
    im = base.convert(mode) if mode != "I;16" else Image.fromarray((np.arange(64 * 40).reshape(40, 64) * 20).astype(np.uint16))
    fmt = "JPEG" if mode == "CMYK" else "PNG"
    img = load_image(_encode(im, fmt))
    assert img.bgr.shape == (40, 64, 3)
    assert img.grayscale_source == (mode in ("L", "I;16"))


def test_transparent_pixels_become_white():
    a = np.zeros((40, 64, 4), np.uint8)  # fully transparent black
    img = load_image(_encode(Image.fromarray(a, "RGBA"), "PNG"))
    assert img.bgr.min() == 255


@pytest.mark.parametrize("w,h", [(15, 100), (100, 15), (8192, 20), (2000, 39)])
def test_size_limits(w, h):
    data = _encode(Image.new("L", (w, h)), "PNG")
    with pytest.raises(ImageSizeError) as info:
        load_image(data)
    assert info.value.code == "illegalImageSize"


def test_too_many_bytes():
    with pytest.raises(ImageSizeError) as info:
        load_image(b"\x89PNG" + b"\0" * MAX_BYTES)
    assert info.value.code == "exceededImageContent"


def test_declared_huge_image_refused_before_decoding():
    # A valid PNG header that declares 20000 x 20000 pixels, with almost no data.
    data = _encode(Image.new("1", (20000, 20000)), "PNG")
    assert len(data) < 200_000
    with pytest.raises(ImageSizeError):
        load_image(data)


@pytest.mark.parametrize(
    "data,code",
    [
        (b"", "illegalImageContent"),
        (b"hello world, not an image at all", "unsupportedImageFormat"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", "unsupportedImageFormat"),
        (b"PK\x03\x04" + b"\0" * 100, "unsupportedImageFormat"),
    ],
)
def test_non_images(data, code):
    with pytest.raises(ImageFormatError) as info:
        load_image(data)
    assert info.value.code == code


def test_truncated_png():
    data = _encode(_rgb(400, 300), "PNG")
    with pytest.raises(ImageFormatError) as info:
        load_image(data[: len(data) // 2])
    assert info.value.code == "illegalImageContent"


def _pillow_bgr(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as im:
        return np.asarray(im.convert("RGB"))[:, :, ::-1]


def _texture(w: int = 300, h: int = 190) -> Image.Image:
    rng = np.random.default_rng(3)
    a = cv2.GaussianBlur(rng.integers(0, 256, (h, w, 3), dtype=np.uint8), (5, 5), 0)
    return Image.fromarray(a)


@pytest.mark.parametrize(
    "fmt,kw",
    [
        ("JPEG", {"quality": 80}),
        ("JPEG", {"quality": 95, "subsampling": 0}),
        ("JPEG", {"quality": 70, "progressive": True}),
        ("PNG", {}),
    ],
)
def test_plain_files_decode_exactly_as_pillow(fmt, kw):
    # Plain RGB JPEG and PNG take OpenCV's faster decoder: the pixels must not change.
    data = _encode(_texture(), fmt, **kw)
    assert np.array_equal(load_image(data).bgr, _pillow_bgr(data))


def test_specimen_decodes_exactly_as_pillow():
    data = (DATA / "specimen_2018.jpg").read_bytes()
    assert np.array_equal(load_image(data).bgr, _pillow_bgr(data))


def test_trailing_bytes_after_jpeg_still_decode():
    data = _encode(_texture(), "JPEG")
    img = load_image(data + b"camera maker notes")
    assert np.array_equal(img.bgr, _pillow_bgr(data))


@pytest.mark.parametrize("cut", [0.5, 0.9])
def test_truncated_jpeg(cut):
    data = _encode(_texture(400, 300), "JPEG", quality=90)
    with pytest.raises(ImageFormatError) as info:
        load_image(data[: int(len(data) * cut)])
    assert info.value.code == "illegalImageContent"


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(ImageFormatError) as info:
        load_image(tmp_path / "nope.jpg")
    assert info.value.code == "illegalImageUrl"
    with pytest.raises(ImageFormatError):
        load_image(tmp_path)


@pytest.mark.parametrize(
    "arr",
    [
        np.zeros((40, 64), np.uint8),
        np.zeros((40, 64, 1), np.uint8),
        np.zeros((40, 64, 4), np.uint8),
        np.zeros((40, 64, 3), np.uint16),
        np.zeros((40, 64, 3), np.float32),
    ],
)
def test_arrays(arr):
    assert load_image(arr).bgr.shape == (40, 64, 3)


@pytest.mark.parametrize("arr", [np.zeros((40,), np.uint8), np.zeros((40, 64, 2), np.uint8),
                                 np.zeros((40, 64, 3), np.int64), np.full((40, 64, 3), np.nan, np.float32)])
def test_bad_arrays(arr):
    with pytest.raises(ImageFormatError):
        load_image(arr)


def test_unsupported_source_type():
    with pytest.raises(ImageFormatError):
        load_image(12345)  # type: ignore[arg-type]
