"""Recognizer settings (frozen: a recognizer never changes them after it is built).

Example:
    >>> RecognizerConfig(threads=2).threads
    2
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["RecognizerConfig"]


@dataclass(frozen=True)
class RecognizerConfig:
    """Settings of a :class:`~hkid_ocr.Recognizer`.

    Attributes:
        model_dir: folder with the verified weights (default: ``$HKID_OCR_MODELS`` or
            the repository's ``models/``).
        threads: cores one recognition may use (text lines are read that many at a
            time); 0 uses every core. Batch workers use 1 each.
        int8: read the lines with the int8 recogniser (about twice as fast; the
            symbols and both names are read again at full precision when the int8
            reading does not convince), and draft with the draft recogniser's int8
            copy when it has been built. None: when
            it has been built (``python -m hkid_ocr.models fetch`` builds it); True:
            require it; False: full precision for every line, the draft's too.
        draft: read the dates, the card number and the code line with the draft
            recogniser (PP-OCRv6 tiny) first, and again with the main one only where
            that reading does not stand (about 5% of lines; ~15% faster a card, the
            same answers on the benchmark corpora). None: when it has been fetched;
            True: require it; False: never. Needs ``field_rules`` (they judge the
            draft readings).
        min_layout_score: below this layout match (0..1) the image holds no card.
        accept_layout_score: a candidate matching this well is taken without trying
            the remaining candidates (saves detector runs).
        field_rules: use what the card's fields must look like: per-field alphabets in
            decoding, impossible values repaired from second choices, the Chinese name
            decided with its code line, symbols on the character grid, name casing.
            Off only to measure what these rules are worth (the benchmark does).
    """

    model_dir: Path | None = None
    threads: int = 0
    min_layout_score: float = 0.35
    accept_layout_score: float = 0.62
    field_rules: bool = True
    int8: bool | None = None
    draft: bool | None = None

    def __post_init__(self) -> None:
        if self.threads < 0:
            raise ValueError("threads must be >= 0")
        if not 0.0 <= self.min_layout_score <= self.accept_layout_score <= 1.0:
            raise ValueError("need 0 <= min_layout_score <= accept_layout_score <= 1")
