"""Tests for hkid_ocr.checks: card number, symbols and date consistency."""

from __future__ import annotations

import dataclasses
import json
import random
from datetime import date
from pathlib import Path

import pytest

from hkid_ocr.checks import (
    ID_NUMBER_RE,
    KNOWN_PREFIXES,
    CheckWarning,
    Symbol,
    Warning,
    age_at,
    card_version_from_issue_date,
    date_sanity,
    id_check_digit,
    id_number_candidates,
    id_number_valid,
    is_permanent,
    parse_birth_date,
    parse_first_issued,
    parse_issue_date,
    parse_symbols,
    symbols_age_consistent,
)

TRUTH = json.loads((Path(__file__).parent / "data" / "truth.json").read_text(encoding="utf-8"))
TODAY = date(2026, 11, 24)

# ---------------------------------------------------------------------------
# Check digit
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("number", ["A123456(3)", "AB123456(9)", "E364912(5)", "D288754(2)"])
def test_valid_numbers(number: str) -> None:
    assert ID_NUMBER_RE.match(number)
    assert id_number_valid(number)


@pytest.mark.parametrize("number", ["C668668(E)", "Z683365(5)"])
def test_specimen_numbers_fail_on_purpose(number: str) -> None:
    assert not id_number_valid(number)


@pytest.mark.parametrize("number", ["", "A123456", "A12345(3)", "ABC123456(3)", "a123456(3)", "A123456(B)"])
def test_malformed_numbers_invalid(number: str) -> None:
    assert not id_number_valid(number)


def test_check_digit_values() -> None:
    assert id_check_digit("A123456") == "3"
    assert id_check_digit("AB123456") == "9"
    assert id_check_digit("Z683365") == "A"  # 10 is written "A"
    with pytest.raises(ValueError):
        id_check_digit("A12345")


# ---------------------------------------------------------------------------
# Candidates for a failing number
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("read", "expected"),
    [
        ("A12345G(3)", "A123456(3)"),   # G in the body -> 6
        ("Al23456(3)", "A123456(3)"),   # lowercase l -> 1
        ("A1Z3456(3)", "A123456(3)"),   # Z -> 2
        ("A123456(8)", "A123456(3)"),   # 3 read as 8 in the check
        ("0288754(2)", "D288754(2)"),   # 0 in the prefix -> D
        ("D288754(Z)", "D288754(2)"),   # letter in the check -> digit
        ("E3649I2(5)", "E364912(5)"),   # I -> 1
        ("Z683365(4)", "Z683365(A)"),   # check "A" read as 4
        ("A123456 [3]", "A123456(3)"),  # bracket style only
        ("A1234563", "A123456(3)"),     # brackets lost
    ],
)
def test_candidates_single_confusion(read: str, expected: str) -> None:
    found = id_number_candidates(read)
    assert expected in found
    assert all(id_number_valid(c) for c in found)


@pytest.mark.parametrize("number", ["A123456(3)", "AB123456(9)", "E364912(5)", "D288754(2)"])
def test_candidates_empty_when_valid(number: str) -> None:
    assert id_number_candidates(number) == []


@pytest.mark.parametrize("read", ["", "hello", "C668668(E)", "A12(3)", "A1234567890(3)"])
def test_candidates_empty_when_nothing_fits(read: str) -> None:
    assert id_number_candidates(read) == []


def test_candidates_budget() -> None:
    # Two wrong-class characters are two confusions: over the default budget.
    assert id_number_candidates("Al2345G(3)") == []
    assert id_number_candidates("Al2345G(3)", max_confusions=2) == ["A123456(3)"]


def test_candidates_position_aware() -> None:
    for c in id_number_candidates("Z683365(4)") + id_number_candidates("A123456(8)"):
        m = ID_NUMBER_RE.match(c)
        assert m, c
        assert m.group(1) in KNOWN_PREFIXES


def test_candidates_sorted_by_changes() -> None:
    found = id_number_candidates("a1234563")  # zero-change formatting fix first
    assert found[0] == "A123456(3)"


def test_candidates_recover_random_confusions() -> None:
    """A valid number damaged by one table confusion is always recovered."""
    rng = random.Random(20261124)
    to_letter = {"0": "O", "1": "I", "2": "Z", "5": "S", "6": "G", "7": "T", "8": "B"}
    prefixes = sorted(KNOWN_PREFIXES)
    for _ in range(300):
        prefix = rng.choice(prefixes)
        digits = "".join(rng.choice("0123456789") for _ in range(6))
        check = id_check_digit(prefix + digits)
        truth = f"{prefix}{digits}({check})"
        pos = rng.randrange(6)
        d = digits[pos]
        if d in to_letter:
            damaged_digits = digits[:pos] + to_letter[d] + digits[pos + 1:]
            damaged = f"{prefix}{damaged_digits}({check})"
            assert truth in id_number_candidates(damaged), damaged
        if check == "A":
            assert truth in id_number_candidates(f"{prefix}{digits}(4)")


# ---------------------------------------------------------------------------
# Symbols
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "tokens"),
    [
        ("***AZ", ["***", "A", "Z"]),
        ("*CZ", ["*", "C", "Z"]),
        ("AZ", ["A", "Z"]),
        ("***AOL1", ["***", "A", "O", "L1"]),
        ("RZ", ["R", "Z"]),
        ("***AZH1", ["***", "A", "Z", "H1"]),
        ("*** A Z", ["***", "A", "Z"]),
        ("***RXBNYL2", ["***", "R", "X", "B", "N", "Y", "L2"]),
        ("UWK2S1P1V1", ["U", "W", "K2", "S1", "P1", "V1"]),
        ("", []),
    ],
)
def test_parse_symbols_tokens(code: str, tokens: list[str]) -> None:
    parsed = parse_symbols(code)
    assert [s.symbol for s in parsed] == tokens
    assert all(s.meaning != "unknown symbol" for s in parsed)


def test_parse_symbols_meanings() -> None:
    stars, a, z = parse_symbols("***AZ")
    assert "18 or over" in stars.meaning and "Re-entry" in stars.meaning
    assert a == Symbol("A", "right of abode in Hong Kong")
    assert z.meaning == "born in Hong Kong"
    assert parse_symbols("*")[0].meaning.startswith("aged 11 to 17")
    assert parse_symbols("L1")[0].meaning == "card lost once"
    assert parse_symbols("L2")[0].meaning == "card lost twice"
    assert parse_symbols("L3")[0].meaning == "card lost 3 times"
    assert parse_symbols("H1")[0].meaning == "issuing office (older cards)"


@pytest.mark.parametrize(
    ("code", "unknown"), [("**AZ", "**"), ("A4Z", "4"), ("AQ", "Q"), ("AL", "L"), ("L0", "L0")]
)
def test_parse_symbols_unknown_reported(code: str, unknown: str) -> None:
    parsed = {s.symbol: s.meaning for s in parse_symbols(code)}
    assert parsed[unknown] == "unknown symbol"


def test_symbol_is_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        parse_symbols("A")[0].symbol = "R"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("code", "title", "expected"),
    [
        ("***AZ", None, True),
        ("RZ", None, True),
        ("***AZ", True, True),
        ("CZ", None, False),
        ("*UX", False, False),
        ("Z", True, True),       # symbols silent: the title decides
        ("", None, None),
        ("***AZ", False, None),  # conflict: one was misread
        ("CZ", True, None),
    ],
)
def test_is_permanent(code: str, title: bool | None, expected: bool | None) -> None:
    assert is_permanent(code, title) is expected


# ---------------------------------------------------------------------------
# Dates
# ---------------------------------------------------------------------------


def test_parse_birth_date() -> None:
    assert parse_birth_date("01-01-1968") == date(1968, 1, 1)
    assert parse_birth_date(" 29-02-2000 ") == date(2000, 2, 29)
    assert parse_birth_date("01.01.1968") == date(1968, 1, 1)
    assert parse_birth_date("29-02-2001") is None
    assert parse_birth_date("01-01-68") is None
    assert parse_birth_date("") is None


def test_parse_issue_date() -> None:
    assert parse_issue_date("15-09-03") == date(2003, 9, 15)
    assert parse_issue_date("15-09-18") == date(2018, 9, 15)
    assert parse_issue_date("15-09-2018") == date(2018, 9, 15)
    assert parse_issue_date("32-01-10") is None
    assert parse_issue_date("15/09") is None


def test_parse_first_issued_pivot() -> None:
    assert parse_first_issued("(01-79)") == (1979, 1)
    assert parse_first_issued("01-99") == (1999, 1)
    assert parse_first_issued("(07-05)") == (2005, 7)
    assert parse_first_issued("(13-05)") is None
    assert parse_first_issued("(1-2005)") is None
    # Context overrides the default pivot.
    assert parse_first_issued("(06-30)", issued=date(2018, 1, 1)) == (1930, 6)
    assert parse_first_issued("(06-60)", birth=date(2055, 1, 1)) == (2060, 6)
    # Not after the issue month, not before the birth month.
    assert parse_first_issued("(09-18)", issued=date(2018, 9, 15), birth=date(1920, 1, 1)) == (2018, 9)
    assert parse_first_issued("(10-18)", issued=date(2018, 9, 15), birth=date(1910, 1, 1)) == (1918, 10)
    # Nothing fits: default pivot, inconsistency left for date_sanity.
    assert parse_first_issued("(01-99)", issued=date(2003, 1, 1), birth=date(2002, 1, 1)) == (1999, 1)


def test_age_at() -> None:
    assert age_at(date(1968, 1, 1), date(2003, 9, 15)) == 35
    assert age_at(date(2000, 9, 15), date(2018, 9, 15)) == 18
    assert age_at(date(2000, 9, 16), date(2018, 9, 15)) == 17
    assert age_at(date(2000, 2, 29), date(2001, 2, 28)) == 0
    assert age_at(date(2000, 2, 29), date(2001, 3, 1)) == 1
    assert age_at(None, date(2000, 1, 1)) is None
    assert age_at(date(2000, 1, 2), date(2000, 1, 1)) is None


def _codes(warnings: list[CheckWarning]) -> list[str]:
    return [w.code for w in warnings]


@pytest.mark.parametrize("name", sorted(TRUTH))
def test_specimens_are_consistent(name: str) -> None:
    data = TRUTH[name]["data"]
    assert date_sanity(data["birthDate"], data["firstIssuedDate"], data["issuedDate"], TODAY) == []
    birth = parse_birth_date(data["birthDate"])
    issued = parse_issue_date(data["issuedDate"])
    assert symbols_age_consistent(data["issuedCode"], birth, issued) is None
    assert is_permanent(data["issuedCode"], None) is True


def test_date_sanity_parsed_inputs() -> None:
    assert date_sanity(date(1968, 1, 1), (1979, 1), date(2003, 9, 15), TODAY) == []
    assert date_sanity(None, None, None, TODAY) == []
    assert date_sanity("", "", "", TODAY) == []


def test_date_sanity_order_problems() -> None:
    assert _codes(date_sanity(date(1980, 5, 1), (1979, 1), None, TODAY)) == ["birthAfterFirstRegistration"]
    assert _codes(date_sanity(None, (2010, 1), date(2003, 9, 15), TODAY)) == ["firstRegistrationAfterIssue"]
    assert _codes(date_sanity(date(2004, 1, 1), None, date(2003, 9, 15), TODAY)) == ["birthAfterIssue"]
    # Same month is fine: registration can happen in the month of birth.
    assert date_sanity(date(1979, 1, 20), (1979, 1), None, TODAY) == []


def test_date_sanity_future_and_invalid() -> None:
    codes = _codes(date_sanity("01-01-2030", None, "15-09-29", TODAY))
    assert codes.count("dateInFuture") == 2
    assert _codes(date_sanity(None, (2027, 1), None, TODAY)) == ["dateInFuture"]
    assert _codes(date_sanity("31-02-1968", "(13-79)", "1S-09-03", TODAY)) == ["invalidDate"] * 3


def test_date_sanity_other_codes() -> None:
    assert "implausibleAge" in _codes(date_sanity(date(1868, 1, 1), None, None, TODAY))
    assert _codes(date_sanity(None, None, date(2001, 1, 1), TODAY)) == ["issueBeforeSmartCards"]


def test_warning_type() -> None:
    assert Warning is CheckWarning
    w = Warning("dateInFuture", "x")
    assert w == CheckWarning("dateInFuture", "x")
    with pytest.raises(dataclasses.FrozenInstanceError):
        w.code = "y"  # type: ignore[misc]
    for w in date_sanity("01-01-2030", None, None, TODAY):
        assert isinstance(w, CheckWarning) and w.message


@pytest.mark.parametrize(
    ("code", "birth", "issued", "mismatch"),
    [
        ("***AZ", date(1968, 1, 1), date(2003, 9, 15), False),
        ("***AZ", date(1990, 1, 1), date(2007, 12, 31), True),   # 17 at issue
        ("*AZ", date(1990, 1, 1), date(2007, 12, 31), False),    # 17: one star
        ("*AZ", date(1990, 1, 1), date(2000, 12, 31), True),     # 10 with one star
        ("*AZ", date(1990, 1, 1), date(2008, 1, 1), True),       # 18 with one star
        ("AZ", date(2010, 1, 1), date(2015, 1, 1), False),       # under 11, no stars
        ("AO", date(1960, 1, 1), date(2015, 1, 1), False),       # adult, not eligible
        ("***AZ", None, date(2015, 1, 1), False),                # undecidable
        ("**AZ", date(2010, 1, 1), date(2015, 1, 1), False),     # unreadable stars
    ],
)
def test_symbols_age_consistent(code: str, birth: date | None, issued: date, mismatch: bool) -> None:
    w = symbols_age_consistent(code, birth, issued)
    if mismatch:
        assert w is not None and w.code == "symbolsAgeMismatch"
    else:
        assert w is None


def test_card_version_from_issue_date() -> None:
    assert card_version_from_issue_date(date(2003, 9, 15)) == "2003"
    assert card_version_from_issue_date(date(2018, 11, 25)) == "2003"
    assert card_version_from_issue_date(date(2018, 11, 26)) == "2018"
    assert card_version_from_issue_date(date(2003, 6, 22)) is None
    assert card_version_from_issue_date(None) is None
