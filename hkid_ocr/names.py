"""The Chinese name and its commercial code line, decided together.

The code line spells the Chinese name in digits (李智能 = 2621 2535 5174). Digits are
read far more reliably than ideographs, and the recogniser's dictionary lacks some
rare name characters altogether, so each character is chosen jointly:

    score(c) = log P_name(c) + log P_code(code(c))

where P_name comes from the recogniser's alternatives at that character position and
P_code from its per-digit alternatives on the code line. A character the name reader
never proposed can still win through its code (a character missing from the
dictionary is recovered that way), and a misread code digit is corrected when the
ideograph is clear. When the two lines cannot be reconciled, both are output as read
and the disagreement is reported (``consistent`` False), never hidden.

Example:
    >>> from hkid_ocr.types import LineReading
    >>> cn = LineReading("nameCn", "申智施", (0.9, 0.99, 0.6), (0.2, 0.5, 0.8),
    ...                  ((("申", 0.9),), (("智", 0.99),), (("施", 0.6), ("能", 0.3))))
    >>> code = LineReading("nameCode", "3947 2535 5174", (0.99,) * 14, (0.0,) * 14, ())
    >>> d = decide_name(cn, code)
    >>> d.name_cn, d.name_code, d.consistent
    ('申智能', '3947 2535 5174', True)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .parse import is_cjk, parse_name_code
from .telecode import chars_for, codes_for, traditional_for
from .types import LineReading

__all__ = ["NameDecision", "decide_name"]

# Floors for options the recogniser did not list: an ideograph outside its top
# alternatives is unlikely but possible (rare characters); a digit outside its
# alternatives is much less likely (digits are clean, few-class reads).
_CHAR_FLOOR = 1e-3
_DIGIT_FLOOR = 1e-6


#: A code line read at least this confidently (every digit) may spell the name alone.
CLEAR_CODE = 0.9


@dataclass(frozen=True)
class NameDecision:
    """The chosen name and code line, their confidences (0..1) and whether they agree."""

    name_cn: str
    name_code: str
    prob_cn: float
    prob_code: float
    consistent: bool | None  # None when the card has no Chinese name
    recovered: tuple[int, ...] = ()  # positions whose character came from the code line


def _char_options(reading: LineReading) -> list[dict[str, float]]:
    opts: list[dict[str, float]] = []
    for i, ch in enumerate(reading.text):
        if not is_cjk(ch):
            continue
        alts = dict(reading.alternatives[i]) if i < len(reading.alternatives) else {}
        alts = {c: p for c, p in alts.items() if is_cjk(c)}
        alts.setdefault(ch, reading.char_probs[i])
        opts.append(alts)
    return opts


def _digit_options(reading: LineReading) -> list[dict[str, float]]:
    opts: list[dict[str, float]] = []
    for i, ch in enumerate(reading.text):
        if not ch.isdigit():
            continue
        alts = dict(reading.alternatives[i]) if i < len(reading.alternatives) else {}
        alts = {c: p for c, p in alts.items() if c.isdigit()}
        alts.setdefault(ch, reading.char_probs[i])
        opts.append(alts)
    return opts


def _code_logp(code: str, digits: list[dict[str, float]]) -> float:
    return sum(math.log(max(_DIGIT_FLOOR, d.get(c, 0.0))) for c, d in zip(code, digits))


#: The reader's own probability for the traditional form, below which its choice of
#: another form of the same code is kept.
TRADITIONAL_EVIDENCE = 0.02


def _encodes(ch: str, codec: str) -> bool:
    try:
        ch.encode(codec)
    except UnicodeEncodeError:
        return False
    return True


def _prefer_traditional(ch: str, code: str, opts: dict[str, float]) -> str:
    """The traditional form of ``ch`` when the card evidently prints it.

    Hong Kong cards print names in Big5 characters, and the reader sometimes prefers
    the simplified form of the same code (黄 for 黃, 强 for 強, 卢 for 盧). A form
    outside Big5 always gives way to the code's traditional one: the card's name is
    kept as its codes, and a code prints the character the Taiwan table gives it (HKSCS
    holds 黄 and ~240 more simplified forms whose code has a traditional character,
    none of which a card prints for that code). Variant pairs that are both Big5 and
    both used in Hong Kong (恒 and 恆, 峰 and 峯: the telegraph table lists one of each)
    are told apart by the glyph alone, so a form the reader barely considered never
    replaces what it read.
    """
    trad = traditional_for(code)
    if not trad or ch in trad:
        return ch
    best = max(trad, key=lambda c: opts.get(c, 0.0))
    if not _encodes(ch, "cp950"):
        return best
    return best if opts.get(best, 0.0) >= TRADITIONAL_EVIDENCE else ch


def decide_name(cn: LineReading | None, code: LineReading | None) -> NameDecision:
    """Choose the Chinese name and code line from what was read on both lines."""
    chars = _char_options(cn) if cn is not None else []
    digits = _digit_options(code) if code is not None else []
    read_name = "".join(max(o, key=lambda c: o[c]) for o in chars)
    read_code = parse_name_code(code.text) if code is not None else ""
    p_name = min((max(o.values()) for o in chars), default=0.0)
    p_code = min((max(o.values()) for o in digits), default=0.0)
    if not chars and not digits:
        return NameDecision("", "", 0.0, 0.0, None)
    groups = len(digits) // 4 if len(digits) % 4 == 0 else -1
    if groups > len(chars) and chars and p_code >= CLEAR_CODE:
        # The name reader lost characters (tiny or faint print) but the code line is
        # clear: spell the name from the codes, keeping what was read where it fits.
        return _name_from_codes(chars, digits, groups, read_name, read_code, p_name, p_code)
    if groups <= 0 or (chars and groups != len(chars)):
        # The lines do not line up (a lost character or digit): report as read.
        return NameDecision(read_name, read_code, p_name, p_code, False if chars and digits else None)

    name: list[str] = []
    codes: list[str] = []
    probs_cn: list[float] = []
    probs_code: list[float] = []
    recovered: list[int] = []
    consistent = True
    for i in range(groups):
        dg = digits[4 * i : 4 * i + 4]
        read = "".join(max(d, key=lambda c: d[c]) for d in dg)
        opts = chars[i] if chars else {}
        cands: dict[str, float] = {}
        for ch, p in opts.items():
            for cd in codes_for(ch) or ("",):
                lp = math.log(max(_CHAR_FLOOR, p))
                lp += _code_logp(cd, dg) if cd else 4 * math.log(_DIGIT_FLOOR)
                if ch not in cands or lp > cands[ch]:
                    cands[ch] = lp
        for ch in chars_for(read):
            lp = math.log(max(_CHAR_FLOOR, opts.get(ch, 0.0))) + _code_logp(read, dg)
            if ch not in cands or lp > cands[ch]:
                cands[ch] = lp
        if not cands:
            consistent = False
            name.append(max(opts, key=lambda c: opts[c]) if opts else "")
            codes.append(read)
            continue
        best = max(cands, key=lambda c: cands[c])
        best_codes = codes_for(best)
        # Keep the code as read when it is one of the character's codes.
        chosen_code = read if read in best_codes else (best_codes[0] if best_codes else read)
        best = _prefer_traditional(best, chosen_code, opts)
        cands.setdefault(best, max(cands.values()))
        if best not in opts:
            recovered.append(i)
        name.append(best)
        codes.append(chosen_code)
        # Confidence of the joint choice: the winner's share of the candidates' mass.
        total = sum(math.exp(v) for v in cands.values())
        share = math.exp(cands[best]) / total if total > 0 else 0.0
        probs_cn.append(share)
        probs_code.append(share if chosen_code != read else min(max(d.values()) for d in dg))
        if chosen_code not in codes_for(best):
            consistent = False
    if not chars:
        # A code line with no readable name: the name comes from the codes alone.
        consistent = False
    return NameDecision(
        name_cn="".join(name),
        name_code=" ".join(codes),
        prob_cn=min(probs_cn, default=0.0),
        prob_code=min(probs_code, default=0.0),
        consistent=consistent,
        recovered=tuple(recovered),
    )


def _name_from_codes(
    chars: list[dict[str, float]],
    digits: list[dict[str, float]],
    groups: int,
    read_name: str,
    read_code: str,
    p_name: float,
    p_code: float,
) -> NameDecision:
    codes = ["".join(max(d, key=lambda c: d[c]) for d in digits[4 * i : 4 * i + 4]) for i in range(groups)]
    name: list[str] = []
    recovered: list[int] = []
    j = 0  # next read character to place, in order
    for i, code in enumerate(codes):
        options = chars_for(code)
        if not options:
            return NameDecision(read_name, read_code, p_name, p_code, False)
        if j < len(chars) and (set(chars[j]) & set(options)):
            hit = max(set(chars[j]) & set(options), key=lambda c: chars[j][c])
            name.append(_prefer_traditional(hit, code, chars[j]))
            j += 1
        else:
            name.append(options[0])
            recovered.append(i)
    # Every character that was read must have found its place, else the lines disagree.
    consistent = j == len(chars)
    if not consistent:
        return NameDecision(read_name, read_code, p_name, p_code, False)
    return NameDecision("".join(name), " ".join(codes), p_code * 0.9, p_code, True, tuple(recovered))
