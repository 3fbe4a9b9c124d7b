"""The one error hierarchy of hkid_ocr, carrying the cloud API's error codes.

Every failure the engine can report is a :class:`RecognitionError` with a ``code``
(the cloud's string code, or one of ours where the cloud has none) and the HTTP
status the cloud would answer with. Nothing is swallowed: a caller either gets a
result or one of these.

    RecognitionError                       (base; .code, .status, .message)
    ├── ImageFormatError   unsupportedImageFormat 415 / illegalImageContent 400
    ├── ImageSizeError     illegalImageSize 416 / exceededImageContent 413
    ├── NoCardFoundError   noCardFound 422 (ours: the image holds no HKID card front)
    ├── ModelError         modelUnavailable 503 (ours: weights missing or corrupt)
    └── AlgorithmError     algorithmError 503 (an unexpected failure inside the engine)

Example:
    >>> try:
    ...     raise NoCardFoundError("no identity card found in the image")
    ... except RecognitionError as exc:
    ...     (exc.code, exc.status)
    ('noCardFound', 422)
"""

from __future__ import annotations

__all__ = [
    "AlgorithmError",
    "ERROR_STATUS",
    "ImageFormatError",
    "ImageSizeError",
    "ModelError",
    "NoCardFoundError",
    "RecognitionError",
]

#: HTTP status of each code, as the cloud answers (ours added at the end).
ERROR_STATUS: dict[str, int] = {
    "illegalImageUrl": 400,
    "illegalImageContent": 400,
    "illegalImageType": 400,
    "exceededImageContent": 413,
    "unsupportedImageFormat": 415,
    "illegalImageSize": 416,
    "algorithmError": 503,
    "noCardFound": 422,
    "modelUnavailable": 503,
}


class RecognitionError(Exception):
    """Base of every error hkid_ocr raises; ``code`` is the cloud-style error code."""

    default_code = "algorithmError"

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code: str = code or self.default_code
        self.status: int = ERROR_STATUS.get(self.code, 400)

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, message={self.message!r})"


class ImageFormatError(RecognitionError):
    """The bytes are not an image in a supported format (or are corrupt)."""

    default_code = "unsupportedImageFormat"


class ImageSizeError(RecognitionError):
    """The image's dimensions or byte size are outside the accepted limits."""

    default_code = "illegalImageSize"


class NoCardFoundError(RecognitionError):
    """The image decodes, but no HKID card front could be found or read in it."""

    default_code = "noCardFound"


class ModelError(RecognitionError):
    """The recognition weights are missing or do not match their checksum."""

    default_code = "modelUnavailable"


class AlgorithmError(RecognitionError):
    """An unexpected failure inside the engine (a bug or a runtime failure)."""

    default_code = "algorithmError"
