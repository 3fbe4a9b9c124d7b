"""Field parsers: printed forms, and never inventing characters."""

from __future__ import annotations

import pytest

from hkid_ocr.parse import (
    case_name_en,
    decode_symbols,
    parse_first_issued,
    parse_id_number,
    parse_issue_date,
    parse_name_cn,
    parse_name_code,
    parse_name_en,
    split_birth_sex,
)


@pytest.mark.parametrize(
    "raw,out",
    [("C668668(E)", "C668668(E)"), ("C 668668 (E)", "C668668(E)"), ("AB123456(9)", "AB123456(9)"),
     ("C668668E", "C668668(E)"), ("C66866(E)", "C66866(E)")],
)
def test_id_number(raw, out):
    assert parse_id_number(raw) == out


@pytest.mark.parametrize(
    "raw,out",
    [("01-01-1968 女F", ("01-01-1968", "女F")), ("01-01-1988女F", ("01-01-1988", "女F")),
     ("12-03-1975 男 M", ("12-03-1975", "男M")), ("12-03-1975 M", ("12-03-1975", "男M")),
     ("12031975", ("12-03-1975", "")), ("", ("", ""))],
)
def test_birth_and_sex(raw, out):
    assert split_birth_sex(raw) == out


def test_code_line_groups():
    assert parse_name_code("262125355174") == "2621 2535 5174"
    assert parse_name_code("2621  2535 5174") == "2621 2535 5174"
    # a lost digit: groups kept as read, not shifted
    assert parse_name_code("2621 253 5174") == "2621 253 5174"
    assert parse_name_code("") == ""


def test_dates():
    assert parse_first_issued("(01-79)") == "(01-79)"
    assert parse_first_issued("01-79") == "(01-79)"
    assert parse_first_issued("(1-79)") == ""
    assert parse_issue_date("15-09-03") == "15-09-03"
    assert parse_issue_date("150903") == "15-09-03"
    assert parse_issue_date("15-09-0") == ""


def test_names():
    assert parse_name_cn("李 智 能") == "李智能"
    assert parse_name_cn("李智能A1") == "李智能"
    assert parse_name_en(" LEE,Chi  Nan ") == "LEE, Chi Nan"
    assert case_name_en([(c, {}) for c in "LEE, ChI Nan"]) == "LEE, ChI Nan"  # no evidence: kept
    assert case_name_en([(c, {"l": 0.1} if c == "L" else {}) for c in "LEE, CHAN TaL"]) == "LEE, CHAN Tal"


@pytest.mark.parametrize(
    "chars,out",
    [
        ([("*", 0), ("*", 1), ("*", 2), ("A", 3), ("Z", 4)], "***AZ"),
        ([("*", 0), ("A", 1), ("Z", 2)], "*AZ"),
        ([("A", 0), ("Z", 1)], "AZ"),
        ([("*", 0), ("C", 3), ("Z", 4), ("L", 5), ("1", 6)], "***CZL1"),
        ([("*", 0), ("*", 1), ("R", 3), ("O", 4), ("N", 5)], "***RON"),
        ([("X", 0), ("Q", 1)], None),
        # A count after L, H, K, S, P or V is a digit: a blurred 1 read as I is one.
        ([("*", 0), ("A", 3), ("Z", 4), ("L", 5), ("I", 6)], "***AZL1"),
        ([("A", 0), ("O", 1), ("H", 2), ("Z", 3), ("N", 4)], "AOH2N"),
        # not after other letters: N, then the lost-card count
        ([("A", 0), ("Z", 1), ("N", 2), ("L", 3), ("2", 4)], "AZNL2"),
    ],
)
def test_symbols_on_the_grid(chars, out):
    assert decode_symbols([(c, cell, {}) for c, cell in chars]) == out


def test_a_symbols_count_comes_from_the_readers_digit_alternatives():
    chars = [("A", 0, {}), ("Z", 1, {}), ("L", 2, {}), ("T", 3, {"T": 0.6, "7": 0.1, "1": 0.3})]
    assert decode_symbols(chars) == "AZL1"


def _alts(text: str, fixes: dict[int, dict[str, float]] | None = None) -> list[dict[str, float]]:
    out = [{c: 0.95} for c in text]
    for i, a in (fixes or {}).items():
        out[i] = a
    return out


def test_best_valid_repairs_impossible_fields_from_second_choices():
    from hkid_ocr.parse import FIELD_PATTERNS, best_valid

    # "O" where a digit must be: the second choice "0" makes a valid number
    fixed = best_valid(_alts("A1234O6(3)", {5: {"O": 0.7, "0": 0.3}}), FIELD_PATTERNS["idNumber"])
    assert fixed is not None and fixed[0] == "A123406(3)" and fixed[1] < 0.5
    # a month of 13 is impossible; 18 is the second choice for the month's last digit
    alts = _alts("01-13-1990", {4: {"3": 0.6, "8": 0.1, "2": 0.3}})
    assert best_valid(alts, FIELD_PATTERNS["birthDate"], parse_birth_date_text)[0] == "01-12-1990"
    # nothing valid among the alternatives: None, the caller keeps what was read
    assert best_valid(_alts("XX"), FIELD_PATTERNS["issuedDate"]) is None


def parse_birth_date_text(s: str) -> str:
    from hkid_ocr.parse import parse_birth_date

    return parse_birth_date(s)
