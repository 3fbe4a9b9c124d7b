"""Pure validity checks on card fields.

Validity is reported as data, never used to drop or rewrite a field: every
Immigration Department specimen number fails its check digit on purpose, and
such a number must still be output as printed. The helpers here only *suggest*
(candidate numbers, parsed dates, warnings); the caller decides what to do.

Example:
    >>> id_check_digit("A123456")
    '3'
    >>> id_number_valid("AB123456(9)")
    True
    >>> id_number_valid("C668668(E)")
    False
    >>> [s.symbol for s in parse_symbols("***AZ")]
    ['***', 'A', 'Z']
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from datetime import date
from typing import Literal

__all__ = [
    "ID_NUMBER_RE",
    "KNOWN_PREFIXES",
    "CheckWarning",
    "Symbol",
    "Warning",
    "age_at",
    "card_version_from_issue_date",
    "date_sanity",
    "id_check_digit",
    "id_number_candidates",
    "id_number_valid",
    "is_permanent",
    "parse_birth_date",
    "parse_first_issued",
    "parse_issue_date",
    "parse_symbols",
    "symbols_age_consistent",
]

# ---------------------------------------------------------------------------
# Card number
# ---------------------------------------------------------------------------

#: A card number as printed: one or two prefix letters, six digits, check in brackets.
ID_NUMBER_RE = re.compile(r"^([A-Z]{1,2})(\d{6})\(([0-9A])\)$")

#: Prefixes in use (hkid_facts.md). Used only to rank out corrections that would
#: invent an unused prefix; a printed prefix outside this set is still accepted.
KNOWN_PREFIXES: frozenset[str] = frozenset(
    "A B C D E F G H J K L M N P R S T V W Y Z EC WX XA XB XC XD XE XG XH".split()
)

_WEIGHTS = (9, 8, 7, 6, 5, 4, 3, 2)
# A one-letter prefix is padded on the left with a space, which counts 36.
_SPACE_VALUE = 36


def _char_value(ch: str) -> int:
    if ch == " ":
        return _SPACE_VALUE
    if "A" <= ch <= "Z":
        return ord(ch) - ord("A") + 10
    if ch.isdigit():
        return int(ch)
    raise ValueError(f"invalid character in card number: {ch!r}")


def id_check_digit(body: str) -> str:
    """The check digit ("0".."9" or "A") for a card number body such as "A123456".

    Raises ValueError if ``body`` is not 1-2 capital letters followed by 6 digits.

    Example:
        >>> id_check_digit("E364912")
        '5'
    """
    if not re.fullmatch(r"[A-Z]{1,2}\d{6}", body):
        raise ValueError(f"not a card number body: {body!r}")
    padded = body.rjust(8, " ")
    total = sum(w * _char_value(c) for w, c in zip(_WEIGHTS, padded))
    check = (11 - total % 11) % 11
    return "A" if check == 10 else str(check)


def id_number_valid(id_number: str) -> bool:
    """True when ``id_number`` is well formed ("C668668(E)") and its check digit holds.

    Example:
        >>> id_number_valid("D288754(2)")
        True
    """
    m = ID_NUMBER_RE.match(id_number)
    if not m:
        return False
    return id_check_digit(m.group(1) + m.group(2)) == m.group(3)


# Confusion tables for id_number_candidates. They are keyed by the raw OCR
# character (case matters: a lowercase "g" looks like 9, an uppercase "G" like 6).
#
# A character of the wrong class for its slot (a letter among the digits) must
# be a misreading, so it is replaced by what it most likely was:
_LETTER_AS_DIGIT: dict[str, str] = {
    "O": "0", "D": "0", "Q": "0", "U": "0", "o": "0",
    "I": "1", "L": "1", "l": "1", "i": "1", "|": "1", "!": "1",
    "Z": "2", "z": "2",
    "S": "5", "s": "5",
    "B": "8",
    "G": "6", "b": "6",
    "T": "7", "t": "7",
    "A": "4",
    "g": "9", "q": "9",
}
_DIGIT_AS_LETTER: dict[str, str] = {
    "0": "ODQ", "1": "LI", "2": "Z", "4": "A", "5": "S", "6": "G", "7": "T", "8": "B",
}
# A character of the right class may still be the wrong one. These are the
# look-alike pairs of the card's OCR-B style digits and capital letters
# (symmetric). Kept short: every extra pair adds chances of a spurious fix.
_DIGIT_PAIRS = ("08", "06", "09", "17", "14", "27", "38", "35", "56", "68", "89")
_LETTER_PAIRS = ("CG", "DO", "OQ", "EF", "PR", "MN", "VY", "KX", "UV")


def _pairs_to_map(pairs: tuple[str, ...]) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in pairs:
        a, b = pair[0], pair[1]
        out[a] = out.get(a, "") + b
        out[b] = out.get(b, "") + a
    return out


_DIGIT_ALTS = _pairs_to_map(_DIGIT_PAIRS)
_LETTER_ALTS = _pairs_to_map(_LETTER_PAIRS)

# Brackets around the check character are often read as other brackets.
_BRACKETS = str.maketrans({"[": "(", "{": "(", "]": ")", "}": ")", "\uff08": "(", "\uff09": ")"})
_LOOSE_NUMBER_RE = re.compile(r"^([^()]{7,8})\(?([^()])\)?$")


def _slot_options(ch: str, kind: str) -> tuple[str | None, str]:
    """(the character as read if it fits the slot else None, likely alternatives)."""
    if kind == "letter":
        if ch.isascii() and ch.isalpha():
            up = ch.upper()  # case is not a confusion worth counting
            return up, _LETTER_ALTS.get(up, "")
        return None, _DIGIT_AS_LETTER.get(ch, "")
    if kind == "digit":
        if ch.isascii() and ch.isdigit():
            return ch, _DIGIT_ALTS.get(ch, "")
        return None, _LETTER_AS_DIGIT.get(ch, "")
    # The check slot holds a digit or "A" (for 10); "A" and "4" look alike.
    if ch in ("A", "a"):
        return "A", "4"
    if ch.isascii() and ch.isdigit():
        return ch, _DIGIT_ALTS.get(ch, "") + ("A" if ch == "4" else "")
    return None, _LETTER_AS_DIGIT.get(ch, "")


def id_number_candidates(id_number: str, max_confusions: int = 1) -> list[str]:
    """Valid card numbers reachable from a failing one by one likely OCR confusion.

    The number is read loosely (spaces dropped, any bracket style, brackets
    optional); the prefix is the first 1-2 characters, then 6 digits and the
    check. Substitutions are position-aware: prefix slots only become letters,
    body slots digits, the check slot a digit or "A". A character of the wrong
    class for its slot (``G`` in the body) must be replaced and counts as one
    confusion; otherwise one look-alike swap (3/8, C/G, 4/A in the check ...)
    is tried. A prefix that a correction changes must be one in use
    (``KNOWN_PREFIXES``).

    Returns canonical numbers ("A123456(3)"), fewest changes first, then
    alphabetical; [] when ``id_number`` is already valid or nothing fits. A
    result with zero changes is a formatting fix only ("a123456 3" ->
    "A123456(3)"). Several results mean the reading is ambiguous: never pick one
    silently (specimen numbers fail on purpose).

    Example:
        >>> id_number_candidates("A12345G(3)")
        ['A123456(3)']
        >>> id_number_candidates("A123456(3)")
        []
        >>> "A123456(3)" in id_number_candidates("A123456(8)")
        True
    """
    if id_number_valid(id_number) or max_confusions < 0:
        return []
    text = "".join(id_number.split()).translate(_BRACKETS)
    m = _LOOSE_NUMBER_RE.match(text)
    if not m:
        return []
    main, check = m.group(1), m.group(2)
    kinds = ["letter"] * (len(main) - 6) + ["digit"] * 6 + ["check"]
    slots = [_slot_options(ch, kind) for ch, kind in zip(main + check, kinds, strict=True)]

    forced = [i for i, (base, _) in enumerate(slots) if base is None]
    free = [i for i, (base, alts) in enumerate(slots) if base is not None and alts]
    if len(forced) > max_confusions or any(not slots[i][1] for i in forced):
        return []
    n_prefix = len(main) - 6
    printed_prefix = "".join(slots[i][0] or "?" for i in range(n_prefix))

    found: dict[str, int] = {}
    base_chars = [base or "" for base, _ in slots]
    for forced_pick in itertools.product(*(slots[i][1] for i in forced)):
        chars = list(base_chars)
        for i, alt in zip(forced, forced_pick, strict=True):
            chars[i] = alt
        # Spend what is left of the budget on look-alike swaps of fitting characters.
        for k in range(max_confusions - len(forced) + 1):
            for positions in itertools.combinations(free, k):
                for picks in itertools.product(*(slots[i][1] for i in positions)):
                    trial = list(chars)
                    for i, alt in zip(positions, picks, strict=True):
                        trial[i] = alt
                    prefix = "".join(trial[:n_prefix])
                    if prefix != printed_prefix and prefix not in KNOWN_PREFIXES:
                        continue
                    candidate = f"{prefix}{''.join(trial[n_prefix:-1])}({trial[-1]})"
                    if id_number_valid(candidate):
                        changes = len(forced) + k
                        found[candidate] = min(changes, found.get(candidate, changes))
    return sorted(found, key=lambda c: (found[c], c))


# ---------------------------------------------------------------------------
# Symbols (issuedCode)
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Symbol:
    """One token of the symbols line and what it means."""

    symbol: str
    meaning: str


UNKNOWN_SYMBOL = "unknown symbol"

_SINGLE_SYMBOLS: dict[str, str] = {
    "A": "right of abode in Hong Kong",
    "R": "right to land in Hong Kong",
    "C": "stay in Hong Kong limited by the Director of Immigration",
    "U": "stay in Hong Kong not limited by the Director of Immigration",
    "Z": "born in Hong Kong",
    "X": "born in Mainland China",
    "W": "born in Macau",
    "O": "born elsewhere",
    "B": "date or place of birth changed since first registration",
    "N": "name changed since first registration",
    "Y": "date of birth verified",
}
_STAR_SYMBOLS: dict[str, str] = {
    "***": "aged 18 or over, eligible for a Hong Kong Re-entry Permit",
    "*": "aged 11 to 17, eligible for a Hong Kong Re-entry Permit",
}
# Letters that take a number: L = times the card was lost, the others are
# issuing-office codes printed on older cards (H1, K2, S1, P1, V1).
_OFFICE_LETTERS = frozenset("HKSPV")
_TOKEN_RE = re.compile(r"\*+|[LHKSPV]\d+|\d+|.")
_TIMES = {1: "once", 2: "twice"}


def _symbol_meaning(token: str) -> str:
    if token in _STAR_SYMBOLS:
        return _STAR_SYMBOLS[token]
    if token in _SINGLE_SYMBOLS:
        return _SINGLE_SYMBOLS[token]
    if len(token) > 1 and token[1:].isdigit():
        n = int(token[1:])
        if token[0] == "L" and n > 0:
            return f"card lost {_TIMES.get(n, f'{n} times')}"
        if token[0] in _OFFICE_LETTERS:
            return "issuing office (older cards)"
    return UNKNOWN_SYMBOL


def parse_symbols(issued_code: str) -> list[Symbol]:
    """Split the symbols line into tokens with their meanings.

    Whitespace is ignored and letters are upper-cased. Stars form one token
    ("***" or "*"); L, H, K, S, P, V take the digits that follow ("L1", "H1").
    Anything else becomes a token whose meaning is "unknown symbol" (reported,
    not dropped, so a misread line stays visible).

    Example:
        >>> [s.symbol for s in parse_symbols("***AOL1")]
        ['***', 'A', 'O', 'L1']
        >>> parse_symbols("*CZ")[1]
        Symbol(symbol='C', meaning='stay in Hong Kong limited by the Director of Immigration')
        >>> parse_symbols("A?")[1].meaning
        'unknown symbol'
    """
    text = "".join(issued_code.split()).upper()
    return [Symbol(tok, _symbol_meaning(tok)) for tok in _TOKEN_RE.findall(text)]


def is_permanent(issued_code: str, title_permanent: bool | None) -> bool | None:
    """Whether the holder is a permanent resident, from symbols and card title.

    The symbols say so directly: A (right of abode) or R (right to land) means
    permanent; C or U without A/R means not. ``title_permanent`` is what the
    title said ("PERMANENT IDENTITY CARD" or not; None if unread). Either source
    alone decides; when both are known and disagree one of them was misread, so
    the answer is None (undetermined) rather than a guess.

    Example:
        >>> is_permanent("***AZ", None)
        True
        >>> is_permanent("CZ", True) is None
        True
        >>> is_permanent("", False)
        False
    """
    tokens = {s.symbol for s in parse_symbols(issued_code)}
    from_symbols: bool | None
    if tokens & {"A", "R"}:
        from_symbols = True
    elif tokens & {"C", "U"}:
        from_symbols = False
    else:
        from_symbols = None
    if from_symbols is None:
        return title_permanent
    if title_permanent is None or title_permanent == from_symbols:
        return from_symbols
    return None


# ---------------------------------------------------------------------------
# Dates
# ---------------------------------------------------------------------------

# OCR may read the dash as a dot, slash or spaced dash; accept those.
_SEP = r"\s*[-./]\s*"
_BIRTH_RE = re.compile(rf"^\s*(\d{{1,2}}){_SEP}(\d{{1,2}}){_SEP}(\d{{4}})\s*$")
_ISSUE_RE = re.compile(rf"^\s*(\d{{1,2}}){_SEP}(\d{{1,2}}){_SEP}(\d{{2}}|\d{{4}})\s*$")
_FIRST_RE = re.compile(rf"^\s*\(?\s*(\d{{1,2}}){_SEP}(\d{{2}})\s*\)?\s*$")

#: Registration of persons began in 1949, so a two-digit first-registration year
#: with no other context is read as 1949-2048.
FIRST_REGISTRATION_PIVOT = 49
#: First issue date of the 2003 smart card and of the 2018 new smart card.
SMART_CARD_2003_FROM = date(2003, 6, 23)
SMART_CARD_2018_FROM = date(2018, 11, 26)


def _make_date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:  # 31-02-1990 and the like
        return None


def parse_birth_date(text: str) -> date | None:
    """Parse a printed birth date "DD-MM-YYYY"; None if malformed or impossible.

    Example:
        >>> parse_birth_date("01-01-1968")
        datetime.date(1968, 1, 1)
        >>> parse_birth_date("30-02-1968") is None
        True
    """
    m = _BIRTH_RE.match(text)
    if not m:
        return None
    return _make_date(int(m.group(3)), int(m.group(2)), int(m.group(1)))


def parse_issue_date(text: str) -> date | None:
    """Parse a printed issue date "DD-MM-YY" (20YY; smart cards date from 2003).

    A four-digit year is accepted too. None if malformed or impossible.

    Example:
        >>> parse_issue_date("15-09-03")
        datetime.date(2003, 9, 15)
        >>> parse_issue_date("15-13-03") is None
        True
    """
    m = _ISSUE_RE.match(text)
    if not m:
        return None
    year = int(m.group(3))
    if year < 100:
        # Both card designs were first issued in 2003 or later, so the century
        # is always 20xx; a wrong reading shows up later as "dateInFuture".
        year += 2000
    return _make_date(year, int(m.group(2)), int(m.group(1)))


def parse_first_issued(
    text: str, issued: date | None = None, birth: date | None = None
) -> tuple[int, int] | None:
    """Parse the date of first registration "(MM-YY)" into (year, month).

    The century is chosen so that the month is not after ``issued`` and not
    before ``birth`` (each if given). Without context, or when no century fits
    (the dates are then inconsistent, which ``date_sanity`` reports), years
    49-99 are 19xx and 00-48 are 20xx. None if malformed or month not 1-12.

    Example:
        >>> parse_first_issued("(01-79)")
        (1979, 1)
        >>> parse_first_issued("(01-99)", issued=date(2018, 9, 15))
        (1999, 1)
        >>> parse_first_issued("(06-30)", issued=date(2018, 9, 15))
        (1930, 6)
        >>> parse_first_issued("(06-30)", birth=date(2005, 1, 1))
        (2030, 6)
    """
    m = _FIRST_RE.match(text)
    if not m:
        return None
    month, yy = int(m.group(1)), int(m.group(2))
    if not 1 <= month <= 12:
        return None
    preferred = [1900 + yy, 2000 + yy]
    if yy < FIRST_REGISTRATION_PIVOT:
        preferred.reverse()
    for year in preferred:
        if issued is not None and (year, month) > (issued.year, issued.month):
            continue
        if birth is not None and (year, month) < (birth.year, birth.month):
            continue
        return year, month
    return preferred[0], month


def age_at(birth: date | None, on_date: date | None) -> int | None:
    """Age in whole years on ``on_date``; None if unknown or before birth.

    Example:
        >>> age_at(date(1968, 1, 1), date(2003, 9, 15))
        35
        >>> age_at(date(2000, 9, 16), date(2018, 9, 15))
        17
    """
    if birth is None or on_date is None or on_date < birth:
        return None
    had_birthday = (on_date.month, on_date.day) >= (birth.month, birth.day)
    return on_date.year - birth.year - (0 if had_birthday else 1)


@dataclass(frozen=True)
class CheckWarning:
    """A consistency problem found on the card: a stable ``code`` and a message."""

    code: str
    message: str


#: The name the rest of the package uses for :class:`CheckWarning`. (It shadows
#: the builtin ``Warning`` only for code that imports it from here.)
Warning = CheckWarning  # noqa: A001

#: Oldest believable age; older means a misread birth year.
MAX_AGE = 130


def _ym(d: tuple[int, int]) -> str:
    return f"{d[1]:02d}-{d[0]}"


def date_sanity(
    birth: date | str | None,
    first_issued: tuple[int, int] | str | None,
    issued: date | str | None,
    today: date,
) -> list[CheckWarning]:
    """Consistency warnings for the three card dates.

    Each date may be given parsed (``date``; ``(year, month)`` for the first
    registration) or as printed text ("01-01-1968", "(01-79)", "15-09-03");
    None or "" means the field is absent. ``today`` is passed in so the result
    never depends on the clock.

    Codes: "invalidDate" (text that does not parse), "dateInFuture",
    "birthAfterFirstRegistration", "firstRegistrationAfterIssue",
    "birthAfterIssue", "implausibleAge" (over 130), "issueBeforeSmartCards"
    (issued before 23-06-2003, when the oldest design here appeared).

    Example:
        >>> date_sanity("01-01-1968", "(01-79)", "15-09-03", date(2024, 1, 1))
        []
        >>> [w.code for w in date_sanity("01-01-1990", (1979, 1), None, date(2024, 1, 1))]
        ['birthAfterFirstRegistration']
    """
    warnings: list[CheckWarning] = []

    def invalid(field: str, text: str) -> None:
        warnings.append(CheckWarning("invalidDate", f"{field} {text!r} is not a valid date"))

    b: date | None
    if isinstance(birth, str):
        b = parse_birth_date(birth) if birth.strip() else None
        if b is None and birth.strip():
            invalid("date of birth", birth)
    else:
        b = birth
    i: date | None
    if isinstance(issued, str):
        i = parse_issue_date(issued) if issued.strip() else None
        if i is None and issued.strip():
            invalid("date of issue", issued)
    else:
        i = issued
    f: tuple[int, int] | None
    if isinstance(first_issued, str):
        f = parse_first_issued(first_issued, i, b) if first_issued.strip() else None
        if f is None and first_issued.strip():
            invalid("date of first registration", first_issued)
    else:
        f = first_issued

    now_ym = (today.year, today.month)
    if b is not None and b > today:
        warnings.append(CheckWarning("dateInFuture", f"date of birth {b:%d-%m-%Y} is in the future"))
    if f is not None and f > now_ym:
        warnings.append(CheckWarning("dateInFuture", f"date of first registration {_ym(f)} is in the future"))
    if i is not None and i > today:
        warnings.append(CheckWarning("dateInFuture", f"date of issue {i:%d-%m-%Y} is in the future"))

    if b is not None and f is not None and (b.year, b.month) > f:
        warnings.append(CheckWarning(
            "birthAfterFirstRegistration",
            f"date of birth {b:%d-%m-%Y} is after first registration {_ym(f)}"))
    if f is not None and i is not None and f > (i.year, i.month):
        warnings.append(CheckWarning(
            "firstRegistrationAfterIssue",
            f"first registration {_ym(f)} is after the date of issue {i:%d-%m-%Y}"))
    if b is not None and i is not None and b > i:
        warnings.append(CheckWarning(
            "birthAfterIssue", f"date of birth {b:%d-%m-%Y} is after the date of issue {i:%d-%m-%Y}"))

    age = age_at(b, today)
    if age is not None and age > MAX_AGE:
        warnings.append(CheckWarning("implausibleAge", f"holder would be {age} years old"))
    if i is not None and i < SMART_CARD_2003_FROM:
        warnings.append(CheckWarning(
            "issueBeforeSmartCards",
            f"date of issue {i:%d-%m-%Y} is before smart cards were issued (23-06-2003)"))
    return warnings


def symbols_age_consistent(
    issued_code: str, birth: date | None, issued: date | None
) -> CheckWarning | None:
    """Check the stars in the symbols against the holder's age at issue.

    "***" means 18 or over at issue and "*" means 11-17; no stars fits any age
    (under 11, or not eligible for a re-entry permit). Returns a
    "symbolsAgeMismatch" warning, or None when consistent or undecidable
    (a date missing, or an unreadable star count such as "**").

    Example:
        >>> symbols_age_consistent("***AZ", date(1968, 1, 1), date(2003, 9, 15)) is None
        True
        >>> symbols_age_consistent("***AZ", date(2000, 1, 1), date(2010, 1, 1)).code
        'symbolsAgeMismatch'
    """
    age = age_at(birth, issued)
    if age is None:
        return None
    stars = [s.symbol for s in parse_symbols(issued_code) if s.symbol.startswith("*")]
    if len(stars) != 1 or stars[0] not in _STAR_SYMBOLS:
        return None
    star = stars[0]
    ok = age >= 18 if star == "***" else 11 <= age <= 17
    if ok:
        return None
    expected = "18 or over" if star == "***" else "11 to 17"
    return CheckWarning(
        "symbolsAgeMismatch",
        f"symbol {star} means aged {expected} at issue, but the dates give {age}")


def card_version_from_issue_date(issued: date | None) -> Literal["2003", "2018"] | None:
    """The card design the issue date suggests (a hint, not proof).

    The 2018 design was issued from 26-11-2018, the 2003 design from 23-06-2003;
    earlier dates or None give None.

    Example:
        >>> card_version_from_issue_date(date(2003, 9, 15))
        '2003'
        >>> card_version_from_issue_date(date(2018, 11, 26))
        '2018'
    """
    if issued is None:
        return None
    if issued >= SMART_CARD_2018_FROM:
        return "2018"
    if issued >= SMART_CARD_2003_FROM:
        return "2003"
    return None
