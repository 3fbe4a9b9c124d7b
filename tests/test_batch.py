"""Batch runs: killed mid-way and resumed, torn lines, failures recorded with codes."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from conftest import DATA
from hkid_ocr.batch import BatchSummary, find_images, read_done, run_batch

REPO = Path(__file__).resolve().parents[1]


def batch_cmd(in_dir: Path, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "hkid_ocr", "batch", str(in_dir), "--out", str(out), "--workers", "2", *extra]


def make_input(root: Path, copies: int) -> dict[str, str]:
    """Folder of specimen copies (nested) plus broken files; returns file -> truth key or error."""
    expected: dict[str, str] = {}
    for i in range(copies):
        name = ("specimen_2003.jpg", "specimen_2018.jpg")[i % 2]
        rel = f"{'deep/' if i % 3 == 0 else ''}card_{i:02d}.jpg"
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(DATA / name, root / rel)
        expected[rel] = name
    (root / "broken.jpg").write_bytes(b"this is not a jpeg")
    (root / "empty.png").write_bytes(b"")
    (root / "notes.txt").write_text("not an image suffix: never read")
    expected["broken.jpg"] = "unsupportedImageFormat"
    expected["empty.png"] = "illegalImageContent"
    return expected


def lines_of(out: Path) -> list[dict]:
    return [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]


def test_killed_run_resumes_without_duplicates(tmp_path, truth):
    in_dir, out = tmp_path / "in", tmp_path / "results.jsonl"
    in_dir.mkdir()
    expected = make_input(in_dir, copies=6)
    # Its own session, so the kill reaches the workers too, as a crash or power cut would.
    proc = subprocess.Popen(batch_cmd(in_dir, out), cwd=REPO, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while not (out.exists() and out.read_bytes().count(b"\n") >= 2):
            assert proc.poll() is None or out.exists(), "batch ended before writing"
            assert time.monotonic() < deadline, "batch wrote nothing"
            time.sleep(0.05)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(30)
    first = lines_of(out)
    assert 2 <= len(first) <= len(expected)
    # And a record torn in the middle of its write, as a crash can leave one.
    with open(out, "ab") as fh:
        fh.write(b'{"file": "card_05.jpg", "data": {"nameEn": "LE')

    p = subprocess.run(batch_cmd(in_dir, out), cwd=REPO, capture_output=True, text=True, timeout=300)
    assert p.returncode == 1, p.stderr  # two bad files: exit 1, like `recognize`
    records = lines_of(out)  # every line is whole JSON again
    files = Counter(r["file"] for r in records)
    assert files == Counter(set(expected)), "each image exactly once"
    assert records[: len(first)] == first, "finished results were kept, not redone"
    for r in records:
        want = expected[r["file"]]
        if want.endswith(".jpg"):
            assert r["data"] == truth[want]["data"], r["file"]
        else:
            assert r["error"]["code"] == want and r["error"]["message"]
    assert f"({len(expected) - len(first)} this run, {len(first)} already done)" in p.stderr
    assert f"read {len(expected) - 2}/{len(expected)} cards" in p.stderr
    assert "illegalImageContent 1" in p.stderr and "unsupportedImageFormat 1" in p.stderr

    # A third run has nothing left to do (in process: no worker is even started).
    again = run_batch(in_dir, out, 2)
    assert (again.done, again.skipped, sum(again.errors.values())) == (0, len(expected), 2)
    # --retry-failed reads the failed images again (here: one fixed, one removed).
    shutil.copy(DATA / "specimen_2003.jpg", in_dir / "broken.jpg")
    (in_dir / "empty.png").unlink()
    p = subprocess.run(batch_cmd(in_dir, out, "--retry-failed"), cwd=REPO, capture_output=True, text=True,
                       timeout=300)
    assert p.returncode == 0, p.stderr
    records = lines_of(out)
    fixed = [r for r in records if r["file"] == "broken.jpg"]
    assert len(fixed) == 1 and fixed[0]["data"] == truth["specimen_2003.jpg"]["data"]
    assert not any("error" in r for r in records if r["file"] != "empty.png")


def test_usage_errors(tmp_path, capsys):
    from hkid_ocr.cli import main

    out = str(tmp_path / "o.jsonl")
    p = subprocess.run([sys.executable, "-m", "hkid_ocr", "batch", str(tmp_path), "--out", out], cwd=REPO,
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 2 and "no images" in p.stderr  # through the real entry point
    assert main(["batch", str(tmp_path / "missing"), "--out", out]) == 2
    assert main(["batch", str(tmp_path)]) == 2  # --out is required
    (tmp_path / "a.jpg").write_bytes(b"x")
    assert main(["batch", str(tmp_path), "--out", out, "--workers", "0"]) == 2
    assert not Path(out).exists()


# -- the pieces, in process -----------------------------------------------------------


def test_read_done_repairs_only_a_torn_tail(tmp_path, capsys):
    out = tmp_path / "r.jsonl"
    good = [{"file": "a.jpg", "data": {}}, {"file": "b.jpg", "error": {"code": "noCardFound", "message": "m"}}]
    body = "".join(json.dumps(r) + "\n" for r in good)
    out.write_text(body + "\n" + "garbage in the middle\n" + '{"file": "c.jpg", "da')
    assert read_done(out) == {"a.jpg": None, "b.jpg": "noCardFound"}
    assert out.read_text().endswith("garbage in the middle\n")  # the torn tail is gone, nothing else
    assert "not valid JSON" in capsys.readouterr().err
    out.write_text('{"file": "only-a-torn-line')
    assert read_done(out) == {} and out.read_bytes() == b""


def test_read_done_on_a_large_file_finds_the_last_newline(tmp_path):
    out = tmp_path / "r.jsonl"
    recs = [json.dumps({"file": f"{i}.jpg", "pad": "x" * 500}) + "\n" for i in range(300)]
    out.write_text("".join(recs) + '{"file": "torn", "pad": "' + "y" * 100_000)
    assert len(read_done(out)) == 300
    assert out.read_text() == "".join(recs)


def test_find_images_and_summary(tmp_path):
    for rel in ("z.PNG", "a/b.jpeg", "a/c.tiff", "readme.md", "d/e.pdf"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"")
    assert find_images(tmp_path) == ["a/b.jpeg", "a/c.tiff", "z.PNG"]
    s = BatchSummary(total=4, skipped=1, done=3, errors=Counter(noCardFound=2), seconds=1.25, interrupted=True)
    assert s.line().startswith("read 2/4 cards in 1.2s (3 this run, 1 already done); errors: noCardFound 2")
    assert "rerun" in s.line()
    cut = BatchSummary(total=10, skipped=0, done=2, interrupted=True)
    assert cut.line().startswith("read 2/10 cards")


@pytest.mark.parametrize("code", ["noCardFound"])
def test_failures_count_toward_exit_status_across_runs(tmp_path, code):
    """An image that failed in an earlier run still makes the batch's exit status 1."""
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "x.jpg").write_bytes(b"")
    out = tmp_path / "o.jsonl"
    out.write_text(json.dumps({"file": "x.jpg", "error": {"code": code, "message": "m"}}) + "\n")
    summary = run_batch(tmp_path / "in", out, 1)
    assert (summary.total, summary.skipped, summary.done) == (1, 1, 0)
    assert summary.errors == Counter({code: 1})
