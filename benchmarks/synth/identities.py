"""Random but realistic (and entirely synthetic) HKID identities.

An :class:`Identity` holds the exact strings printed on a card, built so that the
engine's consistency checks would accept them:

* the card number carries a correct check digit (``hkid_ocr.checks.id_check_digit``);
* the code line is the real commercial code of each character of the Chinese name
  (``hkid_ocr.telecode.encode_name``);
* the dates are ordered birth <= first registration <= issue, and the issue date
  falls in the design's era (2003 design: 23-06-2003 .. 25-11-2018; 2018 design:
  26-11-2018 onwards);
* the symbols agree with the age at issue (``***`` 18+, ``*`` 11-17, none under 11)
  and with the residence status (A/R permanent, C/U not).

Everything is drawn from a ``numpy.random.Generator`` so a seed gives the same
identity every time.

Example:
    >>> import numpy as np
    >>> ident = sample_identity(np.random.default_rng(1), design="2018", permanent=True)
    >>> from hkid_ocr.checks import id_number_valid
    >>> id_number_valid(ident.id_number)
    True
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import lru_cache
from typing import Callable, Literal

import numpy as np

from hkid_ocr.checks import id_check_digit
from hkid_ocr.telecode import code_for, encode_name

from .names import (
    COMPOUND_SURNAMES,
    ENGLISH_GIVEN_FEMALE,
    ENGLISH_GIVEN_MALE,
    FOREIGN_GIVEN_FEMALE,
    FOREIGN_GIVEN_MALE,
    FOREIGN_SURNAMES,
    GIVEN_FEMALE,
    GIVEN_MALE,
    MISSING_CHARS,
    SURNAMES,
)
from .romanise import jyutping_to_hk

__all__ = ["DESIGN_ERAS", "Design", "Identity", "sample_identity"]

Design = Literal["2003", "2018"]

#: First and last issue date used for each design.
DESIGN_ERAS: dict[str, tuple[date, date]] = {
    "2003": (date(2003, 6, 23), date(2018, 11, 25)),
    "2018": (date(2018, 11, 26), date(2026, 6, 30)),
}

_SINGLE_PREFIXES = tuple("ABCDEFGHJKLMNPRSTVWYZ")
_DOUBLE_PREFIXES = ("EC", "WX", "XA", "XB", "XC", "XD", "XE", "XG", "XH")
# Registration of persons began in 1949; nobody was first registered before that.
_REGISTRATION_START = date(1949, 1, 1)
_OLDEST_BIRTH = date(1925, 1, 1)


@dataclass(frozen=True)
class Identity:
    """The printed strings of one card, plus the facts they were derived from."""

    name_cn: str  # "" when the holder has no Chinese name
    name_en: str  # "CHAN, Tai Man"
    name_code: str  # "7115 1129 2429"; "" without a Chinese name
    birth_date: str  # "DD-MM-YYYY"
    sex: str  # "女F" / "男M" (cloud format; the card may print a space between)
    issued_code: str  # "***AZ"
    first_issued_date: str  # "(MM-YY)"
    issued_date: str  # "DD-MM-YY"
    id_number: str  # "A123456(3)"
    permanent: bool
    missing_char: bool  # the Chinese name uses a character outside the OCR dictionary
    birth: date = field(repr=False)
    issued: date = field(repr=False)
    age_at_issue: int = field(repr=False)

    def data(self) -> dict[str, str]:
        """The cloud API's ``data`` object for this card (exact printed strings)."""
        return {
            "nameCn": self.name_cn,
            "nameEn": self.name_en,
            "nameCode": self.name_code,
            "birthDate": self.birth_date,
            "sex": self.sex,
            "issuedCode": self.issued_code,
            "firstIssuedDate": self.first_issued_date,
            "issuedDate": self.issued_date,
            "idNumber": self.id_number,
        }


@dataclass(frozen=True)
class _Pools:
    """Name pools restricted to characters that have a commercial code."""

    surnames: list[tuple[str, str]]  # (character, card spelling)
    surname_p: np.ndarray  # sampling probabilities of ``surnames``
    compounds: list[tuple[str, str]]
    male: list[tuple[str, str]]  # (character, romanised syllable)
    female: list[tuple[str, str]]
    missing: list[tuple[str, str]]


@lru_cache(maxsize=1)
def _pools() -> _Pools:
    """Built once per process: the telecode table is the authority on which
    characters may appear (a name whose code line cannot be printed is useless)."""
    surnames = [(c, sp, w) for c, (sp, w) in SURNAMES.items() if code_for(c)]
    weights = np.array([w for _, _, w in surnames], dtype=float)
    return _Pools(
        surnames=[(c, sp) for c, sp, _ in surnames],
        surname_p=weights / weights.sum(),
        compounds=[(c, sp) for c, sp in COMPOUND_SURNAMES.items() if encode_name(c)],
        male=[(c, jyutping_to_hk(j)) for c, j in GIVEN_MALE.items() if code_for(c)],
        female=[(c, jyutping_to_hk(j)) for c, j in GIVEN_FEMALE.items() if code_for(c)],
        missing=[(c, jyutping_to_hk(j)) for c, j in MISSING_CHARS.items() if code_for(c)],
    )


def _pick(rng: np.random.Generator, seq: tuple[str, ...] | list[str]) -> str:
    return seq[int(rng.integers(len(seq)))]


def _chinese_name(
    rng: np.random.Generator, female: bool, missing_char: bool
) -> tuple[str, str, str]:
    """(Chinese name, English surname, English given names) for a Chinese-name holder."""
    pools = _pools()
    if rng.random() < 0.02 and pools.compounds:
        sur_cn, sur_en = pools.compounds[int(rng.integers(len(pools.compounds)))]
    else:
        sur_cn, sur_en = pools.surnames[int(rng.choice(len(pools.surnames), p=pools.surname_p))]
    # Most names have two given characters; one-character given names are less common.
    n_given = 1 if rng.random() < 0.12 else 2
    # A compound surname plus two given characters makes the 4-character maximum.
    pool = pools.female if female else pools.male
    chosen: list[tuple[str, str]] = []
    while len(chosen) < n_given:
        cand = pool[int(rng.integers(len(pool)))]
        if cand[0] not in {c for c, _ in chosen} and cand[0] != sur_cn:
            chosen.append(cand)
    if missing_char:
        missing = pools.missing
        chosen[int(rng.integers(len(chosen)))] = missing[int(rng.integers(len(missing)))]
    given_cn = "".join(c for c, _ in chosen)
    given_en = " ".join(sp for _, sp in chosen)
    return sur_cn + given_cn, sur_en, given_en


def _english_extra(rng: np.random.Generator, female: bool, given: str) -> str:
    """Some holders add a Western name after (or before) their Chinese given names."""
    r = rng.random()
    if r < 0.12:
        return f"{given} {_pick(rng, ENGLISH_GIVEN_FEMALE if female else ENGLISH_GIVEN_MALE)}"
    if r < 0.17:
        return f"{_pick(rng, ENGLISH_GIVEN_FEMALE if female else ENGLISH_GIVEN_MALE)} {given}"
    return given


def _random_date(rng: np.random.Generator, lo: date, hi: date) -> date:
    """A uniformly random day in [lo, hi]."""
    span = (hi - lo).days
    return lo + timedelta(days=int(rng.integers(span + 1)))


def _age_at(birth: date, on: date) -> int:
    had_birthday = (on.month, on.day) >= (birth.month, birth.day)
    return on.year - birth.year - (0 if had_birthday else 1)


def _years_before(d: date, years: int) -> date:
    """The same day ``years`` earlier (29 February falls back to the 28th)."""
    try:
        return d.replace(year=d.year - years)
    except ValueError:
        return d.replace(year=d.year - years, day=28)


def _sample_birth(rng: np.random.Generator, issued: date) -> date:
    """A birth date giving a realistic age mix at issue (mostly adults, some children)."""
    r = rng.random()
    if r < 0.05:
        age = int(rng.integers(1, 11))  # under 11: no stars
    elif r < 0.17:
        age = int(rng.integers(11, 18))  # 11-17: one star
    else:
        # Adults, weighted towards working age.
        age = int(np.clip(rng.normal(42, 16), 18, 90))
    hi = _years_before(issued, age)  # exactly `age` on the issue date
    lo = _years_before(issued, age + 1) + timedelta(days=1)
    birth = _random_date(rng, lo, hi)
    return max(birth, _OLDEST_BIRTH)


def _first_registration(
    rng: np.random.Generator, birth: date, issued: date, born_in_hk: bool
) -> date:
    """Month of first registration: after birth (and 1949), not after the issue date."""
    lo = max(birth, _REGISTRATION_START)
    if born_in_hk:
        # Registered as a child (historically at birth registration, 11 or 18).
        span_years = float(rng.choice([0.5, 11.5, 18.5], p=[0.3, 0.4, 0.3]))
        hi = min(issued, lo + timedelta(days=int(span_years * 365)))
    else:
        hi = issued  # arrived some time before the card was issued
    if hi < lo:
        hi = lo
    return _random_date(rng, lo, hi)


def _id_number(rng: np.random.Generator) -> str:
    if rng.random() < 0.06:
        prefix = _pick(rng, _DOUBLE_PREFIXES)
    else:
        prefix = _pick(rng, _SINGLE_PREFIXES)
    digits = "".join(str(int(d)) for d in rng.integers(0, 10, size=6))
    body = prefix + digits
    return f"{body}({id_check_digit(body)})"


def _symbols(
    rng: np.random.Generator, age: int, permanent: bool, foreign: bool, birthplace: str
) -> str:
    """The symbols line: stars, status, birthplace, then the occasional extras."""
    if age >= 18:
        stars = "***"
    elif age >= 11:
        stars = "*"
    else:
        stars = ""
    # Re-entry permits are for Chinese citizens: most holders without a Chinese
    # name print no stars at all (no stars is consistent with any age).
    if foreign and rng.random() < 0.7:
        stars = ""
    if permanent:
        status = "R" if (foreign and rng.random() < 0.4) or rng.random() < 0.03 else "A"
    else:
        status = "U" if rng.random() < 0.2 else "C"
    extras = ""
    if rng.random() < 0.02:
        extras += "B"
    if rng.random() < 0.03:
        extras += "N"
    if rng.random() < 0.02:
        extras += "Y"
    r = rng.random()
    if r < 0.04:
        extras += "L1"
    elif r < 0.05:
        extras += "L2"
    return stars + status + birthplace + extras


def _birthplace(rng: np.random.Generator, permanent: bool, foreign: bool) -> str:
    if foreign:
        return "Z" if rng.random() < 0.15 else "O"
    if permanent:
        return str(rng.choice(["Z", "X", "W", "O"], p=[0.64, 0.29, 0.02, 0.05]))
    return str(rng.choice(["Z", "X", "W", "O"], p=[0.15, 0.65, 0.05, 0.15]))


def sample_identity(
    rng: np.random.Generator,
    design: Design,
    permanent: bool,
    *,
    chinese_name: bool = True,
    missing_char: bool = False,
    name_fits: Callable[[str], bool] | None = None,
) -> Identity:
    """Draw one synthetic identity for a card of ``design``.

    Args:
        rng: the card's random generator (determinism comes from its seed).
        design: "2003" or "2018" (sets the issue-date era).
        permanent: permanent resident (A/R symbols and the permanent title) or not.
        chinese_name: False for holders without a Chinese name (no name, no code line).
        missing_char: put one coded character that the recogniser's dictionary lacks
            into the Chinese name (ignored without a Chinese name).
        name_fits: predicate on the English name: whether it fits the printed field.
            Names that do not fit are redrawn (nothing is ever shrunk).

    Example:
        >>> import numpy as np
        >>> i = sample_identity(np.random.default_rng(3), "2003", False, chinese_name=False)
        >>> (i.name_cn, i.name_code)
        ('', '')
    """
    female = bool(rng.random() < 0.5)
    foreign = not chinese_name
    name_cn, name_en = "", ""
    for _ in range(50):
        if foreign:
            surname = _pick(rng, FOREIGN_SURNAMES)
            given = _pick(rng, FOREIGN_GIVEN_FEMALE if female else FOREIGN_GIVEN_MALE)
            name_cn, name_en = "", f"{surname}, {given}"
        else:
            name_cn, sur_en, given_en = _chinese_name(rng, female, missing_char)
            name_en = f"{sur_en}, {_english_extra(rng, female, given_en)}"
        if name_fits is None or name_fits(name_en):
            break
    else:  # pragma: no cover - the pools hold plenty of short names
        raise RuntimeError("no English name fits the field")
    name_code = encode_name(name_cn) if name_cn else ""
    if name_code is None:  # cannot happen: pools only hold coded characters
        raise RuntimeError(f"no commercial code for {name_cn!r}")

    lo, hi = DESIGN_ERAS[design]
    issued = _random_date(rng, lo, hi)
    birth = _sample_birth(rng, issued)
    age = _age_at(birth, issued)
    birthplace = _birthplace(rng, permanent, foreign)
    first = _first_registration(rng, birth, issued, born_in_hk=birthplace == "Z")
    return Identity(
        name_cn=name_cn,
        name_en=name_en,
        name_code=name_code,
        birth_date=f"{birth:%d-%m-%Y}",
        sex="女F" if female else "男M",
        issued_code=_symbols(rng, age, permanent, foreign, birthplace),
        first_issued_date=f"({first:%m-%y})",
        issued_date=f"{issued:%d-%m-%y}",
        id_number=_id_number(rng),
        permanent=permanent,
        missing_char=missing_char and bool(name_cn),
        birth=birth,
        issued=issued,
        age_at_issue=age,
    )
