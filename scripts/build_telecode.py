#!/usr/bin/env python3
"""Build hkid_ocr/data/telecode.tsv, the Chinese commercial (telegraph) code table.

The "nameCode" line on a Hong Kong identity card gives each character of the
Chinese name as a 4-digit Chinese commercial code. Those codes equal Unicode
Unihan's ``kTaiwanTelegraph`` field; ``kMainlandTelegraph`` differs for a few
hundred characters, so it is used only to fill characters that have no Taiwan
code (mostly simplified forms, which is how a simplified character read by the
recogniser still finds the code of its traditional form).

Input: ``Unihan_OtherMappings.txt.bz2`` from the Debian package ``unicode-data``
(default ``/usr/share/unicode/Unihan_OtherMappings.txt.bz2``).

Output: one row per (character, code) pair, ``char<TAB>code<TAB>source`` where
source is ``T`` (kTaiwanTelegraph) or ``M`` (kMainlandTelegraph), sorted by code
point; a character with several codes keeps Unihan's order (first = primary).
The first line is a ``#`` comment naming the source file and Unicode version.

Usage::

    python scripts/build_telecode.py [UNIHAN_OTHERMAPPINGS_BZ2] [-o OUT_TSV]

Example (on rows already split out of the Unihan file):
    >>> rows = build_rows([
    ...     "U+9673\\tkTaiwanTelegraph\\t7115",
    ...     "U+9648\\tkMainlandTelegraph\\t7115",
    ...     "U+9673\\tkMainlandTelegraph\\t7115",
    ... ])
    >>> [(r.char, r.code, r.source) for r in rows]
    [('陈', '7115', 'M'), ('陳', '7115', 'T')]
"""

from __future__ import annotations

import argparse
import bz2
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

DEFAULT_SOURCE = Path("/usr/share/unicode/Unihan_OtherMappings.txt.bz2")
DEFAULT_OUTPUT = Path(__file__).resolve().parent.parent / "hkid_ocr" / "data" / "telecode.tsv"

_TAIWAN = "kTaiwanTelegraph"
_MAINLAND = "kMainlandTelegraph"
_CODE_RE = re.compile(r"\d{4}")
_VERSION_RE = re.compile(r"^#\s*Unicode version:\s*(\S+)")


@dataclass(frozen=True)
class Row:
    """One (character, code) pair of the output table."""

    char: str
    code: str
    source: str  # "T" or "M"


def _parse_line(line: str) -> tuple[str, str, list[str]] | None:
    """Split a Unihan data line into (char, field, codes); None for other lines."""
    if not line.startswith("U+"):
        return None
    parts = line.rstrip("\r\n").split("\t")
    if len(parts) != 3 or parts[1] not in (_TAIWAN, _MAINLAND):
        return None
    char = chr(int(parts[0][2:], 16))
    codes = parts[2].split()
    # A malformed value would silently corrupt the table; fail loudly instead.
    for code in codes:
        if not _CODE_RE.fullmatch(code):
            raise ValueError(f"unexpected telegraph code {code!r} in line {line!r}")
    return char, parts[1], codes


def build_rows(lines: Iterable[str]) -> list[Row]:
    """Merge the two Unihan telegraph fields into table rows.

    Taiwan codes win; Mainland codes are kept only for characters that have no
    Taiwan code at all (never mixed per character, so a character's codes all
    come from one consistent source).

    Example:
        >>> [r.code for r in build_rows(["U+5875\\tkTaiwanTelegraph\\t1057 7775"])]
        ['1057', '7775']
    """
    taiwan: dict[str, list[str]] = {}
    mainland: dict[str, list[str]] = {}
    for line in lines:
        parsed = _parse_line(line)
        if parsed is None:
            continue
        char, field, codes = parsed
        (taiwan if field == _TAIWAN else mainland)[char] = codes

    rows: list[Row] = []
    for char in sorted(set(taiwan) | set(mainland)):
        if char in taiwan:
            rows.extend(Row(char, code, "T") for code in taiwan[char])
        else:
            rows.extend(Row(char, code, "M") for code in mainland[char])
    return rows


def unicode_version(lines: Iterable[str]) -> str:
    """The "Unicode version" from the Unihan file header, or "unknown".

    Example:
        >>> unicode_version(["#", "# Unicode version: 15.0.0", "U+3400\\tkCCCII\\t1"])
        '15.0.0'
    """
    for line in lines:
        if not line.startswith("#"):
            break
        m = _VERSION_RE.match(line)
        if m:
            return m.group(1)
    return "unknown"


def render_tsv(rows: Sequence[Row], source_name: str, version: str) -> str:
    """The TSV text: one header comment line, then ``char<TAB>code<TAB>source`` rows.

    Example:
        >>> text = render_tsv([Row("李", "2621", "T")], "Unihan_OtherMappings.txt", "15.0.0")
        >>> text.splitlines()[1]
        '李\\t2621\\tT'
    """
    header = (
        f"# Chinese commercial codes from {source_name} (Unicode {version}): "
        f"{_TAIWAN} (T), {_MAINLAND} (M) only where no Taiwan code; "
        "char<TAB>code<TAB>source"
    )
    body = "".join(f"{r.char}\t{r.code}\t{r.source}\n" for r in rows)
    return header + "\n" + body


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the process exit status."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source", nargs="?", type=Path, default=DEFAULT_SOURCE,
                        help=f"Unihan_OtherMappings.txt.bz2 (default {DEFAULT_SOURCE})")
    parser.add_argument("-o", "--output", type=Path, default=DEFAULT_OUTPUT,
                        help=f"output TSV (default {DEFAULT_OUTPUT})")
    args = parser.parse_args(argv)

    if not args.source.exists():
        print(f"build_telecode: {args.source} not found; install the Debian package "
              "unicode-data (or `apt-get download unicode-data && dpkg -x ...`)", file=sys.stderr)
        return 1
    opener = bz2.open if args.source.suffix == ".bz2" else open
    with opener(args.source, "rt", encoding="utf-8") as fh:
        lines = fh.read().splitlines()

    rows = build_rows(lines)
    name = args.source.name.removesuffix(".bz2")
    text = render_tsv(rows, name, unicode_version(lines))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    # newline="\n": the table must be byte-identical whatever platform builds it.
    args.output.write_text(text, encoding="utf-8", newline="\n")
    n_t = sum(r.source == "T" for r in rows)
    print(f"build_telecode: wrote {len(rows)} rows ({n_t} T, {len(rows) - n_t} M) "
          f"to {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
