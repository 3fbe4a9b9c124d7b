"""Tests for the Chinese commercial code table (hkid_ocr.telecode) and its builder.

All offline: they use the table shipped in the package; the one test that
compares with the Debian Unihan file skips when that file is absent.
"""

from __future__ import annotations

import bz2
import importlib.util
import sys
from importlib import resources
from pathlib import Path
from types import ModuleType

import pytest

from hkid_ocr.telecode import chars_for, code_for, codes_for, decode_code_line, encode_name

REPO = Path(__file__).resolve().parent.parent
UNIHAN = Path("/usr/share/unicode/Unihan_OtherMappings.txt.bz2")

# Verified against real cards / the project reference.
VERIFIED = {
    "陳": "7115", "大": "1129", "文": "2429", "李": "2621", "申": "3947",
    "樂": "2867", "永": "3057", "晴": "2532", "余": "0151", "林": "2651",
}


def _load_builder() -> ModuleType:
    """scripts/ is not a package; import the builder from its path."""
    spec = importlib.util.spec_from_file_location("build_telecode", REPO / "scripts" / "build_telecode.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # dataclasses look the module up in sys.modules while the class is created.
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(("char", "code"), sorted(VERIFIED.items()))
def test_verified_codes(char: str, code: str) -> None:
    assert code_for(char) == code
    assert char in chars_for(code)


def test_leading_zero_kept() -> None:
    # 余 is 0151: codes are strings, never ints.
    assert code_for("余") == "0151"
    assert chars_for("0151")[0] == "余"


def test_similar_characters_differ() -> None:
    # The code line's job: tell apart characters a recogniser confuses.
    assert code_for("中") == "0022"
    assert code_for("申") == "3947"


def test_simplified_variant_via_data() -> None:
    # 陈 has only a Mainland code; it shares 7115 with 陳, which comes first.
    assert code_for("陈") == "7115"
    assert chars_for("7115") == ("陳", "陈")
    assert chars_for("2867")[0] == "樂"


def test_character_with_two_codes() -> None:
    assert codes_for("塵") == ("1057", "7775")
    assert code_for("塵") == "1057"
    assert "塵" in chars_for("7775")


def test_compatibility_ideograph_normalised() -> None:
    # U+F900 is canonically equivalent to 豈 (U+8C48).
    assert code_for("\uf900") == code_for("豈") is not None


@pytest.mark.parametrize("bad", ["", "AB", "x", "李智", " "])
def test_code_for_rejects_non_characters(bad: str) -> None:
    assert code_for(bad) is None
    assert codes_for(bad) == ()


@pytest.mark.parametrize("bad", ["", "123", "12345", "abcd", "9999"])
def test_chars_for_unknown(bad: str) -> None:
    assert chars_for(bad) == ()


def test_chars_for_strips_spaces() -> None:
    assert chars_for(" 2621 ") == ("李",)


def test_encode_name_specimens() -> None:
    assert encode_name("李智能") == "2621 2535 5174"
    assert encode_name("申智能") == "3947 2535 5174"
    assert encode_name("陳大文") == "7115 1129 2429"


def test_encode_name_edge_cases() -> None:
    assert encode_name("") == ""
    assert encode_name("李 智能") == "2621 2535 5174"
    assert encode_name("李A") is None


def test_decode_code_line() -> None:
    assert decode_code_line("2621 2535 5174") == [("李",), ("智",), ("能",)]
    # Spaces lost by OCR: runs of 4k digits are split.
    assert decode_code_line("262125355174") == [("李",), ("智",), ("能",)]
    # Unalignable run stays as one empty group; stray text only separates.
    assert decode_code_line("3947 253 5174.") == [("申",), (), ("能",)]
    assert decode_code_line("") == []


def test_round_trip_on_table() -> None:
    # Every Taiwan-sourced character must decode back from its own code.
    text = resources.files("hkid_ocr").joinpath("data/telecode.tsv").read_text(encoding="utf-8")
    lines = text.splitlines()
    assert lines[0].startswith("#") and "Unicode" in lines[0]
    rows = [line.split("\t") for line in lines[1:]]
    assert all(len(r) == 3 and len(r[1]) == 4 and r[1].isdigit() and r[2] in "TM" for r in rows)
    taiwan = {r[0] for r in rows if r[2] == "T"}
    mainland = {r[0] for r in rows if r[2] == "M"}
    assert len(taiwan) == 9024
    assert not taiwan & mainland  # Mainland only fills gaps
    for char, code, _ in rows:
        assert code in codes_for(char)
        assert char in chars_for(code)
    # Sorted by code point.
    chars = [r[0] for r in rows]
    assert chars == sorted(chars)


def test_table_is_small() -> None:
    size = len(resources.files("hkid_ocr").joinpath("data/telecode.tsv").read_bytes())
    assert 80_000 < size < 250_000


def test_builder_on_synthetic_file(tmp_path: Path) -> None:
    builder = _load_builder()
    src = tmp_path / "Unihan_OtherMappings.txt.bz2"
    src.write_bytes(bz2.compress("\n".join([
        "# Unihan_OtherMappings.txt",
        "# Unicode version: 99.0.0",
        "U+9673\tkMainlandTelegraph\t7116",   # Taiwan must win over this
        "U+9673\tkTaiwanTelegraph\t7115",
        "U+9648\tkMainlandTelegraph\t7115",   # only Mainland: kept as M
        "U+5875\tkTaiwanTelegraph\t1057 7775",
        "U+4E00\tkBigFive\tA440",             # other fields ignored
        "",
    ]).encode("utf-8")))
    out = tmp_path / "telecode.tsv"
    assert builder.main([str(src), "-o", str(out)]) == 0
    lines = out.read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("# ") and "99.0.0" in lines[0] and "Unihan_OtherMappings.txt" in lines[0]
    assert lines[1:] == ["塵\t1057\tT", "塵\t7775\tT", "陈\t7115\tM", "陳\t7115\tT"]


def test_builder_missing_source(tmp_path: Path) -> None:
    builder = _load_builder()
    assert builder.main([str(tmp_path / "nope.bz2"), "-o", str(tmp_path / "out.tsv")]) == 1


@pytest.mark.skipif(not UNIHAN.exists(), reason="Debian unicode-data not installed")
def test_shipped_table_matches_unihan(tmp_path: Path) -> None:
    builder = _load_builder()
    out = tmp_path / "telecode.tsv"
    assert builder.main([str(UNIHAN), "-o", str(out)]) == 0
    shipped = resources.files("hkid_ocr").joinpath("data/telecode.tsv").read_bytes()
    assert out.read_bytes() == shipped
