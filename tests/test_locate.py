"""Card candidates: outlines on plain and cluttered backgrounds, snapping, text fallback."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from conftest import specimen
from scenes import among_papers, on_a_light_table, place

from hkid_ocr.locate import (
    CARD_ASPECT,
    MAX_CANDIDATES,
    WorkImage,
    edge_support,
    find_candidates,
    gradients,
    iter_candidates,
    outlines_over,
    quad_from_text,
    quads_from_layout,
    repaired_outlines,
    snap_to_edges,
    straight_outlines,
)
from hkid_ocr.rectify import order_clockwise
from hkid_ocr.recognizer import STRAIGHT_KEEP


def _best_error(cands, truth):
    diag = np.linalg.norm(truth[2] - truth[0])
    errs = []
    for c in cands:
        # compare as sets of corners (order is decided later by the layout)
        d = np.linalg.norm(c.quad[:, None, :] - truth[None, :, :], axis=2).min(axis=1).max()
        errs.append(d / diag)
    return min(errs)


def test_whole_frame_is_always_a_candidate():
    cands = find_candidates(np.full((300, 476, 3), 200, np.uint8))
    assert cands[-1].source == "whole"


def test_a_scan_without_an_outline_tries_its_whole_frame_first_and_once():
    # Card-shaped, flat: no outline in any map, no edges inward for an inset.
    img = np.full((300, 476, 3), 200, np.uint8)
    cands = list(iter_candidates(img, whole_first=True))
    assert cands[0].source == "whole"
    assert [c.source for c in cands].count("whole") == 1
    # With an outline that fills most of the frame, that outline comes first.
    framed = img.copy()
    cv2.rectangle(framed, (12, 10), (463, 289), (60, 60, 60), 3)
    sources = [c.source for c in iter_candidates(framed, whole_first=True)]
    assert sources[0] != "whole" and sources.count("whole") == 1


def test_card_on_plain_background():
    scene = place(specimen("specimen_2018.jpg"), card_width=0.5, rotate=12, background="plain")
    assert _best_error(find_candidates(scene.image), scene.corners) < 0.01


def test_card_on_clutter_with_tilt():
    scene = place(specimen("specimen_2003.jpg"), card_width=0.55, rotate=-7, tilt=0.1, seed=3)
    assert _best_error(find_candidates(scene.image), scene.corners) < 0.015


def test_snap_moves_a_rough_quad_onto_the_edges():
    img = np.full((400, 600), 40, np.uint8)
    cv2.rectangle(img, (100, 80), (500, 330), 220, -1)
    cv2.rectangle(img, (380, 150), (470, 300), 60, -1)  # a strong edge inside (a portrait)
    truth = np.array([[100, 80], [500, 80], [500, 330], [100, 330]], float)
    rough = truth + np.array([[12, -9], [-10, 8], [9, 11], [-12, -8]])
    snapped = snap_to_edges(img, rough, radius=0.05)
    assert np.abs(snapped - truth).max() < 2.5


def _card_over_a_sheet() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A light card whose bottom edge meets a grey sheet of its width: the outline of
    both together has the card's top and sides and the sheet's bottom."""
    img = np.full((480, 600), 40, np.uint8)
    cv2.rectangle(img, (120, 150), (400, 430), 170, -1)  # the sheet
    cv2.rectangle(img, (120, 80), (437, 280), 220, -1)  # the card, drawn over it
    cv2.rectangle(img, (320, 140), (400, 250), 90, -1)  # a portrait
    truth = np.array([[120, 80], [437, 80], [437, 280], [120, 280]], float)
    merged = np.array([[120, 80], [437, 80], [400, 430], [120, 430]], float)
    return img, truth, merged


def test_edge_support_finds_the_side_that_runs_off_the_border():
    img, truth, merged = _card_over_a_sheet()
    grads = gradients(img)
    assert edge_support(grads, truth).min() > 0.95
    support = edge_support(grads, merged)
    assert support[0] > 0.95 and support[3] > 0.95  # the card's top and left edge
    assert support[1] < 0.8  # leaves the card's right edge for the sheet's corner


@pytest.mark.parametrize("turn", [0, 1, 2, 3])
def test_an_outline_with_one_wrong_side_is_repaired_by_the_cards_proportions(turn):
    img, truth, merged = _card_over_a_sheet()
    # The same scene a quarter turn at a time: each side in turn is the wrong one.
    h, w = img.shape
    for _ in range(turn):
        img = np.ascontiguousarray(np.rot90(img, -1))
        truth = np.stack([h - 1 - truth[:, 1], truth[:, 0]], axis=1)
        merged = np.stack([h - 1 - merged[:, 1], merged[:, 0]], axis=1)
        h, w = w, h
    found = repaired_outlines(gradients(img), merged)
    support, quad = found[0]
    assert support > 0.85
    # Any corner order: compare as sets of points.
    err = max(np.linalg.norm(quad - p, axis=1).min() for p in truth)
    assert err < 3
    assert all(s <= support for s, _ in found)


def test_edge_support_of_a_stack_is_each_quads_own():
    img, truth, merged = _card_over_a_sheet()
    grads = gradients(img)
    stacked = edge_support(grads, np.stack([truth, merged, truth + 5]))
    assert stacked.shape == (3, 4)
    for row, quad in zip(stacked, [truth, merged, truth + 5]):
        assert np.array_equal(row, edge_support(grads, quad))


def _corner_error(quad: np.ndarray, truth: np.ndarray) -> float:
    """Largest corner distance over the diagonal, whichever corner the quad starts from."""
    diag = float(np.linalg.norm(truth[2] - truth[0]))
    q, t = order_clockwise(quad), order_clockwise(truth)
    return min(float(np.abs(np.roll(q, k, axis=0) - t).max()) for k in range(4)) / diag


@pytest.mark.parametrize("name", ["specimen_2003.jpg", "specimen_2018.jpg"])
@pytest.mark.parametrize(("rotate", "tilt", "seed"), [(-5, 0.0, 2), (8, 0.1, 1)])
def test_a_card_whose_outline_runs_into_papers_is_found_by_its_straight_edges(name, rotate, tilt, seed):
    scene = among_papers(specimen(name), rotate=rotate, tilt=tilt, seed=seed)
    # Every traced outline runs on into the papers...
    assert _best_error(find_candidates(scene.image), scene.corners) > 0.2
    # ...while the card's four sides are straight edges all the same.
    work = WorkImage(scene.image)
    found = straight_outlines(work, keep=STRAIGHT_KEEP)
    assert min(_corner_error(q / work.scale, scene.corners) for _, q in found) < 0.01
    assert [s for s, _ in found] == sorted((s for s, _ in found), reverse=True)


def test_straight_outlines_prefer_sides_that_end_at_their_corners():
    # A card, and beside it four long lines crossing like a hash sign, whose middle cell
    # has the card's shape: its sides are as straight and as strong as the card's, but
    # run on past its corners.
    img = np.full((600, 1000, 3), 70, np.uint8)
    card = np.array([[80, 150], [397, 150], [397, 350], [80, 350]], float)
    cv2.rectangle(img, (80, 150), (397, 350), (225, 225, 225), -1)
    for x in (560, 877):
        cv2.line(img, (x, 60), (x, 540), (225, 225, 225), 3)
    for y in (200, 400):
        cv2.line(img, (480, y), (960, y), (225, 225, 225), 3)
    work = WorkImage(img)
    (best, quad), *rest = straight_outlines(work, keep=3)
    assert _corner_error(quad / work.scale, card) < 0.01
    assert best > 1.4
    assert all(s < best - 0.3 for s, _ in rest)


def test_straight_outlines_of_a_blank_image_are_none():
    assert straight_outlines(WorkImage(np.full((300, 400, 3), 128, np.uint8))) == []
    img, _, _ = _card_over_a_sheet()
    assert straight_outlines(WorkImage(cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)), keep=0) == []


def _faint_scan(card_size: tuple[int, int], margin: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """A light card on a light scanner lid, edges too faint for a closed outline."""
    cw, ch = card_size
    h, w = ch + 2 * margin[1], cw + 2 * margin[0]
    img = np.full((h, w, 3), 236, np.uint8)
    card = cv2.resize(specimen("specimen_2018.jpg"), (cw, ch), interpolation=cv2.INTER_AREA)
    # Lighten the card towards the lid's colour: its border is then a step of a few levels.
    card = (0.35 * card.astype(np.float32) + 0.65 * 226).astype(np.uint8)
    x, y = margin
    img[y:y + ch, x:x + cw] = card
    img = cv2.GaussianBlur(img, (3, 3), 0)
    corners = np.array([[x, y], [x + cw, y], [x + cw, y + ch], [x, y + ch]], np.float64)
    return img, corners


def test_a_faint_card_inside_a_scan_is_found_inward_from_the_frame():
    img, corners = _faint_scan((700, round(700 / CARD_ASPECT)), (30, 22))
    first = next(iter_candidates(img, whole_first=True))
    assert first.source == "inset"
    assert _best_error([first], corners) < 0.01


@pytest.mark.parametrize("width,expect", [(570, True), (700, False)])
def test_inset_needs_four_edges_of_a_cards_aspect(width, expect):
    from hkid_ocr.locate import WorkImage, _inset

    # A flat light rectangle 360 px high inside the frame: 570 px wide is a card's
    # aspect (1.58), 700 px is not (1.94).
    img = np.full((480, 760, 3), 236, np.uint8)
    x0 = (760 - width) // 2
    img[60:420, x0:x0 + width] = 226
    work = WorkImage(img)
    quad = _inset(work)
    assert (quad is not None) == expect
    if expect:
        # Working-image pixels, back to the image's.
        assert np.abs(quad / work.scale - [[x0, 60], [x0 + width, 60], [x0 + width, 420], [x0, 420]]).max() < 2


def test_quad_from_text_lines():
    """Horizontal text-like bars in a block give the block's card, turned with them."""
    tm = np.zeros((400, 600), np.float32)
    gray = np.full((400, 600), 90, np.uint8)
    for i in range(8):
        cv2.rectangle(tm, (150, 110 + 22 * i), (150 + (300 if i % 2 else 160), 118 + 22 * i), 1.0, -1)
    quad = quad_from_text(tm, gray)
    assert quad is not None
    w = np.linalg.norm(quad[1] - quad[0])
    h = np.linalg.norm(quad[3] - quad[0])
    assert 1.3 < w / h < 1.9
    assert quad[:, 0].min() < 150 and quad[:, 0].max() > 450


def _layout_scene(design: str, x: int, y: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """A whole-image text map holding one card's printed lines, and the card's corners."""
    from hkid_ocr.layout import template_mask

    height = round(width / CARD_ASPECT)
    tmap = np.zeros((480, 640), np.float32)
    tmap[y:y + height, x:x + width] = template_mask(design, width, height)
    # Another block of text beside the card (a receipt) that shares nothing with its layout.
    for row in range(30, 140, 14):
        tmap[row:row + 5, 480:620] = 0.9
    corners = np.array([[x, y], [x + width, y], [x + width, y + height], [x, y + height]], np.float64)
    return tmap, corners


@pytest.mark.parametrize("design", ["2003", "2018"])
def test_layout_search_finds_the_card_and_coarse_search_agrees(design):
    tmap, corners = _layout_scene(design, 150, 160, 300)
    full = quads_from_layout(tmap)
    coarse = quads_from_layout(tmap, coarse=120)
    diag = np.linalg.norm(corners[2] - corners[0])
    assert np.abs(full[0][1] - corners).max() < 0.04 * diag
    assert np.abs(coarse[0][1] - full[0][1]).max() < 0.01 * diag
    # Turned upside down: the same card, its corners still in reading order (TL first).
    flipped = quads_from_layout(tmap[::-1, ::-1].copy(), coarse=120)[0][1]
    h, w = tmap.shape
    assert np.abs(flipped - (np.array([w, h]) - corners)).max() < 0.04 * diag


def test_floored_percentile_is_numpys():
    from hkid_ocr.locate import _percentile_at_least

    rng = np.random.default_rng(7)
    levels = np.array([0.0, 5.0, 19.5, 20.0, 20.0001, 21.0, 40.0], np.float32)
    for i in range(400):
        n = int(rng.integers(1, 60))
        # Values bunched at the floor (ties where the shortcut decides), or spread.
        a = rng.choice(levels, n) if i % 2 else (rng.random(n) * rng.uniform(1, 60)).astype(np.float32)
        assert _percentile_at_least(a, 90, 20.0) == max(20.0, float(np.percentile(a, 90)))


def test_coarse_search_keeping_few_agrees_with_the_full_search():
    # The refit's setting (upright, a few coarse matches kept) on a map holding one card.
    from hkid_ocr.recognizer import REFIT_COARSE_KEEP, REFIT_COARSE_SIDE, REFIT_SIDE

    tmap, corners = _layout_scene("2018", 60, 80, 420)
    full = quads_from_layout(tmap, min_width=0.6, step=1.03, upright=True, side=REFIT_SIDE)
    few = quads_from_layout(tmap, min_width=0.6, step=1.03, upright=True, side=REFIT_SIDE,
                            coarse=REFIT_COARSE_SIDE, keep=REFIT_COARSE_KEEP)
    diag = np.linalg.norm(corners[2] - corners[0])
    assert np.abs(full[0][1] - corners).max() < 0.04 * diag
    assert np.abs(few[0][1] - full[0][1]).max() < 0.01 * diag


def test_layout_search_on_workers_gives_its_answer():
    from hkid_ocr.workers import Workers

    tmap, _ = _layout_scene("2003", 120, 100, 360)
    alone = quads_from_layout(tmap, coarse=120)
    shared = quads_from_layout(tmap, coarse=120, workers=Workers(2))
    assert [s for s, _ in alone] == [s for s, _ in shared]
    assert all(np.array_equal(a, b) for (_, a), (_, b) in zip(alone, shared))


def test_histogram_median_is_numpys_median():
    from hkid_ocr.locate import _median_u8

    rng = np.random.default_rng(5)
    for _ in range(200):
        a = rng.integers(0, 256, (int(rng.integers(1, 40)), int(rng.integers(1, 40))), dtype=np.uint8)
        if rng.random() < 0.5:
            a = (a // 64 * 64).astype(np.uint8)  # few distinct values: ties at the middle
        assert _median_u8(a) == float(np.median(a))


def test_upper_quartile_is_numpys_percentile_to_the_bit():
    from hkid_ocr.locate import upper_quartile

    rng = np.random.default_rng(3)
    for n in range(1, 90):
        for dtype in (np.float32, np.float64):
            a = (rng.random((4, n)) * 200).astype(dtype)
            a[1] = np.round(a[1] / 20) * 20  # ties
            got, want = upper_quartile(a), np.percentile(a, 75, axis=1)
            assert got.dtype == want.dtype and np.array_equal(got, want), (n, dtype)


def test_outlines_over_a_rough_quad_from_the_text_give_the_traced_card():
    # Blank card-shaped papers rank before the card's own outline, which is then past the
    # candidates screened; a rough quad where the text is (off by a tenth of the card)
    # finds it in the full list, snapped to the card's edges.
    scene = place(specimen("specimen_2018.jpg"), canvas=(900, 1200), card_width=0.3, rotate=6,
                  tilt=0.12, seed=2, background="plain")
    card = np.zeros(scene.image.shape[:2], np.uint8)
    cv2.fillConvexPoly(card, np.round(scene.corners).astype(np.int32), 255)
    img = np.where(card[:, :, None] > 0, scene.image, np.uint8(90))  # on a darker desk
    rng = np.random.default_rng(1)
    for x, y in [(40, 40), (880, 40), (40, 660), (880, 660), (460, 720)]:
        w = int(rng.uniform(260, 300))
        cv2.rectangle(img, (x, y), (x + w, y + int(w / CARD_ASPECT)), (240, 240, 235), -1)
    truth = scene.corners
    work = WorkImage(img)
    screened = [c.quad for c in iter_candidates(img, work=work)]
    assert _best_error([type("C", (), {"quad": q}) for q in screened[:MAX_CANDIDATES]], truth) > 0.2
    assert len(work.outlines) > MAX_CANDIDATES
    rough = truth + 0.1 * (truth.mean(axis=0) - truth) + np.array([12.0, -9.0])
    (found,) = outlines_over(work, [rough])
    diag = np.linalg.norm(truth[2] - truth[0])
    assert np.linalg.norm(found[:, None] - truth[None], axis=2).min(axis=1).max() / diag < 0.01
    assert outlines_over(work, [rough], skip=[found]) == []  # judged already
    bare = np.array([[500.0, 50.0], [700.0, 50.0], [700.0, 170.0], [500.0, 170.0]])  # desk only
    assert outlines_over(work, [bare]) == []


def _corner_error(quad: np.ndarray, truth: np.ndarray) -> float:
    """The largest corner distance over the diagonal, the quad's corners in any rotation."""
    q = np.asarray(quad, np.float64)
    return min(float(np.abs(np.roll(q, k, axis=0) - truth).max()) for k in range(4)) / float(
        np.linalg.norm(truth[2] - truth[0]))


@pytest.mark.parametrize("name", ["specimen_2003.jpg", "specimen_2018.jpg"])
@pytest.mark.parametrize("rotate,tilt,seed", [(-12, 0.1, 2), (3, 0.0, 3)])
def test_a_light_card_on_a_light_table_is_traced_only_in_the_faint_edge_maps(name, rotate, tilt, seed):
    from hkid_ocr.locate import WorkImage, faint_outlines

    scene = on_a_light_table(specimen(name), rotate=rotate, tilt=tilt, seed=seed)
    work = WorkImage(scene.image)
    traced = [c for c in iter_candidates(scene.image, work=work) if c.source != "whole"]
    # The usual maps do not trace it (this is the scene the faint maps are for) ...
    assert all(_corner_error(c.quad, scene.corners) > 0.03 for c in traced)
    # ... the faint ones do, first.
    first = next(faint_outlines(work))
    assert _corner_error(first / work.scale, scene.corners) < 0.015


def test_faint_outlines_skip_what_the_usual_maps_traced():
    # A card with a clear border: its outline is traced by the usual maps, so the faint
    # maps' copy of it is not offered again.
    from hkid_ocr.locate import WorkImage, faint_outlines

    scene = place(specimen("specimen_2018.jpg"), card_width=0.5, rotate=12, background="plain")
    work = WorkImage(scene.image)
    list(iter_candidates(scene.image, work=work))  # ranks the traced outlines (work.outlines)
    assert work.outlines
    assert all(_corner_error(q / work.scale, scene.corners) > 0.05 for q in faint_outlines(work))
