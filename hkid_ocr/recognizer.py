"""The Recognizer: loads the models once and runs the pipeline stages in order.

    load -> locate (candidates) -> rectify + layout match (design, orientation)
         -> locate lines -> recognise (one batch) -> parse -> checks -> schema

A Recognizer never changes after construction, so one instance can serve many
threads at once. :func:`recognize` uses a process-wide default instance.

Example:
    >>> import hkid_ocr
    >>> res = hkid_ocr.recognize("tests/data/specimen_2003.jpg")  # doctest: +SKIP
    >>> res.to_dict()["data"]["idNumber"]  # doctest: +SKIP
    'C668668(E)'
"""

from __future__ import annotations

import math
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import date
from functools import partial

import cv2
import numpy as np

from . import __version__
from .report import card_checks
from .checks import id_number_valid
from .config import RecognizerConfig
from .errors import AlgorithmError, ModelError, NoCardFoundError, RecognitionError
from .io import ImageSource, load_image
from .layout import (
    PERMANENT_TITLE_MIN_WIDTH,
    TEMPLATES,
    locate_lines,
    match_layout,
    misplaced_lines,
    register_layout,
    text_box,
)
from .names import NameDecision, decide_name
from .locate import (
    FINE_SNAP,
    TRACED_SNAP,
    WorkImage,
    edge_support,
    faint_outlines,
    gradients,
    iter_candidates,
    outlines_over,
    quad_from_text,
    quads_from_layout,
    repaired_outlines,
    same_outline,
    snap_to_edges,
    snap_twice,
    straight_outlines,
)
from .parse import (
    ALPHABETS,
    is_cjk,
    parse_first_issued,
    FIELD_PATTERNS,
    best_valid,
    decode_symbols,
    parse_birth_date,
    parse_id_number,
    parse_issue_date,
    case_name_en,
    parse_name_cn,
    parse_name_code,
    parse_name_en,
    parse_symbols,
    split_birth_sex,
)
from .portrait import figures, portrait_crop
from .quality import RECAPTURE_THRESHOLD, is_photocopy, recapture_score
from .rectify import CARD_SIZE, order_clockwise, card_homography, half_turn, map_points, orientations, warp_card, warp_region
from .recognize import DRAFT_COST, DRAFT_INT8_COST, MAX_WIDTH, REC_HEIGHT, TextRecognizer, lanes_for, starts_in_ink
from .runtime import OnnxModel, narrow_recognizer, without_denormals
from .schema import CardData, Figure, HKIDResult, KeyValueInfo, Point, SliceRect
from .textmap import TextDetector
from .types import FIELD_KEYS, CardView, LineReading, LoadedImage
from .workers import Workers

__all__ = ["Recognizer", "recognize"]


Box = tuple[float, float, float, float]
Lines = dict[str, tuple[Box, bool]]
#: Rectification used to screen card candidates (the detector's cost grows with area).
SCREEN_SIZE = (256, 160)
#: The look at a card found by its straight edges or its text, often cluttered around,
#: whose lines are found on a finer map than a screening's (see _accept). 0.65 of
#: CARD_SIZE's pixels (~8 ms less a look); narrower than CARD_SIZE, it registers as a
#: screening does, and a view whose lines still disagree goes on to CARD_SIZE. Against
#: CARD_SIZE: the same cards on the benchmark corpus, seed 1 and seed 11, one more on
#: seed 2; photos -4.7 ms and hard photos -2.9 ms a card on average (alternating
#: runs). 384x256 lost a field on seed 1; 352x224 read as many fields right but changed
#: twice as many answers.
FINE_SIZE = (416, 256)
#: Screened candidates scoring below this are not worth a full rectification (on the
#: benchmark corpus, 1 in 80 of them reached a convincing match at CARD_SIZE).
SCREEN_FLOOR = 0.3
LAST_RESORT_FLOOR = 0.12
#: Cards narrower than this (image pixels) are read from a CARD_SIZE text map.
SMALL_CARD_WIDTH = 320
#: Screened candidates matching at least this well are searched for the card inside them.
REFIT_FLOOR = 0.3
#: ... which fills at least this share of the candidate's width.
REFIT_MIN_WIDTH = 0.6
#: Long side (px) the refit search matches at: edge snapping refines its corners after,
#: so a coarser search than the whole-image one costs half and loses nothing.
REFIT_SIDE = 200
#: ... after trying every size on a map this long, keeping the best REFIT_COARSE_KEEP
#: (the same corners for every refit of the benchmark's clean scans; 6 ms a refit
#: instead of 11).
REFIT_COARSE_SIDE = 100
REFIT_COARSE_KEEP = 3
#: Long side of the whole-image text search (the fallback card finder). Its map costs
#: ~35% less at 640 than at 800 and finds the same cards (against 800: benchmark corpus
#: all-9 the same, fields -6; held-out seed-2 corpus +2 cards, +16 fields; seed-1 the
#: same, -1 field; 704 lost 4 and 2 cards): photo p95 -13%, hard median -11%.
TEXT_SEARCH_SIDE = 640
#: ... and at most this many pixels (a 4:3 photo's map at TEXT_SEARCH_SIDE): a square
#: photo's map at 640 x 640 costs ~1.6x a 4:3 one's (~90 against ~55 ms); capped, it is
#: 554 x 554. The same readings on the benchmark corpus (one card's two fields traded),
#: seed 2 and seed 1; the text search of a square photo ~30-70 ms faster.
TEXT_SEARCH_AREA = 640 * 480
#: ... whose layout search tries every card size on a map this long first (then the
#: best few at full size: the same best match for a third of the time, measured).
LAYOUT_COARSE_SIDE = 120
#: Corners this far off (fraction of the card diagonal) are corrected from the layout.
REGISTRATION_TOLERANCE = 0.012
#: ... and a move beyond this is not a correction but a mismatch.
REGISTRATION_LIMIT = 0.15
#: REGISTRATION_TOLERANCE on a screening map (SCREEN_SIZE), whose coarser lines propose
#: small moves for corners that are right: below this the view is kept rather than
#: judged again at CARD_SIZE (~30 ms). Benchmark corpus +1 card and held-out seed-2
#: corpus -1 against 0.012; photo median ~10% faster.
SCREEN_REGISTRATION_TOLERANCE = 0.016
#: A screening map asking for a move this large is believed: the corners are moved and
#: screened again before any rectification at CARD_SIZE. (0.03 before a moved view that
#: matches worse was let stand at screening size: the same readings on both corpora.)
SCREEN_MOVE_MIN = 0.02
#: A view in doubt (see Recognizer._register) gives way to another candidate matching
#: nearly as well: its own score is flattered by the lines it matched wrongly.
DOUBT_MARGIN = 0.1
#: Outlines screened before the rest are given up when none matched even SCREEN_FLOOR
#: (papers, a screen, the table's edge): the ones further down the list then seldom
#: hold the card, and the text search finds it. Against screening all of them (up to
#: ~8, ~15 ms each): 98 of the benchmark's 360 photos stop earlier; the same cards read
#: on the benchmark corpus (+4 fields), seed 2, seed 1 and seed 11; phone photos -5 ms a
#: card on average, hard photos -12 ms. Giving up after 3 lost a card on seed 2.
OUTLINES_BEFORE_GIVING_UP = 4
#: Edge support (locate.edge_support) every side of a repaired outline needs to be
#: screened: of the 93 benchmark photos that needed the text search, 21 best outlines
#: were repaired above it, each to the card's true corners (checked against the truth).
REPAIR_SUPPORT = 0.85
#: ... and the support a repaired outline needs to be screened early, right after the
#: traced and straight-edge outlines fail, before the refits and the faint outlines: when
#: the best of them matched halfway (REFIT_FLOOR), it is often the card with three true
#: sides and a fourth along a paper or a line of print (see Recognizer._find_card). At
#: 0.85 a card's date of birth was read wrong on the benchmark corpus; at 0.9 and 0.93 no
#: field changed on the four corpora (seeds 0, 2, 1 and 11).
EARLY_REPAIR_SUPPORT = 0.9
#: A repaired outline this close to one screened already (fraction of its diagonal) is
#: that outline again: not screened twice. (same_outline's own 0.04 is too coarse here: a
#: side re-placed onto the card's border often moves the corners only ~3%.)
REPAIRED_SAME = 0.01
#: Outlines of four straight edges screened (see straight_outlines and _find_card): at
#: most this many, and only those scoring at least this (the weakest side's edge
#: support plus half the mean; 1.5 for edges the whole way round). On the benchmark
#: corpus the card, when among them, was the first or second; a third is for papers
#: lying square to the card, whose edges make card-shaped quads of their own.
STRAIGHT_KEEP = 3
STRAIGHT_FLOOR = 1.1
#: A photo's first traced outline with a side whose edge support (locate.edge_support)
#: is below this has its straight-edge outlines screened before it. On the benchmark
#: corpus's 360 photos, 188 first outlines were that weak and 4 of them were the card;
#: 106 of the others were followed by a straight outline that was (a screening saved,
#: ~9 ms). The same answers on the benchmark corpus, seed 2, seed 1 and seed 11.
WEAK_SIDE = 0.5


def _off_edge(work: WorkImage, quad: np.ndarray) -> bool:
    """Whether a side of ``quad`` (original pixels) runs along no edge for most of its length."""
    return bool(edge_support(work.grads, quad * work.scale).min() < WEAK_SIDE)


@dataclass(frozen=True)
class _Field:
    value: str
    prob: float
    quad: np.ndarray  # (4, 2) original-image corners


class Recognizer:
    """Reads HKID cards. Loads the ONNX sessions once; safe to share across threads.

    Args:
        config: settings; the defaults suit most uses.

    Raises:
        ModelError: the weights are missing or fail their checksum (the message names
            the command that fetches them).

    Example:
        >>> rec = Recognizer()  # doctest: +SKIP
        >>> rec.recognize(open("card.jpg", "rb").read()).data.nameEn  # doctest: +SKIP
        'LEE, Chi Nan'
    """

    def __init__(self, config: RecognizerConfig | None = None) -> None:
        # Imported here, not at the top: `import hkid_ocr` must not import the models
        # module, or `python -m hkid_ocr.models fetch` warns that it was imported twice.
        from .models import FETCH_COMMAND, resolve_models

        self.config = config or RecognizerConfig()
        files = resolve_models(self.config.model_dir)
        lanes = lanes_for(self.config.threads)
        # The detector runs alone (locating comes before reading) and on large maps when
        # the card is found from its text: it gets every core (threads=1 keeps it to one).
        # The recogniser sessions are single-threaded: one text line gains nothing from a
        # second thread (measured), so cores are used by reading several lines at once
        # instead (TextRecognizer lanes).
        # Its denormal weights zeroed: up to ~3.7x faster a run, the same maps (see without_denormals).
        self._detector = TextDetector(OnnxModel(files.det, lanes, source=without_denormals(files.det)))
        # The layout searches' template matches run on every core too (see Workers).
        self._workers = Workers(lanes, "hkid-ocr-locate")
        if self.config.int8 and files.rec_int8 is None:
            raise ModelError(f"the int8 recogniser has not been built: run `{FETCH_COMMAND}`")
        int8_path = files.rec_int8 if self.config.int8 is not False else None
        rec_model = OnnxModel(files.rec, lanes if int8_path is not None else 1)
        probe = TextRecognizer(rec_model)
        # The Chinese name may only hold ideographs: build that alphabet from the
        # model's own dictionary.
        cjk = "".join(c for c in probe.charset if len(c) == 1 and is_cjk(c))
        alphabets = {**ALPHABETS, "nameCn": cjk} if self.config.field_rules else {}
        if int8_path is not None:
            # int8 reads digits and dates as well as fp32 does (benchmark). Now and then
            # it drops a star of the symbols, a stroke of the Chinese name or a narrow
            # space of the English name; such a reading does not convince (see
            # _settled) and is read again in fp32 (see _read_lines). Such a re-read is
            # mostly one line, which a single-threaded session would read on one core
            # with the others idle: this session gets every lane's core (one fp32 line
            # ~1.65x faster on two; the same numbers, measured bit for bit).
            main_path, precise = int8_path, rec_model
        else:
            main_path, precise = files.rec, None
        main = OnnxModel(main_path, 1) if precise is not None else rec_model
        alphabets = {**alphabets, "sex": "女男FM "}
        if self.config.draft and files.rec_draft is None:
            raise ModelError(f"the draft recogniser has not been fetched: run `{FETCH_COMMAND}`")
        narrow = precise_narrow = draft = None
        # Every field but the Chinese name is digits, Latin letters and a few signs.
        latin = "".join(a for k, a in alphabets.items() if k != "nameCn")
        if self.config.field_rules:
            # Those lines are read by a copy of the main model that scores only these
            # classes (~13% faster a run, the same text; see narrow_recognizer).
            narrow = OnnxModel(main_path.with_name(main_path.stem + ".narrow"), 1,
                               source=narrow_recognizer(main_path, latin))
            if precise is not None:
                # And so are their fp32 re-reads (an English name or the symbols read
                # again: 10-14% faster a run at 160-560 columns; ~2 ms less on the
                # latency cards that read one again, the same answers; ~30 MB more
                # resident, measured).
                precise_narrow = OnnxModel(files.rec.with_name(files.rec.stem + ".narrow"), lanes,
                                           source=narrow_recognizer(files.rec, latin))
        model_path, dict_path = files.rec_draft, files.rec_draft_dict
        draft_cost = DRAFT_COST
        if self.config.int8 is not False and files.rec_draft_int8 is not None:
            # Its int8 copy: ~1.7x faster a column (the same answers on the four
            # corpora, with the date of birth's digits held to DRAFT_BIRTH_DIGITS).
            model_path, draft_cost = files.rec_draft_int8, DRAFT_INT8_COST
        if self.config.field_rules and self.config.draft is not False and model_path and dict_path:
            # The draft model first reads the lines of DRAFT_KEYS (see _draft_stands),
            # narrowed the same way. Its publisher ships its dictionary beside it.
            character = dict_path.read_text(encoding="utf-8").removesuffix("\n")
            draft = OnnxModel(model_path.with_name(model_path.stem + ".narrow"), 1,
                              source=narrow_recognizer(model_path, latin, character))
        self._recognizer = TextRecognizer(
            main, alphabets, lanes=lanes, precise=precise, narrow=narrow, precise_narrow=precise_narrow,
            draft=draft, draft_ok={key: partial(_draft_stands, key) for key in DRAFT_KEYS}, draft_cost=draft_cost,
        )

    # -- stages ---------------------------------------------------------------------

    def _evaluate(self, img: LoadedImage, quad: np.ndarray, size: tuple[int, int] = CARD_SIZE) -> CardView:
        """Rectify one candidate at ``size``, detect its text, and match it against both designs."""
        return self._evaluate_all(img, [quad], size)[0]

    def _evaluate_all(
        self, img: LoadedImage, quads: Sequence[np.ndarray], size: tuple[int, int] = CARD_SIZE
    ) -> list[CardView]:
        """:meth:`_evaluate` for several candidates, with one detector run over all of them.

        On two cores, two small maps in one run take ~1.5x the time of one (one small
        map leaves the second core mostly idle), four ~2.9x; each map is the same as
        from a run of its own (measured: bit for bit).
        """
        Hs = [card_homography(q, size) for q in quads]
        cards = [warp_card(img.bgr, H, size) for H in Hs]
        tmaps = self._detector.probability(cards) if cards else []
        views = []
        for quad, H, card, tmap in zip(quads, Hs, cards, tmaps):
            match = match_layout(tmap)[0]
            if match.flipped:
                quad = half_turn(quad)
                H = card_homography(quad, size)
                card = card[::-1, ::-1]
                tmap = tmap[::-1, ::-1]
            views.append(CardView(
                quad=quad,
                homography=H,
                size=size,
                image=np.ascontiguousarray(card),
                text_map=np.ascontiguousarray(tmap),
                design=match.design,
                score=match.score,
                shift=match.shift,
            ))
        return views

    def _text_candidates(self, img: LoadedImage) -> list[np.ndarray]:
        """Card quads from the text on the whole image (for outlines lost in clutter).

        Two readings of one whole-image text map: where the card's line pattern sits
        (robust to other text nearby), and the cluster of text lines.
        """
        h, w = img.bgr.shape[:2]
        sw, sh = text_search_size(w, h)
        small = cv2.resize(img.bgr, (sw, sh), interpolation=cv2.INTER_AREA)
        pw, ph = -(-sw // 32) * 32, -(-sh // 32) * 32
        padded = cv2.copyMakeBorder(small, 0, ph - sh, 0, pw - sw, cv2.BORDER_REPLICATE)
        # The same session as the cards' maps: a second one for large maps kept ~40 MB
        # more resident (measured).
        tmap = self._detector.probability([padded])[0][:sh, :sw]
        gray = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)
        grads = gradients(gray)
        quads = []
        for _, quad in quads_from_layout(tmap, coarse=LAYOUT_COARSE_SIDE, workers=self._workers)[:2]:
            quads.append(snap_twice(grads, order_clockwise(quad), 0.03))
        cluster = quad_from_text(tmap, grads)
        if cluster is not None:
            quads.append(cluster)
        back = np.array([w / sw, h / sh])
        return [q * back for q in quads]

    def _find_card(self, img: LoadedImage, work: WorkImage) -> CardView:
        """Find the card: the candidate whose rectification matches a design best.

        Candidates are rectified small (SCREEN_SIZE: a quarter of the detector's work
        at CARD_SIZE) and matched against the designs. A clear winner is kept as it is:
        its small text map is enough to find the lines, and the recogniser reads from
        the original pixels anyway. Without a clear winner, the best few are rectified
        again at CARD_SIZE (faint print and screen patterns survive better there), and
        if none convinces, candidates found from the text are tried too. Outlines of
        four straight edges (straight_outlines) come in where the traced ones fail: in a
        photo right after the first (before it, when a side of it runs along no edge),
        otherwise after all of them. When none of those matched, but the best matched
        halfway, it is repaired (one side re-placed by the card's proportions) and
        screened before the refits. Outlines of fainter edges (faint_outlines: a light
        card on a light table) come after the refits, before the text search.
        """
        h, w = img.bgr.shape[:2]
        accept = self.config.accept_layout_score
        screened: list[CardView] = []

        def screen(quads: Iterable[np.ndarray], stop: bool = True) -> bool:
            """Screen ``quads`` one by one up to the first that matches; all if not ``stop``."""
            if not stop:
                # One detector run for all (see _evaluate_all).
                views = self._evaluate_all(img, list(quads), SCREEN_SIZE)
                screened.extend(views)
                return any(v.score >= accept for v in views)
            for quad in quads:
                screened.append(self._evaluate(img, quad, SCREEN_SIZE))
                if screened[-1].score >= accept:
                    return True
            return False

        # Shaped like a card: most likely a scan, so the whole frame is tried right after
        # any outline that fills most of it (a scan with a margin). Outlines are refined
        # one by one as they are screened (iter_candidates).
        # A frame of exactly a camera's 16:9 is a photo, whatever the card fills of it; one
        # shaped like a card is taken for a photo once its whole frame matches nothing.
        aspect = max(h, w) / min(h, w)
        tight = 1.4 < aspect < 1.8 and abs(aspect - 16 / 9) > 0.01
        refitted: list[CardView] = []
        straight_found: list[np.ndarray] | None = None
        straight_at: list[int] = []  # where in screened the straight outlines are

        def seen(quad: np.ndarray, tolerance: float = 0.04) -> bool:
            """Whether ``quad`` (clockwise from the top left) was screened already (see same_outline)."""
            return any(same_outline(quad, order_clockwise(v.quad), tolerance) for v in screened)

        def straight() -> Iterator[np.ndarray]:
            """The straight-edge outlines (see straight_outlines) not screened yet, in the orders to screen."""
            nonlocal straight_found
            if straight_found is None:
                ranked = straight_outlines(work, keep=STRAIGHT_KEEP)
                straight_found = [quad for score, quad in ranked if score >= STRAIGHT_FLOOR]
            for rough in straight_found:  # working pixels
                # A traced outline along the same edges (see WorkImage.traced_like).
                traced = work.traced_like(rough)
                if traced is not None:
                    # A traced outline along the same edges goes first, refined as the
                    # traced ones are: exact where a corner of the straight lines may sit
                    # on another edge, and judged like any traced outline.
                    traced = order_clockwise(snap_twice(work.grads, traced, TRACED_SNAP)) / work.scale
                    if not seen(traced):
                        yield from orientations(traced)
                # Settled on its edges only now: most are never screened.
                quad = order_clockwise(snap_to_edges(work.grads, rough, radius=FINE_SNAP)) / work.scale
                if seen(quad) or (traced is not None and same_outline(quad, traced)):
                    continue
                for q in orientations(quad):
                    straight_at.append(len(screened))
                    yield q

        def hopeless() -> bool:
            # Outlines of other things (papers, a screen, the table's edge): the card
            # is found by its text instead (see below).
            return len(screened) >= OUTLINES_BEFORE_GIVING_UP and all(v.score < SCREEN_FLOOR for v in screened)

        def outlines() -> Iterator[np.ndarray]:
            # Taken for a photo: an image not shaped like a card, or one whose whole frame
            # matches no design even halfway (a camera's 3:2 frame, not a scan's margin).
            photo = not tight
            first = True  # no outline screened yet as a photo's
            for cand in iter_candidates(img.bgr, whole_first=tight, work=work):
                traced = cand.source != "whole"
                if photo and first and traced and _off_edge(work, cand.quad):
                    # A photo's first outline with a side along no edge is seldom the
                    # card (a card's border runs the whole way round): its straight
                    # edges come first, then this outline (see WEAK_SIDE).
                    first = False
                    yield from straight()
                    if hopeless():
                        return
                if seen(order_clockwise(cand.quad)):
                    continue  # screened already, found among the straight outlines
                for quad in orientations(cand.quad):
                    yield quad  # screened before the generator resumes
                    view = screened[-1]
                    if hopeless():
                        return
                    if tight and cand.source == "whole" and REFIT_FLOOR <= view.score < accept:
                        # A scan with a margin whose outline was not found (a light
                        # card on a light background): where its text sits says where
                        # the card is, before smaller outlines are tried.
                        refitted.append(view)
                        if (q := self._refit(img, view, work)) is not None:
                            yield q
                    elif tight and not traced and view.score < REFIT_FLOOR:
                        # Not a scan's margin either: a photo (measured on the benchmark's
                        # 55 photos in a 3:2 frame: ~20-50 ms less on those with clutter).
                        photo = True
                if photo and first and traced:
                    # A photo whose first outline is not the card: often a card among
                    # papers, whose own outline runs on into theirs. Its straight edges
                    # come next, before the other traced outlines (measured on the
                    # photos and hard cards: ~1 screening fewer a card that gets here).
                    first = False
                    yield from straight()
                    if hopeless():
                        return

        # One at a time, not in pairs: the first candidate is usually the card, and a
        # pair's run (~1.5x a single one) then costs more than it saves (measured:
        # photo median +17 ms).
        found = screen(outlines())
        if not found:
            # No traced outline was the card (or a scan's, which comes here first), yet
            # its four sides may still be straight edges: a screening or two instead
            # of the searches below.
            found = screen(straight())
        # A card found by its straight edges is often cluttered around: its lines are
        # found on a finer map (FINE_SIZE) (as for a card found by its text). The screening
        # that stopped on a match is the last one.
        straight_won = found and len(screened) - 1 in straight_at
        # Repaired outlines are worked out once per best outline (~15-20 ms each).
        repairs: dict[bytes, list[tuple[float, np.ndarray]]] = {}
        if not found and max((v.score for v in screened), default=0.0) >= REFIT_FLOOR:
            # The best outline matched halfway: often three true sides and a fourth along
            # something touching the card, a paper of its brightness or a line of its print
            # (a card cut by the frame, a light card among papers). Re-placed by the card's
            # proportions, it is one screening instead of the refits, the faint outlines and
            # a look at CARD_SIZE that come next (~40-70 ms on such photos).
            repaired = self._repaired(screened, work, EARLY_REPAIR_SUPPORT, repairs)
            if repaired is not None and not seen(order_clockwise(repaired), REPAIRED_SAME):
                found = screen(orientations(repaired))
        if not found:
            # Half matches are often the card with a margin around it (a scan's frame,
            # an outline around the card's sleeve): their own text maps say where the
            # card sits inside.
            halfway = sorted(
                (v for v in screened if v.score >= REFIT_FLOOR and all(v is not r for r in refitted)),
                key=lambda v: -v.score,
            )
            found = screen(q for v in halfway[:2] if (q := self._refit(img, v, work)) is not None)
        faint_won = False
        if not found:
            # A light card on a light table: its border may close only in fainter edge
            # maps (see faint_outlines), a screening or two instead of the searches below.
            faint = (q / work.scale for q in faint_outlines(work))
            found = screen(q for quad in faint if not seen(order_clockwise(quad)) for q in orientations(quad))
            # Found now, it is by a faint outline (screen stops at its match). Such a card is
            # faint all over: its lines are found on a finer map (FINE_SIZE).
            faint_won = found
        best: CardView | None
        if found:
            best, found = self._accept(img, screened, work, fine=straight_won or faint_won)
        else:
            best = self._best_view(img, screened, work, 2)
            found = best is not None and best.score >= accept
        if not found and (repaired := self._repaired(screened, work, REPAIR_SUPPORT, repairs)) is not None:
            # The best outline may have three true sides and a fourth along something
            # touching the card: re-placed by the card's proportions, it is one screening
            # (the text search below costs ~200 ms).
            if screen(orientations(repaired)):
                best, found = self._accept(img, screened, work)
        if not found:
            # No outline convinced (or the one that did is in doubt): it may be broken
            # by clutter, so find the card by its text as well, and keep whichever
            # rectifies better.
            tried = [v.quad for v in screened]
            screened.clear()
            by_text = self._text_candidates(img)
            # The outline the card's text lies in, when other card-shaped things ranked
            # before it (so it was never screened): exact where the text's quads are not.
            by_text += outlines_over(work, by_text, skip=tried)
            # All of them: the first to match is not always the most precise.
            if screen((q for quad in by_text for q in orientations(quad)), stop=False):
                # Found this way, the card is often blurred or cluttered: its lines are
                # found on a finer map (FINE_SIZE).
                other, _ = self._accept(img, screened, work, fine=True)
                # A best view still standing is in doubt (or matched below accept).
                if best is None or other.score >= best.score - DOUBT_MARGIN:
                    return other
                return best
            # The last resort: even a weak screening match is worth a full look.
            weak = self._best_view(img, screened, work, 2, floor=LAST_RESORT_FLOOR)
            if weak is not None and (best is None or weak.score > best.score):
                best = weak
        if best is None or best.score < self.config.min_layout_score:
            raise NoCardFoundError("no Hong Kong identity card front found in the image")
        return best

    @staticmethod
    def _repaired(
        screened: list[CardView],
        work: WorkImage,
        support: float = REPAIR_SUPPORT,
        repairs: dict[bytes, list[tuple[float, np.ndarray]]] | None = None,
    ) -> np.ndarray | None:
        """The best screened outline with one side re-placed (see repaired_outlines), if every
        side of it then runs along an edge (``support``); None otherwise.

        ``repairs`` keeps the repaired outlines of each best outline asked about (by its
        corners), so a second question about the same outline is free.
        """
        if not screened:
            return None
        best = max(screened, key=lambda v: v.score)
        repairs = {} if repairs is None else repairs
        key = np.asarray(best.quad, np.float64).tobytes()
        if key not in repairs:
            repairs[key] = repaired_outlines(work.grads, best.quad * work.scale)
        found = repairs[key]
        if not found or found[0][0] < support:
            return None
        return snap_to_edges(work.grads, found[0][1], radius=FINE_SNAP) / work.scale

    def _accept(
        self, img: LoadedImage, screened: list[CardView], work: WorkImage, fine: bool = False
    ) -> tuple[CardView, bool]:
        """The view of the candidate that matched at screening size (at FINE_SIZE if ``fine``), registered.

        A winner whose printed lines disagree with its corners beyond what registration
        can mend is often part of the card (a side taken at the chip or the portrait's
        edge) matching well enough: the runners-up are then judged at CARD_SIZE too.
        Also says whether the view is settled (False: still in doubt).
        """
        best = max(screened, key=lambda v: v.score)
        if fine:
            view, settled = self._register(img, self._evaluate(img, best.quad, FINE_SIZE), work)
        elif _card_width(best.quad) < SMALL_CARD_WIDTH:
            # A small card is blurred, not sharpened, by rectifying it up to
            # SCREEN_SIZE: its fine print needs the detector at CARD_SIZE.
            view, settled = self._register(img, self._evaluate(img, best.quad), work)
        else:
            view, settled = self._register(img, best, work)
        if settled:
            return view, True
        other = self._best_view(img, [v for v in screened if v is not best], work, 2)
        if other is not None and other.score > view.score - DOUBT_MARGIN:
            return other, True
        return view, False

    def _best_view(
        self, img: LoadedImage, screened: list[CardView], work: WorkImage, top: int, floor: float = SCREEN_FLOOR
    ) -> CardView | None:
        """Rectify the ``top`` best screened candidates at CARD_SIZE; the best view, registered."""
        best: CardView | None = None
        worthy = [v.quad for v in sorted(screened, key=lambda v: -v.score)[:top] if v.score >= floor]
        for view in self._evaluate_all(img, worthy):
            view, _ = self._register(img, view, work)
            if best is None or view.score > best.score:
                best = view
        return best

    def _refit(self, img: LoadedImage, view: CardView, work: WorkImage) -> np.ndarray | None:
        """Corners of the card inside a view that holds it with a margin, from its printed layout."""
        # The view is upright: only sizes, places and the two designs are searched.
        found = quads_from_layout(
            view.text_map, min_width=REFIT_MIN_WIDTH, step=1.03, upright=True, side=REFIT_SIDE,
            coarse=REFIT_COARSE_SIDE, keep=REFIT_COARSE_KEEP, workers=self._workers,
        )
        if not found:
            return None
        quad = map_points(view.homography, found[0][1])
        if np.abs(quad - view.quad).max() < REGISTRATION_TOLERANCE * np.linalg.norm(view.quad[2] - view.quad[0]):
            return None  # the same quad: nothing to gain from judging it again
        return snap_twice(work.grads, quad * work.scale, 0.03) / work.scale

    @staticmethod
    def _misregistration(view: CardView) -> tuple[np.ndarray, float] | None:
        """Where the view's printed lines put its corners (view pixels), and how far that
        is from where they are (fraction of the view's diagonal); None if unmeasured."""
        A = register_layout(view.text_map, view.design, view.shift, coarse=view.size[0] < CARD_SIZE[0])
        if A is None:
            return None
        W, H = view.size
        corners = np.array([[0, 0], [W, 0], [W, H], [0, H]], np.float64)
        # A template point p shows at A(p) in this view, so the card's true corners
        # are at A(corners) here.
        moved = corners @ A[:, :2].T + A[:, 2]
        return moved, float(np.abs(moved - corners).max() / np.hypot(W, H))

    def _register(self, img: LoadedImage, view: CardView, work: WorkImage) -> tuple[CardView, bool]:
        """Correct the card's corners from where its printed lines are.

        When the lines sit where the design puts them, the corners were right and the
        view is kept. Otherwise the corners are moved by the same map (then snapped to
        the card's edges where they are visible) and the card is rectified again.
        Also says whether the view is settled: False when the lines ask for a move no
        rectification error explains.
        """
        found = self._misregistration(view)
        if found is None:
            return view, True
        moved, move = found
        W = view.size[0]
        if move < (REGISTRATION_TOLERANCE if W >= CARD_SIZE[0] else SCREEN_REGISTRATION_TOLERANCE):
            return view, True
        if move > REGISTRATION_LIMIT:
            # A "correction" no rectification error explains (the lines were matched
            # to the wrong text): keep the corners, but the view is in doubt.
            return view, False
        screening = W < CARD_SIZE[0]
        # The screening map is too coarse to move corners by (it also proposes moves for
        # cards located right), unless the move is large: then the moved corners are
        # screened, and kept if their lines sit where the design puts them (two
        # screenings instead of two rectifications at CARD_SIZE).
        if not screening or move >= SCREEN_MOVE_MIN:
            grads, scale = work.grads, work.scale
            quad = snap_to_edges(grads, map_points(view.homography, moved) * scale, radius=0.015) / scale
            redone = self._evaluate(img, quad, view.size)
            # Moved corners that match worse were snapped to the wrong edges: the lines
            # were within reach, so the view stands. On a screening map that holds once
            # the moved view's own lines sit where the design puts them (judging it at
            # CARD_SIZE instead, ~60 ms, gave the same readings on both corpora).
            if not screening:
                return (redone if redone.score >= view.score - 0.05 else view), True
            check = self._misregistration(redone)
            if check is not None and check[1] < SCREEN_REGISTRATION_TOLERANCE:
                return (redone if redone.score >= view.score - 0.05 else view), True
        # Judge and register at CARD_SIZE.
        return self._register(img, self._evaluate(img, view.quad, CARD_SIZE), work)

    def _locate_lines(self, img: LoadedImage, view: CardView, work: WorkImage) -> tuple[CardView, Lines]:
        """Each read line's kernel box and whether it was seen (see layout.locate_lines).

        Lines are found on the view's own text map. On the small screening map, lines
        can run together (fine print, a screen's moire); a line found far from where
        its design starts it then sends the card to CARD_SIZE for a finer map.
        """
        lines = locate_lines(view.text_map, view.design, view.shift)
        if view.size[0] < CARD_SIZE[0] and misplaced_lines(lines, view.design, view.shift, view.size):
            view, _ = self._register(img, self._evaluate(img, view.quad, CARD_SIZE), work)
            lines = locate_lines(view.text_map, view.design, view.shift)
        return view, lines

    def _read_lines(
        self, img: LoadedImage, view: CardView, lines: Lines
    ) -> tuple[dict[str, tuple[LineReading, Box]], bool | None]:
        """Read every field line; also say whether the title is the permanent one."""
        lines = dict(lines)
        title_box, title_found = lines.pop("titleEn")
        title_permanent = (
            (title_box[2] - title_box[0]) / view.size[0] >= PERMANENT_TITLE_MIN_WIDTH if title_found else None
        )
        keys: list[str] = []
        crops: list[np.ndarray] = []
        boxes: list[Box] = []
        forced: set[str] = set()
        # A card with a code line has a Chinese name above it: a name the detector
        # missed is read where the template puts it, and kept when it agrees with the
        # codes (names.decide_name).
        coded = bool(lines.get("nameCode", (None, False))[1])
        for key, (kernel, found) in lines.items():
            if not found:
                if key not in ALWAYS_PRINTED and not (key == "nameCn" and coded):
                    continue  # nothing printed there: the field is absent on this card
                # Every card prints this line: the detector missed faint print, so read
                # where the template puts it (the result must then prove itself).
                forced.add(key)
            box = text_box(kernel, WIDE_LEAD if key in WIDE_LEAD_KEYS else NARROW_LEAD)
            crop = _line_crop(img, view, key, box)
            if key in UNCUT_KEYS:
                box, crop = _uncut_start(img, view, key, kernel, box, crop)
            keys.append(key)
            boxes.append(box)
            crops.append(crop)
        readings = self._recognizer.read(crops, keys)
        if self._recognizer.has_precise:
            # Lines the fast model may misread are read again, precisely, unless the
            # fast reading convinces (the rest of the time: ~90% of clean cards).
            again = [i for i, (k, r) in enumerate(zip(keys, readings)) if k in CHECKED_KEYS and not _settled(k, r)]
            if again:
                redone = self._recognizer.read([crops[i] for i in again], [keys[i] for i in again], precise=True)
                for i, r in zip(again, redone):
                    # The precise model drops a space now and then too ("TaiSze"):
                    # the monospace pitch says where.
                    readings[i] = _with_dropped_spaces(r) if r.key == "nameEn" and self.config.field_rules else r
        if self.config.field_rules:
            if "nameEn" in keys:
                at = keys.index("nameEn")
                readings[at] = _without_split_letters(readings[at])
            for key, (headless, _) in _HEADLESS.items():
                if key in keys and headless.fullmatch(readings[i := keys.index(key)].text):
                    # The line's start is missing from the reading: its box began after it.
                    found = self._read_from_further_left(img, view, key, lines[key][0], boxes[i], readings[i])
                    if found is not None:
                        readings[i], boxes[i] = found
        out = {}
        read = dict(zip(keys, readings))
        for k, r, b in zip(keys, readings, boxes):
            if k == "nameCn" and k in forced:
                # Only a name that agrees with the code line (or is spelled from it).
                if not (self.config.field_rules and decide_name(r, read.get("nameCode")).consistent):
                    continue
            elif k in forced and not _convincing(k, r):
                continue
            out[k] = (r, b)
        return out, title_permanent

    def _read_from_further_left(
        self, img: LoadedImage, view: CardView, key: str, kernel: Box, box: Box, reading: LineReading
    ) -> tuple[LineReading, Box] | None:
        """A _HEADLESS line read again from further left (see RESTART_MOVES), or None.

        Only a reading that is a well-formed field adding characters before the same
        text is taken: what is printed before the line on its row (the issue date before
        the card number, the first registration before the issue date) cannot come in
        that way.
        """
        step = UNCUT_STEP * (kernel[3] - kernel[1])
        read_before = reading.text.replace(" ", "")
        for moves in RESTART_MOVES:
            moved = (box[0] - moves * step, box[1], box[2], box[3])
            (again,) = self._recognizer.read([_line_crop(img, view, key, moved)], [key])
            text = again.text.replace(" ", "")
            well_formed = FIELD_PATTERNS[key].fullmatch(_HEADLESS[key][1](text))
            if well_formed and text.endswith(read_before) and text != read_before:
                return again, moved
        return None

    @staticmethod
    def _box_quad(view: CardView, box: tuple[float, float, float, float]) -> np.ndarray:
        x0, y0, x1, y1 = box
        return map_points(view.homography, [(x0, y0), (x1, y0), (x1, y1), (x0, y1)])

    def _fields(
        self, img: LoadedImage, view: CardView, lines: dict[str, tuple[LineReading, Box]]
    ) -> tuple[dict[str, _Field], NameDecision]:
        out: dict[str, _Field] = {}

        def prob(r: LineReading, lo: int = 0, hi: int | None = None) -> float:
            # Spaces are layout, not content: a faint gap must not sink the field.
            ps = [p for ch, p in zip(r.text[lo:hi], r.char_probs[lo:hi]) if ch != " "]
            return float(min(ps)) if ps else 0.0

        cn = lines.get("nameCn")
        code = lines.get("nameCode")
        if self.config.field_rules:
            name = decide_name(cn[0] if cn else None, code[0] if code else None)
        else:
            name = NameDecision(
                parse_name_cn(cn[0].text) if cn else "",
                parse_name_code(code[0].text) if code else "",
                prob(cn[0]) if cn else 0.0,
                prob(code[0]) if code else 0.0,
                None,
            )
        if name.name_cn and cn:
            out["nameCn"] = _Field(name.name_cn, name.prob_cn, self._box_quad(view, cn[1]))
        if name.name_code and code:
            out["nameCode"] = _Field(name.name_code, name.prob_code, self._box_quad(view, code[1]))
        simple = {
            "firstIssuedDate": parse_first_issued,
            "issuedDate": parse_issue_date,
            "idNumber": parse_id_number,
        }
        for key, fn in simple.items():
            if key not in lines:
                continue
            reading, box = lines[key]
            value, p = self._valid(key, fn, reading, 0, len(reading.text), prob(reading))
            if value:
                out[key] = _Field(value, p, self._box_quad(view, box))
        if "nameEn" in lines:
            reading, box = lines["nameEn"]
            value = (
                case_name_en([(c, dict(a)) for c, a in zip(reading.text, reading.alternatives)])
                if self.config.field_rules
                else parse_name_en(reading.text)
            )
            if value:
                out["nameEn"] = _Field(value, prob(reading), self._box_quad(view, box))
        if "issuedCode" in lines:
            reading, box = lines["issuedCode"]
            value = (
                self._symbols(reading, box, lines.get("birthDate+sex"))
                if self.config.field_rules
                else parse_symbols(reading.text)
            )
            if value:
                out["issuedCode"] = _Field(value, prob(reading), self._box_quad(view, box))
        if "birthDate+sex" in lines:
            reading, box = lines["birthDate+sex"]
            date, sex = split_birth_sex(reading.text)
            # Split the line's box where the sex character starts.
            split = next((i for i, ch in enumerate(reading.text) if ch in "女男FM"), len(reading.text))
            x0, y0, x1, y1 = box
            date, p_date = self._valid("birthDate", parse_birth_date, reading, 0, split, prob(reading, 0, split))
            if date:
                xe = x1
                if split < len(reading.text) and split > 0:
                    gap = (reading.char_pos[split] + reading.char_pos[split - 1]) / 2
                    xe = x0 + (x1 - x0) * gap
                out["birthDate"] = _Field(date, p_date, self._box_quad(view, (x0, y0, xe, y1)))
            if not sex and date:
                sex, p_sex, sex_box = self._reread_sex(img, view, box)
                if sex:
                    out["sex"] = _Field(sex, p_sex, self._box_quad(view, sex_box))
                    sex = ""  # placed already
            if sex:
                xs = x0
                if 0 < split < len(reading.text):
                    gap = (reading.char_pos[split] + reading.char_pos[split - 1]) / 2
                    xs = x0 + (x1 - x0) * gap
                out["sex"] = _Field(sex, prob(reading, split), self._box_quad(view, (xs, y0, x1, y1)))
        return out, name

    def _reread_sex(self, img: LoadedImage, view: CardView, line_box: Box) -> tuple[str, float, Box]:
        """Read the sex on its own, contrast-stretched: it is often printed fainter than the date.

        Read where the template puts it, with SEX_MARGINS of air in turn until one
        reading decides: the card's registration can be off by a character's width
        there, cutting the 女 or leaving the F out.
        """
        spec = TEMPLATES[view.design].line("sex")
        W, H = view.size
        dx, dy = view.shift
        box = line_box
        for margin in SEX_MARGINS:
            x0 = (spec.x - margin) * W + dx
            x1 = (spec.x + spec.w + margin) * W + dx
            box = (x0, line_box[1], x1, line_box[3])
            crop = _line_crop(img, view, "sex", box)
            lo, hi = float(crop.min()), float(crop.max())
            crop = ((crop.astype(np.float32) - lo) * (255.0 / max(1.0, hi - lo))).astype(np.uint8)
            (reading,) = self._recognizer.read([crop], ["sex"])
            # Faint print gives low absolute probabilities; what matters is how clearly
            # one answer beats the other: the evidence for 男/M against 女/F.
            male = female = 0.0
            for alts in reading.alternatives:
                for ch, p in alts:
                    male += p if ch in "男M" else 0.0
                    female += p if ch in "女F" else 0.0
            if max(male, female) >= 0.05 and max(male, female) >= 10 * min(male, female):
                return ("男M" if male > female else "女F"), max(male, female) / (male + female), box
        return "", 0.0, box

    def _valid(
        self, key: str, parse: Callable[[str], str], reading: LineReading, lo: int, hi: int, p: float
    ) -> tuple[str, float]:
        """The field as read, or, when that is impossible, the likeliest valid alternative."""
        value = parse(reading.text[lo:hi])
        pattern = FIELD_PATTERNS.get(key)
        if pattern is None or not self.config.field_rules or pattern.fullmatch(value):
            return value, p
        alts = [dict(a) for a in reading.alternatives[lo:hi]]
        fixed = best_valid(alts, pattern, parse)
        return (fixed[0], min(p, fixed[1])) if fixed else (value, p)

    @staticmethod
    def _symbols(
        reading: LineReading, box: Box, dob: tuple[LineReading, Box] | None
    ) -> str:
        """Decode the symbols line on the character grid set by the date of birth above it.

        The card prints both lines in one monospace font from one left edge, so the
        date's ten characters give the grid's origin and pitch.
        """
        plain = parse_symbols(reading.text)
        if dob is None:
            return plain
        d_read, d_box = dob
        digits = [i for i, ch in enumerate(d_read.text) if ch.isdigit() or ch == "-"][:10]
        if len(digits) < 10:
            return plain
        dw = d_box[2] - d_box[0]
        x_first = d_box[0] + dw * d_read.char_pos[digits[0]]
        pitch = dw * (d_read.char_pos[digits[9]] - d_read.char_pos[digits[0]]) / 9
        if pitch <= 0:
            return plain
        w = box[2] - box[0]
        chars = [
            (ch, int(round((box[0] + w * pos - x_first) / pitch)), dict(alts))
            for ch, pos, alts in zip(reading.text, reading.char_pos, reading.alternatives)
            if ch != " "
        ]
        decoded = decode_symbols(chars)
        return decoded if decoded is not None else plain

    # -- public ---------------------------------------------------------------------

    def recognize(self, image: ImageSource, *, portrait: bool = False) -> HKIDResult:
        """Read one card image (a path, encoded bytes, or a BGR numpy array).

        Args:
            image: the photo or scan.
            portrait: also return the main portrait as PNG bytes in ``result.portrait``.

        Returns:
            The result; ``result.to_dict()`` is the cloud ``Data`` object.

        Raises:
            RecognitionError: with the cloud's code (format, size) or ``noCardFound``.
        """
        t0 = time.perf_counter()
        img = load_image(image)
        timings = {"load": time.perf_counter() - t0}
        try:
            return self._recognize_loaded(img, portrait, timings)
        except RecognitionError:
            raise
        except Exception as exc:  # noqa: BLE001 - the promise: only RecognitionError escapes
            # A failure deep in a stage is a bug or a runtime fault: reported, never hidden.
            raise AlgorithmError(f"recognition failed: {type(exc).__name__}: {exc}") from exc

    @staticmethod
    def _judge(img: LoadedImage, view: CardView, portrait: bool) -> tuple[int, bool, list[Figure], bytes | None]:
        """The located card's photocopy flag (ftype), screen recapture, figures and portrait."""
        ftype = int(is_photocopy(view.image))
        recaptured = recapture_score(img.bgr, view.quad) >= RECAPTURE_THRESHOLD
        return ftype, recaptured, figures(img.bgr, view), portrait_crop(img.bgr, view) if portrait else None

    def _recognize_loaded(self, img: LoadedImage, portrait: bool, timings: dict[str, float]) -> HKIDResult:
        t = time.perf_counter()
        work = WorkImage(img.bgr)
        view, located = self._locate_lines(img, self._find_card(img, work), work)
        timings["locate"] = time.perf_counter() - t
        # The quality judgements need the located card, not its readings: they run beside
        # the recogniser's lanes, which leave part of a core idle (the lanes' runs never
        # split evenly: ~2 ms apart at the median, more when a line is read again).
        judged = self._workers.aside(lambda: self._judge(img, view, portrait))
        t = time.perf_counter()
        lines, title_permanent = self._read_lines(img, view, located)
        timings["recognise"] = time.perf_counter() - t
        t = time.perf_counter()
        fields, name = self._fields(img, view, lines)
        if "idNumber" not in fields and "birthDate" not in fields and "nameEn" not in fields:
            raise NoCardFoundError("an identity card layout was found but none of its fields could be read")
        data = CardData(**{k: f.value for k, f in fields.items()})
        kv = [
            KeyValueInfo(
                key=k,
                keyProb=_pct(fields[k].prob),
                value=fields[k].value,
                valueProb=_pct(fields[k].prob),
                valuePos=[Point(x=int(round(x)), y=int(round(y))) for x, y in fields[k].quad],
            )
            for k in FIELD_KEYS
            if k in fields
        ]
        q = view.quad
        slice_rect = SliceRect(
            **{f"x{i}": int(round(q[i][0])) for i in range(4)},
            **{f"y{i}": int(round(q[i][1])) for i in range(4)},
        )
        card_w = _card_width(q)
        card_h = (np.linalg.norm(q[3] - q[0]) + np.linalg.norm(q[2] - q[1])) / 2
        timings["fields"] = time.perf_counter() - t
        t = time.perf_counter()
        ftype, recaptured, figure, portrait_png = judged.result()
        # Only the wait for them: the stages' times still add up to the card's.
        timings["quality"] = time.perf_counter() - t
        t = time.perf_counter()
        checks = card_checks(data, view, name, title_permanent, bool(ftype), recaptured, date.today())
        timings["fields"] += time.perf_counter() - t
        return HKIDResult(
            algo_version=f"hkid-ocr-{__version__}",
            data=data,
            prism_keyValueInfo=kv,
            sliceRect=slice_rect,
            figure=figure,
            ftype=ftype,
            height=int(round(card_h)),
            width=int(round(card_w)),
            orgHeight=img.height,
            orgWidth=img.width,
            checks=checks,
            portrait=portrait_png,
            timings=timings,
        )


def text_search_size(w: int, h: int) -> tuple[int, int]:
    """The size (w, h) an image of ``w`` x ``h`` is searched for text at (see _text_candidates).

    Example:
        >>> text_search_size(1600, 1200), text_search_size(1400, 1400), text_search_size(500, 300)
        ((640, 480), (554, 554), (500, 300))
    """
    scale = min(1.0, TEXT_SEARCH_SIDE / max(h, w), math.sqrt(TEXT_SEARCH_AREA / (h * w)))
    return max(32, round(w * scale)), max(32, round(h * scale))


def _card_width(quad: np.ndarray) -> float:
    """The card's width in image pixels (mean of its top and bottom sides)."""
    q = np.asarray(quad, np.float64)
    return float((np.linalg.norm(q[1] - q[0]) + np.linalg.norm(q[2] - q[3])) / 2)


#: Lines read by the int8 recogniser first and again in full precision when that
#: reading does not convince (see _settled); the other lines int8 reads as well as fp32.
CHECKED_KEYS = frozenset({"nameCn", "nameEn", "issuedCode"})

#: Air before a line (kernel heights; see layout.text_box). The English name and the
#: card number start with a capital the detector's kernel often leaves half out
#: (I, J, C at a blurred edge); the other lines start with stars, digits or a bracket,
#: and more air there brings in the card's edge or the portrait.
NARROW_LEAD = 0.55
WIDE_LEAD = 1.0
WIDE_LEAD_KEYS = frozenset({"nameEn", "idNumber"})

#: Lines whose start the text map can leave out (a blurred first character or two), with
#: nothing printed before them on the card: when such a crop starts in ink, its box is
#: moved left UNCUT_STEP kernel heights (about a character) at a time, at most
#: UNCUT_STEPS times, until it starts on the card's background. The other lines have a
#: neighbour before them on the same row (the symbols before the dates) or start with a
#: star or a bracket the kernel keeps.
UNCUT_KEYS = frozenset({"nameEn", "nameCode"})
UNCUT_STEP = 0.6
UNCUT_STEPS = 6


def _line_crop(img: LoadedImage, view: CardView, key: str, box: Box) -> np.ndarray:
    """The recogniser's crop of a line's canonical ``box``: REC_HEIGHT rows, the key's SQUEEZE."""
    return warp_region(img.bgr, view.homography, box, REC_HEIGHT, MAX_WIDTH, SQUEEZE.get(key, 1.0))


def _uncut_start(
    img: LoadedImage, view: CardView, key: str, kernel: Box, box: Box, crop: np.ndarray
) -> tuple[Box, np.ndarray]:
    """``box`` and ``crop`` moved left until the crop no longer starts in ink (see UNCUT_KEYS)."""
    step = UNCUT_STEP * (kernel[3] - kernel[1])
    # Past the card's left edge too: a card found a little too narrow (its left side
    # taken at the English name's first letters) cuts the line there.
    for _ in range(UNCUT_STEPS):
        if not starts_in_ink(crop):
            break
        box = (box[0] - step, box[1], box[2], box[3])
        crop = _line_crop(img, view, key, box)
    return box, crop


#: Readings that show their line's start was missed: a card number without its one or
#: two prefix letters (six digits and the check digit), an issue date with one digit
#: before its first dash (each with the parser its new reading must pass). Such a line's
#: box is moved left RESTART_MOVES UNCUT_STEPs in turn and read again, until a reading
#: adds what was missing. Not by starts_in_ink: these lines have a neighbour before them
#: on their row, which would come in (the card number: three cards lost that way).
_HEADLESS: dict[str, tuple[re.Pattern[str], Callable[[str], str]]] = {
    "idNumber": (re.compile(r"\s*\d{6}\s*\(?[0-9A-Z]\)?\s*"), parse_id_number),
    "issuedDate": (re.compile(r"\s*\d-\d\d-\d\d\s*"), parse_issue_date),
}
RESTART_MOVES = (2, 3)


#: Air on each side of the sex's template box when it is read on its own (share of the
#: card's width), tried in turn (see Recognizer._reread_sex).
SEX_MARGINS = (0.015, 0.03, 0.05)


#: Lines read narrowed to this share of their natural width. The recogniser's cost
#: grows with a line's width, and these lines read at least as well narrowed
#: (benchmark corpus and a second corpus of another seed: the Chinese name better,
#: the others the same). Not the English name (its spaces), the symbols (their
#: stars) or the date of birth line (its sex character): narrowed, those lost.
SQUEEZE = {"nameCn": 0.8, "nameCode": 0.8, "firstIssuedDate": 0.8, "issuedDate": 0.8, "idNumber": 0.8}

#: Lines every card front prints (names and the code line may be absent).
ALWAYS_PRINTED = frozenset({"birthDate+sex", "issuedCode", "firstIssuedDate", "issuedDate", "idNumber"})


#: Whether a line's text is well formed for its field (a pattern the field must fit).
_WELL_FORMED: dict[str, Callable[[str], bool]] = {
    "birthDate+sex": lambda t: bool(FIELD_PATTERNS["birthDate"].fullmatch(split_birth_sex(t)[0])),
    "issuedCode": lambda t: bool(re.fullmatch(r"\**[ARCU][ZXWO][A-Z0-9]*", parse_symbols(t))),
    "firstIssuedDate": lambda t: bool(FIELD_PATTERNS["firstIssuedDate"].fullmatch(parse_first_issued(t))),
    "issuedDate": lambda t: bool(FIELD_PATTERNS["issuedDate"].fullmatch(parse_issue_date(t))),
    "idNumber": lambda t: bool(FIELD_PATTERNS["idNumber"].fullmatch(parse_id_number(t))),
    "nameCode": lambda t: bool(re.fullmatch(r"\d{4}( \d{4})*", parse_name_code(t))),
}


def _convincing(key: str, reading: LineReading) -> bool:
    """Whether a line read without the detector's support is really printed text.

    It must read confidently and fit its field's pattern: faint background must not
    turn into a field.
    """
    if not reading.char_probs or min(reading.char_probs) < 0.6:
        return False
    check = _WELL_FORMED.get(key)
    return bool(check and check(reading.text))


#: Fields whose lines the draft recogniser reads first (see _draft_stands).
DRAFT_KEYS = frozenset({"nameCode", "birthDate+sex", "firstIssuedDate", "issuedDate", "idNumber"})
#: Lowest probability of a character (spaces aside) of a draft reading that stands, per
#: field: high for the first registration (nothing else checks its digits), lower where
#: a check digit or the field's form catches the draft model's slips.
DRAFT_PROB = {"issuedDate": 0.8, "firstIssuedDate": 0.9, "idNumber": 0.5, "nameCode": 0.9, "birthDate+sex": 0.5}
#: ... and of each digit of the date of birth (the line's lowest is often the sex's, which
#: the line's threshold allows for): on the benchmark corpus the int8 draft misread two
#: such digits at 0.62-0.65 (the fp32 draft read them right, as unsure). Held to this,
#: the four corpora read the same answers as with the fp32 draft.
DRAFT_BIRTH_DIGITS = 0.75


def _draft_stands(key: str, reading: LineReading) -> bool:
    """Whether the draft recogniser's reading of a DRAFT_KEYS line can stand: read with
    some confidence, well formed, a card number with its check digit right, the date of
    birth with its sex character and every digit confident (DRAFT_BIRTH_DIGITS)."""
    probs = [p for ch, p in zip(reading.text, reading.char_probs) if ch != " "]
    if not probs or min(probs) < DRAFT_PROB[key] or not _WELL_FORMED[key](reading.text):
        return False
    if key == "idNumber":
        return id_number_valid(parse_id_number(reading.text))
    if key == "birthDate+sex":
        digits = [p for ch, p in zip(reading.text, reading.char_probs) if ch.isdigit()]
        return split_birth_sex(reading.text)[1] in ("男M", "女F") and min(digits, default=0.0) >= DRAFT_BIRTH_DIGITS
    return True


def _letter_steps(reading: LineReading) -> tuple[list[int], float]:
    """The places i of an English name reading where letter i follows letter i - 1 (no
    space between), and the median step between such neighbours (0 with fewer than
    three: no pitch)."""
    t, x = reading.text, reading.char_pos
    at = [i for i in range(1, len(t)) if t[i] != " " and t[i - 1] != " "]
    if len(at) < 3:
        return at, 0.0
    return at, float(np.median([x[i] - x[i - 1] for i in at]))


def _with_dropped_spaces(reading: LineReading) -> LineReading:
    """``reading`` with a space put back between two letters more than MAX_LETTER_STEP
    pitches apart (see _settled): the card prints the name in a monospace font,
    so such a gap is a space the model dropped.

    Example:
        >>> r = LineReading("nameEn", "LEE, TaiMan", (1.0,) * 11, (0, .1, .2, .3, .4, .5, .6, .7, .9, 1.0, 1.1))
        >>> _with_dropped_spaces(r).text
        'LEE, Tai Man'
    """
    at, pitch = _letter_steps(reading)
    wide = [i for i in at if pitch and reading.char_pos[i] - reading.char_pos[i - 1] > MAX_LETTER_STEP * pitch]
    if not wide:
        return reading
    text, probs, pos = list(reading.text), list(reading.char_probs), list(reading.char_pos)
    alts = list(reading.alternatives) or [()] * len(text)
    for i in reversed(wide):
        # The space's own evidence is its neighbours' (the weaker of them).
        text.insert(i, " ")
        probs.insert(i, min(probs[i - 1], probs[i]))
        pos.insert(i, (pos[i - 1] + pos[i]) / 2)
        alts.insert(i, ())
    return replace(
        reading, text="".join(text), char_probs=tuple(probs), char_pos=tuple(pos), alternatives=tuple(alts)
    )


def _without_split_letters(reading: LineReading) -> LineReading:
    """``reading`` with one of two like letters (case aside) less than SPLIT_LETTER_STEP
    pitches apart dropped, the less probable: one printed letter the model read twice, in
    two cases ("WoOo" for "Woo"), which the decoder does not merge as it merges repeats.

    Example:
        >>> r = LineReading("nameEn", "LEE, WoOo", (1.0,) * 7 + (0.5, 0.6), (0, .1, .2, .3, .4, .5, .6, .65, .7))
        >>> _without_split_letters(r).text
        'LEE, Woo'
    """
    at, pitch = _letter_steps(reading)
    t, x, p = reading.text, reading.char_pos, reading.char_probs
    drop: set[int] = set()
    paired: set[int] = set()  # a letter is one of a pair at most
    for i in at:
        close = pitch and x[i] - x[i - 1] < SPLIT_LETTER_STEP * pitch
        if close and t[i].lower() == t[i - 1].lower() and i - 1 not in paired:
            paired.update((i - 1, i))
            drop.add(i if p[i] < p[i - 1] else i - 1)
    if not drop:
        return reading
    keep = [i for i in range(len(t)) if i not in drop]
    alts = reading.alternatives
    return replace(
        reading,
        text="".join(t[i] for i in keep),
        char_probs=tuple(p[i] for i in keep),
        char_pos=tuple(x[i] for i in keep),
        alternatives=tuple(alts[i] for i in keep) if alts else alts,
    )


#: Two like letters closer than this, in pitches, are one letter read twice (a letter's
#: neighbour in a monospace font is a pitch away; the decoder's frames are ~0.3-0.5 of one).
SPLIT_LETTER_STEP = 0.6


def _settled(key: str, reading: LineReading) -> bool:
    """Whether a fast (int8) reading of a CHECKED_KEYS line can stand.

    The symbols must convince as a forced line must (confident, the symbols' pattern);
    the Chinese name must read confidently; the English name too, and without a
    letter-free gap: the card prints it in a monospace font, so two letters of one
    word sit one pitch apart, and a step of one and a half pitches or more between
    them is a space the fast model dropped (it does so confidently: "MingLouis").
    Measured on the benchmark corpus and a second corpus of another seed, every
    reading the int8 model got wrong failed this, and the fp32 reading was kept.
    """
    if key == "issuedCode":
        return _convincing(key, reading)
    if not reading.char_probs:
        return False
    if key == "nameEn":
        if min(reading.char_probs) < SETTLED_PROB_EN:
            return False
        return _with_dropped_spaces(reading) is reading
    return min(reading.char_probs) >= SETTLED_PROB


#: Lowest character probability of a fast Chinese name reading that stands.
SETTLED_PROB = 0.6
#: ... of a fast English name reading (spaces included: a faint one is a doubtful one).
SETTLED_PROB_EN = 0.75
#: Widest step between neighbouring letters of a word in a fast English name reading,
#: in median steps (a dropped space makes a step of about two).
MAX_LETTER_STEP = 1.6


def _pct(p: float) -> int:
    return int(max(0, min(100, round(p * 100))))


_default: Recognizer | None = None
_default_lock = threading.Lock()


def default_recognizer() -> Recognizer:
    """The process-wide Recognizer used by :func:`recognize` (built on first use)."""
    global _default
    if _default is None:
        with _default_lock:
            if _default is None:
                _default = Recognizer()
    return _default


def recognize(image: ImageSource, *, portrait: bool = False) -> HKIDResult:
    """Read one HKID card image with the default recognizer.

    Args:
        image: a file path, the encoded bytes, or a BGR numpy array.
        portrait: also return the main portrait as PNG bytes in ``result.portrait``.

    Example:
        >>> import hkid_ocr
        >>> d = hkid_ocr.recognize("tests/data/specimen_2018.jpg").to_dict()  # doctest: +SKIP
        >>> d["data"]["sex"]  # doctest: +SKIP
        '女F'
    """
    return default_recognizer().recognize(image, portrait=portrait)

