"""Frozen dataclasses passed between the pipeline stages.

Each stage is a function from one of these to the next; none of them is mutated
after it is built, so a recognizer can run many images at once without sharing
per-call state.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

Design = Literal["2003", "2018"]
Point = tuple[float, float]
#: Four corners, in order top-left, top-right, bottom-right, bottom-left.
Quad = tuple[Point, Point, Point, Point]

FIELD_KEYS: tuple[str, ...] = (
    "nameCn",
    "nameEn",
    "nameCode",
    "birthDate",
    "sex",
    "issuedCode",
    "firstIssuedDate",
    "issuedDate",
    "idNumber",
)


@dataclass(frozen=True)
class LoadedImage:
    """A decoded image (BGR, uint8, EXIF orientation applied) and where it came from."""

    bgr: np.ndarray
    source_format: str  # "JPEG", "PNG", ... or "array"
    grayscale_source: bool  # True when the file itself was single-channel

    @property
    def height(self) -> int:
        return int(self.bgr.shape[0])

    @property
    def width(self) -> int:
        return int(self.bgr.shape[1])


@dataclass(frozen=True)
class CardCandidate:
    """A quadrilateral in the original image that may be the card (corners in any order)."""

    quad: np.ndarray  # (4, 2) float64, original-image pixels, clockwise from top-left
    source: str  # "edges", "whole", ...


@dataclass(frozen=True)
class CardView:
    """The card rectified to the canonical frame, with the design and orientation decided.

    ``homography`` maps canonical card pixels (``size``) to original-image pixels.
    """

    quad: np.ndarray  # (4, 2) the card corners in the original image, in reading order
    homography: np.ndarray  # (3, 3) canonical -> original
    size: tuple[int, int]  # canonical (width, height)
    image: np.ndarray  # canonical BGR card at ``size``
    text_map: np.ndarray  # text probability map, canonical frame at ``size``
    design: Design
    score: float  # layout match in [0, 1]
    shift: tuple[float, float]  # residual template offset (dx, dy) in canonical pixels


@dataclass(frozen=True)
class FieldRegion:
    """Where one printed line sits, in canonical card pixels (axis-aligned box)."""

    key: str  # a FIELD_KEYS entry, or a combined line such as "birthDate+sex"
    box: tuple[float, float, float, float]  # x0, y0, x1, y1
    found: bool  # True when text was seen there; False when the template was used alone


@dataclass(frozen=True)
class LineReading:
    """What the recogniser read on one line, with per-character evidence."""

    key: str
    text: str
    char_probs: tuple[float, ...]
    # Horizontal centre of each character, as a fraction of the crop's width, so a
    # line holding two fields (date and sex) can be split back into two boxes.
    char_pos: tuple[float, ...]
    # Per character, the top alternatives [(char, prob), ...] for constrained decoding.
    alternatives: tuple[tuple[tuple[str, float], ...], ...] = field(default=())


@dataclass(frozen=True)
class FieldValue:
    """A parsed card field: the printed string, its confidence and its box in the original."""

    key: str
    value: str
    prob: float  # 0..1
    quad: Quad  # original-image corners (TL, TR, BR, BL of the upright text)
