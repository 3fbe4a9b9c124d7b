"""Chinese commercial (telegraph) codes: the card's "nameCode" line.

A Hong Kong identity card prints each character of the Chinese name as a
4-digit Chinese commercial code ("李智能" -> "2621 2535 5174"). The digits are
the most reliable text on the card, so they can confirm or correct each
recognised character (e.g. 中 0022 vs 申 3947).

The table ships in the package (``hkid_ocr/data/telecode.tsv``, built by
``scripts/build_telecode.py`` from Unicode Unihan): kTaiwanTelegraph first,
kMainlandTelegraph only for characters without a Taiwan code. Simplified and
traditional forms are related only through that data: 陈 (simplified, Mainland
code) and 陳 (traditional, Taiwan code) share 7115, so no extra variant table is
needed.

Example:
    >>> code_for("陳")
    '7115'
    >>> chars_for("7115")
    ('陳', '陈')
    >>> encode_name("李智能")
    '2621 2535 5174'
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import cache
from importlib import resources

__all__ = ["chars_for", "code_for", "codes_for", "decode_code_line", "encode_name", "traditional_for"]

_TABLE_RESOURCE = "data/telecode.tsv"
_CODE_RE = re.compile(r"\d{4}")
_DIGIT_RUN_RE = re.compile(r"\d+")


@dataclass(frozen=True)
class _Table:
    """The loaded table, both directions."""

    # char -> its codes, primary first (a few characters have two codes).
    codes: dict[str, tuple[str, ...]]
    # code -> characters, Taiwan-sourced first, then Mainland, each in code-point order.
    chars: dict[str, tuple[str, ...]]
    # code -> its Taiwan-sourced (traditional) characters only.
    taiwan: dict[str, tuple[str, ...]]


@cache
def _table() -> _Table:
    """Load the TSV once, on first use (keeps ``import hkid_ocr`` cheap)."""
    # importlib.resources finds the file inside an installed wheel or zip too,
    # where a path relative to __file__ may not exist.
    text = resources.files("hkid_ocr").joinpath(_TABLE_RESOURCE).read_text(encoding="utf-8")
    codes: dict[str, list[str]] = {}
    taiwan: dict[str, list[str]] = {}
    mainland: dict[str, list[str]] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        char, code, source = line.split("\t")
        codes.setdefault(char, []).append(code)
        (taiwan if source == "T" else mainland).setdefault(code, []).append(char)
    chars = {
        code: tuple(taiwan.get(code, ())) + tuple(mainland.get(code, ()))
        for code in taiwan.keys() | mainland.keys()
    }
    return _Table(
        codes={c: tuple(v) for c, v in codes.items()},
        chars=chars,
        taiwan={c: tuple(v) for c, v in taiwan.items()},
    )


def codes_for(ch: str) -> tuple[str, ...]:
    """All codes of one character, primary first; () when it has none.

    A handful of characters carry two codes (塵 is 1057 and 7775); a code line
    may use either, so comparisons should accept any of them.

    Example:
        >>> codes_for("塵")
        ('1057', '7775')
        >>> codes_for("A")
        ()
    """
    if len(ch) != 1:
        return ()
    table = _table()
    found = table.codes.get(ch)
    if found is None:
        # CJK compatibility ideographs (U+F900..) are canonically equivalent to a
        # unified ideograph; a recogniser's dictionary may emit either form.
        found = table.codes.get(unicodedata.normalize("NFC", ch))
    return found or ()


def code_for(ch: str) -> str | None:
    """The primary 4-digit code of a single character, or None.

    Example:
        >>> code_for("余")
        '0151'
        >>> code_for("陈")  # simplified form: Mainland code, same as 陳
        '7115'
        >>> code_for("x") is None
        True
    """
    found = codes_for(ch)
    return found[0] if found else None


def chars_for(code: str) -> tuple[str, ...]:
    """Characters whose code is ``code`` (Taiwan-sourced first); () if unknown.

    ``code`` must be exactly four digits (surrounding spaces are ignored).

    Example:
        >>> chars_for("2621")
        ('李',)
        >>> "申" in chars_for("3947")
        True
        >>> chars_for("12")
        ()
    """
    code = code.strip()
    if not _CODE_RE.fullmatch(code):
        return ()
    return _table().chars.get(code, ())


def traditional_for(code: str) -> tuple[str, ...]:
    """The Taiwan-sourced (traditional) characters of ``code``; () if it has none.

    Hong Kong cards print traditional characters, so when a recogniser reads the
    simplified form (黄 for 黃, both 7806) the code line's traditional character wins.

    Example:
        >>> traditional_for("7806")
        ('黃',)
    """
    return _table().taiwan.get(code.strip(), ())


def encode_name(name: str) -> str | None:
    """The code line for a Chinese name, or None if any character has no code.

    Whitespace in ``name`` is ignored; an empty name gives "" (cards without a
    Chinese name print no code line).

    Example:
        >>> encode_name("申智能")
        '3947 2535 5174'
        >>> encode_name("李X") is None
        True
    """
    codes: list[str] = []
    for ch in name:
        if ch.isspace():
            continue
        code = code_for(ch)
        if code is None:
            return None
        codes.append(code)
    return " ".join(codes)


def decode_code_line(line: str) -> list[tuple[str, ...]]:
    """Candidate characters for each 4-digit group of a code line.

    Groups are runs of digits; a run whose length is a multiple of four is split
    into groups (OCR often drops the spaces: "26212535" is two groups). A run of
    any other length cannot be aligned and gives one empty tuple, so the result
    still lines up with the printed groups and shows where the line is unreadable.
    Other characters (spaces, stray punctuation) only separate groups.

    Example:
        >>> decode_code_line("2621 2535 5174")
        [('李',), ('智',), ('能',)]
        >>> decode_code_line("7115 26212")
        [('陳', '陈'), ()]
    """
    groups: list[tuple[str, ...]] = []
    for run in _DIGIT_RUN_RE.findall(line):
        if len(run) % 4:
            groups.append(())
            continue
        for i in range(0, len(run), 4):
            groups.append(chars_for(run[i:i + 4]))
    return groups
