"""Raw line readings -> the nine card fields in the card's printed form.

Each parser takes what the recogniser read on a line and returns the field string as
the cloud API prints it ("女F", "2621 2535 5174", "(01-79)", "15-09-03",
"C668668(E)"), or "" when nothing usable was read. Parsers only normalise layout
(spacing, brackets, separators); they never invent characters that were not read.

Example:
    >>> parse_id_number("C 668668 (E)")
    'C668668(E)'
    >>> split_birth_sex("01-01-1968 女F")
    ('01-01-1968', '女F')
"""

from __future__ import annotations

import re

__all__ = [
    "ALPHABETS",
    "parse_birth_date",
    "parse_first_issued",
    "parse_id_number",
    "parse_issue_date",
    "parse_name_cn",
    "parse_name_code",
    "parse_name_en",
    "parse_sex",
    "parse_symbols",
    "split_birth_sex",
]

_UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_DIGITS = "0123456789"

#: Characters each read line may contain: the recogniser's decoder is limited to these.
#: The Chinese name is limited to CJK ideographs by the recognizer itself (see
#: :func:`cjk_alphabet`), not listed here.
ALPHABETS: dict[str, str] = {
    "nameEn": _UPPER + _UPPER.lower() + ",-.' ",
    "nameCode": _DIGITS + " ",
    "birthDate+sex": _DIGITS + "-女男FM ",
    "issuedCode": "*" + _UPPER + _DIGITS,
    "firstIssuedDate": _DIGITS + "-()",
    "issuedDate": _DIGITS + "-",
    "idNumber": _UPPER + _DIGITS + "()",
}


def is_cjk(ch: str) -> bool:
    """Whether ``ch`` is a CJK unified or compatibility ideograph."""
    o = ord(ch)
    return (
        0x3400 <= o <= 0x4DBF
        or 0x4E00 <= o <= 0x9FFF
        or 0xF900 <= o <= 0xFAFF
        or 0x20000 <= o <= 0x3134F
    )


def parse_name_cn(text: str) -> str:
    """Chinese name: the ideographs read, without spaces ("李 智 能" -> "李智能")."""
    return "".join(ch for ch in text if is_cjk(ch))


def parse_name_en(text: str) -> str:
    """English name as printed, "SURNAME, Given Names": spacing normalised."""
    t = re.sub(r"\s+", " ", text).strip(" ,.-")
    t = re.sub(r"\s*,\s*", ", ", t)
    return t


def parse_name_code(text: str) -> str:
    """Commercial code line: 4-digit groups separated by one space."""
    digits = re.sub(r"\D", "", text)
    if not digits:
        return ""
    if len(digits) % 4 == 0:
        return " ".join(digits[i : i + 4] for i in range(0, len(digits), 4))
    # An odd count means a digit was lost or doubled: keep the groups as read rather
    # than regrouping (which would shift every later code).
    return " ".join(g for g in re.split(r"\s+", text.strip()) if g)


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def parse_birth_date(text: str) -> str:
    """Date of birth "DD-MM-YYYY"."""
    d = _digits(text)
    if len(d) != 8:
        return text.strip() if re.fullmatch(r"[\d-]+", text.strip()) else ""
    return f"{d[0:2]}-{d[2:4]}-{d[4:8]}"


def parse_sex(text: str) -> str:
    """Sex as printed on the card: "女F" or "男M" (either half suffices)."""
    if "女" in text or "F" in text:
        return "女F"
    if "男" in text or "M" in text:
        return "男M"
    return ""


def split_birth_sex(text: str) -> tuple[str, str]:
    """Split the combined date-of-birth line into (birthDate, sex)."""
    m = re.search(r"[女男FM]", text)
    date_part = text[: m.start()] if m else text
    sex_part = text[m.start():] if m else ""
    return parse_birth_date(date_part), parse_sex(sex_part)


def parse_symbols(text: str) -> str:
    """Symbols line ("***AZ"): no spaces."""
    return re.sub(r"\s+", "", text)


def parse_first_issued(text: str) -> str:
    """Date of first registration "(MM-YY)"."""
    d = _digits(text)
    if len(d) != 4:
        return ""
    return f"({d[0:2]}-{d[2:4]})"


def parse_issue_date(text: str) -> str:
    """Date of issue "DD-MM-YY"."""
    d = _digits(text)
    if len(d) != 6:
        return ""
    return f"{d[0:2]}-{d[2:4]}-{d[4:6]}"


def parse_id_number(text: str) -> str:
    """Card number "A123456(7)": prefix letters, six digits, check digit in brackets."""
    t = re.sub(r"\s+", "", text)
    m = re.fullmatch(r"([A-Z]{1,2})(\d{6})\(?([0-9A])\)?", t)
    if m:
        return f"{m.group(1)}{m.group(2)}({m.group(3)})"
    return t
