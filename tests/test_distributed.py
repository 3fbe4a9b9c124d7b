"""The Ray engine: every image exactly once, failures recorded with codes, reruns resume.

The Ray tests start one local Ray instance (2 CPUs, no dashboard) for the module and
shut it down at the end. Without Ray installed (it is optional: ``pip install
"hkid-ocr[ray]"``) they skip, saying so; the tests that need no Ray still run.
"""

from __future__ import annotations

import io
import json
import logging
import shutil
from collections import Counter
from collections.abc import Iterator
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from conftest import DATA, SPECIMENS, specimen
from hkid_ocr.cli import main
from hkid_ocr.batch import record_line
from hkid_ocr.distributed import CardReader, RayUnavailableError, list_images, run_distributed
from hkid_ocr.errors import ModelError

#: Ray Data: ray plus pyarrow (what the ``ray[data]`` extra installs).
HAS_RAY = find_spec("ray") is not None and find_spec("pyarrow") is not None
SKIP_REASON = 'Ray Data is optional and not installed: pip install "hkid-ocr[ray]"'
needs_ray = pytest.mark.skipif(not HAS_RAY, reason=SKIP_REASON)
# Ray Data's own settings object warns about its own deprecated fields when copied.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:ray.data.context")

#: Bad files: name -> the error code it must be recorded with.
BAD = {
    "garbage.jpg": "unsupportedImageFormat",  # random bytes
    "empty.png": "illegalImageContent",  # zero bytes
    "sub/letter.png": "unsupportedImageFormat",  # text with an image suffix
    "truncated.jpg": "illegalImageContent",  # the first third of a JPEG
}
#: Not an image suffix: never read, never in the output (as with the local engine).
IGNORED = ("notes.txt", "sub/readme.md")


def make_folder(root: Path) -> dict[str, str]:
    """The specimens, rotated and rescaled variants of them, and bad files.

    Returns:
        file (relative to ``root``) -> the specimen it shows, or the expected error code.
    """
    expected: dict[str, str] = {}

    def put(rel: str, img: np.ndarray, source: str) -> None:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        assert cv2.imwrite(str(root / rel), img), rel
        expected[rel] = source

    for name in SPECIMENS:
        stem = name.removesuffix(".jpg")
        shutil.copy(DATA / name, root / name)
        expected[name] = name
        img = specimen(name)
        put(f"sub/{stem}_rot90.png", np.ascontiguousarray(np.rot90(img, 1)), name)
        put(f"{stem}_rot180.png", np.ascontiguousarray(np.rot90(img, 2)), name)
        put(f"sub/deeper/{stem}_x0.8.png", cv2.resize(img, None, fx=0.8, fy=0.8, interpolation=cv2.INTER_AREA), name)
        put(f"{stem}_x1.5.jpg", cv2.resize(img, None, fx=1.5, fy=1.5, interpolation=cv2.INTER_CUBIC), name)
    rng = np.random.default_rng(10)
    (root / "garbage.jpg").write_bytes(rng.integers(0, 256, 4096, dtype=np.uint8).tobytes())
    (root / "empty.png").write_bytes(b"")
    (root / "sub" / "letter.png").write_text("Dear Sir, this is a letter, not a card.\n" * 10)
    jpeg = (DATA / "specimen_2018.jpg").read_bytes()
    (root / "truncated.jpg").write_bytes(jpeg[: len(jpeg) // 3])
    for rel in IGNORED:
        (root / rel).write_text("not an image suffix")
    expected.update(BAD)
    return expected


def lines_of(out: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]


def check_records(records: list[dict[str, Any]], expected: dict[str, str], truth: dict[str, Any]) -> None:
    """Every input exactly once, with the right fields or the right error code."""
    files = Counter(r["file"] for r in records)
    assert files == Counter(set(expected)), "each image exactly once, nothing else"
    for r in records:
        want = expected[r["file"]]
        if want in truth:
            assert "error" not in r, (r["file"], r.get("error"))
            assert r["data"] == truth[want]["data"], r["file"]
            assert r["checks"]["cardVersion"] == truth[want]["card"], r["file"]
            assert len(r["prism_keyValueInfo"]) == 9 and "sliceRect" in r, r["file"]
        else:
            assert set(r) == {"file", "error"}, r["file"]
            assert r["error"]["code"] == want, r["file"]
            assert r["error"]["message"], r["file"]


# -- Ray ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ray_session() -> Iterator[Any]:
    if not HAS_RAY:
        pytest.skip(SKIP_REASON)
    import ray

    # A fresh local instance of our own ("local" even if a cluster runs on this machine).
    ray.init(address="local", num_cpus=2, include_dashboard=False, logging_level=logging.WARNING)
    try:
        yield ray
    finally:
        ray.shutdown()


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    root = tmp_path_factory.mktemp("cards")
    return root, make_folder(root)


@needs_ray
def test_every_image_once_and_rerun_changes_nothing(ray_session, folder, truth, tmp_path):
    in_dir, expected = folder
    out, parquet = tmp_path / "results.jsonl", tmp_path / "results.parquet"
    log = io.StringIO()
    summary = run_distributed(in_dir, out, actors=2, parquet=parquet, progress=log)
    assert (summary.total, summary.done, summary.skipped) == (len(expected), len(expected), 0)
    assert summary.errors == Counter(BAD.values())
    assert not summary.interrupted
    records = lines_of(out)
    check_records(records, expected, truth)
    assert not any(r["file"].endswith((".txt", ".md")) for r in records)

    # The very line the local engine writes for the same image (same record, same bytes).
    from hkid_ocr import Recognizer, RecognizerConfig

    rec = Recognizer(RecognizerConfig(threads=1))
    local = {"file": "specimen_2003.jpg", **rec.recognize(str(in_dir / "specimen_2003.jpg")).to_dict()}
    line = next(ln for ln in out.read_text(encoding="utf-8").splitlines() if '"specimen_2003.jpg"' in ln)
    assert line == json.dumps(local, ensure_ascii=False, sort_keys=True)

    import pyarrow.parquet as pq

    table = pq.read_table(parquet).to_pylist()
    assert sorted(r["file"] for r in table) == sorted(expected)
    for row in table:
        want = expected[row["file"]]
        if want in truth:
            assert row["error_code"] is None and row["data"] == truth[want]["data"]
            assert json.loads(row["checks"])["cardVersion"] == truth[want]["card"]
        else:
            assert row["error_code"] == want and row["data"] is None and row["checks"] is None
        assert json.loads(row["record"])["file"] == row["file"]

    # A rerun skips everything: no image is read again, the output is byte for byte the same.
    before = out.read_bytes()
    again = run_distributed(in_dir, out, actors=2, progress=io.StringIO())
    assert (again.done, again.skipped) == (0, len(expected))
    assert again.errors == summary.errors
    assert out.read_bytes() == before


@needs_ray
def test_cli_resumes_partial_output_and_retries_failures(ray_session, folder, truth, tmp_path, capsys):
    in_dir, expected = folder
    out = tmp_path / "results.jsonl"
    # An earlier run that wrote three cards, then was cut off in the middle of a line.
    cards = [rel for rel, want in sorted(expected.items()) if want in truth][:3]
    rec_lines = []
    for rel in cards:
        payload = {"file": rel, "data": truth[expected[rel]]["data"], "checks": {"earlier": True}}
        rec_lines.append(json.dumps(payload, ensure_ascii=False, sort_keys=True) + "\n")
    out.write_text("".join(rec_lines) + '{"file": "specimen_2018.jpg", "data": {"nameEn": "SA', encoding="utf-8")

    argv = ["batch", str(in_dir), "--out", str(out), "--engine", "ray", "--address", "local", "--actors", "2"]
    assert main(argv) == 1  # bad files recorded: exit 1, as with the local engine
    err = capsys.readouterr().err
    n = len(expected)
    assert f"read {n - len(BAD)}/{n} cards" in err and f"({n - 3} this run, 3 already done)" in err
    records = lines_of(out)  # the torn line was cut off: every line is whole JSON
    check_records(records[3:], {rel: w for rel, w in expected.items() if rel not in cards}, truth)
    assert records[:3] == [json.loads(x) for x in rec_lines], "earlier results kept, not redone"
    assert Counter(r["file"] for r in records) == Counter(set(expected))

    # --retry-failed reads the failures again (they fail the same way) and nothing else.
    kept = [r for r in records if "error" not in r]
    assert main([*argv, "--retry-failed"]) == 1
    assert f"({len(BAD)} this run, {n - len(BAD)} already done)" in capsys.readouterr().err
    records = lines_of(out)
    assert records[: len(kept)] == kept
    assert {r["file"]: r["error"]["code"] for r in records[len(kept):]} == BAD


@needs_ray
def test_actors_without_weights_stop_the_run_and_say_why(ray_session, folder, tmp_path):
    # The driver has the weights, the actors' "nodes" do not: the run stops (nothing is
    # recorded as failed) and the message is the model error naming the fetch command.
    in_dir, _ = folder
    out, log = tmp_path / "results.jsonl", io.StringIO()
    summary = run_distributed(in_dir, out, actors=1, progress=log,
                              runtime_env={"env_vars": {"HKID_OCR_MODELS": str(tmp_path / "no-models")}})
    assert summary.interrupted and summary.worker_died and summary.done == 0
    assert "modelUnavailable" in log.getvalue() and "hkid_ocr.models fetch" in log.getvalue()
    assert out.read_bytes() == b""


@needs_ray
def test_a_file_gone_after_listing_is_recorded_not_dropped(ray_session, folder, truth, tmp_path, monkeypatch):
    import hkid_ocr.distributed as distributed

    in_dir, expected = folder
    real = distributed.list_images(in_dir)
    keep = [rel for rel in real.files if expected[rel] in truth][:3]
    # As if these files had been deleted between the listing and the read.
    listing = distributed.ImageListing(root=real.root, files=[*keep, "gone.jpg", "sub/gone.png"])
    monkeypatch.setattr(distributed, "list_images", lambda source, filesystem=None: listing)
    out = tmp_path / "results.jsonl"
    summary = run_distributed(in_dir, out, actors=1, progress=io.StringIO())
    assert not summary.interrupted and summary.errors == Counter({"illegalImageUrl": 2})
    records = {r["file"]: r for r in lines_of(out)}
    assert sorted(records) == sorted(listing.files)
    assert records["gone.jpg"]["error"]["code"] == records["sub/gone.png"]["error"]["code"] == "illegalImageUrl"
    assert all(records[rel]["data"] == truth[expected[rel]]["data"] for rel in keep)


@needs_ray
def test_uri_source_lists_the_same_files(ray_session, folder):
    in_dir, expected = folder
    listing = list_images(in_dir.as_uri())  # file:///...: the path every URI scheme takes
    assert not listing.is_local
    assert listing.files == list_images(in_dir).files == sorted(expected)


# -- no Ray needed --------------------------------------------------------------------


def test_card_reader_names_files_relative_and_records_codes():
    reader = CardReader("/cards/")
    jpeg = (DATA / "specimen_2018.jpg").read_bytes()
    out = reader({"path": np.array(["/cards/sub/a.jpg", "/cards/e.png", "/elsewhere/b.jpg"], dtype=object),
                  "bytes": np.array([jpeg, b"", b"%PDF-1.4"], dtype=object)})
    assert list(out["file"]) == ["sub/a.jpg", "e.png", "/elsewhere/b.jpg"]
    assert list(out["code"]) == ["", "illegalImageContent", "unsupportedImageFormat"]
    first = json.loads(out["line"][0])
    assert first["file"] == "sub/a.jpg" and first["data"]["idNumber"] == "C668668(E)"
    assert all(line.endswith("\n") and line.count("\n") == 1 for line in out["line"])


def test_card_reader_without_weights_refuses_to_start(tmp_path):
    # Raised, not recorded per image: Ray then stops the run instead of writing a
    # modelUnavailable record for every image of the cluster.
    with pytest.raises(ModelError):
        CardReader("/cards", model_dir=str(tmp_path))


def test_record_line_never_raises():
    def boom() -> Any:
        raise RuntimeError("unexpected")

    line, code = record_line("x.jpg", boom)
    assert code == "algorithmError"
    assert json.loads(line) == {"file": "x.jpg", "error": {"code": "algorithmError", "message": "RuntimeError: unexpected"}}


def test_cli_usage_errors(tmp_path, capsys):
    out = str(tmp_path / "r.jsonl")
    assert main(["batch", str(DATA), "--out", out, "--engine", "ray", "--workers", "2"]) == 2
    assert "--actors" in capsys.readouterr().err
    assert main(["batch", str(DATA), "--out", out, "--actors", "2"]) == 2  # the local engine has no actors
    assert "--engine ray" in capsys.readouterr().err
    assert main(["batch", str(DATA), "--out", out, "--engine", "ray", "--actors", "0"]) == 2
    assert main(["batch", str(tmp_path / "missing"), "--out", out, "--engine", "ray"]) == 2
    assert "is not a folder" in capsys.readouterr().err
    assert not (tmp_path / "r.jsonl").exists()


@pytest.mark.skipif(find_spec("ray") is not None, reason="Ray is installed; this checks the message shown without it")
def test_without_ray_the_error_names_the_extra(tmp_path, capsys):
    in_dir = tmp_path / "in"
    in_dir.mkdir()
    shutil.copy(DATA / "specimen_2003.jpg", in_dir / "a.jpg")
    with pytest.raises(RayUnavailableError, match=r'pip install "hkid-ocr\[ray\]"'):
        run_distributed(in_dir, tmp_path / "r.jsonl", progress=io.StringIO())
    assert main(["batch", str(in_dir), "--out", str(tmp_path / "r2.jsonl"), "--engine", "ray"]) == 2
    assert 'pip install "hkid-ocr[ray]"' in capsys.readouterr().err
