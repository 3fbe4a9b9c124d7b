"""Regenerate ``benchmarks/contact_sheet.png``: real specimens beside synthetic cards.

    python benchmarks/contact_sheet.py [--out benchmarks/contact_sheet.png] [--seed 2024]

Rows 1-2: the real 2003 / 2018 specimen scans (left), then synthetic cards of the
same design as printed (flat, before capture): permanent, non-permanent, without a
Chinese name, and a fully drawn card. Row 3: captured images (phone photo, hard
photo, photocopy, screen recapture). The PNG is palette-quantised to stay small
enough to commit (< 400 KB).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw

_ROOT = Path(__file__).resolve().parents[1]
if str(_ROOT) not in sys.path:
    sys.path.insert(0, str(_ROOT))

from benchmarks.synth.background import SPECIMEN_DIR  # noqa: E402
from benchmarks.synth.corpus import CardPlan, generate_card  # noqa: E402
from benchmarks.synth.fonts import font  # noqa: E402
from benchmarks.synth.identities import Design  # noqa: E402

CELL_W, CELL_H, LABEL_H, PAD = 368, 232, 22, 6


def _fit(img: np.ndarray) -> np.ndarray:
    """Letterbox ``img`` into one cell (white surround), keeping its aspect ratio."""
    if img.ndim == 2:
        img = cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
    h, w = img.shape[:2]
    s = min(CELL_W / w, CELL_H / h)
    small = cv2.resize(img, (max(int(w * s), 1), max(int(h * s), 1)), interpolation=cv2.INTER_AREA)
    cell = np.full((CELL_H, CELL_W, 3), 255, np.uint8)
    y, x = (CELL_H - small.shape[0]) // 2, (CELL_W - small.shape[1]) // 2
    cell[y:y + small.shape[0], x:x + small.shape[1]] = small
    return cell


def build(seed: int) -> Image.Image:
    """The contact sheet as a palette image."""
    cells: list[tuple[np.ndarray, str]] = []

    def card(i: int, level: str, design: Design, permanent: bool, source: str, chinese: bool,
             photocopy: bool = False, recapture: bool = False, flat: bool = True) -> np.ndarray:
        plan = CardPlan(i, level, design, permanent, source, chinese, False, photocopy, recapture)
        gen = generate_card(seed, i, 100, plan, keep_flat=flat)
        if flat:
            assert gen.flat is not None
            return gen.flat
        img = cv2.imdecode(np.frombuffer(gen.jpeg, np.uint8), cv2.IMREAD_UNCHANGED)
        if img is None:  # pragma: no cover - our own JPEG
            raise RuntimeError("cannot decode a generated card")
        return np.asarray(img)

    designs: tuple[Design, Design] = ("2003", "2018")
    for row, design in enumerate(designs):
        real = cv2.imread(str(SPECIMEN_DIR / f"specimen_{design}.jpg"))
        if real is None:
            raise FileNotFoundError(SPECIMEN_DIR / f"specimen_{design}.jpg")
        cells.append((np.asarray(real), f"REAL specimen {design}"))
        cells.append((card(10 * row + 1, "clean", design, True, "specimen", True),
                      f"synthetic {design}, permanent"))
        cells.append((card(10 * row + 2, "clean", design, False, "specimen", row == 0),
                      f"synthetic {design}, non-permanent" + ("" if row == 0 else ", no Chinese name")))
        cells.append((card(10 * row + 3, "clean", design, row == 0, "drawn", True),
                      f"synthetic {design}, drawn background"))
    cells.append((card(31, "photo", "2003", True, "specimen", True, flat=False), "photo level"))
    cells.append((card(32, "hard", "2018", True, "specimen", True, flat=False), "hard level"))
    cells.append((card(33, "clean", "2018", True, "specimen", True, photocopy=True, flat=False),
                  "photocopy (ftype 1)"))
    cells.append((card(34, "photo", "2003", False, "specimen", True, recapture=True, flat=False),
                  "screen recapture"))

    cols, rows = 4, 3
    sheet = Image.new("RGB", (cols * (CELL_W + PAD) + PAD, rows * (CELL_H + LABEL_H + PAD) + PAD),
                      (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    label_font = font("dejavu_sans", 14)
    for n, (img, label) in enumerate(cells):
        r, c = divmod(n, cols)
        x, y = PAD + c * (CELL_W + PAD), PAD + r * (CELL_H + LABEL_H + PAD)
        sheet.paste(Image.fromarray(cv2.cvtColor(_fit(img), cv2.COLOR_BGR2RGB)), (x, y))
        draw.text((x + 2, y + CELL_H + 3), label, font=label_font,
                  fill=(180, 0, 0) if label.startswith("REAL") else (40, 40, 40))
    # 192-colour palette without dithering: about a quarter of the RGB PNG's size.
    return sheet.quantize(colors=192, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)


def main(argv: list[str] | None = None) -> int:
    """Write the contact sheet; prints its path and size."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=_ROOT / "benchmarks" / "contact_sheet.png")
    ap.add_argument("--seed", type=int, default=2024)
    args = ap.parse_args(argv)
    build(args.seed).save(args.out, optimize=True)
    print(f"{args.out} ({args.out.stat().st_size // 1024} KB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
