"""Cold start, warm latency and peak memory of the systems, each in a fresh process.

Run by ``benchmarks/run.py`` (:func:`probe_lockstep`), so that nothing is preloaded.
Each system's process measures, in this order: importing the system's package,
building it, recognising the first card (cold start = the three together, what a
new process pays before its first answer); the systems start one after another, so
no cold start shares the cores. Then the warm latency of every other card is timed
in lockstep: card by card, ``repeat`` runs of one system then ``repeat`` of the other
(which goes first alternates from card to card), while the other process waits
idle. A shared machine's speed drifts by tens of percent within minutes; timed this
way both systems see the same drift, seconds apart, so their ratio is fair. A
card's latency is the median of its runs.
Last, each process reports its peak resident memory (``ru_maxrss``).

Beside each block of runs (before it and after it), the parent process measures how
much a second core speeds up one small detector run at that moment (see
:class:`CoreProbe`): on the reference VM that swings between ~1.7x and ~1.0x within
seconds, and with it the engine's latency.

One system alone, from the shell (the same measurements, written as JSON)::

    python -m benchmarks.probe --system engine --threads 0 --list cards.txt --out probe.json --repeat 3
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import IO, Any, Callable

import numpy as np

_ROOT = Path(__file__).resolve().parents[1]
#: Pause between one system's run and the other's: onnxruntime's worker threads spin
#: for a moment after a run, and must not eat into the next system's time.
HANDOFF_PAUSE_S = 0.02


#: A two-thread run this much faster than a one-thread run: the cores are close (see CoreProbe).
CLOSE_CORES = 1.35


class CoreProbe:
    """How much faster one 256x160 run of the engine's detector is on two threads than on
    one, now: called, it returns that speed-up (~1.7 or ~1.0 on the reference VM).

    The reference VM's two vCPUs are placed by its host on cores that share a cache or on
    cores that do not, and the placement changes within seconds (a C ping-pong between
    two threads pinned one to each vCPU: ~120 ns against ~370 ns a round trip). Apart,
    a two-thread onnxruntime run of a small map (the engine's screenings: ~220 short
    steps once optimised, each handing work to the other core) is no faster than one thread: the
    256x160 map 11.7 ms instead of 6.7. Work split coarsely barely notices (two
    single-threaded processes keep their full speed; the baseline's large maps ~10%
    slower). So the engine's latency depends on where the host put the vCPUs while it
    ran; the benchmark records it beside every block of runs.

    Example:
        >>> probe = CoreProbe(Path("models/PP-OCRv6_det_small.onnx"))  # doctest: +SKIP
        >>> probe() > 1.35  # the cores share a cache right now  # doctest: +SKIP
        True
    """

    def __init__(self, detector: Path, runs: int = 3) -> None:
        from hkid_ocr.runtime import OnnxModel, without_denormals  # the engine's own settings and weights

        source = without_denormals(detector)
        self._two, self._one = OnnxModel(detector, 2, source=source), OnnxModel(detector, 1, source=source)
        # A fixed input: the run's work does not depend on the pixels.
        self._x = np.random.default_rng(0).random((1, 3, 160, 256), dtype=np.float32)
        self._runs = runs
        self()  # the first runs of a session are slower

    def _best(self, model: Any) -> float:
        times = []
        for _ in range(self._runs):
            t = time.perf_counter()
            model.run(self._x)
            times.append(time.perf_counter() - t)
        return min(times)

    def __call__(self) -> float:
        return self._best(self._one) / self._best(self._two)


def core_probe() -> tuple[CoreProbe | None, str]:
    """A :class:`CoreProbe` on the engine's detector, or None and why (not fetched, not importable)."""
    try:
        from hkid_ocr.models import resolve_models

        return CoreProbe(resolve_models().det), ""
    except Exception as exc:  # noqa: BLE001 - the probe is a nicety: the benchmark runs on without it
        return None, f"{type(exc).__name__}: {exc}"


def _peak_rss_mb() -> float:
    # Linux reports ru_maxrss in KiB (macOS in bytes; not a target here).
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _cold_start(system: str, threads: int, first: str) -> tuple[dict[str, Any], Callable[[str], Any] | None]:
    """Import and build ``system`` and read ``first``: the cold-start fields of a report, and the system."""
    report: dict[str, Any] = {"system": system, "threads": threads}
    t0 = time.perf_counter()
    # The import is part of cold start: time it explicitly.
    try:
        if system == "engine":
            import hkid_ocr  # noqa: F401
        else:
            import rapidocr  # noqa: F401
    except ImportError as exc:
        report["unavailable"] = f"cannot import {'hkid_ocr' if system == 'engine' else 'rapidocr'}: {exc}"
        return report, None
    t_import = time.perf_counter()
    from benchmarks.systems import SystemUnavailable, make_system

    try:
        run = make_system(system, threads)
    except SystemUnavailable as exc:
        report["unavailable"] = str(exc)
        return report, None
    t_init = time.perf_counter()
    _, first_err = run(first)
    t_first = time.perf_counter()
    report.update({"import_s": t_import - t0, "init_s": t_init - t_import, "first_card_s": t_first - t_init,
                   "cold_start_s": t_first - t0, "first_card_error": first_err})
    return report, run


def _timed(run: Callable[[str], Any], path: str) -> dict[str, Any]:
    """One warm run: its seconds, its stage times (engine only), when it ran (CLOCK_MONOTONIC)
    and its error code ("" when it answered; a crash is recorded, as the accuracy pass does)."""
    start = time.perf_counter()
    try:
        answer, error = run(path)
    except Exception as exc:  # noqa: BLE001 - a system that crashes on a card is a result
        answer, error = None, f"crash:{type(exc).__name__}"
    end = time.perf_counter()
    return {"s": end - start, "timings": dict((answer or {}).get("timings") or {}), "span": [start, end],
            "error": error}


def _serve(system: str, threads: int, first: str, channel: IO[str]) -> int:
    """The process side of :func:`probe_lockstep`: one JSON line per request on ``channel``."""
    report, run = _cold_start(system, threads, first)
    channel.write(json.dumps(report) + "\n")
    channel.flush()
    if run is None:
        return 2
    for line in sys.stdin:
        path = line.rstrip("\n")
        if not path:
            break
        channel.write(json.dumps(_timed(run, path)) + "\n")
        channel.flush()
    channel.write(json.dumps({"peak_rss_mb": _peak_rss_mb()}) + "\n")
    channel.flush()
    return 0


def _summarise(report: dict[str, Any], paths: list[str], runs: list[list[dict[str, Any]]]) -> dict[str, Any]:
    """Fold each card's runs into the report: its median run's seconds and stages, every span."""
    latencies, stages = [], []
    for card_runs in runs:
        ordered = sorted(card_runs, key=lambda r: r["s"])
        median = ordered[len(ordered) // 2]
        latencies.append(median["s"])
        stages.append(median["timings"])
    report["warm_paths"] = paths
    report["warm_latencies_s"] = latencies
    # Per card, seconds per pipeline stage (engine only; empty for the baseline).
    report["warm_stages_s"] = stages
    report["warm_spans"] = [[r["span"] for r in card_runs] for card_runs in runs]
    # Cards a run of which answered with an error (the card's latency still counts it).
    report["warm_errors"] = {path: sorted({r["error"] for r in card_runs if r["error"]})
                             for path, card_runs in zip(paths, runs) if any(r["error"] for r in card_runs)}
    return report


class _Child:
    """One system's serving process and its JSON-lines channel."""

    def __init__(self, system: str, threads: int, first: str) -> None:
        env = dict(os.environ, PYTHONPATH=str(_ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
        # The answers come back on a pipe of their own: whatever a system prints on its
        # stdout (model loading logs) cannot mix with them.
        read_fd, write_fd = os.pipe()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.probe", "--system", system, "--threads", str(threads),
             "--serve", first, "--channel-fd", str(write_fd)],
            cwd=str(_ROOT), env=env, stdin=subprocess.PIPE, stdout=2, text=True,  # its prints: our stderr
            pass_fds=(write_fd,))
        os.close(write_fd)
        self.channel = os.fdopen(read_fd, "r", encoding="utf-8")
        self.system = system

    def receive(self) -> dict[str, Any]:
        try:
            line = self.channel.readline()
        except OSError:
            line = ""
        if not line:
            code = self.proc.wait()
            self.channel.close()
            raise RuntimeError(f"the {self.system} probe exited with status {code} mid-run")
        reply: dict[str, Any] = json.loads(line)
        return reply

    def ask(self, path: str) -> dict[str, Any]:
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(path + "\n")
            self.proc.stdin.flush()
        except BrokenPipeError:
            pass  # the process has ended: receive() says how
        return self.receive()

    def close(self) -> dict[str, Any]:
        """Ask for the peak memory and wait for the process to end."""
        assert self.proc.stdin is not None
        self.proc.stdin.write("\n")
        self.proc.stdin.flush()
        final = self.receive()
        self.end()
        return final

    def end(self) -> None:
        """Close both pipes and wait for the process (which has answered its last)."""
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait()
        self.channel.close()


def probe_lockstep(systems: list[str], paths: list[str], threads: int = 0, repeat: int = 1,
                   progress: Callable[[int, int], None] | None = None,
                   cores: Callable[[], float] | None = None) -> dict[str, dict[str, Any]]:
    """Probe ``systems`` on ``paths`` (the first is the cold card), their warm runs interleaved.

    Returns a report per system: cold start, ``warm_paths``, ``warm_latencies_s`` (each
    card's median run), ``warm_stages_s``, ``warm_spans`` (every run's start and end,
    CLOCK_MONOTONIC seconds), ``warm_errors`` (card -> the error codes its runs gave, for
    cards that gave one) and ``peak_rss_mb``; or ``unavailable`` with the reason (a
    process that dies keeps what it measured before). With ``cores`` (a
    :class:`CoreProbe`), called between the blocks of runs (before a card's first, between
    the systems', after the last), also ``warm_core_speedups``: per card, what it gave
    right before and right after the system's block.

    Example:
        >>> reports = probe_lockstep(["engine"], ["a.jpg", "b.jpg"], repeat=3)  # doctest: +SKIP
        >>> reports["engine"]["warm_latencies_s"]  # doctest: +SKIP
        [0.061]
    """
    reports: dict[str, dict[str, Any]] = {}
    children: list[_Child] = []
    try:
        for system in systems:  # one cold start at a time
            child = _Child(system, threads, paths[0])
            try:
                reports[system] = child.receive()
            except RuntimeError as exc:  # died before its first answer (traceback on stderr)
                reports[system] = {"system": system, "threads": threads, "unavailable": str(exc)}
                continue
            if "unavailable" in reports[system]:
                child.end()
            else:
                children.append(child)
        warm = paths[1:]
        runs: dict[str, list[list[dict[str, Any]]]] = {c.system: [[] for _ in warm] for c in children}
        speedups: dict[str, list[list[float]]] = {c.system: [[] for _ in warm] for c in children}
        between = cores() if cores is not None else None  # the probe before the next block
        for i, path in enumerate(warm):
            # Who goes first alternates, so neither system always follows the other.
            for child in list(children) if i % 2 == 0 else children[::-1]:
                # A system's runs of a card come together: the first may find the caches
                # full of the other system's data, the median run does not.
                try:
                    runs[child.system][i] = [child.ask(path) for _ in range(max(1, repeat))]
                except RuntimeError as exc:  # the process died (its traceback went to stderr)
                    reports[child.system]["unavailable"] = f"{exc} (on {path})"
                    children.remove(child)
                if cores is not None and between is not None:
                    # Before the pause: the probe's threads stop spinning when its run ends.
                    before, between = between, cores()
                    speedups[child.system][i] = [before, between]
                if len(children) > 1:  # alone, nothing follows whose time it could eat into
                    time.sleep(HANDOFF_PAUSE_S)
            if progress is not None:
                progress(i + 1, len(warm))
        for child in children:
            reports[child.system].update(child.close())
            reports[child.system]["repeat"] = max(1, repeat)
            _summarise(reports[child.system], warm, runs[child.system])
            if cores is not None:
                reports[child.system]["warm_core_speedups"] = speedups[child.system]
    finally:
        for child in children:
            if child.proc.poll() is None:
                child.proc.kill()
                child.proc.wait()
    return reports


def main(argv: list[str] | None = None) -> int:
    """Probe one system; writes a JSON report and returns 0 (2 if the system is unavailable)."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--system", choices=("engine", "baseline"), required=True)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--list", help="file with one image path per line (the first is the cold card)")
    ap.add_argument("--out", help="where the JSON report goes")
    ap.add_argument("--repeat", type=int, default=1,
                    help="times each card is recognised; its latency is the median of them")
    # Used by probe_lockstep: serve warm runs of paths read from stdin after the cold card.
    ap.add_argument("--serve", metavar="FIRST_CARD", help=argparse.SUPPRESS)
    ap.add_argument("--channel-fd", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.serve:
        if args.channel_fd is None:
            ap.error("--serve needs --channel-fd")
        with os.fdopen(args.channel_fd, "w", encoding="utf-8") as channel:
            return _serve(args.system, args.threads, args.serve, channel)
    if not args.list or not args.out:
        ap.error("--list and --out are required")
    paths = [p for p in Path(args.list).read_text(encoding="utf-8").splitlines() if p.strip()]
    if not paths:
        ap.error(f"{args.list} lists no image")
    report = probe_lockstep([args.system], paths, args.threads, args.repeat)[args.system]
    Path(args.out).write_text(json.dumps(report), encoding="utf-8")
    return 2 if "unavailable" in report else 0


if __name__ == "__main__":
    raise SystemExit(main())
