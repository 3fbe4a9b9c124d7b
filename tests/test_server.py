"""The local service on a real loopback port: the official SDK, plain HTTP, limits, load."""

from __future__ import annotations

import contextlib
import functools
import http.server
import io
import json
import logging
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import cv2
import httpx
import numpy as np
import pytest
import uvicorn

from conftest import DATA, SPECIMENS
from hkid_ocr import Recognizer, RecognizerConfig
from hkid_ocr.auth import Credentials, sign_request
from hkid_ocr.io import MAX_BYTES
from hkid_ocr.server import create_app

KEY_ID, SECRET = "LTAI5tLocalTestKey", "local-test-secret"


class Counting:
    """A Recognizer that counts calls: proves a refused request was never recognised."""

    def __init__(self, inner):
        self.inner = inner
        self.calls = 0
        self._lock = threading.Lock()

    def recognize(self, image, **kw):
        with self._lock:
            self.calls += 1
        return self.inner.recognize(image, **kw)


@contextlib.contextmanager
def running(app):
    """Serve ``app`` with uvicorn on a free loopback port in a thread; yields the base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "server did not start"
        time.sleep(0.02)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


@pytest.fixture(scope="module")
def rec():
    return Counting(Recognizer(RecognizerConfig(threads=1)))


@pytest.fixture(scope="module")
def keyed(rec):
    """The service with access keys configured (as the SDK would meet it)."""
    with running(create_app(rec, Credentials({KEY_ID: SECRET}), max_concurrency=2)) as host:
        yield host


@pytest.fixture(scope="module")
def open_server(rec):
    """The same recognizer served without keys (loopback), for plain HTTP clients."""
    with running(create_app(rec, None, max_concurrency=2)) as host:
        yield host


@pytest.fixture(scope="module", autouse=True)
def no_proxy():
    # The SDK sends through HTTP(S)_PROXY when set, which would never reach 127.0.0.1.
    with pytest.MonkeyPatch.context() as mp:
        for name in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
            mp.delenv(name, raising=False)
        yield


def sdk_client(host: str, secret: str = SECRET, key_id: str = KEY_ID):
    from alibabacloud_ocr_api20210707.client import Client
    from alibabacloud_tea_openapi import models as open_api_models

    return Client(open_api_models.Config(access_key_id=key_id, access_key_secret=secret,
                                         endpoint=host, protocol="http"))


def sdk_call(client, *, body: bytes | None = None, url: str | None = None):
    from alibabacloud_ocr_api20210707 import models as ocr_models
    from alibabacloud_tea_util import models as util_models

    req = ocr_models.RecognizeHKIdcardRequest(body=io.BytesIO(body) if body is not None else None, url=url)
    return client.recognize_hkidcard_with_options(req, util_models.RuntimeOptions())


def image(name: str) -> bytes:
    return (DATA / name).read_bytes()


# -- the official SDK -----------------------------------------------------------------


def test_sdk_reads_both_specimens(keyed, truth):
    client = sdk_client(keyed)
    for name in SPECIMENS:
        resp = sdk_call(client, body=image(name))
        assert resp.status_code == 200
        assert resp.body.code is None and resp.body.message is None
        assert len(resp.body.request_id) == 36 and resp.headers["x-acs-request-id"] == resp.body.request_id
        data = json.loads(resp.body.data)  # Data is a JSON string, as in the cloud
        assert data["data"] == truth[name]["data"]
        assert data["orgWidth"] > 0 and data["prism_keyValueInfo"]


def sdk_error(fn):
    from Tea.exceptions import TeaException

    with pytest.raises(TeaException) as info:  # the SDK's own exception (ClientException)
        fn()
    return info.value


def test_sdk_wrong_secret_and_unknown_key_rejected(keyed, rec):
    before = rec.calls
    err = sdk_error(lambda: sdk_call(sdk_client(keyed, secret="wrong-secret"), body=image("specimen_2003.jpg")))
    assert type(err).__name__ == "ClientException"
    assert (err.code, err.status_code) == ("SignatureDoesNotMatch", 400)
    err = sdk_error(lambda: sdk_call(sdk_client(keyed, key_id="LTAInobody"), body=image("specimen_2003.jpg")))
    assert (err.code, err.status_code) == ("InvalidAccessKeyId.NotFound", 404)
    assert rec.calls == before  # nothing was recognised


def test_sdk_tampered_body_rejected(keyed, rec, monkeypatch):
    """A body changed after signing (content sha mismatch) is refused."""
    from darabonba.core import DaraCore

    original = DaraCore.do_action

    def tamper(request, runtime_option=None):
        request.body = request.body[:-1] + bytes([request.body[-1] ^ 0xFF])
        return original(request, runtime_option)

    monkeypatch.setattr(DaraCore, "do_action", staticmethod(tamper))
    before = rec.calls
    err = sdk_error(lambda: sdk_call(sdk_client(keyed), body=image("specimen_2018.jpg")))
    assert (err.code, err.status_code) == ("SignatureDoesNotMatch", 400)
    assert "x-acs-content-sha256" in err.message
    assert rec.calls == before


def test_sdk_url_is_off_by_default(keyed):
    err = sdk_error(lambda: sdk_call(sdk_client(keyed), url="https://example.com/card.jpg"))
    assert (err.code, err.status_code) == ("illegalImageUrl", 400)
    assert "--allow-url" in err.message


def test_replayed_and_unsigned_requests_rejected(keyed, rec):
    body = image("specimen_2003.jpg")
    headers = sign_request("POST", "/RecognizeHKIdcard", {}, {"host": keyed}, body, KEY_ID, SECRET)
    with httpx.Client(base_url=f"http://{keyed}") as client:
        assert client.post("/RecognizeHKIdcard", content=body, headers=headers).status_code == 200
        before = rec.calls
        again = client.post("/RecognizeHKIdcard", content=body, headers=headers)
        assert (again.status_code, again.json()["Code"]) == (400, "SignatureNonceUsed")
        plain = client.post("/RecognizeHKIdcard", content=body)
        assert (plain.status_code, plain.json()["Code"]) == (400, "IncompleteSignature")
        assert client.get("/health").status_code == 200  # no auth needed to check liveness
    assert rec.calls == before


# -- plain HTTP -----------------------------------------------------------------------


def test_garbage_and_empty_bodies(open_server):
    with httpx.Client(base_url=f"http://{open_server}") as client:
        r = client.post("/RecognizeHKIdcard", content=b"%PDF-1.4 not an image at all")
        assert r.status_code == 415
        body = r.json()
        assert body["Code"] == "unsupportedImageFormat" and body["Message"] and len(body["RequestId"]) == 36
        assert "Data" not in body
        r = client.post("/RecognizeHKIdcard", content=b"")
        assert (r.status_code, r.json()["Code"]) == (400, "illegalImageContent")


def test_oversized_body_413_and_connection_still_usable(open_server, rec):
    before = rec.calls
    big = b"\xff\xd8" + b"\0" * MAX_BYTES  # one byte over the limit
    with httpx.Client(base_url=f"http://{open_server}", timeout=60) as client:
        r = client.post("/RecognizeHKIdcard", content=big)
        assert (r.status_code, r.json()["Code"]) == (413, "exceededImageContent")
        # No Content-Length (chunked): caught while reading, not trusted from a header.
        r = client.post("/RecognizeHKIdcard", content=iter([big[:MAX_BYTES // 2], big[MAX_BYTES // 2:]]))
        assert (r.status_code, r.json()["Code"]) == (413, "exceededImageContent")
        assert client.get("/health").json()["status"] == "ok"
    assert rec.calls == before


def test_fifty_concurrent_requests(open_server, truth):
    """50 requests in flight at once, each answered with its own result.

    16 are real recognitions (both designs, interleaved); the rest are images that fail
    in three different ways, which costs little CPU yet still has to come back to the
    right caller with the right code (2 cores: 50 full recognitions would take ~20 s).
    """
    tiny = cv2.imencode(".png", np.zeros((10, 10, 3), np.uint8))[1].tobytes()
    kinds = {
        SPECIMENS[0]: (image(SPECIMENS[0]), 200, None),
        SPECIMENS[1]: (image(SPECIMENS[1]), 200, None),
        "garbage": (b"GIF89a? no", 415, "unsupportedImageFormat"),
        "empty": (b"", 400, "illegalImageContent"),
        "tiny": (tiny, 416, "illegalImageSize"),
    }
    names = [SPECIMENS[i % 2] for i in range(16)] + [("garbage", "empty", "tiny")[i % 3] for i in range(34)]
    names = [names[(i * 17) % 50] for i in range(50)]  # interleave (17 is coprime with 50)
    with httpx.Client(base_url=f"http://{open_server}", timeout=120,
                      limits=httpx.Limits(max_connections=50)) as client:
        def one(name: str) -> tuple[str, httpx.Response]:
            return name, client.post("/RecognizeHKIdcard", content=kinds[name][0])

        with ThreadPoolExecutor(50) as pool:
            results = list(pool.map(one, names))
        ids = set()
        for name, r in results:
            _, status, code = kinds[name]
            assert r.status_code == status, (name, r.text)
            if code is None:
                assert json.loads(r.json()["Data"])["data"] == truth[name]["data"]
            else:
                assert r.json()["Code"] == code
            ids.add(r.json()["RequestId"])
        assert len(ids) == 50
        assert client.get("/health").json()["pending"] == 0


def test_health_and_version(open_server, keyed):
    with httpx.Client() as client:
        h = client.get(f"http://{open_server}/health").json()
        assert h["status"] == "ok"
        v = client.get(f"http://{open_server}/version").json()
        assert v["action"] == "RecognizeHKIdcard" and v["apiVersion"] == "2021-07-07"
        assert v["authentication"] == "none" and v["allowUrl"] is False
        assert client.get(f"http://{keyed}/version").json()["authentication"] == "ACS3-HMAC-SHA256"
        assert client.get(f"http://{open_server}/openapi.json").json()["paths"]["/RecognizeHKIdcard"]
        assert client.get(f"http://{open_server}/docs").status_code == 200


def test_rpc_root_routing_errors(open_server):
    with httpx.Client(base_url=f"http://{open_server}") as client:
        r = client.post("/", content=b"x")
        assert (r.status_code, r.json()["Code"]) == (400, "MissingParameter")
        r = client.post("/", content=b"x", headers={"x-acs-action": "RecognizeIdcard"})
        assert (r.status_code, r.json()["Code"]) == (404, "InvalidAction.NotFound")
        r = client.post("/?Action=RecognizeHKIdcard&Version=2020-01-01", content=b"x")
        assert (r.status_code, r.json()["Code"]) == (400, "InvalidVersion")
        r = client.post("/?Action=RecognizeHKIdcard&Version=2021-07-07", content=b"x")
        assert (r.status_code, r.json()["Code"]) == (415, "unsupportedImageFormat")
        r = client.post("/nothing-here", content=b"x")
        assert (r.status_code, r.json()["Code"]) == (404, "InvalidApi.NotFound")
        r = client.get("/RecognizeHKIdcard")
        assert r.status_code == 405 and "RequestId" in r.json()


def test_url_disabled_by_default_is_a_clear_error(open_server):
    with httpx.Client(base_url=f"http://{open_server}") as client:
        r = client.post("/RecognizeHKIdcard", params={"Url": "http://127.0.0.1:1/card.jpg"})
    assert (r.status_code, r.json()["Code"]) == (400, "illegalImageUrl")
    assert "disabled" in r.json()["Message"] and "--allow-url" in r.json()["Message"]


@contextlib.contextmanager
def static_files():
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(DATA))
    handler.log_message = lambda *a: None  # type: ignore[attr-defined]
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_url_fetching_when_allowed(rec, truth):
    with static_files() as files:
        url = f"{files}/specimen_2018.jpg"
        # --allow-url alone still refuses private and loopback addresses (SSRF).
        with running(create_app(rec, None, allow_url=True)) as host:
            r = httpx.post(f"http://{host}/RecognizeHKIdcard", params={"Url": url})
            assert (r.status_code, r.json()["Code"]) == (400, "illegalImageUrl")
            assert "private" in r.json()["Message"]
        with running(create_app(rec, None, allow_url=True, allow_private_urls=True)) as host:
            r = httpx.post(f"http://{host}/RecognizeHKIdcard", params={"Url": url})
            assert r.status_code == 200, r.text
            assert json.loads(r.json()["Data"])["data"] == truth["specimen_2018.jpg"]["data"]
            r = httpx.post(f"http://{host}/RecognizeHKIdcard", params={"Url": f"{files}/missing.jpg"})
            assert (r.status_code, r.json()["Code"]) == (400, "illegalImageUrl")
            r = httpx.post(f"http://{host}/RecognizeHKIdcard", params={"Url": "ftp://example.com/a.jpg"})
            assert (r.status_code, r.json()["Code"]) == (400, "illegalImageUrl")


# -- behaviour under load and failure (a stand-in recognizer: no models needed) --------


class _Slow:
    def __init__(self, seconds: float = 0.0, fail: Exception | None = None):
        self.seconds, self.fail = seconds, fail

    def recognize(self, image, **kw):
        time.sleep(self.seconds)
        if self.fail:
            raise self.fail
        return type("R", (), {"to_json": lambda self: '{"data": {}}'})()


def test_busy_server_answers_503_instead_of_queueing_without_bound():
    app = create_app(_Slow(0.5), None, max_concurrency=1, max_pending=1)
    png = image("specimen_2003.jpg")
    with running(app) as host, ThreadPoolExecutor(3) as pool:
        codes = sorted(pool.map(lambda _: httpx.post(f"http://{host}/RecognizeHKIdcard", content=png).status_code,
                                range(3)))
    assert codes[0] == 200 and 503 in codes


def test_unexpected_failure_is_503_and_logs_no_detail(caplog):
    app = create_app(_Slow(fail=RuntimeError("value LEE, Chi Nan C668668(E)")), None)
    with caplog.at_level(logging.INFO, logger="hkid_ocr.server"), running(app) as host:
        r = httpx.post(f"http://{host}/RecognizeHKIdcard", content=b"\x89PNG")
    assert (r.status_code, r.json()["Code"]) == (503, "algorithmError")
    text = "\n".join(rec.getMessage() for rec in caplog.records)
    assert "RuntimeError" in text and "LEE" not in text and "C668668" not in text


def test_logs_carry_no_image_or_field_values(open_server, caplog):
    with caplog.at_level(logging.INFO, logger="hkid_ocr.server"):
        r = httpx.post(f"http://{open_server}/RecognizeHKIdcard?Url=secret-url", content=image("specimen_2003.jpg"))
        assert r.status_code == 200
        deadline = time.monotonic() + 5
        while r.json()["RequestId"] not in caplog.text and time.monotonic() < deadline:
            time.sleep(0.02)  # the log line is written by the server thread
    line = next(x.getMessage() for x in caplog.records if r.json()["RequestId"] in x.getMessage())
    assert "status=200" in line and "/RecognizeHKIdcard" in line
    for value in ("LEE", "李智能", "C668668", "2621", "secret-url"):
        assert value not in caplog.text
