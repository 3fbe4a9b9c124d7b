"""Image-quality judgements on the located card: photocopy (ftype) and screen recapture.

Photocopy: a card's face is printed in pastel colours (pink, green, gold); a photocopy
or greyscale scan has next to no chroma left, so the share of clearly coloured pixels
on the rectified card separates the two.

Screen recapture: a photo of a screen showing the card carries the screen's pixel grid
(and the moire it makes with the camera's sensor): a narrow periodic pattern that is
the same all over the card. Printed text and the card's guilloche differ from place to
place. Small patches at native resolution are taken across the card; the spectrum most
of them share (their median) shows a sharp peak only for such a pattern.

Example:
    >>> import numpy as np
    >>> is_photocopy(np.full((320, 512, 3), 128, np.uint8))
    True
"""

from __future__ import annotations

import cv2
import numpy as np

from .rectify import card_homography, map_points, warp_quad

__all__ = ["card_chroma", "is_photocopy", "recapture_score", "RECAPTURE_THRESHOLD"]

# Fraction of pixels whose chroma (distance from grey in Lab a/b) exceeds
# _CHROMA_MIN; the real specimens sit far above, greyscale copies at ~0.
_CHROMA_MIN = 6.0
_COLOURED_SHARE = 0.08

#: Peak-to-median ratio of the shared spectrum above which a recapture is reported.
#: Measured on the synthetic corpus: printed cards stay below (~70 at most, on crisp
#: scans); screens photographed at card scale reach 60..120.
RECAPTURE_THRESHOLD = 65.0
_PATCH = 64
# Patch centres as fractions of the card, spread over text, background and portrait.
_PATCH_CENTRES = ((0.2, 0.19), (0.5, 0.19), (0.8, 0.32), (0.25, 0.89), (0.55, 0.79), (0.85, 0.89),
                  (0.5, 0.52), (0.15, 0.52))
_WINDOW = np.outer(np.hanning(_PATCH), np.hanning(_PATCH)).astype(np.float32)
# The spectrum's band between the lowest frequencies (the card's layout) and the highest.
_RADIUS = np.hypot(*(np.mgrid[0:_PATCH, 0:_PATCH] - _PATCH // 2)) / _PATCH
_BAND = (_RADIUS > 0.12) & (_RADIUS < 0.48)


def card_chroma(card_bgr: np.ndarray) -> float:
    """Share of clearly coloured pixels on the card, 0..1."""
    lab = cv2.cvtColor(card_bgr, cv2.COLOR_BGR2Lab).astype(np.float32)
    chroma = np.hypot(lab[:, :, 1] - 128.0, lab[:, :, 2] - 128.0)
    return float((chroma > _CHROMA_MIN).mean())


def is_photocopy(card_bgr: np.ndarray) -> bool:
    """True when the rectified card shows no colour: a photocopy or greyscale image."""
    return card_chroma(card_bgr) < _COLOURED_SHARE


def recapture_score(image: np.ndarray, quad: np.ndarray) -> float:
    """How strongly one fine periodic pattern covers the card (peak / median spectrum).

    ``quad`` is the card's corners (TL, TR, BR, BL) in ``image``. Patches keep the
    image's own resolution: a screen's pixel grid does not survive resampling.
    """
    size = (1000, 630)
    H = card_homography(np.asarray(quad, np.float64), size)
    patches = []
    for fx, fy in _PATCH_CENTRES:
        cx, cy = fx * size[0], fy * size[1]
        c, right, down = map_points(H, [(cx, cy), (cx + 10, cy), (cx, cy + 10)])
        u = (right - c) / max(1e-6, float(np.linalg.norm(right - c)))
        v = (down - c) / max(1e-6, float(np.linalg.norm(down - c)))
        half = _PATCH / 2
        corners = np.array([c - (u + v) * half, c + (u - v) * half, c + (u + v) * half, c - (u - v) * half])
        patch = cv2.cvtColor(warp_quad(image, corners, _PATCH, _PATCH), cv2.COLOR_BGR2GRAY).astype(np.float32)
        patches.append((patch - patch.mean()) * _WINDOW)
    # All patches in one transform (the same numbers as one at a time).
    spec = np.abs(np.fft.fftshift(np.fft.fft2(np.stack(patches)), axes=(-2, -1))) + 1e-3
    # The median of eight: the mean of the middle two, as np.median takes it (~4x faster).
    logs = np.sort(np.log(spec), axis=0)
    mid = len(patches) // 2
    shared = np.exp((logs[mid - 1] + logs[mid]) / 2)
    band = shared[_BAND]
    return float(band.max() / np.median(band))
