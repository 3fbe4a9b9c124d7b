"""Tests for the benchmark's scoring, the baseline's field parser and the latency probe."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # benchmarks/ is a folder of the repository, not installed
    sys.path.insert(0, str(REPO))

from benchmarks.baseline import parse_lines  # noqa: E402
from benchmarks.metrics import aggregate, corner_error, levenshtein, score_card  # noqa: E402
from benchmarks.run import stratified  # noqa: E402

SPECIMEN_2003 = {"nameCn": "李智能", "nameEn": "LEE, Chi Nan", "nameCode": "2621 2535 5174",
                 "birthDate": "01-01-1968", "sex": "女F", "issuedCode": "***AZ",
                 "firstIssuedDate": "(01-79)", "issuedDate": "15-09-03", "idNumber": "C668668(E)"}


def _truth(data: dict, level: str = "clean") -> dict:
    return {"id": "x", "level": level, "design": "2003", "ftype": 0, "recapture": False,
            "missing_char": False, "permanent": True, "source": "specimen", "data": data,
            "card_quad": [[0, 0], [100, 0], [100, 63], [0, 63]]}


def test_levenshtein() -> None:
    assert levenshtein("", "abc") == 3
    assert levenshtein("kitten", "sitting") == 3
    assert levenshtein("李智能", "李智能") == 0


def test_corner_error() -> None:
    quad = [[0, 0], [100, 0], [100, 60], [0, 60]]
    exact = {"x0": 0, "y0": 0, "x1": 100, "y1": 0, "x2": 100, "y2": 60, "x3": 0, "y3": 60}
    assert corner_error(exact, quad) == 0.0
    # Located right but upside down: every corner is off by a full diagonal or side.
    flipped = {"x0": 100, "y0": 60, "x1": 0, "y1": 60, "x2": 0, "y2": 0, "x3": 100, "y3": 0}
    err = corner_error(flipped, quad)
    assert err is not None and err > 0.9
    assert corner_error(None, quad) is None


def test_score_and_aggregate() -> None:
    truth = _truth(dict(SPECIMEN_2003))
    good = score_card(truth, {"data": dict(SPECIMEN_2003), "sliceRect": None, "ftype": 0})
    assert good.all_exact and good.ftype_ok
    wrong = dict(SPECIMEN_2003, idNumber="C668668(F)")
    bad = score_card(truth, {"data": wrong, "ftype": 1})
    assert not bad.all_exact and bad.dist["idNumber"] == 1 and not bad.ftype_ok
    failed = score_card(truth, None, "noCardFound")
    agg = aggregate([good, bad, failed])
    assert agg["n"] == 3 and abs(agg["all_fields_exact"] - 1 / 3) < 1e-9
    assert agg["errors"] == {"noCardFound": 1}
    assert abs(agg["field_exact"]["idNumber"] - 1 / 3) < 1e-9


def test_baseline_parser_on_specimen_lines() -> None:
    lines = ["香港永久性居民身份證", "HONG KONG PERMANENT IDENTITY CARD", "李智能", "樣本SAMPLE",
             "LEE, Chi Nan", "2621 2535 5174", "出生日期Date of Birth", "01-01-1968", "女F",
             "***AZ", "簽發日期 Date of Issue", "(01-79)", "15-09-03", "C668668(E)"]
    assert parse_lines(lines) == SPECIMEN_2003
    # The 2018 layout reads the sex on the birth-date line; brackets may come full-width.
    lines18 = ["申智能", "SAN, Chi Nan", "3947 2535 5174", "01-01-1988 女F", "***A0",
               "（01-99）", "15-09-18", "C668668(E)"]
    got = parse_lines(lines18)
    assert got["sex"] == "女F" and got["firstIssuedDate"] == "(01-99)"
    assert got["issuedCode"] == "***AO"  # a zero in the symbols is the letter O


def test_stratified_keeps_level_mix() -> None:
    recs = [{"id": str(i), "level": ("clean", "clean", "photo", "photo", "hard")[i % 5]}
            for i in range(100)]
    sub = stratified(recs, 20)
    assert len(sub) == 20
    assert sum(r["level"] == "hard" for r in sub) == 4
    assert stratified(recs, 500) == recs


def test_probe_times_each_card_as_the_median_of_its_runs(tmp_path: Path) -> None:
    # The real engine in a fresh interpreter, as benchmarks/run.py runs it.
    specimens = [str(REPO / "tests" / "data" / n) for n in ("specimen_2003.jpg", "specimen_2018.jpg")]
    lst = tmp_path / "cards.txt"
    lst.write_text("\n".join(specimens + specimens), encoding="utf-8")
    out = tmp_path / "probe.json"
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, "-m", "benchmarks.probe", "--system", "engine", "--list", str(lst),
                           "--out", str(out), "--repeat", "3"], cwd=REPO, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    rep = json.loads(out.read_text(encoding="utf-8"))
    assert rep["repeat"] == 3
    assert rep["warm_paths"] == (specimens + specimens)[1:]  # the first card is the cold start
    assert len(rep["warm_latencies_s"]) == len(rep["warm_stages_s"]) == 3
    assert all(0 < t < 60 for t in rep["warm_latencies_s"])
    # The stages reported are those of the median run: they fit inside its latency.
    for t, stages in zip(rep["warm_latencies_s"], rep["warm_stages_s"]):
        assert {"load", "locate", "recognise"} <= set(stages)
        assert sum(stages.values()) <= t
    assert rep["cold_start_s"] > 0 and rep["peak_rss_mb"] > 0


def test_probe_lockstep_interleaves_the_systems_card_by_card(tmp_path: Path) -> None:
    # Both real systems, each in its own fresh process: their warm runs of a card come
    # seconds apart (the same machine state), never overlapping, the first to run
    # alternating from card to card. A card a system fails on is a result, not the end.
    pytest.importorskip("rapidocr", reason="the baseline (pip install rapidocr==3.10.0) is not installed")
    from benchmarks.probe import probe_lockstep

    specimens = [str(REPO / "tests" / "data" / n) for n in ("specimen_2003.jpg", "specimen_2018.jpg")]
    garbage = tmp_path / "not_an_image.jpg"
    garbage.write_bytes(b"not an image at all")
    paths = specimens + [str(garbage)] + specimens[:1]  # the first is each system's cold card
    seen: list[tuple[int, int]] = []
    reports = probe_lockstep(["engine", "baseline"], paths, 0, 2, lambda done, total: seen.append((done, total)))
    assert seen == [(1, 3), (2, 3), (3, 3)]
    eng, base = reports["engine"], reports["baseline"]
    # The engine answers the cloud's code; the baseline raises, which is recorded.
    assert eng["warm_errors"] == {str(garbage): ["unsupportedImageFormat"]}
    assert list(base["warm_errors"]) == [str(garbage)] and base["warm_errors"][str(garbage)][0].startswith("crash:")
    for rep in (eng, base):
        assert "unavailable" not in rep
        assert rep["repeat"] == 2 and rep["warm_paths"] == paths[1:]
        assert len(rep["warm_latencies_s"]) == len(rep["warm_spans"]) == 3
        assert rep["cold_start_s"] > 0 and rep["peak_rss_mb"] > 0
        for latency, spans in zip(rep["warm_latencies_s"], rep["warm_spans"]):
            assert len(spans) == 2 and all(end > start for start, end in spans)
            # The latency is the median run's (of two: the slower one).
            assert latency == pytest.approx(max(end - start for start, end in spans), rel=1e-6)
    assert eng["warm_stages_s"][0] and base["warm_stages_s"][0] == {}
    assert eng["warm_stages_s"][1] == {}  # no stages for a card that was not read
    for i, (e, b) in enumerate(zip(eng["warm_spans"], base["warm_spans"])):
        first, second = (e, b) if i % 2 == 0 else (b, e)
        # One system's runs of the card, then the other's: no overlap, no gap for drift.
        assert first[-1][1] <= second[0][0] < first[-1][1] + 5.0
        if i + 1 < len(eng["warm_spans"]):
            later = min(eng["warm_spans"][i + 1][0][0], base["warm_spans"][i + 1][0][0])
            assert second[-1][1] <= later


def test_core_probe_is_read_beside_every_block_of_runs() -> None:
    # The real detector on one and on two threads, read before the engine's first block,
    # between its blocks and after its last: each block gets the readings on either side.
    from benchmarks.probe import core_probe, probe_lockstep

    cores, why = core_probe()
    assert cores is not None, why
    readings: list[float] = []

    def read() -> float:
        readings.append(cores())
        return readings[-1]

    specimens = [str(REPO / "tests" / "data" / n) for n in ("specimen_2003.jpg", "specimen_2018.jpg")]
    rep = probe_lockstep(["engine"], specimens + specimens, 0, 1, cores=read)["engine"]
    around = rep["warm_core_speedups"]
    # A ratio of two times (~1.0-1.7 here), not a time (~0.01 s); the same reading is handed on.
    assert len(readings) == 4 and all(0.1 < r < 10 for r in readings)
    assert around == [readings[0:2], readings[1:3], readings[2:4]]


def test_placement_summary_keeps_the_cards_both_systems_ran_with_the_cores_close() -> None:
    from benchmarks.run import placement_summary

    level_of = {"a": "photo", "b": "photo", "c": "clean", "d": "photo", "e": "clean", "f": "photo"}
    paths = [f"{c}.jpg" for c in "abcdef"]
    eng = {"warm_paths": paths, "warm_latencies_s": [0.07, 0.09, 0.05, 0.08, 0.06, 0.10],
           # close, apart, close, apart after its runs, dead process, close
           "warm_core_speedups": [[1.7, 1.6], [1.0, 1.1], [1.6, 1.7], [1.7, 1.0], [], [1.6, 1.6]]}
    base = {"warm_paths": paths, "warm_latencies_s": [0.7, 0.8, 0.5, 0.9, 0.6, 1.0],
            # ... and the baseline's blocks: f's was apart
            "warm_core_speedups": [[1.6, 1.7], [1.1, 1.6], [1.7, 1.6], [1.0, 1.0], [1.6, 1.6], [1.6, 1.2]]}
    out = placement_summary(eng, base, level_of)
    assert out["photo"]["n"] == 4 and out["photo"]["engine_apart"] == 2
    assert out["photo"]["close"] == {"n": 1, "engine_median_s": 0.07, "baseline_median_s": 0.7}
    assert out["clean"]["n"] == 2 and out["clean"]["engine_apart"] == 0
    assert out["clean"]["close"] == {"n": 1, "engine_median_s": 0.05, "baseline_median_s": 0.5}
    assert out["all"]["close"]["n"] == 2 and out["all"]["close"]["engine_median_s"] == pytest.approx(0.06)
    assert out["probe_median"] == pytest.approx(1.6)
    # Without the baseline (--no-baseline) the engine's own blocks decide.
    alone = placement_summary(eng, {}, level_of)
    assert alone["photo"]["close"] == {"n": 2, "engine_median_s": pytest.approx(0.085), "baseline_median_s": None}


def test_probe_lockstep_reports_a_system_whose_process_dies() -> None:
    # The engine's real serving process is killed after its first card: the probe says
    # so (unavailable, with the status) instead of hanging or taking the run down.
    from benchmarks.probe import probe_lockstep

    specimens = [str(REPO / "tests" / "data" / n) for n in ("specimen_2003.jpg", "specimen_2018.jpg")]
    me = os.getpid()

    def kill_children(done: int, total: int) -> None:
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == me and b"--serve" in (stat.parent / "cmdline").read_bytes():
                os.kill(int(stat.parent.name), signal.SIGKILL)

    if not Path("/proc/self/stat").exists():
        pytest.skip("needs Linux /proc to find the probe's process")
    paths = specimens + specimens
    reports = probe_lockstep(["engine"], paths, 0, 1, kill_children)
    rep = reports["engine"]
    # Killed after the first warm card (paths[1]): the next one is where it was missed.
    assert "exited with status -9" in rep["unavailable"] and f"(on {paths[2]})" in rep["unavailable"]
    assert rep["cold_start_s"] > 0  # what was measured before is kept


def test_denormals_script_compares_the_detector_s_weights_at_every_engine_size(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # The detector part alone (no corpus, no baseline): one row per map size and thread
    # count, each with the same maps from both weight sets.
    from benchmarks.denormals import SIZES, main

    assert main(["--latency-count", "0", "--runs", "1"]) == 0
    out = capsys.readouterr().out.splitlines()
    rows = [line for line in out if line.startswith(("| 1 |", "| 2 |"))]
    assert len(rows) == 2 * len(SIZES)
    assert all(line.rstrip().endswith("| yes |") for line in rows)
