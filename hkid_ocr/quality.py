"""Image-quality judgements on the rectified card: photocopy (ftype).

A card's face is printed in pastel colours (pink, green, gold). A photocopy or a
greyscale scan of it has next to no chroma left, so the share of clearly coloured
pixels on the rectified card separates the two.

Example:
    >>> import numpy as np
    >>> is_photocopy(np.full((320, 512, 3), 128, np.uint8))
    True
"""

from __future__ import annotations

import cv2
import numpy as np

__all__ = ["card_chroma", "is_photocopy"]

# Fraction of pixels whose chroma (distance from grey in Lab a/b) exceeds
# _CHROMA_MIN; the real specimens sit far above, greyscale copies at ~0.
_CHROMA_MIN = 6.0
_COLOURED_SHARE = 0.08


def card_chroma(card_bgr: np.ndarray) -> float:
    """Share of clearly coloured pixels on the card, 0..1."""
    lab = cv2.cvtColor(card_bgr, cv2.COLOR_BGR2Lab).astype(np.float32)
    chroma = np.hypot(lab[:, :, 1] - 128.0, lab[:, :, 2] - 128.0)
    return float((chroma > _CHROMA_MIN).mean())


def is_photocopy(card_bgr: np.ndarray) -> bool:
    """True when the rectified card shows no colour: a photocopy or greyscale image."""
    return card_chroma(card_bgr) < _COLOURED_SHARE
