"""hkid_ocr: read Hong Kong identity cards offline, answering like RecognizeHKIdcard.

The public surface is small and flat:

    >>> import hkid_ocr
    >>> res = hkid_ocr.recognize("tests/data/specimen_2003.jpg")  # doctest: +SKIP
    >>> res.to_dict()["data"]["nameEn"]  # doctest: +SKIP
    'LEE, Chi Nan'

- :func:`recognize` reads one image with a shared default :class:`Recognizer`.
- :class:`Recognizer` loads the models once; build your own to choose settings
  (:class:`RecognizerConfig`) and share it across threads.
- :class:`HKIDResult` is the result; ``to_dict()`` is the cloud ``Data`` object.
- :class:`RecognitionError` and its subclasses are the only errors raised; ``.code``
  is the cloud API's error code.
"""

__version__ = "0.1.0"

from .config import RecognizerConfig
from .errors import (
    AlgorithmError,
    ImageFormatError,
    ImageSizeError,
    ModelError,
    NoCardFoundError,
    RecognitionError,
)
from .recognizer import Recognizer, recognize
from .schema import HKIDResult

__all__ = [
    "AlgorithmError",
    "HKIDResult",
    "ImageFormatError",
    "ImageSizeError",
    "ModelError",
    "NoCardFoundError",
    "RecognitionError",
    "Recognizer",
    "RecognizerConfig",
    "__version__",
    "recognize",
]
