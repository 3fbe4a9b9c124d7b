"""Cold start, warm latency and peak memory of one system, in a fresh process.

Run by ``benchmarks/run.py`` as a subprocess (so nothing is preloaded)::

    python -m benchmarks.probe --system engine --threads 0 --list cards.txt --out probe.json --repeat 3

It measures, in this order: importing the system's package, building it,
recognising the first card (cold start = the three together, what a new
process pays before its first answer), then per-card latency over the rest of
the list with the instance warm and every core available (the median of ``--repeat`` runs
of each card), and finally the
process's peak resident memory (``ru_maxrss``).
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path


def _peak_rss_mb() -> float:
    # Linux reports ru_maxrss in KiB (macOS in bytes; not a target here).
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def main(argv: list[str] | None = None) -> int:
    """Probe one system; writes a JSON report and returns 0 (2 if the system is unavailable)."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--system", choices=("engine", "baseline"), required=True)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--list", required=True, help="file with one image path per line")
    ap.add_argument("--out", required=True)
    ap.add_argument("--repeat", type=int, default=1,
                    help="times each card is recognised; its latency is the median of them")
    args = ap.parse_args(argv)
    paths = [p for p in Path(args.list).read_text(encoding="utf-8").splitlines() if p.strip()]
    report: dict[str, object] = {"system": args.system, "threads": args.threads, "repeat": max(1, args.repeat)}

    t0 = time.perf_counter()
    # The import is part of cold start: time it explicitly.
    if args.system == "engine":
        try:
            import hkid_ocr  # noqa: F401
        except ImportError as exc:
            report["unavailable"] = f"cannot import hkid_ocr: {exc}"
    else:
        try:
            import rapidocr  # noqa: F401
        except ImportError as exc:
            report["unavailable"] = f"cannot import rapidocr: {exc}"
    t_import = time.perf_counter()
    if "unavailable" in report:
        Path(args.out).write_text(json.dumps(report), encoding="utf-8")
        return 2

    from benchmarks.systems import SystemUnavailable, make_system

    try:
        run = make_system(args.system, args.threads)
    except SystemUnavailable as exc:
        report["unavailable"] = str(exc)
        Path(args.out).write_text(json.dumps(report), encoding="utf-8")
        return 2
    t_init = time.perf_counter()
    first_answer, first_err = run(paths[0])
    t_first = time.perf_counter()
    report.update({
        "import_s": t_import - t0,
        "init_s": t_init - t_import,
        "first_card_s": t_first - t_init,
        "cold_start_s": t_first - t0,
        "first_card_error": first_err,
    })
    latencies: list[float] = []
    stages: list[dict[str, float]] = []
    repeat = max(1, args.repeat)
    for i, path in enumerate(paths[1:], 1):
        # A shared machine slows single runs now and then: a card's latency is the
        # median of ``repeat`` runs (and its stages those of that run).
        runs = []
        for _ in range(repeat):
            t = time.perf_counter()
            answer, _ = run(path)
            runs.append((time.perf_counter() - t, dict((answer or {}).get("timings") or {})))
        runs.sort(key=lambda r: r[0])
        latency, timings = runs[len(runs) // 2]
        latencies.append(latency)
        stages.append(timings)
        if i % 10 == 0:
            print(f"  [{args.system} latency] {i}/{len(paths) - 1}", file=sys.stderr, flush=True)
    report["warm_paths"] = paths[1:]
    report["warm_latencies_s"] = latencies
    # Per card, seconds per pipeline stage (engine only; empty for the baseline).
    report["warm_stages_s"] = stages
    report["peak_rss_mb"] = _peak_rss_mb()
    Path(args.out).write_text(json.dumps(report), encoding="utf-8")
    del first_answer
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
