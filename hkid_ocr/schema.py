"""Pydantic models of the public output: the cloud API's ``Data`` object, plus checks.

Key names and value forms match RecognizeHKIdcard exactly, so code written against the
cloud response reads ours unchanged. Everything we add lives under ``checks`` (and
``portrait``, which is only present when asked for and never serialised to JSON).

Example:
    >>> r = HKIDResult.empty_example()
    >>> sorted(r.to_dict())[:4]
    ['algo_version', 'checks', 'data', 'figure']
"""

from __future__ import annotations

import json
from typing import Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "CardData",
    "Checks",
    "Figure",
    "HKIDResult",
    "KeyValueInfo",
    "Point",
    "RotatedBox",
    "SliceRect",
    "SymbolInfo",
    "WarningInfo",
]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Point(_Model):
    """A pixel position in the original image."""

    x: int
    y: int


class CardData(_Model):
    """The nine fields, as printed on the card ("" when the card has no such field)."""

    nameCn: str = ""
    nameEn: str = ""
    nameCode: str = ""
    birthDate: str = ""
    sex: str = ""
    issuedCode: str = ""
    firstIssuedDate: str = ""
    issuedDate: str = ""
    idNumber: str = ""


class KeyValueInfo(_Model):
    """One field with its confidence (0-100) and its four corners in the original image."""

    key: str
    keyProb: int = Field(ge=0, le=100)
    value: str
    valueProb: int = Field(ge=0, le=100)
    valuePos: list[Point] = Field(min_length=4, max_length=4)


class SliceRect(_Model):
    """The card's corners in the original image: 0 TL, 1 TR, 2 BR, 3 BL of the upright card."""

    x0: int
    y0: int
    x1: int
    y1: int
    x2: int
    y2: int
    x3: int
    y3: int


class RotatedBox(_Model):
    """OpenCV RotatedRect: centre, size and clockwise rotation in degrees."""

    x: float
    y: float
    w: float
    h: float
    angle: float


class Figure(_Model):
    """A portrait on the card: axis-aligned bounds, rotated box and its four corners."""

    type: str
    x: int
    y: int
    w: int
    h: int
    box: RotatedBox
    points: list[Point] = Field(min_length=4, max_length=4)


class SymbolInfo(_Model):
    symbol: str
    meaning: str


class WarningInfo(_Model):
    code: str
    message: str


class Checks(_Model):
    """What we add beside the cloud schema: validity and consistency, reported as data."""

    cardVersion: Literal["2003", "2018"]
    idNumberValid: bool
    idNumberCandidates: list[str] = Field(default_factory=list)
    nameCodeConsistent: Optional[bool] = None
    permanent: Optional[bool] = None
    symbols: list[SymbolInfo] = Field(default_factory=list)
    ageAtIssue: Optional[int] = None
    datesConsistent: Optional[bool] = None
    layoutScore: float = 0.0
    warnings: list[WarningInfo] = Field(default_factory=list)


class HKIDResult(_Model):
    """The result of reading one card; :meth:`to_dict` gives the cloud ``Data`` object."""

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    algo_version: str
    data: CardData
    prism_keyValueInfo: list[KeyValueInfo]
    sliceRect: SliceRect
    figure: list[Figure] = Field(default_factory=list)
    ftype: int = Field(ge=0, le=1)
    height: int
    width: int
    orgHeight: int
    orgWidth: int
    checks: Checks
    portrait: Optional[bytes] = Field(default=None, exclude=True, repr=False)
    #: Seconds spent in each stage of this call: load (decode), locate (find and
    #: rectify the card, find its lines), recognise (crops and the recogniser),
    #: fields (parsing, names, checks), quality (photocopy, recapture, portrait: judged
    #: beside the recogniser, so this is only the wait for them once the fields are done;
    #: the stages add up to the call's time). Not part of the JSON, so output stays
    #: byte-stable.
    timings: dict[str, float] = Field(default_factory=dict, exclude=True, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """The cloud ``Data`` object as plain Python (plus ``checks``)."""
        return self.model_dump(mode="json")

    def to_json(self, *, indent: int | None = None) -> str:
        """The ``Data`` object as a JSON string, keys sorted for byte-stable output."""
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=indent, sort_keys=True)

    @classmethod
    def empty_example(cls) -> "HKIDResult":
        """A minimal, valid instance (for documentation and tests)."""
        zero = SliceRect(x0=0, y0=0, x1=0, y1=0, x2=0, y2=0, x3=0, y3=0)
        return cls(
            algo_version="example",
            data=CardData(),
            prism_keyValueInfo=[],
            sliceRect=zero,
            ftype=0,
            height=0,
            width=0,
            orgHeight=0,
            orgWidth=0,
            checks=Checks(cardVersion="2003", idNumberValid=False),
        )
