"""The ONNX line recogniser: dictionary from metadata, constrained CTC decoding."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import specimen

from hkid_ocr.recognize import REC_HEIGHT, TextRecognizer, _LineQueue, starts_in_ink
from hkid_ocr.rectify import card_homography, warp_region


def _crop(name: str, box_frac, h=300, w=476):
    img = specimen(name)
    H = card_homography(np.array([[0, 0], [w, 0], [w, h], [0, h]], float), (w, h))
    x0, y0, x1, y1 = box_frac
    return warp_region(img, H, (x0 * w, y0 * h, x1 * w, y1 * h), REC_HEIGHT, 1280)


def test_dictionary_comes_from_model_metadata(recognizer):
    rec = recognizer._recognizer
    assert rec.charset[0] == "" and rec.charset[-1] == " "
    assert len(rec.charset) == 18710
    assert all(rec.has_char(c) for c in "陳李張黃申智能女男0123456789ABC")


def test_reads_card_number_with_positions(recognizer):
    crop = _crop("specimen_2003.jpg", (0.64, 0.845, 0.95, 0.93))
    (r,) = recognizer._recognizer.read([crop], ["idNumber"])
    assert r.text == "C668668(E)"
    assert len(r.char_probs) == len(r.char_pos) == len(r.alternatives) == 10
    assert all(0 < p <= 1 for p in r.char_probs)
    assert list(r.char_pos) == sorted(r.char_pos)  # left to right


def test_alphabet_constraint_changes_the_reading(recognizer):
    crop = _crop("specimen_2003.jpg", (0.64, 0.845, 0.95, 0.93))
    # Digits only: the letters and brackets cannot be emitted.
    only_digits = TextRecognizer(recognizer._recognizer._model, {"d": "0123456789"})
    (r,) = only_digits.read([crop], ["d"])
    assert r.text and set(r.text) <= set("0123456789")


def test_constrained_decoding_ignores_classes_outside_the_alphabet(recognizer):
    # Synthetic class scores: "1" (a letter the runner-up), then "2".
    digits = TextRecognizer(recognizer._recognizer._model, {"d": "0123456789"})
    table = digits._classes
    one, two, a = table.index["1"], table.index["2"], table.index["A"]

    def frame(scores):
        f = np.full(len(table.charset), 1e-6, np.float32)
        for c, v in scores.items():
            f[c] = v
        return f

    p = np.stack([frame({0: 0.9}), frame({one: 0.7, a: 0.2, 0: 0.05}), frame({0: 0.9}), frame({two: 0.8, 0: 0.1})])
    r = digits._decode("d", p, 0.1, table)
    assert r.text == "12" and r.char_probs == pytest.approx((0.7, 0.8))
    assert all(ch in "0123456789" for alts in r.alternatives for ch, _ in alts)  # never the "A"
    # A frame a letter wins: among the digits the blank wins it, so it adds nothing
    # (and every other frame reads as before).
    assert digits._decode("d", np.vstack([p, frame({a: 0.6, 0: 0.3})]), 0.1, table) == r


def test_batch_of_mixed_widths_matches_single_runs(recognizer):
    a = _crop("specimen_2018.jpg", (0.39, 0.85, 0.62, 0.95))  # issue date, narrow
    b = _crop("specimen_2018.jpg", (0.04, 0.255, 0.36, 0.33))  # English name, wide
    rec = recognizer._recognizer
    batch = rec.read([a, b], ["issuedDate", "nameEn"])
    single = rec.read([a], ["issuedDate"]) + rec.read([b], ["nameEn"])
    assert [x.text for x in batch] == [x.text for x in single] == ["15-09-18", "SAN, Chi Nan"]
    # Not just the text: a reading depends on its own crop only, never on its company.
    assert [x.char_probs for x in batch] == [x.char_probs for x in single]


def test_lines_are_taken_longest_first_and_a_line_put_back_goes_first():
    jobs = [(i, i % 2 == 0) for i in range(5)]
    queue = _LineQueue([160, 300, 96.0, 310, 140], jobs)
    assert queue.take() == (3, False) and queue.take() == (1, False)
    queue.put_back((0, False))  # a draft that did not stand, to be read again at once
    assert [queue.take() for _ in range(4)] == [(0, False), (0, True), (4, True), (2, True)]
    assert queue.take() is None


def test_lanes_read_exactly_what_one_lane_reads(recognizer):
    crops = [
        _crop("specimen_2003.jpg", (0.64, 0.845, 0.95, 0.93)),
        _crop("specimen_2018.jpg", (0.39, 0.85, 0.62, 0.95)),
        _crop("specimen_2018.jpg", (0.04, 0.255, 0.36, 0.33)),
        _crop("specimen_2018.jpg", (0.38, 0.85, 0.62, 0.95)),  # near the width of the second
    ]
    keys = ["idNumber", "issuedDate", "nameEn", "issuedDate"]
    model = recognizer._recognizer._model
    one = TextRecognizer(model, {}, lanes=1).read(crops, keys)
    three = TextRecognizer(model, {}, lanes=3).read(crops, keys)
    assert [r.text for r in one] == [r.text for r in three]
    assert [r.text for r in one][:3] == ["C668668(E)", "15-09-18", "SAN, Chi Nan"]
    assert [r.char_probs for r in one] == [r.char_probs for r in three]


def test_precise_reads_use_the_precise_model(recognizer):
    rec = recognizer._recognizer
    if not rec.has_precise:
        pytest.skip("the int8 recogniser is not built: one model reads everything")
    crop = _crop("specimen_2003.jpg", (0.64, 0.845, 0.95, 0.93))
    fp32 = rec._precise
    alone = TextRecognizer(fp32, {}).read([crop], ["idNumber"])[0]
    both = TextRecognizer(rec._model, {}, precise=fp32)
    precise = both.read([crop], ["idNumber"], precise=True)[0]
    fast = both.read([crop], ["idNumber"])[0]
    assert alone.text == precise.text == fast.text == "C668668(E)"
    assert precise.char_probs == alone.char_probs
    assert fast.char_probs != alone.char_probs  # really the other (int8) model
    # Several precise lines (read one after another): each as it reads alone, in order.
    other = _crop("specimen_2018.jpg", (0.04, 0.255, 0.36, 0.33))
    pair = both.read([other, crop], ["nameEn", "idNumber"], precise=True)
    assert [r.key for r in pair] == ["nameEn", "idNumber"]
    assert pair[1].char_probs == alone.char_probs
    assert pair[0] == TextRecognizer(fp32, {}).read([other], ["nameEn"])[0]


def test_precise_model_must_share_the_dictionary(recognizer):
    from hkid_ocr.errors import ModelError
    from hkid_ocr.models import resolve_models
    from hkid_ocr.runtime import OnnxModel

    det = OnnxModel(resolve_models().det, 1)  # a model without the recogniser's dictionary
    with pytest.raises(ModelError, match="different dictionaries"):
        TextRecognizer(recognizer._recognizer._model, {}, precise=det)


def _narrowed(model, alphabet: str):
    from pathlib import Path

    from hkid_ocr.models import resolve_models
    from hkid_ocr.runtime import OnnxModel, narrow_recognizer

    # The model file the session was loaded from (OnnxModel keeps only its name).

    files = resolve_models()
    path = next(p for p in (files.rec_int8, files.rec) if p is not None and p.name == model.name)
    return OnnxModel(Path(path.name + ".narrow"), 1, source=narrow_recognizer(path, alphabet))


def test_narrow_model_reads_the_same_text(recognizer):
    rec = recognizer._recognizer
    model = rec._model
    keys = ["idNumber", "issuedDate", "nameEn"]
    alphabets = {"idNumber": "0123456789()ABCDEFGHIJKLMNOPQRSTUVWXYZ", "issuedDate": "0123456789-",
                 "nameEn": "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz,-.' ", "nameCn": "陳大文李"}
    narrow = _narrowed(model, "".join(v for k, v in alphabets.items() if k != "nameCn"))
    crops = [
        _crop("specimen_2003.jpg", (0.64, 0.845, 0.95, 0.93)),
        _crop("specimen_2018.jpg", (0.39, 0.85, 0.62, 0.95)),
        _crop("specimen_2018.jpg", (0.04, 0.255, 0.36, 0.33)),
    ]
    full = TextRecognizer(model, alphabets).read(crops, keys)
    both = TextRecognizer(model, alphabets, narrow=narrow)
    assert both._narrow_keys == {"idNumber", "issuedDate", "nameEn"}  # not the Chinese name
    fast = both.read(crops, keys)
    assert [r.text for r in fast] == [r.text for r in full] == ["C668668(E)", "15-09-18", "SAN, Chi Nan"]
    # The same class scores, normalised over fewer classes: never less probable, and
    # the same characters in the same places.
    for a, b in zip(full, fast):
        assert a.char_pos == b.char_pos
        assert all(pb >= pa - 1e-6 for pa, pb in zip(a.char_probs, b.char_probs))
    assert any(b.char_probs != a.char_probs for a, b in zip(full, fast))  # really the narrow model


def test_precise_rereads_of_narrow_lines_use_the_narrowed_precise_copy(recognizer):
    from hkid_ocr.errors import ModelError

    rec = recognizer._recognizer
    if not rec.has_precise:
        pytest.skip("no int8 recogniser: nothing is read again precisely")
    alphabets = {"idNumber": "0123456789()ABCDEFGHIJKLMNOPQRSTUVWXYZ",
                 "nameEn": "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz,-.' ",
                 "nameCn": "陳大文李申智能"}
    latin = alphabets["idNumber"] + alphabets["nameEn"]
    narrow, precise_narrow = _narrowed(rec._model, latin), _narrowed(rec._precise, latin)
    keys = ["idNumber", "nameEn", "nameCn"]
    crops = [
        _crop("specimen_2003.jpg", (0.64, 0.845, 0.95, 0.93)),
        _crop("specimen_2018.jpg", (0.04, 0.255, 0.36, 0.33)),
        _crop("specimen_2018.jpg", (0.04, 0.16, 0.30, 0.25)),
    ]
    plain = TextRecognizer(rec._model, alphabets, precise=rec._precise, narrow=narrow)
    both = TextRecognizer(rec._model, alphabets, precise=rec._precise, narrow=narrow, precise_narrow=precise_narrow)
    full, fast = plain.read(crops, keys, precise=True), both.read(crops, keys, precise=True)
    assert [r.text for r in fast] == [r.text for r in full] == ["C668668(E)", "SAN, Chi Nan", "申智能"]
    # The Latin lines by the narrowed copy (the same characters, never less probable);
    # the Chinese name by the whole precise model, exactly as before.
    for a, b in zip(full[:2], fast[:2]):
        assert a.char_pos == b.char_pos and a.char_probs != b.char_probs
        assert all(pb >= pa - 1e-6 for pa, pb in zip(a.char_probs, b.char_probs))
    assert fast[2].char_probs == full[2].char_probs
    # Its classes must be the narrowed main model's.
    with pytest.raises(ModelError, match="keep different classes"):
        TextRecognizer(rec._model, alphabets, precise=rec._precise, narrow=narrow,
                       precise_narrow=_narrowed(rec._precise, "0123456789"))


def test_narrow_model_scores_only_its_classes(recognizer):
    model = recognizer._recognizer._model
    narrow = _narrowed(model, "0123456789-")
    assert narrow.metadata["character"].split("\n") == list("-0123456789")  # dictionary order
    crop = _crop("specimen_2018.jpg", (0.39, 0.85, 0.62, 0.95))
    x, _ = TextRecognizer.preprocess([crop])
    p_full, p_narrow = model.run(x)[0], narrow.run(x)[0]
    assert p_narrow.shape == (p_full.shape[0], 13)  # blank, 11 characters, space
    rec = TextRecognizer(model)
    cols = [0] + [rec._index[c] for c in "-0123456789"] + [len(rec.charset) - 1]
    kept = p_full[:, cols]
    np.testing.assert_allclose(p_narrow, kept / kept.sum(axis=1, keepdims=True), rtol=1e-4, atol=1e-6)


def test_narrow_model_must_come_from_the_same_dictionary(recognizer):
    from hkid_ocr.errors import ModelError
    from hkid_ocr.models import resolve_models
    from hkid_ocr.runtime import narrow_recognizer

    digits = _narrowed(recognizer._recognizer._model, "0123456789")
    with pytest.raises(ModelError, match="not a narrowed copy"):
        TextRecognizer(digits, {}, narrow=_narrowed(recognizer._recognizer._model, "ABC"))
    det = resolve_models().det
    with pytest.raises(ModelError, match="no 'character' metadata"):
        narrow_recognizer(det, "0123456789")  # the detector has no dictionary
    with pytest.raises(ModelError, match="cannot narrow"):
        narrow_recognizer(det, "0123456789", "0\n1")  # nor a class layer


def test_a_crop_cut_through_its_first_letter_starts_in_ink():
    # The 2018 specimen's English name, "SAN, Chi Nan": its box with air before the S,
    # then cut through the S.
    whole = _crop("specimen_2018.jpg", (0.04, 0.255, 0.36, 0.33))
    cut = _crop("specimen_2018.jpg", (0.055, 0.255, 0.36, 0.33))
    assert not starts_in_ink(whole)
    assert starts_in_ink(cut)
    # Too faint to tell ink from background: never called cut.
    faint = (cut.astype(np.float32) * 0.08 + 200).astype(np.uint8)
    assert not starts_in_ink(faint)
    assert not starts_in_ink(np.full((REC_HEIGHT, 200, 3), 128, np.uint8))



def _draft_model(alphabet: str):
    """The draft recogniser narrowed to ``alphabet`` (skips when it was not fetched)."""
    from pathlib import Path

    from hkid_ocr.models import resolve_models
    from hkid_ocr.runtime import OnnxModel, narrow_recognizer

    files = resolve_models()
    if files.rec_draft is None or files.rec_draft_dict is None:
        pytest.skip("the draft recogniser has not been fetched")
    character = files.rec_draft_dict.read_text(encoding="utf-8").removesuffix("\n")
    return OnnxModel(Path("draft.narrow"), 1, source=narrow_recognizer(files.rec_draft, alphabet, character))


_DRAFT_ALPHABETS = {"idNumber": "0123456789()ABCDEFGHIJKLMNOPQRSTUVWXYZ", "issuedDate": "0123456789-",
                    "nameEn": "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz,-.' "}


def _draft_lines():
    crops = [
        _crop("specimen_2003.jpg", (0.64, 0.845, 0.95, 0.93)),
        _crop("specimen_2018.jpg", (0.39, 0.85, 0.62, 0.95)),
        _crop("specimen_2018.jpg", (0.04, 0.255, 0.36, 0.33)),
    ]
    return crops, ["idNumber", "issuedDate", "nameEn"]


def test_draft_readings_that_stand_are_kept_and_the_others_read_again(recognizer):
    model = recognizer._recognizer._model
    draft = _draft_model("0123456789()ABCDEFGHIJKLMNOPQRSTUVWXYZ-")
    crops, keys = _draft_lines()
    main = TextRecognizer(model, _DRAFT_ALPHABETS, lanes=2).read(crops, keys)
    alone = TextRecognizer(draft, _DRAFT_ALPHABETS).read(crops[:2], keys[:2])
    judged: list[str] = []

    def stands(r):
        judged.append(r.key)
        return r.key == "idNumber"  # the card number's draft stands, the date's does not

    both = TextRecognizer(model, _DRAFT_ALPHABETS, lanes=2, draft=draft,
                          draft_ok={"idNumber": stands, "issuedDate": stands})
    assert both.drafted == {"idNumber", "issuedDate"}
    got = both.read(crops, keys)
    assert sorted(judged) == ["idNumber", "issuedDate"]  # only drafted lines are judged
    assert [r.text for r in got] == ["C668668(E)", "15-09-18", "SAN, Chi Nan"]
    assert got[0] == alone[0] and got[0].char_probs != main[0].char_probs  # the draft model's reading
    assert got[1] == main[1] and got[2] == main[2]  # read again / never drafted: the main model's


def test_fields_the_draft_model_cannot_spell_are_not_drafted(recognizer):
    model = recognizer._recognizer._model
    digits = _draft_model("0123456789-")  # no letters: the card number and the name cannot be drafted
    rec = TextRecognizer(model, _DRAFT_ALPHABETS, draft=digits,
                         draft_ok={k: (lambda r: True) for k in _DRAFT_ALPHABETS})
    assert rec.drafted == {"issuedDate"}
    # Without a judge for a field, it is not drafted either; without a model, nothing is.
    assert TextRecognizer(model, _DRAFT_ALPHABETS, draft=digits, draft_ok={}).drafted == frozenset()
    assert TextRecognizer(model, _DRAFT_ALPHABETS, draft_ok={"issuedDate": lambda r: True}).drafted == frozenset()


def test_draft_model_must_come_from_a_dictionary_within_the_main_one(recognizer):
    from hkid_ocr.errors import ModelError

    digits = _narrowed(recognizer._recognizer._model, "0123456789-")
    draft = _draft_model("0123456789-ABC")
    with pytest.raises(ModelError, match="characters"):
        TextRecognizer(digits, {"issuedDate": "0123456789-"}, draft=draft, draft_ok={"issuedDate": lambda r: True})


def test_a_model_without_a_dictionary_is_narrowed_with_the_one_given(tmp_path):
    from hkid_ocr.errors import ModelError
    from hkid_ocr.models import resolve_models
    from hkid_ocr.runtime import OnnxModel, narrow_recognizer

    files = resolve_models()
    if files.rec_draft is None or files.rec_draft_dict is None:
        pytest.skip("the draft recogniser has not been fetched")
    with pytest.raises(ModelError, match="no 'character' metadata"):
        narrow_recognizer(files.rec_draft, "0123456789")  # its publisher ships the dictionary apart
    character = files.rec_draft_dict.read_text(encoding="utf-8").removesuffix("\n")
    m = OnnxModel(tmp_path / "d", 1, source=narrow_recognizer(files.rec_draft, "0123456789-", character))
    assert m.metadata["character"].split("\n") == list("-0123456789")
    # A dictionary of the wrong length does not fit the model's class layer.
    with pytest.raises(ModelError, match="cannot narrow"):
        narrow_recognizer(files.rec_draft, "0123456789", character + "\nX")
