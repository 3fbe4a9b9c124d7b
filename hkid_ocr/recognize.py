"""Field recognition: preprocess line crops, run them in one batch, CTC-decode.

The recogniser is PP-OCRv6 small. Its character list is read from the model's own
metadata (key ``character``), so weights and dictionary can never drift apart.
Class 0 is the CTC blank, then the dictionary, then a space.

Decoding is greedy per frame but *constrained*: each field passes the set of
characters it may contain (digits for dates, letters and digits for the card
number, ...), and only those classes compete with the blank. A character outside
a field's alphabet can therefore never be emitted for it, however confident the
network is about it.

Example:
    >>> from hkid_ocr.models import resolve_models
    >>> from hkid_ocr.runtime import OnnxModel
    >>> rec = TextRecognizer(OnnxModel(resolve_models().rec))  # doctest: +SKIP
    >>> rec.read([crop], ["idNumber"])[0].text  # doctest: +SKIP
    'C668668(E)'
"""

from __future__ import annotations

import os
import threading
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from .errors import ModelError
from .runtime import OnnxModel, dictionary
from .types import LineReading
from .workers import Workers

__all__ = ["REC_HEIGHT", "TextRecognizer", "lanes_for", "starts_in_ink"]

REC_HEIGHT = 48
MAX_WIDTH = 1280
#: Runs are padded to at least this width: the network reads a short, blurred line
#: (three stars and two letters on a small card) better with blank context after it.
MIN_RUN_WIDTH = 160
_TOPK = 5
#: What a column costs the draft model (PP-OCRv6 tiny, fp32) against the main one (int8
#: PP-OCRv6 small), both narrowed to the Latin fields, on one core: 0.37-0.42 at 160-320
#: columns (measured). For sharing the lines among the lanes.
DRAFT_COST = 0.38
#: ... and its int8 copy: 0.25-0.26 (measured the same way).
DRAFT_INT8_COST = 0.26


#: A crop "starts in ink" when this share of its first START_COLUMNS columns' text
#: band is ink (START_COLUMNS: about a stroke's width at REC_HEIGHT), or this share of
#: any one of its first SLIVER_COLUMNS columns.
INK_AT_START = 0.05
START_COLUMNS = 8
SLIVER_INK = 0.1
SLIVER_COLUMNS = 3
#: How much of a crop (in crop heights from its start) its ink and background are
#: judged on: a few characters.
START_WINDOW = 4
#: Below this spread between the background and the darkest print (grey levels), a
#: crop is too faint to say where its ink is.
MIN_INK_CONTRAST = 25.0


def starts_in_ink(crop: np.ndarray) -> bool:
    """Whether a line crop (BGR, REC_HEIGHT rows) begins inside a character.

    A line's box leaves air before its first character; a crop whose first columns
    hold dark print was cut through a character (the text map missed the line's start).
    Only the rows of the text band count (a crop's top and bottom tenths are air).

    Example:
        >>> blank = np.full((REC_HEIGHT, 100, 3), 220, np.uint8)
        >>> starts_in_ink(blank)
        False
        >>> cut = blank.copy(); cut[10:40, 0:3] = 30; cut[10:40, 30:34] = 30
        >>> starts_in_ink(cut)
        True
    """
    h = crop.shape[0]
    # The line's first few characters say what its ink and background look like.
    head = crop[h // 10 : h - h // 10, : START_WINDOW * h]
    band = cv2.cvtColor(head, cv2.COLOR_BGR2GRAY) if head.ndim == 3 else head
    background, darkest = np.percentile(band, (75, 3))
    if background - darkest < MIN_INK_CONTRAST:
        return False
    ink = band[:, :START_COLUMNS] < background - 0.5 * (background - darkest)
    # Ink across the first columns (a stem or a bowl cut through), or a sliver in one
    # of the very first (the end of an S's curve).
    return bool(ink.mean() > INK_AT_START or ink[:, :SLIVER_COLUMNS].mean(axis=0).max() > SLIVER_INK)


def lanes_for(threads: int) -> int:
    """How many lines to recognise at once for a ``threads`` setting (0: every core)."""
    return max(1, threads or (os.cpu_count() or 1))


class _LineQueue:
    """The lines of one call, longest (by estimated cost) first, taken by the lanes one
    at a time as each comes free: the lanes end within about one line of each other
    whatever the estimates miss (a static split by estimate left one lane idle for
    ~4 ms a clean card at the median, up to 13 ms). A line put back goes first."""

    def __init__(self, costs: Sequence[float], jobs: Sequence[tuple[int, bool]]) -> None:
        order = sorted(range(len(jobs)), key=lambda j: -costs[j])
        self._todo = deque(jobs[j] for j in order)
        self._lock = threading.Lock()

    def take(self) -> tuple[int, bool] | None:
        with self._lock:
            return self._todo.popleft() if self._todo else None

    def put_back(self, job: tuple[int, bool]) -> None:
        with self._lock:
            self._todo.appendleft(job)


@dataclass(frozen=True)
class _Classes:
    """A recogniser's output classes: the characters, and per field the classes allowed
    to compete (blank first; decoding looks at these columns only, which is also far
    cheaper than all of them)."""

    charset: tuple[str, ...]
    index: dict[str, int]
    allowed: dict[str, np.ndarray]
    inside: dict[str, np.ndarray]  # per field, the allowed classes as a mask over all

    @classmethod
    def of(cls, model: OnnxModel, alphabets: dict[str, str]) -> _Classes:
        raw = model.metadata.get("character")
        if not raw:
            raise ModelError(f"{model.name} has no 'character' metadata: not a PP-OCR recogniser")
        charset = ("",) + tuple(dictionary(raw)) + (" ",)
        table = cls(charset, {c: i for i, c in enumerate(charset) if i > 0}, {}, {})
        for key, alphabet in alphabets.items():
            table.inside[key] = table.mask(alphabet)
            table.allowed[key] = np.flatnonzero(table.inside[key])
        return table

    def spells(self, alphabet: str, known: dict[str, int]) -> bool:
        """Whether these classes hold every character of ``alphabet`` that ``known`` (the
        main model's index) holds: a narrowed or draft model can read that field."""
        return all(ch in self.index for ch in alphabet if ch in known)

    def mask(self, alphabet: str) -> np.ndarray:
        """Boolean mask over classes: blank plus the classes of ``alphabet``'s characters."""
        mask = np.zeros(len(self.charset), bool)
        mask[0] = True
        for ch in alphabet:
            i = self.index.get(ch)
            if i is not None:
                mask[i] = True
        return mask


class TextRecognizer:
    """Reads text lines; thread-safe (no state changes after construction).

    With ``lanes`` > 1 the lines of one call are recognised that many at a time, on
    single-threaded sessions: a line is too small a job for one session to spread over
    several cores efficiently, and whole lines in parallel keep every core busy.

    ``precise`` is another variant of the network (same dictionary: full precision
    beside an int8 ``model``) that ``read(..., precise=True)`` reads with, one line
    after another on the calling thread: give its session the cores (threads) to
    spread each run over.

    ``narrow`` is ``model`` with fewer output classes (see
    :func:`~hkid_ocr.runtime.narrow_recognizer`): lines whose alphabet it holds are read
    with it, faster and into the same text (the class scores are the same numbers; the
    probabilities are normalised over its classes only). ``precise_narrow`` is
    ``precise`` narrowed to the same classes, for the precise re-reads of those lines.

    ``draft`` is a smaller, faster recogniser (same family, a dictionary within the main
    one) and ``draft_ok`` says per field whether its reading stands: the lines of those
    fields are read by the draft model first, and only the readings that do not stand
    are read again by the main one (next, by the first lane to come free). A draft
    reading that stands is the line's reading; one that does not is never used.
    ``draft_cost`` is what a column costs it against ``model`` (for sharing the lines
    among the lanes).
    """

    def __init__(
        self,
        model: OnnxModel,
        alphabets: dict[str, str] | None = None,
        *,
        lanes: int = 1,
        precise: OnnxModel | None = None,
        narrow: OnnxModel | None = None,
        precise_narrow: OnnxModel | None = None,
        draft: OnnxModel | None = None,
        draft_ok: Mapping[str, Callable[[LineReading], bool]] | None = None,
        draft_cost: float = DRAFT_COST,
    ) -> None:
        alphabets = alphabets or {}
        self._classes = _Classes.of(model, alphabets)  # raises ModelError without a dictionary
        if precise is not None and precise.metadata.get("character") != model.metadata["character"]:
            raise ModelError(f"{precise.name} and {model.name} have different dictionaries")
        self._model = model
        self._precise = precise if precise is not None else model
        self._lanes = max(1, lanes)
        # The calling thread is one lane; a pool runs the others.
        self._workers = Workers(self._lanes, "hkid-ocr-lane")
        self.charset: tuple[str, ...] = self._classes.charset
        self._index = self._classes.index
        self._narrow: OnnxModel | None = None
        self._narrow_classes: _Classes | None = None
        self._narrow_keys: frozenset[str] = frozenset()
        if narrow is not None:
            small = _Classes.of(narrow, alphabets)
            if not set(small.charset) <= set(self.charset):
                raise ModelError(f"{narrow.name} has characters {model.name} does not: not a narrowed copy of it")
            self._narrow, self._narrow_classes = narrow, small
            # A field is read narrow when every character it may hold is kept there.
            self._narrow_keys = frozenset(
                key for key, alphabet in alphabets.items() if small.spells(alphabet, self._index)
            )
        self._precise_narrow: OnnxModel | None = None
        if precise_narrow is not None and narrow is not None and precise is not None:
            if precise_narrow.metadata.get("character") != narrow.metadata.get("character"):
                raise ModelError(f"{precise_narrow.name} and {narrow.name} keep different classes")
            self._precise_narrow = precise_narrow
        self._draft: OnnxModel | None = None
        self._draft_classes: _Classes | None = None
        self._draft_ok: dict[str, Callable[[LineReading], bool]] = {}
        self._draft_cost = float(draft_cost)
        if draft is not None and draft_ok:
            rough = _Classes.of(draft, alphabets)
            if not set(rough.charset) <= set(self.charset):
                raise ModelError(f"{draft.name} has characters {model.name} does not")
            self._draft, self._draft_classes = draft, rough
            # Only fields the draft model can spell out in full are drafted.
            self._draft_ok = {
                key: ok for key, ok in draft_ok.items()
                if key in alphabets and rough.spells(alphabets[key], self._index)
            }

    def class_mask(self, alphabet: str) -> np.ndarray:
        """Boolean mask over classes: blank plus the classes of ``alphabet``'s characters."""
        return self._classes.mask(alphabet)

    def has_char(self, ch: str) -> bool:
        """Whether the recogniser's dictionary holds ``ch``."""
        return ch in self._index

    @staticmethod
    def preprocess(crops: Sequence[np.ndarray]) -> tuple[np.ndarray, list[int]]:
        """Normalise BGR crops of height REC_HEIGHT into one zero-padded float32 batch."""
        widths = [min(MAX_WIDTH, int(c.shape[1])) for c in crops]
        batch_w = max(max(widths), MIN_RUN_WIDTH)
        # Round the batch width up so the network's time axis divides evenly.
        batch_w = int(np.ceil(batch_w / 8) * 8)
        x = np.zeros((len(crops), 3, REC_HEIGHT, batch_w), np.float32)
        for i, (crop, w) in enumerate(zip(crops, widths)):
            a = crop[:, :w].astype(np.float32) * (2 / 255.0) - 1.0
            x[i, :, :, :w] = a.transpose(2, 0, 1)
        return x, widths

    @property
    def drafted(self) -> frozenset[str]:
        """The fields whose lines the draft model reads first."""
        return frozenset(self._draft_ok)

    @property
    def has_precise(self) -> bool:
        """Whether ``read(..., precise=True)`` reads with another model than the default."""
        return self._precise is not self._model

    def read(self, crops: Sequence[np.ndarray], keys: Sequence[str], *, precise: bool = False) -> list[LineReading]:
        """Recognise each crop (BGR, REC_HEIGHT rows) as one line; ``keys`` pick alphabets.

        Each crop is one model run; the lanes take the runs longest first, each the next
        as it comes free (the network's cost grows with a run's width). With
        ``precise``, every line is read by the precise (full-precision) model.
        """
        if not crops:
            return []
        # Every line is its own run: padding a line to a wider neighbour changes its
        # probabilities a little, and a reading must depend on its crop alone (not on
        # the other lines of the card, nor on the lanes). Measured on the specimens,
        # runs grouped by width saved nothing on one lane either.
        if precise:
            # Precise re-reads are few (mostly one line): the precise session spreads
            # each over the cores instead (see the class notes).
            return [
                self._read_one(c, k, self._precise_narrow, self._narrow_classes)  # type: ignore[arg-type]
                if self._precise_narrow is not None and k in self._narrow_keys
                else self._read_one(c, k, self._precise, self._classes)
                for c, k in zip(crops, keys)
            ]
        # (line, by the draft model?): a draft reading that does not stand is put back
        # to be read by the main model, at once, on whichever lane comes free first.
        jobs = [(i, k in self._draft_ok) for i, k in enumerate(keys)]
        costs = [max(MIN_RUN_WIDTH, int(c.shape[1])) * (self._draft_cost if drafted else 1.0)
                 for c, (_, drafted) in zip(crops, jobs)]
        queue = _LineQueue(costs, jobs)
        out: list[LineReading | None] = [None] * len(crops)

        def run_lane(_: int) -> None:
            while (job := queue.take()) is not None:
                i, drafted = job
                key = keys[i]
                if drafted:
                    reading = self._read_one(crops[i], key, self._draft, self._draft_classes)  # type: ignore[arg-type]
                    if not self._draft_ok[key](reading):
                        queue.put_back((i, False))
                        continue
                elif key in self._narrow_keys:
                    reading = self._read_one(crops[i], key, self._narrow, self._narrow_classes)  # type: ignore[arg-type]
                else:
                    reading = self._read_one(crops[i], key, self._model, self._classes)
                out[i] = reading

        # One lane a thread; a lane's error is raised here. A lane that finds the queue
        # empty stops; one that puts a line back reads it itself if no other lane does.
        self._workers.map(run_lane, range(min(self._lanes, len(crops))))
        return [r for r in out if r is not None]

    def _read_one(self, crop: np.ndarray, key: str, model: OnnxModel, classes: _Classes) -> LineReading:
        """One model run over one crop; ``classes`` are the model's."""
        x, (width,) = self.preprocess([crop])
        probs = model.run(x)[0]  # (T, C), already softmax-normalised
        n_frames = probs.shape[0]
        batch_w = x.shape[3]
        # Frames beyond the crop's real width only see padding.
        t_end = max(1, min(n_frames, int(np.ceil(width / batch_w * n_frames)) + 1))
        return self._decode(key, probs[:t_end], batch_w / n_frames / width, classes)

    def _decode(self, key: str, p: np.ndarray, frac_per_frame: float, table: _Classes) -> LineReading:
        charset = table.charset
        allowed = table.allowed.get(key)
        best = p.argmax(axis=1)
        classes = np.arange(p.shape[1])
        # The columns a character's alternatives are drawn from (None: all of them).
        alt_cols = None
        if allowed is not None:
            if table.inside[key][best].all():
                # Every frame's best class is in the alphabet, so the alphabet's own
                # argmax is the same (the first of equals too: the alphabet's columns
                # keep their order). Only each character's alternatives need its
                # columns: a row a character, not the whole matrix (a Chinese name's
                # ~15,000 columns: ~2 ms a line less).
                alt_cols = allowed
            else:
                p = p[:, allowed]
                classes = allowed
                best = p.argmax(axis=1)
        text: list[str] = []
        probs: list[float] = []
        pos: list[float] = []
        alts: list[tuple[tuple[str, float], ...]] = []
        prev = 0
        run_start = 0
        # Column 0 is the blank in both the full and the restricted matrix.
        for t, c in enumerate(np.append(best, 0)):
            c = int(c)
            if c != prev:
                if prev != 0:
                    seg = p[run_start:t]
                    frame = seg[int(seg[:, prev].argmax())]
                    row, row_classes = (frame[alt_cols], alt_cols) if alt_cols is not None else (frame, classes)
                    k = min(_TOPK, row.shape[0] - 1)
                    top = np.argpartition(row, -k)[-k:]
                    top = top[np.argsort(row[top])[::-1]]
                    text.append(charset[classes[prev]])
                    probs.append(float(frame[prev]))
                    pos.append(float(min(1.0, (run_start + t) / 2 * frac_per_frame)))
                    alts.append(tuple(
                        (charset[row_classes[j]], float(row[j])) for j in top if j != 0 and row[j] > 1e-4
                    ))
                run_start = t
            prev = c
        return LineReading(
            key=key, text="".join(text), char_probs=tuple(probs), char_pos=tuple(pos), alternatives=tuple(alts)
        )
