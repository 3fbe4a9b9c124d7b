"""Locate the Debian fonts the synthetic cards are printed with.

The corpus only uses fonts from Debian packages (``fonts-ocr-b``,
``fonts-arphic-uming``, ``fonts-arphic-ukai``, ``fonts-noto-cjk``,
``fonts-dejavu-core``, ``fonts-liberation``) so that anyone can rebuild exactly the same images after
``scripts/setup.sh``. Paths are looked up in the standard Debian locations first
(no subprocess, so it is fast and deterministic) and then with ``fc-match``.

Example:
    >>> from benchmarks.synth.fonts import font  # doctest: +SKIP
    >>> font("ocrb", 30).getname()  # doctest: +SKIP
    ('OCR B', 'Regular')
"""

from __future__ import annotations

import shutil
import subprocess
from functools import lru_cache
from pathlib import Path

from PIL import ImageFont

__all__ = ["FONT_FILES", "FontsMissing", "font", "font_path", "fonts_available", "missing_fonts"]


class FontsMissing(RuntimeError):
    """A font the generator needs is not installed (run scripts/setup.sh)."""


# name -> (Debian path, face index inside a .ttc collection, fc-match pattern, package).
# Face indices: uming.ttc 1 = "AR PL UMing HK", NotoSansCJK 4 = "Noto Sans CJK HK",
# NotoSansCJK 9 = "Noto Sans Mono CJK HK" (HK forms of the glyphs, as printed on the cards).
FONT_FILES: dict[str, tuple[str, int, str, str]] = {
    "ocrb": ("/usr/share/fonts/opentype/ocr-b/OCRB.otf", 0, "OCR B", "fonts-ocr-b"),
    "uming": ("/usr/share/fonts/truetype/arphic/uming.ttc", 1, "AR PL UMing HK", "fonts-arphic-uming"),
    "ukai": ("/usr/share/fonts/truetype/arphic/ukai.ttc", 1, "AR PL UKai HK", "fonts-arphic-ukai"),
    "noto_sans_cjk": ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", 4,
                      "Noto Sans CJK HK", "fonts-noto-cjk"),
    "noto_sans_cjk_bold": ("/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc", 4,
                           "Noto Sans CJK HK:bold", "fonts-noto-cjk"),
    "noto_mono_cjk": ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", 9,
                      "Noto Sans Mono CJK HK", "fonts-noto-cjk"),
    "noto_serif_cjk": ("/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc", 4,
                       "Noto Serif CJK HK", "fonts-noto-cjk"),
    "liberation_serif": ("/usr/share/fonts/truetype/liberation/LiberationSerif-Regular.ttf", 0,
                         "Liberation Serif", "fonts-liberation"),
    "liberation_sans": ("/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf", 0,
                        "Liberation Sans", "fonts-liberation"),
    "liberation_sans_bold": ("/usr/share/fonts/truetype/liberation/LiberationSans-Bold.ttf", 0,
                             "Liberation Sans:bold", "fonts-liberation"),
    "noto_serif_cjk_bold": ("/usr/share/fonts/opentype/noto/NotoSerifCJK-Bold.ttc", 4,
                            "Noto Serif CJK HK:bold", "fonts-noto-cjk"),
    "dejavu_serif_italic": ("/usr/share/fonts/truetype/dejavu/DejaVuSerif-BoldItalic.ttf", 0,
                            "DejaVu Serif:bold:italic", "fonts-dejavu-core"),
    "dejavu_mono": ("/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf", 0,
                    "DejaVu Sans Mono", "fonts-dejavu-core"),
    "dejavu_sans": ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", 0, "DejaVu Sans",
                    "fonts-dejavu-core"),
    "dejavu_serif": ("/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf", 0, "DejaVu Serif",
                     "fonts-dejavu-core"),
}


@lru_cache(maxsize=None)
def font_path(name: str) -> tuple[str, int]:
    """(file, face index) of a named font; raises FontsMissing if not installed."""
    path, index, pattern, package = FONT_FILES[name]
    if Path(path).is_file():
        return path, index
    # Not in the Debian location (another distribution): ask fontconfig. A
    # collection found that way may order its faces differently, so only accept
    # a single-face file or the same file name.
    if shutil.which("fc-match"):
        try:
            out = subprocess.run(["fc-match", "-f", "%{file}", pattern], capture_output=True,
                                 text=True, timeout=10, check=False).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            out = ""
        if out and Path(out).name == Path(path).name and Path(out).is_file():
            return out, index
    raise FontsMissing(f"font {pattern!r} not found (Debian package {package}; run scripts/setup.sh)")


def missing_fonts() -> list[str]:
    """Debian packages whose fonts are missing (empty when everything is installed)."""
    missing: list[str] = []
    for name, (_, _, _, package) in FONT_FILES.items():
        try:
            font_path(name)
        except FontsMissing:
            if package not in missing:
                missing.append(package)
    return missing


def fonts_available() -> bool:
    """True when every font the generator uses is installed."""
    return not missing_fonts()


@lru_cache(maxsize=256)
def font(name: str, size: int) -> ImageFont.FreeTypeFont:
    """A loaded font at a pixel size (cached: loading a .ttc costs milliseconds)."""
    path, index = font_path(name)
    return ImageFont.truetype(path, size=size, index=index)
