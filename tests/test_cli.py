"""The hkid-ocr command through its real entry point (a subprocess)."""

from __future__ import annotations

import json
import subprocess
import sys

from conftest import DATA


def run(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hkid_ocr", *args], capture_output=True, text=True,
                          timeout=300, cwd=cwd)


def test_one_image_prints_the_data_object(truth):
    p = run(str(DATA / "specimen_2018.jpg"))
    assert p.returncode == 0, p.stderr
    d = json.loads(p.stdout)
    assert d["data"] == truth["specimen_2018.jpg"]["data"]


def test_many_images_json_lines_and_exit_code(tmp_path):
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"not a jpeg")
    out = tmp_path / "out.jsonl"
    p = run("recognize", str(DATA), str(bad), "-o", str(out))
    assert p.returncode == 1
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert len(lines) == 3
    errors = [x for x in lines if "error" in x]
    assert len(errors) == 1 and errors[0]["error"]["code"] == "unsupportedImageFormat"
    assert "read 2/3 cards" in p.stderr


def test_overlay_written(tmp_path):
    target = tmp_path / "o.png"
    p = run("recognize", str(DATA / "specimen_2003.jpg"), "--overlay", str(target), "--pretty")
    assert p.returncode == 0 and target.read_bytes().startswith(b"\x89PNG")
    assert p.stdout.startswith("{\n")


def test_usage_errors_exit_2(tmp_path):
    assert run("recognize", str(tmp_path)).returncode == 2  # empty folder
    assert run("--no-such-flag").returncode == 2


def test_models_verify():
    p = run("models", "verify")
    assert p.returncode == 0 and "ok:" in p.stdout
