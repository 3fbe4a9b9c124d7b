"""The generic baseline: RapidOCR's full pipeline plus a regex field parser.

This is what a developer without this project would build: run a general OCR
(``rapidocr==3.10.0``: PP-OCRv6 small detection and recognition, the v2.0 mobile
angle classifier, all three ONNX files shipped inside the wheel) over the whole
image, then pick the fields out of the recognised lines with regular expressions.
It has no notion of the card's layout, no card localisation and no photocopy
detection, so it reports no corners and ``ftype`` 0.

The models are always the local files inside the installed ``rapidocr`` package;
RapidOCR is told their paths explicitly so it never tries to download anything.

Example:
    >>> parse_lines(["HONG KONG PERMANENT IDENTITY CARD", "李智能", "LEE, Chi Nan",
    ...              "2621 2535 5174", "01-01-1968 女F", "***AZ", "(01-79)", "15-09-03",
    ...              "C668668(E)"])["idNumber"]
    'C668668(E)'
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path
from typing import Any, Sequence

__all__ = ["BASELINE_VERSION", "Baseline", "parse_lines", "rapidocr_model_paths"]

BASELINE_VERSION = "rapidocr==3.10.0 (PP-OCRv6 small det+rec, ppocr v2.0 mobile cls) + regex"

_FIELDS = ("nameCn", "nameEn", "nameCode", "birthDate", "sex", "issuedCode", "firstIssuedDate",
           "issuedDate", "idNumber")

# Fold full-width forms and the usual OCR bracket variants to ASCII.
_FOLD = str.maketrans({"（": "(", "）": ")", "［": "(", "］": ")", "[": "(", "]": ")", "{": "(",
                       "}": ")", "－": "-", "—": "-", "–": "-", "＊": "*", "，": ",", "．": "."})
# Any letter in the check slot: specimen numbers print "(E)", and the field is
# reported as printed, valid or not.
_ID_RE = re.compile(r"([A-Z]{1,2})(\d{6})\(([0-9A-Z])\)")
_BIRTH_RE = re.compile(r"(?<!\d)(\d{2})-(\d{2})-(\d{4})(?!\d)")
_ISSUE_RE = re.compile(r"(?<![\d(-])(\d{2})-(\d{2})-(\d{2})(?![\d)-])")
_FIRST_RE = re.compile(r"\((\d{2})-(\d{2})\)")
_CODE_RE = re.compile(r"^(\d{4})(\s*\d{4}){0,3}$")
_NAME_EN_RE = re.compile(r"^([A-Z][A-Z' -]*[A-Z]),\s*([A-Za-z][A-Za-z' -]*)$")
_SYMBOLS_RE = re.compile(r"^(\*{1,3})?([ACRUZXWOBNYLHKSPV0-9]{1,6})$")
_CJK_RE = re.compile(r"^[\u3400-\u9fff\uf900-\ufaff]{2,5}$")
# Lines a card always prints: never a name.
_STATIC_CN = ("香港", "身份", "居民", "出生", "日期", "簽發", "签发", "樣本", "样本", "永久")


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).translate(_FOLD)


def parse_lines(lines: Sequence[str]) -> dict[str, str]:
    """Pick the nine card fields out of OCR lines (top-to-bottom order helps).

    Each field takes the first line that matches its pattern; fields not found
    are "". Deliberately simple: this is the baseline a generic OCR user writes.
    """
    out = {k: "" for k in _FIELDS}
    folded = [_fold(t).strip() for t in lines]
    for raw in folded:
        compact = raw.replace(" ", "")
        if not out["idNumber"]:
            m = _ID_RE.search(compact)
            if m:
                out["idNumber"] = f"{m.group(1)}{m.group(2)}({m.group(3)})"
                continue
        if not out["firstIssuedDate"]:
            m = _FIRST_RE.search(compact)
            if m:
                out["firstIssuedDate"] = f"({m.group(1)}-{m.group(2)})"
                continue
        if not out["birthDate"]:
            m = _BIRTH_RE.search(compact)
            if m:
                out["birthDate"] = m.group(0)
                # The sex is often on the same line ("01-01-1968 女F").
                rest = compact[m.end():]
                if not out["sex"]:
                    if "女" in rest or rest.endswith("F"):
                        out["sex"] = "女F"
                    elif "男" in rest or rest.endswith("M"):
                        out["sex"] = "男M"
                continue
        if not out["issuedDate"]:
            m = _ISSUE_RE.search(compact)
            if m:
                out["issuedDate"] = m.group(0)
                continue
        if not out["nameCode"] and _CODE_RE.match(raw):
            digits = re.sub(r"\D", "", raw)
            out["nameCode"] = " ".join(digits[i:i + 4] for i in range(0, len(digits), 4))
            continue
        if not out["sex"] and compact in ("女F", "男M", "女", "男", "F", "M", "女M", "男F"):
            out["sex"] = "女F" if ("女" in compact or compact == "F") else "男M"
            continue
        if not out["nameEn"]:
            m = _NAME_EN_RE.match(raw)
            if m and "IDENTITY" not in raw and "HONG KONG" not in raw:
                out["nameEn"] = f"{m.group(1)}, {m.group(2)}"
                continue
        if not out["issuedCode"]:
            # A zero in the symbols line is the letter O (born elsewhere); only the
            # L/H/K/S/P/V counters carry digits, and never a zero.
            sym = re.sub(r"(?<![LHKSPV])0", "O", compact)
            m = _SYMBOLS_RE.match(sym)
            if m and re.search(r"[ACRU]", sym) and re.search(r"[ZXWO]", sym):
                out["issuedCode"] = sym
                continue
        if not out["nameCn"] and _CJK_RE.match(compact) \
                and not any(s in compact for s in _STATIC_CN):
            out["nameCn"] = compact
            continue
    return out


def rapidocr_model_paths() -> dict[str, Path]:
    """The ONNX files bundled in the installed rapidocr wheel (no download)."""
    import rapidocr

    models = Path(rapidocr.__file__).resolve().parent / "models"
    paths = {
        "det": models / "PP-OCRv6_det_small.onnx",
        "rec": models / "PP-OCRv6_rec_small.onnx",
        "cls": models / "ch_ppocr_mobile_v2.0_cls_mobile.onnx",
    }
    missing = [str(p) for p in paths.values() if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"rapidocr models missing: {missing} (pip install rapidocr==3.10.0)")
    return paths


class Baseline:
    """RapidOCR + :func:`parse_lines`, answering like the cloud ``Data`` object.

    Args:
        threads: onnxruntime intra-op threads (0: onnxruntime's default, all cores).
        det: another detector file in place of the wheel's (benchmarks/denormals.py gives it
            the engine's zeroed copy); the wheel's when None.
    """

    def __init__(self, threads: int = 0, det: Path | None = None) -> None:
        from rapidocr import RapidOCR

        paths = rapidocr_model_paths()
        params: dict[str, Any] = {
            "Det.model_path": str(det or paths["det"]),
            "Rec.model_path": str(paths["rec"]),
            "Cls.model_path": str(paths["cls"]),
            "Global.log_level": "error",
        }
        if threads > 0:
            params["EngineConfig.onnxruntime.intra_op_num_threads"] = threads
            params["EngineConfig.onnxruntime.inter_op_num_threads"] = 1
        self._ocr = RapidOCR(params=params)

    def recognize(self, image: str | Path | bytes) -> dict[str, Any]:
        """OCR the whole image and parse the fields; no corners, ftype always 0."""
        src: Any = image if isinstance(image, bytes) else str(image)
        res = self._ocr(src)
        # RapidOCR returns one of several output types; only the full pipeline's
        # carries both, and an image with no text carries None.
        raw_txts = getattr(res, "txts", None)
        raw_boxes = getattr(res, "boxes", None)
        txts: list[str] = list(raw_txts) if raw_txts is not None else []
        boxes: list[Any] = list(raw_boxes) if raw_boxes is not None else []
        # Reading order: top to bottom by box centre, then left to right.
        order = sorted(range(len(txts)), key=lambda i: (float(boxes[i][:, 1].mean()) // 12,
                                                         float(boxes[i][:, 0].mean())))
        lines = [txts[i] for i in order]
        return {"data": parse_lines(lines), "sliceRect": None, "ftype": 0, "figure": [],
                "lines": lines}
