"""Geometry: corner order, homography round trips, crops straight from the original."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import specimen

from hkid_ocr.rectify import (
    CARD_SIZE,
    card_homography,
    half_turn,
    map_points,
    order_clockwise,
    orientations,
    warp_card,
    warp_quad,
    warp_region,
)

QUAD = np.array([[100, 50], [420, 70], [410, 270], [90, 250]], float)


def test_order_clockwise_from_any_shuffle():
    rng = np.random.default_rng(0)
    for _ in range(10):
        assert np.array_equal(order_clockwise(rng.permutation(QUAD)), QUAD)


def test_homography_maps_canonical_corners_to_quad():
    H = card_homography(QUAD, CARD_SIZE)
    w, h = CARD_SIZE
    assert np.allclose(map_points(H, [(0, 0), (w, 0), (w, h), (0, h)]), QUAD, atol=1e-6)


def test_landscape_quad_gives_one_order_portrait_gives_turned_order():
    assert len(orientations(QUAD)) == 1
    standing = QUAD[:, ::-1]  # swap x and y: a card on its side
    (o,) = orientations(standing)
    # the top edge of the upright card is a long side
    assert np.linalg.norm(o[1] - o[0]) > np.linalg.norm(o[3] - o[0])


def test_square_quad_tries_both_turns():
    sq = np.array([[0, 0], [100, 0], [100, 95], [0, 95]], float)
    assert len(orientations(sq)) == 2


def test_half_turn():
    assert np.array_equal(half_turn(QUAD), QUAD[[2, 3, 0, 1]])


def test_warp_card_and_region_read_the_same_pixels():
    rng = np.random.default_rng(1)
    img = (rng.random((400, 600, 3)) * 255).astype(np.uint8)
    img[100:140, 200:300] = 0  # a dark bar
    quad = np.array([[50, 40], [560, 40], [560, 360], [50, 360]], float)
    H = card_homography(quad, CARD_SIZE)
    card = warp_card(img, H, CARD_SIZE)
    assert card.shape == (CARD_SIZE[1], CARD_SIZE[0], 3)
    # the bar in canonical coordinates
    inv = np.linalg.inv(H)
    (x0, y0), (x1, y1) = map_points(inv, [(200, 100), (300, 140)])
    crop = warp_region(img, H, (x0 + 2, y0 + 2, x1 - 2, y1 - 2), 48, 400)
    assert crop.shape[0] == 48 and crop.mean() < 20


@pytest.mark.parametrize("scale", [0.3, 1.0, 4.0])
def test_region_width_follows_aspect(scale):
    img = np.zeros((int(300 * scale), int(500 * scale), 3), np.uint8)
    H = card_homography(np.array([[0, 0], [500, 0], [500, 300], [0, 300]], float) * scale, CARD_SIZE)
    crop = warp_region(img, H, (10, 10, 210, 30), 48, 1000)
    assert crop.shape[:2] == (48, 480)


def test_region_squeeze_narrows_the_same_content():
    # A bright bar across the middle third of the box stays in the middle third.
    img = np.zeros((300, 500, 3), np.uint8)
    img[:, 150:350] = 255
    H = card_homography(np.array([[0, 0], [500, 0], [500, 300], [0, 300]], float), (500, 300))
    full = warp_region(img, H, (50, 100, 450, 140), 48, 1000)
    narrow = warp_region(img, H, (50, 100, 450, 140), 48, 1000, squeeze=0.8)
    assert full.shape[:2] == (48, 480) and narrow.shape[:2] == (48, 384)
    for crop in (full, narrow):
        cols = np.flatnonzero(crop[24, :, 0] > 127)
        w = crop.shape[1]
        assert abs(cols[0] / w - 0.25) < 0.01 and abs((cols[-1] + 1) / w - 0.75) < 0.01


@pytest.mark.parametrize("factor", [2, 3, 4])
def test_shrinking_a_card_gives_it_back(factor):
    # The specimen drawn at 2, 3 and 4 times its size and shrunk back: close to the
    # original (plain bilinear sampling, without rendering larger first and averaging
    # down, is ~3.3 grey levels off at 3x and ~3.7 at 4x).
    import cv2

    img = specimen("specimen_2003.jpg")
    h, w = img.shape[:2]
    big = cv2.resize(img, (w * factor, h * factor), interpolation=cv2.INTER_CUBIC)
    frame = np.array([[0, 0], [w * factor, 0], [w * factor, h * factor], [0, h * factor]], float)
    out = warp_quad(big, frame, w, h)
    assert out.shape == img.shape
    assert np.abs(out.astype(float) - img).mean() < 2.0


def test_a_large_card_rendered_from_its_halved_region_matches_the_full_render():
    # A card over four times the map's size is halved first and rendered at 2x (see
    # warp_quad, halve): as close to the card as a 4x render of the full image, and in the same
    # place as a 2x render of it (the samples a map pixel averages centre where a 2x
    # render's do; a 4x render's sit an eighth of a pixel further in).
    import cv2

    from hkid_ocr.rectify import _halved

    img = specimen("specimen_2003.jpg")
    h, w = img.shape[:2]
    big = cv2.resize(img, (w * 5, h * 5), interpolation=cv2.INTER_CUBIC)
    canvas = cv2.copyMakeBorder(big, 300, 300, 400, 400, cv2.BORDER_CONSTANT, value=(40, 90, 40))
    quad = np.array([[430, 310], [400 + w * 5 - 60, 340], [400 + w * 5 - 20, 300 + h * 5 - 10],
                     [390, 300 + h * 5 - 40]], np.float32)
    assert _halved(canvas, quad) is not None  # the path taken at 4x
    halved = warp_quad(canvas, quad, 256, 160, halve=True)

    def render(k: int) -> np.ndarray:
        dst = np.array([[0, 0], [256 * k, 0], [256 * k, 160 * k], [0, 160 * k]], np.float32)
        out = cv2.warpPerspective(canvas, cv2.getPerspectiveTransform(quad, dst), (256 * k, 160 * k),
                                  flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        return cv2.resize(out, (256, 160), interpolation=cv2.INTER_AREA)

    four, two = render(4), render(2)
    assert halved.shape == four.shape
    assert np.abs(halved.astype(float) - four).mean() < 2.5
    a, b = (np.float32(cv2.cvtColor(x, cv2.COLOR_BGR2GRAY)) for x in (halved, two))
    (dx, dy), _ = cv2.phaseCorrelate(a, b)
    assert abs(dx) < 0.03 and abs(dy) < 0.03
    # Line crops (no halve) and the whole image keep the 4x render, pixel for pixel.
    assert np.array_equal(warp_quad(canvas, quad, 256, 160), four)
    ch, cw = canvas.shape[:2]
    frame = np.array([[0, 0], [cw - 1, 0], [cw - 1, ch - 1], [0, ch - 1]], np.float32)
    whole = cv2.resize(cv2.warpPerspective(
        canvas, cv2.getPerspectiveTransform(frame, np.float32([[0, 0], [1024, 0], [1024, 640], [0, 640]])),
        (1024, 640), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE), (256, 160), interpolation=cv2.INTER_AREA)
    assert np.array_equal(warp_quad(canvas, frame, 256, 160, halve=True), whole)
