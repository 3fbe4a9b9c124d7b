"""Where each field is printed on the two card designs (canonical 1000 x 630 card).

Positions were measured on the two Immigration Department specimen scans
(``tests/data/specimen_2003.jpg`` / ``specimen_2018.jpg``, 476 x 300 px) after
scaling them to 1000 x 630, and checked by printing the specimens' own strings
onto the erased backgrounds and overlaying the originals
(``python -m benchmarks.synth.render --overlay``).

Latin text on both designs is a fixed-pitch OCR-B style face: with OCR-B the
measured character pitch (23.3 px for the small fields of the 2003 card) is the
font's own advance at 32 px, so no extra tracking is needed. The Chinese name is
a Ming face (UMing) with wide letter spacing.

Coordinates: ``pen_x`` is the pen position of the first character (Pillow's
left edge of the advance box, not the ink), ``baseline`` the text baseline;
Chinese-name specs give the ink-left and ink-top of the first character and a
fixed pitch instead, because the card prints CJK characters on a grid.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "CARD_H",
    "CARD_W",
    "FIELD_KEYS",
    "LAYOUTS",
    "CnSpec",
    "DesignLayout",
    "LatinSpec",
    "SexSpec",
]

#: Canonical card size in pixels (ID-1 aspect 85.60 / 53.98 = 1.586).
CARD_W = 1000
CARD_H = 630

#: The cloud API's data keys, in card order.
FIELD_KEYS = ("nameCn", "nameEn", "nameCode", "birthDate", "sex", "issuedCode",
              "firstIssuedDate", "issuedDate", "idNumber")


@dataclass(frozen=True)
class LatinSpec:
    """A fixed-pitch Latin line: pen start, baseline, font size, and how far it may run."""

    pen_x: float
    baseline: float
    size: int
    max_right: float = CARD_W  # right edge the ink must not pass


@dataclass(frozen=True)
class CnSpec:
    """The Chinese name: ink-left/ink-top of the first character, size and pitch."""

    x: float
    top: float
    size: int
    pitch: float


@dataclass(frozen=True)
class SexSpec:
    """Sex: the Chinese character (ink-left, ink-top, size) and the Latin letter after it."""

    cn_x: float
    cn_top: float
    cn_size: int
    latin: LatinSpec


@dataclass(frozen=True)
class DesignLayout:
    """Everything a renderer needs to place the variable fields of one design."""

    design: str
    name_cn: CnSpec
    latin: dict[str, LatinSpec]  # nameEn, nameCode, birthDate, issuedCode, firstIssuedDate, ...
    sex: SexSpec
    portrait: tuple[int, int, int, int]  # x0, y0, x1, y1 of the main portrait
    ghost: tuple[int, int, int, int]  # the second (ghost / laser) portrait
    title_cn_box: tuple[int, int, int, int]  # title ink boxes (for non-permanent titles)
    title_en_box: tuple[int, int, int, int]
    dob_label: tuple[float, float]  # pen x, baseline of "出生日期 Date of Birth"
    doi_label: tuple[float, float]  # pen x, baseline of "簽發日期 Date of Issue"
    label_size: int


LAYOUTS: dict[str, DesignLayout] = {
    "2003": DesignLayout(
        design="2003",
        name_cn=CnSpec(x=51, top=119, size=41, pitch=60.5),
        latin={
            # The name may run until just before the portrait column / sample mark.
            "nameEn": LatinSpec(45.5, 195, 32, max_right=650),
            "nameCode": LatinSpec(301, 251, 32, max_right=700),
            "birthDate": LatinSpec(302.5, 376, 32),
            "issuedCode": LatinSpec(302, 421, 32, max_right=600),
            "firstIssuedDate": LatinSpec(303, 508, 32),
            "issuedDate": LatinSpec(303, 578, 40),
            "idNumber": LatinSpec(648, 574, 40, max_right=990),
        },
        sex=SexSpec(cn_x=616, cn_top=343, cn_size=34, latin=LatinSpec(665.5, 373, 32)),
        portrait=(714, 225, 924, 488),
        ghost=(40, 384, 280, 532),
        title_cn_box=(290, 24, 712, 78),
        title_en_box=(115, 55, 880, 100),
        dob_label=(300, 334),
        doi_label=(302, 462),
        label_size=27,
    ),
    "2018": DesignLayout(
        design="2018",
        name_cn=CnSpec(x=57, top=129, size=39, pitch=60),
        latin={
            "nameEn": LatinSpec(51, 203, 31, max_right=650),
            "nameCode": LatinSpec(394.5, 263.5, 31, max_right=720),
            "birthDate": LatinSpec(395, 394.5, 31),
            "issuedCode": LatinSpec(395, 437.5, 31, max_right=700),
            "firstIssuedDate": LatinSpec(395, 523.5, 31),
            "issuedDate": LatinSpec(394.5, 585, 38),
            "idNumber": LatinSpec(683, 582, 38, max_right=990),
        },
        sex=SexSpec(cn_x=654, cn_top=367, cn_size=34, latin=LatinSpec(692, 393, 31)),
        portrait=(58, 246, 315, 586),
        ghost=(735, 365, 840, 516),
        title_cn_box=(298, 8, 708, 76),
        title_en_box=(120, 57, 878, 112),
        dob_label=(393, 351),
        doi_label=(385, 481),
        label_size=27,
    ),
}
