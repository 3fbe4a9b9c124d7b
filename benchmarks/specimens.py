"""Warm latency on the two real specimen scans, with a per-stage breakdown.

    python benchmarks/specimens.py [--repeat 20] [--threads 0]

Loads one Recognizer, reads each specimen once to warm up, then ``--repeat`` more
times, checks every field against tests/data/truth.json, and prints the median and
p95 wall time per card and the median of each stage (load, locate, recognise, parse).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import hkid_ocr  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--threads", type=int, default=0, help="onnxruntime threads (0 = all cores)")
    args = ap.parse_args(argv)
    data = ROOT / "tests" / "data"
    truth = json.loads((data / "truth.json").read_text(encoding="utf-8"))
    rec = hkid_ocr.Recognizer(hkid_ocr.RecognizerConfig(threads=args.threads))
    walls: list[float] = []
    stages: dict[str, list[float]] = {}
    exact = total = 0
    for name, t in truth.items():
        blob = (data / name).read_bytes()
        rec.recognize(blob)  # warm-up
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            res = rec.recognize(blob)
            walls.append(time.perf_counter() - t0)
            for k, v in res.timings.items():
                stages.setdefault(k, []).append(v)
            d = res.to_dict()["data"]
            exact += sum(d[k] == v for k, v in t["data"].items())
            total += len(t["data"])
    walls.sort()
    p95 = walls[min(len(walls) - 1, int(0.95 * len(walls)))]
    print(f"specimens: {len(truth)} x {args.repeat} warm reads, fields exact {exact}/{total}")
    print(f"latency per card: median {statistics.median(walls) * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms")
    print("stages (median ms): " + ", ".join(f"{k} {statistics.median(v) * 1000:.1f}" for k, v in stages.items()))
    return 0 if exact == total else 1


if __name__ == "__main__":
    raise SystemExit(main())
