"""Tests for the synthetic HKID corpus generator (benchmarks/synth).

A handful of cards only (the whole file runs in a few seconds): the identities are
valid (check digits, commercial codes, dates, symbols), the ground truth matches
what was printed (field boxes hold ink; the printed area differs from the blank
card; outside the fields the card is untouched), every coordinate lies inside
the image, and a seed always gives the same bytes.

Skips only when the Debian fonts the generator prints with are missing
(``scripts/setup.sh`` installs them).
"""

from __future__ import annotations

import sys
from datetime import date
from functools import partial
from pathlib import Path

import cv2
import numpy as np
import pytest

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # benchmarks/ is a folder of the repository, not installed
    sys.path.insert(0, str(REPO))

from benchmarks.synth.fonts import missing_fonts  # noqa: E402

_MISSING = missing_fonts()
pytestmark = pytest.mark.skipif(
    bool(_MISSING), reason=f"Debian fonts missing: {' '.join(_MISSING)} (run scripts/setup.sh)")

from benchmarks.synth.background import specimen_blank  # noqa: E402
from benchmarks.synth.corpus import CardPlan, generate_card, level_counts, plan_corpus  # noqa: E402
from benchmarks.synth.identities import DESIGN_ERAS, Design, sample_identity  # noqa: E402
from benchmarks.synth.layout import CARD_H, CARD_W, LAYOUTS  # noqa: E402
from benchmarks.synth.names import MISSING_CHARS  # noqa: E402
from benchmarks.synth.render import name_fits, render_card  # noqa: E402
from benchmarks.synth.romanise import jyutping_to_hk  # noqa: E402
from hkid_ocr.checks import (  # noqa: E402
    date_sanity,
    id_number_valid,
    parse_birth_date,
    parse_issue_date,
    symbols_age_consistent,
)
from hkid_ocr.telecode import code_for, encode_name  # noqa: E402

DESIGNS: tuple[Design, Design] = ("2003", "2018")
SEED = 11
COUNT = 8  # plan_corpus guarantees both designs, both statuses, a no-Chinese-name card


@pytest.fixture(scope="module")
def cards() -> list:
    """The 8 cards of a small corpus (all levels, as planned)."""
    return [generate_card(SEED, i, COUNT) for i in range(COUNT)]


@pytest.fixture(scope="module")
def clean_cards() -> list:
    """Clean scans, both designs and statuses, both sources, no photocopy or recapture."""
    out = []
    kinds: list[tuple[Design, bool, str, bool]] = [
        ("2003", True, "specimen", True), ("2018", False, "specimen", True),
        ("2003", False, "drawn", False), ("2018", True, "drawn", True)]
    for i, (design, permanent, source, chinese) in enumerate(kinds):
        plan = CardPlan(i, "clean", design, permanent, source, chinese, False, False, False)
        out.append(generate_card(SEED + 1, i, COUNT, plan, keep_flat=True))
    return out


def _decode(jpeg: bytes) -> np.ndarray:
    img = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_UNCHANGED)
    assert img is not None
    return img


def test_identities_are_valid(cards: list) -> None:
    today = date(2026, 12, 31)
    for card in cards:
        d = card.truth["data"]
        assert id_number_valid(d["idNumber"]), d["idNumber"]
        if d["nameCn"]:
            assert encode_name(d["nameCn"]) == d["nameCode"]
            assert d["nameCode"].split() == [code_for(ch) for ch in d["nameCn"]]
            assert 2 <= len(d["nameCn"]) <= 4
        else:
            assert d["nameCode"] == ""  # no Chinese name: no code line either
        assert d["sex"] in ("女F", "男M")
        assert "," in d["nameEn"] and d["nameEn"].split(",")[0].isupper()
        assert date_sanity(d["birthDate"], d["firstIssuedDate"], d["issuedDate"], today) == []
        birth, issued = parse_birth_date(d["birthDate"]), parse_issue_date(d["issuedDate"])
        assert symbols_age_consistent(d["issuedCode"], birth, issued) is None
        lo, hi = DESIGN_ERAS[card.truth["design"]]
        assert issued is not None and lo <= issued <= hi
        status = set(d["issuedCode"]) & set("ARCU")
        assert status <= (set("AR") if card.truth["permanent"] else set("CU")) and status


def test_corpus_covers_designs_and_statuses(cards: list) -> None:
    truths = [c.truth for c in cards]
    assert {t["design"] for t in truths} == {"2003", "2018"}
    assert {t["permanent"] for t in truths} == {True, False}
    assert any(not t["data"]["nameCn"] for t in truths)
    assert level_counts(600) == {"clean": 240, "photo": 240, "hard": 120}
    assert [p.level for p in plan_corpus(SEED, 50)].count("hard") == 10


def test_no_chinese_name_cards_are_consistent() -> None:
    rng = np.random.default_rng(5)
    for design in DESIGNS:
        ident = sample_identity(rng, design, False, chinese_name=False,
                                name_fits=partial(name_fits, design))
        assert ident.name_cn == "" and ident.name_code == ""
        assert ident.data()["nameCn"] == "" and ident.data()["nameCode"] == ""


def test_quads_inside_image(cards: list, clean_cards: list) -> None:
    for card in cards + clean_cards:
        t = card.truth
        h, w = _decode(card.jpeg).shape[:2]
        assert [w, h] == t["image_size"] and max(w, h) <= 2000
        quads = [t["card_quad"]] + list(t["field_quads"].values())
        if t["portrait_quad"] is not None:
            quads.append(t["portrait_quad"])
        for quad in quads:
            q = np.asarray(quad, float)
            assert q.shape == (4, 2)
            assert (q[:, 0] >= -1).all() and (q[:, 0] <= w + 1).all(), (t["id"], quad)
            assert (q[:, 1] >= -1).all() and (q[:, 1] <= h + 1).all(), (t["id"], quad)
        # Every printed (non-empty) field has a box, and only those.
        printed = {k for k, v in t["data"].items() if v}
        assert set(t["field_quads"]) == printed


def test_field_quads_hold_ink_on_clean_scans(clean_cards: list) -> None:
    """Each field quad holds dark text on a clean scan."""
    for card in clean_cards:
        img = _decode(card.jpeg)
        gray = img if img.ndim == 2 else cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
        for key, quad in card.truth["field_quads"].items():
            x, y, bw, bh = cv2.boundingRect(np.asarray(quad, np.float32))
            box = gray[y:y + bh, x:x + bw].astype(float)
            assert box.size > 0, key
            # Text: the darkest pixels of the box are far darker than its middle tone.
            assert np.percentile(box, 5) < np.median(box) - 35, (card.truth["id"], key)
        # And the card quad holds the card: its middle is the card, not the scanner lid.
        q = np.asarray(card.truth["card_quad"], float)
        assert cv2.contourArea(q.astype(np.float32)) > 0.7 * gray.shape[0] * gray.shape[1]


def test_truth_geometry_matches_the_image(clean_cards: list) -> None:
    """Warping the image back through card_quad gives the flat card that was printed,
    and the field quads are the card-space ink boxes mapped the same way."""
    for card in clean_cards:
        t = card.truth
        img = _decode(card.jpeg)
        src = np.asarray(t["card_quad"], np.float32)
        dst = np.array([[0, 0], [CARD_W, 0], [CARD_W, CARD_H], [0, CARD_H]], np.float32)
        back = cv2.warpPerspective(img, cv2.getPerspectiveTransform(src, dst), (CARD_W, CARD_H))
        flat = card.flat
        assert flat is not None
        # Compare away from the rounded corners (the scanner background shows there).
        inner = (slice(40, CARD_H - 40), slice(40, CARD_W - 40))
        diff = np.abs(back[inner].astype(float) - flat[inner].astype(float)).mean()
        assert diff < 8, (t["id"], diff)
        shifted = np.abs(np.roll(back, 8, axis=0)[inner].astype(float) - flat[inner].astype(float))
        assert shifted.mean() > diff + 5  # the comparison is sensitive to misplacement
        h = cv2.getPerspectiveTransform(dst, src)
        for key, (x0, y0, x1, y1) in card.flat_boxes.items():
            corners = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], np.float32).reshape(-1, 1, 2)
            mapped = cv2.perspectiveTransform(corners, h).reshape(-1, 2)
            assert np.abs(mapped - np.asarray(t["field_quads"][key])).max() < 0.6, key


def test_printed_area_differs_from_blank() -> None:
    """The field boxes are where the card changed, and nothing else changed."""
    rng = np.random.default_rng(3)
    for design, permanent in zip(DESIGNS, (True, False)):
        ident = sample_identity(rng, design, permanent, name_fits=partial(name_fits, design))
        card = render_card(ident, design, "specimen", rng, portrait=False)
        blank = specimen_blank(design, permanent).astype(np.int16)
        diff = np.abs(card.image.astype(np.int16) - blank).max(axis=2)
        inside = np.zeros((CARD_H, CARD_W), bool)
        for key, (x0, y0, x1, y1) in card.field_boxes.items():
            assert diff[y0:y1, x0:x1].mean() > 8, key
            inside[max(y0 - 3, 0):y1 + 3, max(x0 - 3, 0):x1 + 3] = True
        # Outside the fields, the portraits (erased here) and the 2018 number window,
        # the card is the blank background untouched.
        lay = LAYOUTS[design]
        for x0, y0, x1, y1 in (lay.portrait, lay.ghost, (680, 120, 770, 160)):
            inside[y0:y1, x0:x1] = True
        assert diff[~inside].mean() < 0.5
        assert (diff[~inside] > 40).mean() < 0.001


def test_deterministic_for_a_seed() -> None:
    a = generate_card(SEED, 5, COUNT)
    b = generate_card(SEED, 5, COUNT)
    assert a.jpeg == b.jpeg and a.truth == b.truth
    assert generate_card(SEED + 1, 5, COUNT).jpeg != a.jpeg


def test_romanisation() -> None:
    assert [jyutping_to_hk(s) for s in ("can4", "zoeng1", "si1", "jyun4", "seon3", "waa4")] == \
        ["Chan", "Cheung", "Sze", "Yuen", "Shun", "Wah"]
    with pytest.raises(ValueError):
        jyutping_to_hk("xyz")


def test_missing_chars_have_codes_but_are_not_in_dictionary() -> None:
    assert all(code_for(ch) for ch in MISSING_CHARS)
    model = REPO / "models" / "PP-OCRv6_rec_small.onnx"
    if not model.is_file():
        pytest.skip("recognition model not fetched (python -m hkid_ocr.models fetch)")
    ort = pytest.importorskip("onnxruntime")
    meta = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"]).get_modelmeta()
    dictionary = {line.rstrip("\r") for line in meta.custom_metadata_map["character"].split("\n")}
    assert not set(MISSING_CHARS) & dictionary
