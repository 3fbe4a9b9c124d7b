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
    # Any letter in the check slot: the specimens print (E), which no real card has.
    m = re.fullmatch(r"([A-Z]{1,2})(\d{6})\(?([0-9A-Z])\)?", t)
    if m:
        return f"{m.group(1)}{m.group(2)}({m.group(3)})"
    return t


_STATUS = "ARCU"
_BIRTHPLACE = "ZXWO"
# Digits a small or blurred letter is read as, in the birthplace slot.
_AS_LETTER = {"2": "Z", "0": "O", "7": "Z"}


def decode_symbols(chars: list[tuple[str, int, dict[str, float]]]) -> str | None:
    """The symbols line from characters placed on the card's monospace grid.

    ``chars`` holds (character read, cell index, alternatives) for each character,
    where the cell index counts character widths from the start of the data column
    (the same left edge as the date of birth). The line is stars ("***" or "*" or
    none), then the status letter (A R C U), the birthplace letter (Z X W O), then
    optional letters and letter-digit pairs. Stars are tiny and blur into one another
    or into letters, so they are counted by the cells they occupy: the status letter's
    cell. Returns None when no status-birthplace pair is found (the caller keeps the
    plain reading).

    Example:
        >>> decode_symbols([("*", 0, {}), ("O", 1, {}), ("N", 2, {}), ("A", 3, {}), ("Z", 4, {})])
        '***AZ'
        >>> decode_symbols([("A", 0, {}), ("2", 1, {"2": 0.6, "Z": 0.3})])
        'AZ'
    """

    def pick(i: int, allowed: str) -> str | None:
        ch, _, alts = chars[i]
        if ch in allowed:
            return ch
        options = {c: p for c, p in alts.items() if c in allowed}
        if options:
            return max(options, key=lambda c: options[c])
        if allowed == _BIRTHPLACE and ch in _AS_LETTER:
            return _AS_LETTER[ch]
        return None

    for i in range(len(chars) - 2, -1, -1):
        status = pick(i, _STATUS)
        place = pick(i + 1, _BIRTHPLACE)
        if status is None or place is None:
            continue
        cell = chars[i][1]
        if cell == 2:
            # Between one star and three: go by how many stars were seen.
            stars = 3 if sum(1 for c, _, _ in chars[:i] if c == "*") >= 2 else 1
        elif cell in (0, 1, 3):
            stars = cell
        else:
            continue
        return "*" * stars + status + place + _symbols_tail(chars[i + 2 :])
    return None


#: Symbols followed by a count: L1, L2 (cards lost), H1, K2, S1, P1, V1 (issuing office).
_COUNTED = "LHKSPV"
#: Letters a blurred count digit is read as (no letter follows a counted symbol).
_AS_DIGIT = {"I": "1", "Z": "2"}


def _symbols_tail(chars: list[tuple[str, int, dict[str, float]]]) -> str:
    """The symbols after the birthplace, with each count a digit ("LI" is L1)."""
    out: list[str] = []
    for ch, _, alts in chars:
        if not ch.isalnum():
            continue
        if out and out[-1] in _COUNTED and not ch.isdigit():
            digits = {c: p for c, p in alts.items() if c.isdigit()}
            ch = max(digits, key=lambda c: digits[c]) if digits else _AS_DIGIT.get(ch, ch)
        out.append(ch)
    return "".join(out)


def case_name_en(chars: list[tuple[str, dict[str, float]]]) -> str:
    """Apply the card's casing to an English name read character by character.

    The card prints the surname in capitals and each given name with one leading
    capital ("CHAN, Tai Man"). Where the reader saw the other case of a letter among
    its own alternatives (I/i, L/l, C/c look alike when small), the casing rule picks
    between them; a letter with no such alternative is kept as read.

    Example:
        >>> case_name_en([(c, {c.lower(): 0.2} if c == "I" else {}) for c in "LEE, ChI Nan"])
        'LEE, Chi Nan'
    """
    out: list[str] = []
    after_comma = False
    word_start = True
    for ch, alts in chars:
        if ch == ",":
            after_comma = True
        if not ch.isalpha():
            out.append(ch)
            word_start = ch in " ,-"
            continue
        want_upper = (not after_comma) or word_start
        other = ch.lower() if ch.isupper() else ch.upper()
        if ch.isupper() != want_upper and other in alts:
            ch = other
        out.append(ch)
        word_start = False
    return parse_name_en("".join(out))


#: What each field must look like when printed (used to choose among alternatives).
FIELD_PATTERNS: dict[str, re.Pattern[str]] = {
    "idNumber": re.compile(r"[A-Z]{1,2}\d{6}\([0-9A-Z]\)"),
    "birthDate": re.compile(r"(0[1-9]|[12]\d|3[01])-(0[1-9]|1[0-2])-(19|20)\d{2}"),
    "issuedDate": re.compile(r"(0[1-9]|[12]\d|3[01])-(0[1-9]|1[0-2])-\d{2}"),
    "firstIssuedDate": re.compile(r"\((0[1-9]|1[0-2])-\d{2}\)"),
}


def best_valid(
    alternatives: list[dict[str, float]], pattern: re.Pattern[str], normalise=lambda s: s, beam: int = 64
) -> tuple[str, float] | None:
    """The most probable string, one alternative per character, that fits ``pattern``.

    The recogniser's best characters may form an impossible field ("C66B668(E)",
    "31-13-1990"); its second choices often repair it. A beam over the per-character
    alternatives keeps the likeliest strings; the best one whose normalised form fully
    matches wins, with the product of its characters' probabilities. None when no
    combination fits (the field is then output as read, and its check reports it).

    Example:
        >>> alts = [{"C": .9}, {"6": .9}, {"6": .9}, {"B": .6, "8": .4}, {"6": .9}, {"6": .9},
        ...         {"8": .9}, {"(": .9}, {"E": .9}, {")": .9}]
        >>> best_valid(alts, FIELD_PATTERNS["idNumber"])[0]
        'C668668(E)'
    """
    import math

    paths: list[tuple[float, str]] = [(0.0, "")]
    for alts in alternatives:
        options = sorted(alts.items(), key=lambda kv: -kv[1])[:5]
        nxt = [(lp + math.log(max(p, 1e-9)), s + ch) for lp, s in paths for ch, p in options]
        nxt.sort(key=lambda x: -x[0])
        paths = nxt[:beam]
    for lp, s in paths:
        t = normalise(s)
        if pattern.fullmatch(t):
            return t, math.exp(lp)
    return None
