"""Templates and layout matching on real text maps of the specimens."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import specimen

from hkid_ocr.layout import TEMPLATES, locate_lines, match_layout, register_layout, template_mask, text_box
from hkid_ocr.recognizer import SCREEN_REGISTRATION_TOLERANCE, SCREEN_SIZE
from hkid_ocr.rectify import CARD_SIZE, card_homography, warp_card


def _specimen_maps(recognizer, size):
    out = {}
    for design in ("2003", "2018"):
        img = specimen(f"specimen_{design}.jpg")
        h, w = img.shape[:2]
        quad = np.array([[0, 0], [w, 0], [w, h], [0, h]], float)
        card = warp_card(img, card_homography(quad, size), size)
        out[design] = recognizer._detector.probability([card])[0]
    return out


@pytest.fixture(scope="module")
def maps(recognizer):
    return _specimen_maps(recognizer, CARD_SIZE)


@pytest.fixture(scope="module")
def plain_screen_maps(recognizer):
    return _specimen_maps(recognizer, SCREEN_SIZE)


@pytest.fixture(scope="module")
def screen_maps(plain_screen_maps):
    """The specimens' text maps at screening size, as cards without a Chinese name
    (both of its lines blanked)."""
    out = {}
    for design, m in plain_screen_maps.items():
        H, W = m.shape
        m = m.copy()
        for key in ("nameCn", "nameCode"):
            s = TEMPLATES[design].line(key)
            m[max(0, int(s.y * H) - 2) : int((s.y + s.h) * H) + 3, int(s.x * W) - 3 : int((s.x + s.max_w) * W) + 3] = 0
        out[design] = m
    return out


def _corner_move(A, m):
    """How far the map A moves the card's corners (fraction of the diagonal)."""
    H, W = m.shape
    corners = np.array([[0, 0], [W, 0], [W, H], [0, H]], float)
    return np.abs(corners @ A[:, :2].T + A[:, 2] - corners).max() / np.hypot(W, H)


def test_templates_are_inside_the_card():
    for tmpl in TEMPLATES.values():
        for line in tmpl.lines:
            assert 0 <= line.x < line.x + max(line.w, line.max_w) <= 1.0, line.key
            assert 0 <= line.y < line.y + line.h <= 1.0, line.key


def test_masks_differ_between_designs():
    a, b = template_mask("2003", 128, 80), template_mask("2018", 128, 80)
    assert a.sum() > 0 and b.sum() > 0 and not np.array_equal(a, b)


@pytest.mark.parametrize("design", ["2003", "2018"])
def test_match_picks_design_and_orientation(maps, design):
    best, *rest = match_layout(maps[design])
    assert best.design == design and not best.flipped
    assert best.score > 0.6 and best.score - rest[0].score > 0.01
    flipped = match_layout(np.ascontiguousarray(maps[design][::-1, ::-1]))[0]
    assert flipped.design == design and flipped.flipped


@pytest.mark.parametrize("design", ["2003", "2018"])
def test_lines_found_where_the_template_says(maps, design):
    lines = locate_lines(maps[design], design, (0.0, 0.0))
    W, H = CARD_SIZE
    for key in ("nameCn", "nameEn", "nameCode", "issuedDate", "idNumber"):
        box, found = lines[key]
        spec = TEMPLATES[design].line(key)
        assert found, key
        assert abs((box[1] + box[3]) / 2 - spec.cy * H) < 4, key
        assert abs(box[0] - spec.x * W) < 8, key


@pytest.mark.parametrize("design", ["2003", "2018"])
def test_registration_is_identity_on_an_exact_card(maps, design):
    A = register_layout(maps[design], design, (0.0, 0.0))
    assert A is not None
    assert np.allclose(A[:, :2], np.eye(2), atol=0.02) and np.abs(A[:, 2]).max() < 4


def test_registration_sees_a_shrunken_card(maps):
    # The card rendered at 90% inside the frame: the map says so.
    import cv2

    m = maps["2003"]
    H, W = m.shape
    small = cv2.resize(m, None, fx=0.9, fy=0.9)
    framed = np.zeros_like(m)
    oy, ox = (H - small.shape[0]) // 2, (W - small.shape[1]) // 2
    framed[oy : oy + small.shape[0], ox : ox + small.shape[1]] = small
    A = register_layout(framed, "2003", (0.0, 0.0))
    assert A is not None and abs(A[0, 0] - 0.9) < 0.03 and abs(A[1, 1] - 0.9) < 0.04


@pytest.mark.parametrize("design", ["2003", "2018"])
def test_coarse_registration_without_a_chinese_name_is_a_similarity(screen_maps, design):
    # Only the English name anchors the left edge: the width scale is not left to it.
    m = screen_maps[design]
    assert not any(found for _, found in locate_lines(m, design, (0.0, 0.0), {"c": ("nameCn",), "d": ("nameCode",)}).values())
    A = register_layout(m, design, (0.0, 0.0), coarse=True)
    assert A is not None
    assert A[0, 0] == pytest.approx(A[1, 1]) and A[0, 1] == pytest.approx(-A[1, 0])
    assert _corner_move(A, m) < SCREEN_REGISTRATION_TOLERANCE


@pytest.mark.parametrize("design", ["2003", "2018"])
def test_coarse_registration_with_a_chinese_name_is_the_full_map(plain_screen_maps, design):
    m = plain_screen_maps[design]
    assert np.array_equal(register_layout(m, design, (0.0, 0.0), coarse=True), register_layout(m, design, (0.0, 0.0)))


def test_coarse_registration_still_sees_a_card_squeezed_across(screen_maps):
    # 90% of its width, full height: no similarity explains that, so the full map stands.
    import cv2

    m = screen_maps["2018"]
    squeezed = cv2.resize(m, None, fx=0.9, fy=1.0)
    framed = np.zeros_like(m)
    framed[:, : squeezed.shape[1]] = squeezed
    A = register_layout(framed, "2018", (0.0, 0.0), coarse=True)
    assert A is not None and A[0, 0] < 0.95 and abs(A[1, 1] - 1.0) < 0.03
    assert _corner_move(A, framed) > SCREEN_REGISTRATION_TOLERANCE


def test_text_box_grows_the_kernel():
    x0, y0, x1, y1 = text_box((10, 10, 100, 20))
    assert x0 < 10 and y0 < 10 and x1 > 100 and y1 > 20
