"""Chinese name and code line decided together."""

from __future__ import annotations

from hkid_ocr.names import decide_name
from hkid_ocr.telecode import code_for
from hkid_ocr.types import LineReading


def _line(key, text, probs=None, alts=None):
    probs = probs or tuple(0.99 for _ in text)
    alts = alts or tuple(((c, p),) for c, p in zip(text, probs))
    return LineReading(key, text, tuple(probs), tuple(i / max(1, len(text)) for i in range(len(text))), tuple(alts))


def test_agreeing_lines_pass_through():
    d = decide_name(_line("nameCn", "陳大文"), _line("nameCode", "7115 1129 2429"))
    assert (d.name_cn, d.name_code, d.consistent, d.recovered) == ("陳大文", "7115 1129 2429", True, ())


def test_misread_character_corrected_by_code():
    # 中 (0022) read where the card prints 申 (3947): the clear code line decides.
    cn = _line("nameCn", "中智能", (0.7, 0.99, 0.99), ((("中", 0.7), ("申", 0.25)), (("智", 0.99),), (("能", 0.99),)))
    d = decide_name(cn, _line("nameCode", "3947 2535 5174"))
    assert d.name_cn == "申智能" and d.consistent


def test_character_missing_from_dictionary_recovered_from_code():
    # The reader has no such character and proposes a look-alike with confidence;
    # the code line spells the real one.
    rare = "堃"
    code = code_for(rare)
    assert code is not None
    cn = _line("nameCn", "李坤", (0.99, 0.9), ((("李", 0.99),), (("坤", 0.9), ("昆", 0.05))))
    d = decide_name(cn, _line("nameCode", f"2621 {code}"))
    assert d.name_cn == "李" + rare and d.recovered == (1,) and d.consistent


def test_misread_digit_corrected_by_clear_character():
    # 陳 is 7115; the last digit read as 6 with a close second 5.
    digits = "7116"
    alts = tuple(((c, 0.99),) for c in digits[:3]) + ((("6", 0.55), ("5", 0.44)),)
    d = decide_name(_line("nameCn", "陳"), _line("nameCode", digits, (0.99, 0.99, 0.99, 0.55), alts))
    assert d.name_cn == "陳" and d.name_code == "7115"


def test_lost_character_spelled_from_code():
    d = decide_name(_line("nameCn", "申智"), _line("nameCode", "3947 2535 5174"))
    assert d.name_cn == "申智能" and d.recovered == (2,) and d.consistent


def test_irreconcilable_lines_reported_not_hidden():
    d = decide_name(_line("nameCn", "李智"), _line("nameCode", "3947"))
    assert d.consistent is False
    assert d.name_cn == "李智" and d.name_code == "3947"


def test_no_chinese_name():
    d = decide_name(None, None)
    assert (d.name_cn, d.name_code, d.consistent) == ("", "", None)


def test_simplified_reading_becomes_the_traditional_form_the_reader_also_saw():
    # 黄 (simplified) and 黃 (traditional) share 7806; the reader gave 黃 real weight.
    alts = ((("黄", 0.74), ("黃", 0.26)), (("麗", 0.99),), (("思", 0.99),))
    d = decide_name(_line("nameCn", "黄麗思", (0.74, 0.99, 0.99), alts), _line("nameCode", "7806 7787 1835"))
    assert d.name_cn == "黃麗思" and d.consistent
    # the same when a character was lost and the name is spelled from the codes
    d = decide_name(_line("nameCn", "黄麗", (0.74, 0.99), alts[:2]), _line("nameCode", "7806 7787 1835"))
    assert d.name_cn.startswith("黃")


def test_traditional_variant_pairs_keep_what_was_read():
    # 恒 and 恆 share 1854 and both are used in Hong Kong names; only 恆 is in the
    # Taiwan table. A clear 恒 stays 恒.
    alts = ((("盧", 0.99),), (("恒", 0.999), ("恆", 0.0007)), (("濤", 0.99),))
    d = decide_name(_line("nameCn", "盧恒濤", (0.99, 0.999, 0.99), alts), _line("nameCode", "4151 1854 3447"))
    assert d.name_cn == "盧恒濤" and d.consistent


def test_simplified_form_outside_big5_gives_way_when_the_traditional_was_seen():
    # 强 (not Big5) read at 0.995, 強 (Big5, same code 1730) barely seen: cards print 強.
    alts = ((("雷", 0.99),), (("培", 0.99),), (("强", 0.995), ("強", 0.0048)))
    d = decide_name(_line("nameCn", "雷培强", (0.99, 0.99, 0.995), alts), _line("nameCode", "7191 1014 1730"))
    assert d.name_cn == "雷培強"
    # 陈 is outside Big5 and HKSCS: 陳 even when the reader never proposed it
    d = decide_name(_line("nameCn", "陈"), _line("nameCode", "7115"))
    assert d.name_cn == "陳"
    # 黄 is in HKSCS but not Big5: 黃, the code's character, even when never proposed
    d = decide_name(_line("nameCn", "黄漢柏"), _line("nameCode", "7806 3352 2672"))
    assert d.name_cn == "黃漢柏" and d.consistent
