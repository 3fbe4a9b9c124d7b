"""End to end: both specimens, and variants built from them, read exactly."""

from __future__ import annotations

from dataclasses import replace

import dataclasses
import threading
import zlib

import cv2
import numpy as np
import pytest
from conftest import SPECIMENS, corner_error, specimen
from scenes import among_papers, clutter, on_a_light_table, place, rotate_exact

import hkid_ocr
from hkid_ocr.io import load_image
from hkid_ocr.locate import WorkImage, iter_candidates
from hkid_ocr.layout import text_box
from hkid_ocr.recognizer import (
    CHECKED_KEYS,
    DRAFT_KEYS,
    _draft_stands,
    _off_edge,
    _settled,
    _with_dropped_spaces,
    _without_split_letters,
    text_search_size,
)
from hkid_ocr.rectify import order_clockwise
from hkid_ocr.types import LineReading

CLOUD_KEYS = {
    "algo_version", "data", "figure", "ftype", "height", "orgHeight", "orgWidth",
    "prism_keyValueInfo", "sliceRect", "width",
}


@pytest.mark.parametrize("name", SPECIMENS)
def test_specimen_all_fields_exact(recognizer, truth, name):
    res = recognizer.recognize(str(pytest.importorskip("conftest").DATA / name))
    d = res.to_dict()
    assert d["data"] == truth[name]["data"]
    assert res.checks.cardVersion == truth[name]["card"]
    assert CLOUD_KEYS <= set(d)
    assert [kv["key"] for kv in d["prism_keyValueInfo"]] == list(truth[name]["data"])
    for kv in d["prism_keyValueInfo"]:
        assert 0 <= kv["valueProb"] <= 100 and len(kv["valuePos"]) == 4
    assert (d["orgWidth"], d["orgHeight"]) == (476, 300)
    assert d["ftype"] == 0


@pytest.mark.parametrize("name", SPECIMENS)
def test_value_boxes_sit_on_their_text(recognizer, name):
    """Each valuePos box, cut from the image and read again on its own, holds its value."""
    img = specimen(name)
    res = recognizer.recognize(img)
    for kv in res.prism_keyValueInfo:
        pts = np.array([[p.x, p.y] for p in kv.valuePos], float)
        x0, y0 = pts.min(axis=0)
        x1, y1 = pts.max(axis=0)
        assert 0 <= x0 < x1 <= img.shape[1] and 0 <= y0 < y1 <= img.shape[0], kv.key
        # the box is a text line: wider than tall, and not taller than 15% of the card
        assert (x1 - x0) > (y1 - y0) * 0.8 and (y1 - y0) < 0.15 * img.shape[0], kv.key


@pytest.mark.parametrize("name", SPECIMENS)
@pytest.mark.parametrize("turns", [1, 2, 3])
def test_quarter_turns(recognizer, truth, name, turns):
    scene = rotate_exact(specimen(name), turns)
    d = recognizer.recognize(scene.image).to_dict()
    assert d["data"] == truth[name]["data"]
    assert corner_error(d["sliceRect"], scene.corners) < 0.02


VARIANTS = {
    "clutter": dict(card_width=0.6),
    "tilt": dict(card_width=0.5, rotate=8, tilt=0.12),
    "rotated-20": dict(card_width=0.45, rotate=-20),
    "quarter-tilt": dict(card_width=0.7, rotate=90, tilt=0.1),
    "half-tilt": dict(card_width=0.55, rotate=183, tilt=0.15),
    "three-quarter": dict(card_width=0.5, rotate=275),
    # the 476 px specimen scaled to 40% (190 px wide) on a cluttered background
    "scale-40": dict(card_width=190 / 800, canvas=(600, 800)),
}


@pytest.mark.parametrize("name", SPECIMENS)
@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_photo_variants(recognizer, truth, name, variant):
    scene = place(specimen(name), seed=zlib.crc32(variant.encode()) % 1000, **VARIANTS[variant])
    d = recognizer.recognize(scene.image).to_dict()
    assert d["data"] == truth[name]["data"]
    assert corner_error(d["sliceRect"], scene.corners) < 0.02


@pytest.mark.parametrize("name", SPECIMENS)
def test_scaled_to_40_percent(recognizer, truth, name):
    img = specimen(name)
    small = cv2.resize(img, None, fx=0.4, fy=0.4, interpolation=cv2.INTER_AREA)
    assert recognizer.recognize(small).to_dict()["data"] == truth[name]["data"]


def test_text_search_size_keeps_a_photo_s_shape_and_caps_its_area():
    assert text_search_size(4000, 3000) == (640, 480)
    assert text_search_size(3000, 4000) == (480, 640)
    w, h = text_search_size(1400, 1400)
    assert w == h and w * h <= 640 * 480 < (w + 2) * (h + 2)
    assert text_search_size(2000, 500) == (640, 160)
    assert text_search_size(400, 300) == (400, 300)  # never enlarged


@pytest.mark.parametrize("name", SPECIMENS)
@pytest.mark.parametrize("card_width", [0.34, 0.5])
def test_text_search_finds_the_card_in_a_square_photo(recognizer, name, card_width):
    # A square photo is searched smaller than a 4:3 one (see text_search_size): a card a
    # third of its width must still be found from its text alone.
    scene = place(specimen(name), canvas=(1400, 1400), card_width=card_width, rotate=12, seed=3)
    truth = order_clockwise(scene.corners)
    diag = np.linalg.norm(truth[2] - truth[0])
    errors = [
        min(np.abs(np.roll(order_clockwise(q), k, axis=0) - truth).max() for k in range(4)) / diag
        for q in recognizer._text_candidates(load_image(scene.image))
    ]
    assert errors and min(errors) < 0.02


def _papers(img: np.ndarray, keep_clear: np.ndarray | None = None, n: int = 7, seed: int = 4) -> np.ndarray:
    """Blank light papers shaped like a card, scattered on ``img`` (none over ``keep_clear``)."""
    img = img.copy()
    rng = np.random.default_rng(seed)
    h, w = img.shape[:2]
    placed: list[tuple[int, int, int, int]] = []
    if keep_clear is not None:
        x0, y0 = keep_clear.min(axis=0) - 20
        x1, y1 = keep_clear.max(axis=0) + 20
        placed.append((int(x0), int(y0), int(x1), int(y1)))
    while len(placed) < n + (keep_clear is not None):
        pw = int(rng.uniform(0.16, 0.24) * w)
        ph = int(pw / 1.585)
        x, y = int(rng.integers(10, w - pw - 10)), int(rng.integers(10, h - ph - 10))
        if any(x < b[2] + 15 and b[0] < x + pw + 15 and y < b[3] + 15 and b[1] < y + ph + 15 for b in placed):
            continue
        placed.append((x, y, x + pw, y + ph))
        cv2.rectangle(img, (x, y), (x + pw, y + ph), (235, 235, 230), -1)
    return img


@pytest.fixture
def locate_events(recognizer, monkeypatch) -> list[str]:
    """What the recognizer does to find the card, in order: "screen" (a candidate judged
    at SCREEN_SIZE), "fine" (at FINE_SIZE), "look" (at CARD_SIZE), "text" (the
    whole-image text search)."""
    from hkid_ocr.recognizer import FINE_SIZE, SCREEN_SIZE

    kinds = {SCREEN_SIZE: "screen", FINE_SIZE: "fine", hkid_ocr.recognizer.CARD_SIZE: "look"}

    events: list[str] = []
    evaluate_all, text_candidates = recognizer._evaluate_all, recognizer._text_candidates

    def counted(img, quads, size=hkid_ocr.recognizer.CARD_SIZE):
        events.extend(kinds[size] for _ in quads)
        return evaluate_all(img, quads, size)

    def searched(img):
        events.append("text")
        return text_candidates(img)

    monkeypatch.setattr(recognizer, "_evaluate_all", counted)
    monkeypatch.setattr(recognizer, "_text_candidates", searched)
    return events


def test_card_shaped_papers_are_given_up_after_a_few_screenings(recognizer, locate_events):
    # Outlines that match no design even halfway are not screened to the end of the list:
    # after OUTLINES_BEFORE_GIVING_UP of them the card is looked for by its text.
    from hkid_ocr.recognizer import OUTLINES_BEFORE_GIVING_UP

    desk = _papers(np.full((900, 1200, 3), 70, np.uint8))
    with pytest.raises(hkid_ocr.NoCardFoundError):
        recognizer.recognize(desk)
    assert locate_events.index("text") == OUTLINES_BEFORE_GIVING_UP  # the papers' screenings, then the search


@pytest.mark.parametrize("name", SPECIMENS)
def test_card_among_card_shaped_papers(recognizer, truth, name, locate_events):
    # The papers' outlines come before the card's, but the card's straight edges come
    # right after the first outline: the traced outline along them is screened then, as
    # traced (refined and judged like any traced outline: no finer look, no text
    # search), and read.
    scene = place(specimen(name), canvas=(1100, 1500), card_width=0.3, seed=4)
    d = recognizer.recognize(_papers(scene.image, keep_clear=scene.corners, seed=4)).to_dict()
    assert locate_events == ["screen", "screen"]
    assert d["data"] == truth[name]["data"]
    assert corner_error(d["sliceRect"], scene.corners) < 0.02


@pytest.mark.parametrize("name", SPECIMENS)
def test_a_light_card_on_a_light_table_is_found_by_its_faint_border(recognizer, truth, name, locate_events):
    # The usual edge maps do not close its border (see test_locate): after their outlines
    # fail, the fainter maps' outline is screened and looked at on the finer map, with no
    # text search of the whole image (~120 ms more).
    scene = on_a_light_table(specimen(name), rotate=-12, tilt=0.1, seed=2)
    d = recognizer.recognize(scene.image).to_dict()
    assert "text" not in locate_events
    assert locate_events[-1] == "fine"
    assert d["data"] == truth[name]["data"]
    assert corner_error(d["sliceRect"], scene.corners) < 0.015


def _tilted_behind_papers() -> tuple[np.ndarray, np.ndarray]:
    # Seven blank papers outrank the tilted card's own outline: it is never screened
    # among the traced outlines.
    scene = place(specimen("specimen_2018.jpg"), canvas=(1200, 1600), card_width=0.4, rotate=7, tilt=0.15, seed=0)
    return _papers(scene.image, keep_clear=scene.corners, seed=0), scene.corners


def test_tilted_card_ranked_behind_card_shaped_papers(recognizer, truth, locate_events):
    # Its four straight edges are screened right after the first outline, and read it.
    image, corners = _tilted_behind_papers()
    d = recognizer.recognize(image).to_dict()
    assert "text" not in locate_events
    assert locate_events.count("screen") <= 3
    assert d["data"] == truth["specimen_2018.jpg"]["data"]
    assert corner_error(d["sliceRect"], corners) < 0.01


def test_tilted_card_behind_papers_without_straight_edges_is_found_by_its_text(
    recognizer, truth, locate_events, monkeypatch
):
    # Without the straight-edge outlines (as for a card whose sides are too soft for
    # them), the text search finds the card; its quads fit the layout only roughly under
    # the tilt, and the card's traced outline under them is what reads it.
    monkeypatch.setattr(hkid_ocr.recognizer, "STRAIGHT_KEEP", 0)
    image, corners = _tilted_behind_papers()
    d = recognizer.recognize(image).to_dict()
    assert "text" in locate_events
    assert d["data"] == truth["specimen_2018.jpg"]["data"]
    assert corner_error(d["sliceRect"], corners) < 0.01


@pytest.mark.parametrize("name", SPECIMENS)
def test_card_whose_outline_runs_into_papers_is_read_without_the_text_search(recognizer, truth, name, locate_events):
    # Papers under each side join the card's outline to theirs in every edge map (see
    # test_locate): the card's straight edges find it, and its lines are read from a
    # finer look (FINE_SIZE). The first traced outline runs on over the papers, along no
    # edge for most of a side: the straight edges are screened before it, and it never is.
    scene = among_papers(specimen(name), rotate=-5, seed=2)
    d = recognizer.recognize(scene.image).to_dict()
    assert locate_events == ["screen", "fine"]
    assert d["data"] == truth[name]["data"]
    assert corner_error(d["sliceRect"], scene.corners) < 0.01


@pytest.mark.parametrize("seed", [2, 3])
def test_a_photo_in_a_card_shaped_frame_is_searched_as_a_photo(recognizer, truth, seed, locate_events):
    # A camera's 3:2 frame is shaped like a scan: its whole frame is screened first, as a
    # scan's margin would be. It matches no design even halfway, so the image is a photo:
    # the card's straight edges come before the outlines that run on into the papers.
    scene = among_papers(specimen("specimen_2018.jpg"), rotate=-5, seed=seed, canvas=(800, 1200))
    d = recognizer.recognize(scene.image).to_dict()
    assert "text" not in locate_events
    assert locate_events.count("screen") <= 3
    assert d["data"] == truth["specimen_2018.jpg"]["data"]
    assert corner_error(d["sliceRect"], scene.corners) < 0.01


def test_an_outline_off_the_edges_is_told_from_the_cards_own():
    # The card's own outline runs along its border the whole way round; the outline
    # traced round the card and the papers under it does not.
    scene = among_papers(specimen("specimen_2003.jpg"), rotate=-5, seed=2)
    work = WorkImage(scene.image)
    assert not _off_edge(work, scene.corners)
    first = next(iter_candidates(scene.image, work=work))
    assert _off_edge(work, first.quad)


def test_field_boxes_follow_a_rotated_card(recognizer):
    """On a card turned a quarter, field boxes are carried into the turned image."""
    scene = rotate_exact(specimen("specimen_2003.jpg"), 1)
    upright = recognizer.recognize(specimen("specimen_2003.jpg"))
    turned = recognizer.recognize(scene.image)
    h = specimen("specimen_2003.jpg").shape[0]
    for a, b in zip(upright.prism_keyValueInfo, turned.prism_keyValueInfo):
        # clockwise quarter turn: (x, y) -> (h - 1 - y, x)
        for p, q in zip(a.valuePos, b.valuePos):
            assert abs((h - 1 - p.y) - q.x) <= 3 and abs(p.x - q.y) <= 3


def _landscape() -> np.ndarray:
    img = np.zeros((600, 900, 3), np.uint8)
    img[:300] = (235, 190, 120)
    img[300:] = (60, 140, 70)
    cv2.circle(img, (700, 120), 50, (120, 230, 255), -1)
    rng = np.random.default_rng(3)
    for _ in range(30):
        cv2.line(img, (int(rng.integers(0, 900)), 300), (int(rng.integers(0, 900)), 600), (40, 100, 40), 3)
    return img


def _text_page() -> np.ndarray:
    img = np.full((800, 1200, 3), 250, np.uint8)
    for i in range(18):
        cv2.putText(img, "Lorem ipsum dolor 12-03-1999 A123456(3)", (20, 40 + i * 40),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.9, (0, 0, 0), 2)
    return img


NON_CARDS = {
    "landscape": _landscape,
    "blank-paper": lambda: np.full((700, 1000, 3), 245, np.uint8),
    "noise": lambda: np.random.default_rng(0).integers(0, 256, (600, 900, 3), dtype=np.uint8),
    "clutter": lambda: clutter(800, 1200, 5),
    "text-page": _text_page,
}


@pytest.mark.parametrize("kind", sorted(NON_CARDS))
def test_non_card_raises_no_card(recognizer, kind):
    with pytest.raises(hkid_ocr.RecognitionError) as info:
        recognizer.recognize(NON_CARDS[kind]())
    assert info.value.code == "noCardFound"
    assert isinstance(info.value, hkid_ocr.NoCardFoundError)


@pytest.mark.parametrize(
    "data,code",
    [
        (b"", "illegalImageContent"),
        (b"\x00garbage" * 50, "unsupportedImageFormat"),
        (b"%PDF-1.4\n1 0 obj<<>>endobj\n", "unsupportedImageFormat"),
    ],
)
def test_corrupt_bytes_raise_format_codes(recognizer, data, code):
    with pytest.raises(hkid_ocr.ImageFormatError) as info:
        recognizer.recognize(data)
    assert info.value.code == code


def test_truncated_jpeg(recognizer):
    data = (pytest.importorskip("conftest").DATA / "specimen_2003.jpg").read_bytes()
    with pytest.raises(hkid_ocr.RecognitionError) as info:
        recognizer.recognize(data[: len(data) // 3])
    assert info.value.code in {"illegalImageContent", "noCardFound"}


def test_portrait_crop_on_request(recognizer):
    res = recognizer.recognize(specimen("specimen_2018.jpg"), portrait=True)
    assert res.portrait is not None and res.portrait.startswith(b"\x89PNG")
    assert "portrait" not in res.to_dict()
    crop = cv2.imdecode(np.frombuffer(res.portrait, np.uint8), cv2.IMREAD_COLOR)
    assert crop.shape[0] > crop.shape[1]  # a portrait is taller than wide
    assert recognizer.recognize(specimen("specimen_2018.jpg")).portrait is None


def test_json_is_deterministic(recognizer):
    img = specimen("specimen_2003.jpg")
    assert recognizer.recognize(img).to_json() == recognizer.recognize(img).to_json()


def test_shared_recognizer_across_threads(recognizer, truth):
    imgs = [specimen(n) for n in SPECIMENS]
    expected = [recognizer.recognize(i).to_json() for i in imgs]
    results: list[tuple[int, str]] = []
    lock = threading.Lock()

    def work(k: int) -> None:
        out = recognizer.recognize(imgs[k % 2]).to_json()
        with lock:
            results.append((k % 2, out))

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 4 and all(out == expected[k] for k, out in results)


def test_module_level_recognize_uses_default(truth):
    d = hkid_ocr.recognize(specimen("specimen_2018.jpg")).to_dict()
    assert d["data"] == truth["specimen_2018.jpg"]["data"]


def _scan_view(recognizer, name: str):
    """A specimen scan judged as a card filling its frame, and its lines, as the pipeline
    finds them: the start for tests that change one thing on the way to the fields."""
    img = load_image(str(pytest.importorskip("conftest").DATA / name))
    h, w = img.bgr.shape[:2]
    frame = np.array([[0, 0], [w - 1, 0], [w - 1, h - 1], [0, h - 1]], float)
    view, lines = recognizer._locate_lines(img, recognizer._evaluate(img, frame), WorkImage(img.bgr))
    return img, view, lines


@pytest.mark.parametrize("name,cut", [("specimen_2003.jpg", 0.09), ("specimen_2018.jpg", 0.09)])
def test_a_card_found_too_narrow_still_reads_its_names_whole(recognizer, truth, name, cut):
    # The card's left side taken inside the card, through the English name's first
    # letter (a side snapped to the print in a blurred photo): the name's box is moved
    # left, past the card's edge, until it starts on background.
    img = load_image(str(pytest.importorskip("conftest").DATA / name))
    h, w = img.bgr.shape[:2]
    quad = np.array([[0, 0], [w - 1, 0], [w - 1, h - 1], [0, h - 1]], float)
    quad[0] += cut * (quad[1] - quad[0])
    quad[3] += cut * (quad[2] - quad[3])
    view, lines = recognizer._locate_lines(img, recognizer._evaluate(img, quad), WorkImage(img.bgr))
    read, _ = recognizer._read_lines(img, view, lines)
    assert read["nameEn"][0].text == truth[name]["data"]["nameEn"]
    assert read["nameCode"][0].text == truth[name]["data"]["nameCode"]


@pytest.mark.parametrize("name", SPECIMENS)
@pytest.mark.parametrize("key,move", [("idNumber", 2.0), ("issuedDate", 1.0)])
def test_a_line_read_without_its_start_is_read_again_from_further_left(recognizer, truth, name, key, move):
    # The text map's line starting after the card number's letter (or the issue date's
    # first digit): the fast reading is "668668(E)" ("5-09-03"), a reading no field has,
    # and the line is read again from further left.
    img, view, lines = _scan_view(recognizer, name)
    (x0, y0, x1, y1), _ = lines[key]
    lines = {**lines, key: ((x0 + move * (y1 - y0), y0, x1, y1), True)}
    read, _ = recognizer._read_lines(img, view, lines)
    assert read[key][0].text == truth[name]["data"][key]


@pytest.mark.parametrize("name", SPECIMENS)
def test_a_chinese_name_the_detector_missed_is_read_when_its_code_line_was_found(recognizer, truth, name):
    img, view, lines = _scan_view(recognizer, name)
    # The name's line not seen on the text map (faint or tiny print), the code line seen:
    # the name is read where the template puts it, and kept for it agrees with the codes.
    missed = {**lines, "nameCn": (lines["nameCn"][0], False)}
    read, _ = recognizer._read_lines(img, view, missed)
    assert read["nameCn"][0].text == truth[name]["data"]["nameCn"]
    # Neither line seen: a card without a Chinese name, where nothing is read.
    neither = {**missed, "nameCode": (lines["nameCode"][0], False)}
    read, _ = recognizer._read_lines(img, view, neither)
    assert "nameCn" not in read and "nameCode" not in read


@pytest.mark.parametrize(
    "name,off", [("specimen_2003.jpg", -0.08), ("specimen_2003.jpg", 0.08), ("specimen_2018.jpg", -0.07),
                 ("specimen_2018.jpg", 0.08)])
def test_the_sex_read_on_its_own_tolerates_a_registration_off_by_a_character(recognizer, truth, name, off):
    # The layout's shift off by ~a character's width at the sex: with the template's box
    # and its narrowest margin, neither 女 nor F is inside; a wider margin finds them.
    img, view, lines = _scan_view(recognizer, name)
    moved = dataclasses.replace(view, shift=(view.shift[0] + off * view.size[0], view.shift[1]))
    sex, p, _ = recognizer._reread_sex(img, moved, text_box(lines["birthDate+sex"][0]))
    assert sex == truth[name]["data"]["sex"] and p > 0.5


def _reading(key: str, text: str, p: float) -> LineReading:
    n = len(text)
    return LineReading(key=key, text=text, char_probs=(p,) * n, char_pos=tuple(i / n for i in range(n)),
                       alternatives=((),) * n)


@pytest.mark.parametrize(
    "key,text,p,stands",
    [
        ("issuedCode", "***AZ", 0.95, True),
        ("issuedCode", "AO", 0.95, True),
        ("issuedCode", "**", 0.95, False),  # no letters: a star or letter was lost
        ("issuedCode", "*X", 0.95, False),
        ("issuedCode", "***AZ", 0.4, False),  # right shape, not confident
        ("nameCn", "陳大文", 0.9, True),
        ("nameCn", "陳大文", 0.5, False),
        ("nameCn", "", 0.9, False),
        ("nameEn", "CHAN, Tai Man", 0.9, True),
        ("nameEn", "CHAN, Tai Man", 0.7, False),
        ("nameEn", "", 0.9, False),
    ],
)
def test_fast_readings_of_checked_lines_stand_only_when_convincing(key, text, p, stands):
    assert key in CHECKED_KEYS
    assert _settled(key, _reading(key, text, p)) is stands


def _monospaced(text: str, cells: list[int], p: float = 0.95) -> LineReading:
    """A reading whose characters sit at the given cells of a monospace grid."""
    return LineReading(key="nameEn", text=text, char_probs=(p,) * len(text),
                       char_pos=tuple((c + 0.5) / 30 for c in cells), alternatives=((),) * len(text))


def test_a_fast_english_name_with_a_dropped_space_is_read_again():
    # "WONG, Siu Ming Louis" printed one character a cell; the space between "Ming"
    # and "Louis" (cell 14) was not read, so "g" and "L" are two cells apart.
    printed = "WONG, Siu Ming Louis"
    cells = [i for i, ch in enumerate(printed) if ch != " " or i != 14]
    kept = "".join(ch for i, ch in enumerate(printed) if i != 14)
    assert _settled("nameEn", _monospaced(printed, list(range(len(printed))))) is True
    assert _settled("nameEn", _monospaced(kept, cells)) is False
    # Too few letters to know the pitch: judged by confidence alone.
    assert _settled("nameEn", _monospaced("NG, Y", [0, 3, 4, 5, 6])) is True


def test_a_space_the_precise_model_dropped_is_put_back_where_the_pitch_says():
    # "LEUNG, Tai Sze" read "LEUNG, TaiSze": "i" and "S" two cells apart.
    printed = "LEUNG, Tai Sze"
    cells = [i for i, ch in enumerate(printed) if ch != " " or i != 10]
    kept = "".join(ch for i, ch in enumerate(printed) if i != 10)
    back = _with_dropped_spaces(_monospaced(kept, cells, p=0.9))
    assert back.text == printed
    assert len(back.char_probs) == len(back.char_pos) == len(back.alternatives) == len(printed)
    assert back.char_pos == tuple(sorted(back.char_pos))
    # Two spaces dropped: both come back.
    printed = "CHAN, Tai Man Peter"
    gone = {9, 13}
    twice = _monospaced("".join(ch for i, ch in enumerate(printed) if i not in gone),
                        [i for i in range(len(printed)) if i not in gone])
    assert _with_dropped_spaces(twice).text == printed
    # A reading without such a gap is returned as it is.
    whole = _monospaced(printed, list(range(len(printed))))
    assert _with_dropped_spaces(whole) is whole


def test_a_precise_english_name_reading_gets_its_dropped_space_back(recognizer, truth, monkeypatch):
    # The recogniser's own path: a fast reading that does not settle is read precisely;
    # a precise reading that drops a space is mended before it is parsed.
    name = "specimen_2003.jpg"
    read = recognizer._recognizer.read
    printed = truth[name]["data"]["nameEn"]
    gap = printed.rindex(" ")

    def without_gap(r):
        def cut(seq):
            return seq[:gap] + seq[gap + 1:]

        return dataclasses.replace(r, text=cut(r.text), char_probs=cut(r.char_probs), char_pos=cut(r.char_pos),
                                   alternatives=cut(r.alternatives))

    def dropping(crops, keys, precise=False):
        out = read(crops, keys, precise=precise)
        return [without_gap(r) if precise and r.key == "nameEn" and r.text == printed else r for r in out]

    monkeypatch.setattr(recognizer._recognizer, "read", dropping)
    monkeypatch.setattr(hkid_ocr.recognizer, "SETTLED_PROB_EN", 1.01)  # every fast reading is read again
    d = recognizer.recognize(specimen(name)).to_dict()
    assert d["data"]["nameEn"] == printed


def test_a_letter_read_twice_in_two_cases_is_read_once():
    # "WILLIAMS, Ji Woo" read "...WoOo": the "O" half a cell after the first "o".
    printed = "WILLIAMS, Ji Woo"
    once = _without_split_letters(_monospaced("WILLIAMS, Ji WoOo", [*range(15), 14.5, 15], p=0.9))
    assert once.text.lower() == printed.lower()
    assert len(once.char_probs) == len(once.char_pos) == len(once.alternatives) == len(printed)
    # Genuine double letters sit a cell apart, and unlike letters are left alone.
    for text in ("LEE, Woo", "WONG, Siu Ming"):
        whole = _monospaced(text, list(range(len(text))))
        assert _without_split_letters(whole) is whole


def _reading(key: str, text: str, prob: float = 0.99, space_prob: float | None = None) -> LineReading:
    probs = tuple(space_prob if ch == " " and space_prob is not None else prob for ch in text)
    return LineReading(key, text, probs, tuple((i + 0.5) / len(text) for i in range(len(text))))


def test_draft_readings_stand_only_when_confident_and_well_formed():
    assert DRAFT_KEYS == {"nameCode", "birthDate+sex", "firstIssuedDate", "issuedDate", "idNumber"}
    assert _draft_stands("idNumber", _reading("idNumber", "A123456(3)"))
    assert _draft_stands("idNumber", _reading("idNumber", "AB123456(9)"))
    assert not _draft_stands("idNumber", _reading("idNumber", "A123456(4)"))  # the check digit is wrong
    assert not _draft_stands("idNumber", _reading("idNumber", "C668668(E)"))  # the specimens' too
    assert not _draft_stands("idNumber", _reading("idNumber", "123456(3)"))  # no letter
    assert not _draft_stands("idNumber", _reading("idNumber", "A123456(3)", 0.3))
    assert _draft_stands("birthDate+sex", _reading("birthDate+sex", "01-01-1968 女F", space_prob=0.2))
    assert not _draft_stands("birthDate+sex", _reading("birthDate+sex", "01-01-1968"))  # the sex is missing
    assert not _draft_stands("birthDate+sex", _reading("birthDate+sex", "01-13-1968 女F"))  # no 13th month
    # The sex may be read unsurely, a digit of the date not.
    unsure_sex = _reading("birthDate+sex", "26-07-1963男M")
    unsure_sex = replace(unsure_sex, char_probs=(*unsure_sex.char_probs[:10], 0.55, 0.6))
    assert _draft_stands("birthDate+sex", unsure_sex)
    unsure_digit = replace(unsure_sex, char_probs=(1.0, 0.62, *unsure_sex.char_probs[2:]))
    assert not _draft_stands("birthDate+sex", unsure_digit)
    assert _draft_stands("issuedDate", _reading("issuedDate", "15-09-18", 0.85))
    assert not _draft_stands("issuedDate", _reading("issuedDate", "15-09-18", 0.7))
    # Nothing else checks the first registration's digits: it must be read surely.
    assert _draft_stands("firstIssuedDate", _reading("firstIssuedDate", "(01-79)", 0.95))
    assert not _draft_stands("firstIssuedDate", _reading("firstIssuedDate", "(01-79)", 0.85))
    assert not _draft_stands("firstIssuedDate", _reading("firstIssuedDate", "(01-7)", 0.99))
    # The code line: whole groups of four; its spaces' evidence does not count.
    assert _draft_stands("nameCode", _reading("nameCode", "2621 2535 5174", space_prob=0.1))
    assert not _draft_stands("nameCode", _reading("nameCode", "2621 2535 517"))
    assert not _draft_stands("nameCode", _reading("nameCode", "2621 2535 5174", 0.8))
    assert not _draft_stands("issuedDate", _reading("issuedDate", "", 1.0))


def test_drafting_can_be_required_or_switched_off():
    from hkid_ocr.models import resolve_models

    if resolve_models().rec_draft is None:
        pytest.skip("the draft recogniser has not been fetched")
    on = hkid_ocr.Recognizer(hkid_ocr.RecognizerConfig(draft=True))
    assert on._recognizer.drafted == DRAFT_KEYS
    assert hkid_ocr.Recognizer(hkid_ocr.RecognizerConfig(draft=False))._recognizer.drafted == frozenset()
    # The draft model's readings are judged by the field rules: without them, no drafts.
    assert hkid_ocr.Recognizer(hkid_ocr.RecognizerConfig(field_rules=False))._recognizer.drafted == frozenset()


def _corpus_photo(index: int):
    """Photo ``index`` of the benchmark's corpus (seed 0, 600 cards), rendered afresh."""
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parents[1]
    if str(repo) not in sys.path:  # benchmarks/ is a folder of the repository, not installed
        sys.path.insert(0, str(repo))
    from benchmarks.synth.corpus import generate_card
    from benchmarks.synth.fonts import missing_fonts

    if missing_fonts():
        pytest.skip("Debian fonts missing (run scripts/setup.sh)")
    card = generate_card(0, index, 600)
    assert card.truth["level"] == "photo"
    return cv2.imdecode(np.frombuffer(card.jpeg, np.uint8), cv2.IMREAD_COLOR), card.truth


@pytest.mark.parametrize("index", [31, 48])
def test_an_outline_with_one_wrong_side_is_repaired_before_the_refits(recognizer, locate_events, monkeypatch, index):
    # Two phone photos whose best traced outline matches only halfway: three sides are
    # the card's, the fourth runs along a line of its print (31: a light card cut by the
    # frame) or on along a light paper touching it (48). Re-placed by the card's
    # proportions, that outline is screened and read, before any refit, faint outline,
    # look at a larger size or text search.
    image, truth = _corpus_photo(index)
    refits: list[int] = []
    refit = recognizer._refit
    monkeypatch.setattr(recognizer, "_refit", lambda *a: refits.append(1) or refit(*a))
    d = recognizer.recognize(image).to_dict()
    assert refits == []
    assert set(locate_events) == {"screen"}
    assert d["data"] == truth["data"]
    assert corner_error(d["sliceRect"], np.array(truth["card_quad"])) < 0.01
