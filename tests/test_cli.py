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


# -- serve ----------------------------------------------------------------------------


def _env_without_keys() -> dict:
    import os

    return {k: v for k, v in os.environ.items() if not k.startswith("HKID_OCR_ACCESS_KEY")}


def test_serve_refuses_a_public_address_without_keys(tmp_path, monkeypatch, capsys):
    p = subprocess.run([sys.executable, "-m", "hkid_ocr", "serve", "--host", "0.0.0.0", "--port", "1"],
                       capture_output=True, text=True, timeout=60, env=_env_without_keys())
    assert p.returncode == 2, p.stderr  # through the real entry point, before anything binds
    assert "refusing" in p.stderr and "--insecure" in p.stderr
    from hkid_ocr.cli import main

    for name in ("HKID_OCR_ACCESS_KEY_ID", "HKID_OCR_ACCESS_KEY_SECRET"):
        monkeypatch.delenv(name, raising=False)
    for host in ("192.0.2.10", "example.com", "::"):
        assert main(["serve", "--host", host, "--port", "1"]) == 2
    # An unreadable key file, or one half of the environment key pair: bad usage too.
    assert main(["serve", "--keys", str(tmp_path / "none.json")]) == 2
    assert "cannot read key file" in capsys.readouterr().err
    monkeypatch.setenv("HKID_OCR_ACCESS_KEY_ID", "only-the-id")
    assert main(["serve"]) == 2
    assert "HKID_OCR_ACCESS_KEY_SECRET" in capsys.readouterr().err


def test_serve_runs_answers_the_sdk_and_stops_cleanly(tmp_path, truth):
    import io
    import signal
    import socket
    import time

    import httpx
    from alibabacloud_ocr_api20210707 import models as ocr_models
    from alibabacloud_ocr_api20210707.client import Client
    from alibabacloud_tea_openapi import models as open_api_models
    from alibabacloud_tea_util import models as util_models

    keys = tmp_path / "keys.ini"
    keys.write_text("[keys]\nLTAIcliKey = cli-secret\n")
    with socket.socket() as s:  # a free port (released just before the server takes it)
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in _env_without_keys().items() if "proxy" not in k.lower()}
    proc = subprocess.Popen([sys.executable, "-m", "hkid_ocr", "serve", "--port", str(port), "--keys", str(keys),
                             "--max-concurrency", "1"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, proc.communicate()[1]
            assert time.monotonic() < deadline, "service did not come up"
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        client = Client(open_api_models.Config(access_key_id="LTAIcliKey", access_key_secret="cli-secret",
                                               endpoint=f"127.0.0.1:{port}", protocol="http"))
        req = ocr_models.RecognizeHKIdcardRequest(body=io.BytesIO((DATA / "specimen_2018.jpg").read_bytes()))
        resp = client.recognize_hkidcard_with_options(req, util_models.RuntimeOptions())
        assert json.loads(resp.body.data)["data"] == truth["specimen_2018.jpg"]["data"]
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    # uvicorn shuts down gracefully, then re-raises SIGTERM (the conventional way to exit on it).
    assert proc.returncode in (0, -signal.SIGTERM), err
    assert "Application shutdown complete" in err
    assert "authentication: 1 access key(s)" in err
    assert f"request {resp.body.request_id} POST / status=200" in err
    assert "SAN" not in err and "C668668" not in err  # no field value in the log
