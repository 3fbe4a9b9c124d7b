"""What the detector's denormal weights cost on this machine, to the engine and to the baseline.

    python benchmarks/denormals.py [--latency-count 30] [--runs 20]

A tenth of the PP-OCRv6 small detector's weights are denormal floats, which many x86 cores
multiply slowly (see ``hkid_ocr.runtime.without_denormals``); the engine loads the detector
with them zeroed. RapidOCR, the benchmark's baseline, ships the same detector file and
runs it as it is. This script measures both sides of that on the machine it runs on:

1. one detector run at the engine's map sizes, the file's weights against the zeroed ones,
   on one and on two threads (alternating, the median of ``--runs``), and whether the maps
   are the same bit for bit;
2. the baseline as shipped against the baseline given the zeroed detector file, on the
   benchmark's latency cards (``--latency-count`` per level of the seed-0 corpus, built
   by ``benchmarks/run.py``), alternating card by card, with the number of cards both
   answer the same.

The benchmark's speed-up (``benchmarks/run.py``) is against the baseline as shipped;
divide it by the second table's ratio for the speed-up against a baseline given the
same fix.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

#: The map sizes (w, h) the engine runs the detector at: screening, finer look, card, text search.
SIZES = ((256, 160), (416, 256), (512, 320), (640, 480))


def detector_runs(det: Path, runs: int) -> list[dict[str, Any]]:
    """Per size and thread count: median ms with the file's weights and with them zeroed,
    and whether the two maps are the same bit for bit."""
    from hkid_ocr.runtime import OnnxModel, without_denormals

    zeroed = without_denormals(det)
    rows = []
    for threads in (1, 2):
        plain, fixed = OnnxModel(det, threads), OnnxModel(det, threads, source=zeroed)
        for w, h in SIZES:
            x = np.random.default_rng(0).random((1, 3, h, w), dtype=np.float32)
            same = bool(np.array_equal(plain.run(x), fixed.run(x)))  # also the first, slower runs
            times: dict[str, list[float]] = {"file": [], "zeroed": []}
            for _ in range(runs):
                for name, model in (("file", plain), ("zeroed", fixed)):
                    t = time.perf_counter()
                    model.run(x)
                    times[name].append(time.perf_counter() - t)
            rows.append({"threads": threads, "size": f"{w}x{h}", "same": same,
                         **{k: 1000 * statistics.median(v) for k, v in times.items()}})
    return rows


def baseline_runs(det_zeroed: Path, latency_count: int) -> dict[str, Any]:
    """The baseline as shipped and with ``det_zeroed`` for its detector, alternating on the latency cards."""
    import benchmarks.baseline as base
    from benchmarks.run import LEVELS, stratified
    from benchmarks.synth.corpus import build_corpus

    corpus, records = build_corpus(ROOT / "benchmarks" / "corpus", 0, 600)
    cards = stratified(records, latency_count * len(LEVELS) + 1)[1:]  # as benchmarks/run.py picks them
    systems = {"shipped": base.Baseline(), "zeroed": base.Baseline(det=det_zeroed)}
    lat: dict[str, list[tuple[str, float]]] = {k: [] for k in systems}
    same = 0
    for i, rec in enumerate(cards):
        path = str(corpus / "images" / f"{rec['id']}.jpg")
        answers = {}
        for name in list(systems)[:: 1 if i % 2 else -1]:  # which goes first alternates
            t = time.perf_counter()
            answers[name] = systems[name].recognize(path)
            lat[name].append((rec["level"], time.perf_counter() - t))
        same += answers["shipped"] == answers["zeroed"]
        if (i + 1) % 10 == 0:
            print(f"  [baseline] {i + 1}/{len(cards)}", flush=True)
    return {"cards": len(cards), "same": same, "lat": lat}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--latency-count", type=int, default=30, help="cards per level (0: the detector only)")
    ap.add_argument("--runs", type=int, default=20, help="detector runs of each kind per size")
    args = ap.parse_args(argv)
    from hkid_ocr.models import resolve_models
    from hkid_ocr.runtime import without_denormals

    det = resolve_models().det
    print("## One detector run (median ms): the file's weights against the zeroed ones\n")
    print("| threads | map | file | zeroed | ratio | same maps |\n|---|---|---|---|---|---|")
    for r in detector_runs(det, args.runs):
        print(f"| {r['threads']} | {r['size']} | {r['file']:.1f} | {r['zeroed']:.1f} | "
              f"{r['file'] / r['zeroed']:.2f}x | {'yes' if r['same'] else 'NO'} |")
    if args.latency_count <= 0:
        return 0
    zeroed = without_denormals(det)
    if zeroed is None:
        print("\nThe detector has no denormal weights: nothing to compare.")
        return 0
    with tempfile.TemporaryDirectory(prefix="hkid_ocr_denormals_") as tmp:
        det_zeroed = Path(tmp) / det.name
        det_zeroed.write_bytes(zeroed)
        res = baseline_runs(det_zeroed, args.latency_count)
    print(f"\n## The baseline, as shipped and with the zeroed detector ({res['cards']} latency cards, "
          f"alternating; the same answers on {res['same']})\n")
    print("| level | shipped median | zeroed median | ratio |\n|---|---|---|---|")
    for level in ("clean", "photo", "hard", None):
        times = {k: [t for lv, t in v if level is None or lv == level] for k, v in res["lat"].items()}
        if not times["shipped"]:
            continue  # a small --latency-count may pick no card of this level
        med = {k: 1000 * statistics.median(v) for k, v in times.items()}
        print(f"| {level or 'all'} | {med['shipped']:.0f} ms | {med['zeroed']:.0f} ms | "
              f"{med['shipped'] / med['zeroed']:.2f}x |")
    return 0 if res["same"] == res["cards"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
