"""What the main benchmark does not cover: the engine's own extras, measured on the corpus.

    python benchmarks/extras.py [--corpus DIR] [--count N] [--workers W]

On the corpus that ``benchmarks/run.py`` built (same seed and count), in one run:

- field rules on vs off (``RecognizerConfig(field_rules=False)``): per-field exact
  match and all-fields exact, so the value of alphabets, pattern repair, the joint
  name/code decision and the symbol grid is measured, not assumed;
- portrait: presence accuracy and IoU of the main ``figure`` box with the true
  portrait, by level;
- ftype (photocopy) accuracy and screen-recapture precision / recall;
- confidence calibration: for ``valueProb`` bands, how often the field is right;
- the characters missing from the recogniser's dictionary: nameCn exact on those cards;
- the per-stage time breakdown (median seconds per stage, one thread per worker).

Writes ``extras.json`` and ``extras.md`` to ``--out`` (default benchmarks/out).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

FIELDS = ("nameCn", "nameEn", "nameCode", "birthDate", "sex", "issuedCode", "firstIssuedDate",
          "issuedDate", "idNumber")
BANDS = ((0, 50), (50, 80), (80, 90), (90, 95), (95, 101))

_REC: dict[bool, Any] = {}


def _init() -> None:
    import hkid_ocr

    for rules in (True, False):
        _REC[rules] = hkid_ocr.Recognizer(hkid_ocr.RecognizerConfig(threads=1, field_rules=rules))


def quad_iou(a: Any, b: Any) -> float:
    """Intersection over union of two convex quadrilaterals."""
    pa = np.asarray(a, np.float32).reshape(-1, 2)
    pb = np.asarray(b, np.float32).reshape(-1, 2)
    inter, _ = cv2.intersectConvexConvex(pa, pb)
    union = cv2.contourArea(pa) + cv2.contourArea(pb) - inter
    return float(inter / union) if union > 0 else 0.0


def _one(job: tuple[str, dict[str, Any]]) -> dict[str, Any]:
    import hkid_ocr

    path, truth = job
    out: dict[str, Any] = {"id": truth["id"], "level": truth["level"]}
    for rules in (True, False):
        key = "on" if rules else "off"
        try:
            res = _REC[rules].recognize(path)
        except hkid_ocr.RecognitionError as exc:
            out[key] = {"error": exc.code}
            continue
        d = res.to_dict()
        rec: dict[str, Any] = {"exact": {f: d["data"][f] == truth["data"][f] for f in FIELDS}}
        if rules:
            rec["probs"] = [(kv["valueProb"], kv["value"] == truth["data"][kv["key"]])
                            for kv in d["prism_keyValueInfo"]]
            face = next((f for f in d["figure"] if f["type"] == "face"), None)
            rec["face"] = [[p["x"], p["y"]] for p in face["points"]] if face else None
            rec["ftype"] = d["ftype"]
            rec["recapture"] = any(w["code"] == "screenRecapture" for w in d["checks"]["warnings"])
            rec["timings"] = res.timings
        out[key] = rec
    return out


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}%"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", type=Path, default=None, help="corpus folder (default: the newest built)")
    ap.add_argument("--count", type=int, default=0, help="use only the first N cards (0 = all)")
    ap.add_argument("--workers", type=int, default=max(1, mp.cpu_count()))
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "out")
    args = ap.parse_args(argv)
    corpus = args.corpus
    if corpus is None:
        built = sorted((ROOT / "benchmarks" / "corpus").glob("seed*_n*_v*"), key=lambda p: p.stat().st_mtime)
        if not built:
            print("no corpus: run `python benchmarks/run.py` first", file=sys.stderr)
            return 2
        corpus = built[-1]
    truths = [json.loads(p.read_text(encoding="utf-8")) for p in sorted((corpus / "truth").glob("*.json"))]
    if args.count:
        truths = truths[: args.count]
    jobs = []
    for t in truths:
        images = list((corpus / "images").glob(f"{t['id']}.*"))
        if images:
            jobs.append((str(images[0]), t))
    start = time.perf_counter()
    rows: list[dict[str, Any]] = []
    with mp.get_context("spawn").Pool(args.workers, initializer=_init) as pool:
        for i, row in enumerate(pool.imap_unordered(_one, jobs, chunksize=4), 1):
            rows.append(row)
            if i % 50 == 0 or i == len(jobs):
                print(f"extras: {i}/{len(jobs)} cards, {time.perf_counter() - start:.0f} s", file=sys.stderr)
    truth_by_id = {t["id"]: t for t in truths}
    report: dict[str, Any] = {"corpus": corpus.name, "cards": len(rows), "seconds": time.perf_counter() - start}

    # field rules on vs off
    rules: dict[str, Any] = {}
    for key in ("on", "off"):
        ok = [r[key] for r in rows if "exact" in r[key]]
        rules[key] = {
            "answered": len(ok) / len(rows),
            "all_exact": sum(all(o["exact"].values()) for o in ok) / len(rows),
            "field_exact": {f: sum(o["exact"][f] for o in ok) / len(rows) for f in FIELDS},
        }
    report["field_rules"] = rules
    # by level for nameCn and all-fields (rules on)
    levels: dict[str, Any] = {}
    for lvl in ("clean", "photo", "hard"):
        sel = [r for r in rows if r["level"] == lvl]
        if not sel:
            continue
        on = [r["on"] for r in sel]
        ious, presence = [], []
        for r in sel:
            t = truth_by_id[r["id"]]
            face = r["on"].get("face")
            if "exact" in r["on"]:
                presence.append((face is not None) == (t["portrait_quad"] is not None))
            if t["portrait_quad"] is not None and face is not None:
                ious.append(quad_iou(face, t["portrait_quad"]))
        levels[lvl] = {
            "cards": len(sel),
            "all_exact": sum(1 for o in on if "exact" in o and all(o["exact"].values())) / len(sel),
            "nameCn_exact": sum(1 for o in on if "exact" in o and o["exact"]["nameCn"]) / len(sel),
            "portrait_presence": statistics.mean(presence) if presence else None,
            "portrait_iou_median": statistics.median(ious) if ious else None,
        }
    report["levels"] = levels
    # ftype, recapture
    answered = [(r, truth_by_id[r["id"]]) for r in rows if "exact" in r["on"]]
    report["ftype_accuracy"] = statistics.mean(r["on"]["ftype"] == t["ftype"] for r, t in answered)
    tp = sum(1 for r, t in answered if r["on"]["recapture"] and t["recapture"])
    fp = sum(1 for r, t in answered if r["on"]["recapture"] and not t["recapture"])
    fn = sum(1 for r, t in answered if not r["on"]["recapture"] and t["recapture"])
    report["recapture"] = {"precision": tp / (tp + fp) if tp + fp else None,
                           "recall": tp / (tp + fn) if tp + fn else None, "tp": tp, "fp": fp, "fn": fn}
    # calibration
    probs = [p for r, _ in answered for p in r["on"]["probs"]]
    report["calibration"] = [
        {"band": f"{lo}-{min(hi, 100)}", "fields": len(sel), "right": (sum(c for _, c in sel) / len(sel)) if sel else None}
        for lo, hi in BANDS for sel in [[(p, c) for p, c in probs if lo <= p < hi]]
    ]
    # missing characters
    miss = [r for r in rows if truth_by_id[r["id"]]["missing_char"]]
    report["missing_char"] = {"cards": len(miss), "nameCn_exact": sum(
        1 for r in miss if "exact" in r["on"] and r["on"]["exact"]["nameCn"])}
    # stage breakdown
    stages: dict[str, list[float]] = {}
    for r, _ in answered:
        for k, v in r["on"]["timings"].items():
            stages.setdefault(k, []).append(v)
    report["stages_median_ms"] = {k: 1000 * statistics.median(v) for k, v in stages.items()}

    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "extras.json").write_text(json.dumps(report, indent=1), encoding="utf-8")
    md = [f"# Engine extras on {report['corpus']} ({report['cards']} cards, {report['seconds']:.0f} s)", "",
          "## Field rules on vs off", "", "| | rules on | rules off |", "|---|---|---|",
          f"| answered | {_pct(rules['on']['answered'])} | {_pct(rules['off']['answered'])} |",
          f"| all 9 fields exact | {_pct(rules['on']['all_exact'])} | {_pct(rules['off']['all_exact'])} |"]
    md += [f"| {f} | {_pct(rules['on']['field_exact'][f])} | {_pct(rules['off']['field_exact'][f])} |" for f in FIELDS]
    md += ["", "## By level (rules on)", "", "| level | cards | all exact | nameCn exact | portrait present right | portrait IoU median |",
           "|---|---|---|---|---|---|"]
    for k, v in levels.items():
        iou = "n/a" if v["portrait_iou_median"] is None else f"{v['portrait_iou_median']:.3f}"
        md.append(f"| {k} | {v['cards']} | {_pct(v['all_exact'])} | {_pct(v['nameCn_exact'])} | "
                  f"{_pct(v['portrait_presence'])} | {iou} |")
    rc = report["recapture"]
    md += ["", f"ftype (photocopy) accuracy: {_pct(report['ftype_accuracy'])}; screen recapture: precision "
           f"{_pct(rc['precision'])}, recall {_pct(rc['recall'])} (tp {rc['tp']}, fp {rc['fp']}, fn {rc['fn']}).",
           f"Cards with a name character missing from the recogniser's dictionary: {report['missing_char']['cards']}, "
           f"nameCn exact on {report['missing_char']['nameCn_exact']}.", "",
           "## Confidence calibration (valueProb band: share of fields right)", "", "| band | fields | right |", "|---|---|---|"]
    md += [f"| {c['band']} | {c['fields']} | {_pct(c['right'])} |" for c in report["calibration"]]
    md += ["", "Stage medians (ms, one thread per worker): " + ", ".join(
        f"{k} {v:.0f}" for k, v in report["stages_median_ms"].items())]
    (args.out / "extras.md").write_text("\n".join(md) + "\n", encoding="utf-8")
    print("\n".join(md))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
