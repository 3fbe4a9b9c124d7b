"""The local HTTP service: ``RecognizeHKIdcard`` as the cloud serves it, on your machine.

The official Alibaba Cloud SDK (``alibabacloud_ocr_api20210707``) calls it unchanged:
point its ``Config`` at this server (``endpoint="127.0.0.1:8080"``, ``protocol="http"``)
and ``recognize_hkidcard_with_options`` gets the cloud's envelope back.

Endpoints:

- ``POST /`` -- the SDK's RPC call: action and version in the ``x-acs-action`` /
  ``x-acs-version`` headers (or ``Action`` / ``Version`` in the query), the image as
  the raw body, or ``Url`` in the query (off unless ``allow_url``).
- ``POST /RecognizeHKIdcard`` -- the same for plain HTTP clients (raw body or ``Url``).
- ``GET /health``, ``GET /version``; OpenAPI at ``/openapi.json``, Swagger UI at ``/docs``.

Answers: ``{"RequestId", "Data": "<result JSON as a string>"}`` with 200, or
``{"RequestId", "Code", "Message"}`` with the cloud's HTTP status for the code.

Authentication: with access keys configured (see :mod:`hkid_ocr.auth`), every
recognition request must carry a valid ACS3-HMAC-SHA256 signature; a request that
fails is refused before its image is looked at. Without keys, anyone who can reach
the port can use it -- which is why the command line refuses a non-loopback address
unless told ``--insecure``.

Resources: the body is read with a 10 MB cap (413 ``exceededImageContent`` as soon as
it is exceeded), recognition runs on one shared :class:`~hkid_ocr.Recognizer` in a
pool of ``max_concurrency`` threads, and at most ``max_pending`` requests wait for it
(then 503 ``ServiceUnavailable``).

Personal data: the log has one line per request -- request id, method, path, status,
error code, latency. Never an image, a URL, a field value or a secret.

Example:
    >>> app = create_app(credentials=None, allow_url=False, max_concurrency=2)
    >>> app.title, ACTION, API_VERSION
    ('hkid-ocr', 'RecognizeHKIdcard', '2021-07-07')

    Then ``uvicorn.run(app, host="127.0.0.1", port=8080)``, or ``hkid-ocr serve``.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import os
import socket
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from . import __version__
from .auth import DEFAULT_SKEW_S, AuthError, Credentials, VerifiedRequest, Verifier, payload_hash
from .config import RecognizerConfig
from .errors import ERROR_STATUS, RecognitionError
from .io import MAX_BYTES
from .recognizer import Recognizer

__all__ = ["ACTION", "API_VERSION", "create_app", "is_loopback_host", "fetch_image_url"]

ACTION = "RecognizeHKIdcard"
API_VERSION = "2021-07-07"
#: An over-limit body is still read (and thrown away) up to this size, so the client,
#: which sends its whole body before reading the answer, gets the 413 instead of a
#: reset connection. Beyond it the connection is closed.
DRAIN_LIMIT = 32 * 1024 * 1024
#: Image URL fetching: total time allowed.
URL_TIMEOUT_S = 10.0

log = logging.getLogger("hkid_ocr.server")


class ApiError(Exception):
    """A cloud-style error answer: code, message, HTTP status."""

    def __init__(self, code: str, message: str, status: int | None = None, *, close: bool = False) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status if status is not None else ERROR_STATUS.get(code, 400)
        self.close = close  # ask the server to drop the connection (body left unread)


# -- helpers --------------------------------------------------------------------------


def is_loopback_host(host: str) -> bool:
    """Whether binding to ``host`` keeps the service on this machine.

    Example:
        >>> [is_loopback_host(h) for h in ("127.0.0.1", "::1", "localhost", "0.0.0.0", "10.0.0.5")]
        [True, True, True, False, False]
    """
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything, so it is not "loopback"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Refuse redirects: a public URL redirecting to an internal one is the classic SSRF."""

    def redirect_request(self, req: Any, fp: Any, code: int, msg: str, headers: Any, newurl: str) -> None:
        return None


def _check_public(host: str, port: int) -> None:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise RecognitionError("the image URL's host cannot be resolved", code="illegalImageUrl") from None
    for info in infos:
        ip = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        if not ip.is_global:
            raise RecognitionError(
                "the image URL points to a private, loopback or reserved address", code="illegalImageUrl"
            )


def fetch_image_url(url: str, *, limit: int = MAX_BYTES, timeout: float = URL_TIMEOUT_S,
                    allow_private: bool = False) -> bytes:
    """Download an image URL with the service's safety rules.

    Only http and https; the host must resolve to public addresses only (unless
    ``allow_private``); redirects and proxies are not used; at most ``limit`` bytes
    and ``timeout`` seconds in all.

    Raises:
        RecognitionError: ``illegalImageUrl`` (bad, unreachable, refused URL) or
            ``exceededImageContent`` (too large).

    Example:
        >>> try:
        ...     fetch_image_url("file:///etc/passwd")
        ... except RecognitionError as exc:
        ...     exc.code
        'illegalImageUrl'
    """
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise RecognitionError("the image URL is malformed", code="illegalImageUrl") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise RecognitionError("only http:// and https:// image URLs are accepted", code="illegalImageUrl")
    if not allow_private:
        _check_public(parts.hostname, port)
    # No proxies: the address checked above must be the one connected to.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect())
    req = urllib.request.Request(url, headers={"User-Agent": f"hkid-ocr/{__version__}"})
    deadline = time.monotonic() + timeout
    try:
        with opener.open(req, timeout=timeout) as resp:
            declared = resp.headers.get("Content-Length")
            if declared and declared.isdigit() and int(declared) > limit:
                raise RecognitionError(f"the image is over {limit} bytes", code="exceededImageContent")
            buf = bytearray()
            while chunk := resp.read(64 * 1024):
                buf += chunk
                if len(buf) > limit:
                    raise RecognitionError(f"the image is over {limit} bytes", code="exceededImageContent")
                # The socket timeout bounds each read; this bounds a slow drip in total.
                if time.monotonic() > deadline:
                    raise RecognitionError("fetching the image URL timed out", code="illegalImageUrl")
            return bytes(buf)
    except urllib.error.HTTPError as exc:
        what = "redirects are not followed" if 300 <= exc.code < 400 else f"it answered HTTP {exc.code}"
        raise RecognitionError(f"cannot fetch the image URL: {what}", code="illegalImageUrl") from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise RecognitionError(f"cannot fetch the image URL ({type(exc).__name__})", code="illegalImageUrl") from None


class _Body:
    """The request body, read once, with a cap; or drained when the answer is an error."""

    def __init__(self, request: Request) -> None:
        self._request = request
        self._consumed = False

    def _declared(self) -> int | None:
        value = self._request.headers.get("content-length")
        if value is None:
            return None
        if not value.strip().isdigit():
            raise ApiError("InvalidParameter", "Content-Length is not a number", 400, close=True)
        return int(value)

    async def read(self, limit: int) -> bytes:
        """The body, or ApiError(exceededImageContent) as soon as it passes ``limit``."""
        declared = self._declared()
        too_big = ApiError("exceededImageContent", f"the request body is over {limit} bytes")
        if declared is not None and declared > DRAIN_LIMIT:
            too_big.close = True
            self._consumed = True  # not read: the connection is closed instead
            raise too_big
        self._consumed = True
        buf = bytearray()
        total = 0
        async for chunk in self._request.stream():
            total += len(chunk)
            if total > limit:
                buf = bytearray()  # never hold more than the limit; keep reading only to discard
                if total > DRAIN_LIMIT:
                    too_big.close = True
                    raise too_big
                continue
            buf += chunk
        if total > limit:
            raise too_big
        return bytes(buf)

    async def drain(self) -> bool:
        """Read and discard what is left; False when it is too much (close the connection)."""
        if self._consumed:
            return True
        self._consumed = True
        try:
            declared = self._declared()
        except ApiError:
            return False
        if declared is not None and declared > DRAIN_LIMIT:
            return False
        total = 0
        async for chunk in self._request.stream():
            total += len(chunk)
            if total > DRAIN_LIMIT:
                return False
        return True


class _State:
    """What the routes share: the recognizer, its thread pool, the verifier, counters."""

    def __init__(self, recognizer: Recognizer | None, credentials: Credentials | None, allow_url: bool,
                 max_concurrency: int, max_pending: int, skew_s: float, url_timeout: float,
                 allow_private_urls: bool) -> None:
        if max_concurrency < 1:
            raise ValueError("max_concurrency must be >= 1")
        if max_pending < max_concurrency:
            raise ValueError("max_pending must be >= max_concurrency")
        self._recognizer = recognizer
        self._lock = threading.Lock()
        self.verifier = Verifier(credentials, skew_s) if credentials else None
        self.allow_url = allow_url
        self.allow_private_urls = allow_private_urls
        self.url_timeout = url_timeout
        self.max_concurrency = max_concurrency
        self.max_pending = max_pending
        self.pending = 0  # touched only on the event loop thread
        # The pool's size is the concurrency bound: one shared, thread-safe Recognizer.
        self.pool = ThreadPoolExecutor(max_workers=max_concurrency, thread_name_prefix="hkid-ocr")

    def recognizer(self) -> Recognizer:
        """The shared recognizer, built on first use (in a pool thread, not the event loop)."""
        if self._recognizer is None:
            with self._lock:
                if self._recognizer is None:
                    threads = max(1, (os.cpu_count() or 1) // self.max_concurrency)
                    self._recognizer = Recognizer(RecognizerConfig(threads=threads))
        return self._recognizer

    @property
    def ready(self) -> bool:
        return self._recognizer is not None

    def recognize_json(self, image: bytes) -> str:
        """Runs in a pool thread: recognition and serialisation both stay off the loop."""
        return self.recognizer().recognize(image).to_json()


def _request_id() -> str:
    # The cloud's RequestIds are upper-case UUIDs.
    return str(uuid.uuid4()).upper()


def _envelope_error(rid: str, code: str, message: str, status: int, close: bool = False) -> JSONResponse:
    headers = {"x-acs-request-id": rid}
    if close:
        headers["Connection"] = "close"
    return JSONResponse({"RequestId": rid, "Code": code, "Message": message}, status_code=status, headers=headers)


_RAW_BODY_DOC: dict[str, Any] = {
    "requestBody": {
        "required": False,
        "description": "The image file's bytes (PNG, JPEG, BMP, GIF, TIFF, WebP; at most 10 MB).",
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    },
    "parameters": [
        {"name": "Url", "in": "query", "required": False, "schema": {"type": "string"},
         "description": "An http(s) image URL instead of a body (only when the server allows URLs)."},
    ],
    "responses": {
        "200": {"description": "`{RequestId, Data}`: Data is the result object as a JSON string."},
        "4XX": {"description": "`{RequestId, Code, Message}` (bad image, size, URL, authentication)."},
        "5XX": {"description": "`{RequestId, Code, Message}` (algorithmError, modelUnavailable, busy)."},
    },
}


def create_app(
    recognizer: Recognizer | None = None,
    credentials: Credentials | None = None,
    allow_url: bool = False,
    max_concurrency: int = 2,
    *,
    max_pending: int = 64,
    skew_seconds: float = DEFAULT_SKEW_S,
    url_timeout: float = URL_TIMEOUT_S,
    allow_private_urls: bool = False,
) -> FastAPI:
    """Build the service.

    Args:
        recognizer: the shared recognizer (default: one built on first request, with
            ``cpu_count // max_concurrency`` threads per recognition).
        credentials: access keys; None serves without authentication.
        allow_url: fetch ``Url`` parameters (SSRF risk: see :func:`fetch_image_url`).
        max_concurrency: recognitions running at once.
        max_pending: requests running or waiting for recognition; more get 503.
        skew_seconds: allowed x-acs-date skew (and the nonce replay window).
        url_timeout: total seconds for fetching one image URL.
        allow_private_urls: let ``Url`` reach private/loopback addresses (tests, or
            a trusted internal image store).

    Example:
        >>> app = create_app(max_concurrency=1)
        >>> sorted(r.path for r in app.routes if r.path.startswith(("/R", "/h", "/v")))
        ['/RecognizeHKIdcard', '/health', '/version']
    """
    state = _State(recognizer, credentials, allow_url, max_concurrency, max_pending, skew_seconds,
                   url_timeout, allow_private_urls)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        state.pool.shutdown(wait=False, cancel_futures=True)

    app = FastAPI(
        title="hkid-ocr",
        version=__version__,
        description="Offline Hong Kong identity card OCR answering like Alibaba Cloud's RecognizeHKIdcard "
                    f"(API version {API_VERSION}).",
        lifespan=lifespan,
    )
    app.state.hkid = state

    async def handle(request: Request, rpc: bool) -> JSONResponse:
        rid = _request_id()
        start = time.perf_counter()
        body = _Body(request)
        code = "-"
        try:
            response = await _recognize(request, body, state, rid, rpc)
        except (ApiError, AuthError, RecognitionError) as exc:
            code = exc.code
            close = getattr(exc, "close", False)
            if not await body.drain():
                close = True
            response = _envelope_error(rid, exc.code, exc.message, exc.status, close)
        except Exception as exc:  # noqa: BLE001 - reported as the cloud does, never hidden
            code = "algorithmError"
            # Type and place only: an exception's text could quote input.
            tb = exc.__traceback__
            while tb is not None and tb.tb_next is not None:
                tb = tb.tb_next
            where = f"{tb.tb_frame.f_code.co_filename}:{tb.tb_lineno}" if tb else "?"
            log.error("request %s unexpected %s at %s", rid, type(exc).__name__, where)
            await body.drain()
            response = _envelope_error(rid, code, f"internal error ({type(exc).__name__})", 503)
        ms = (time.perf_counter() - start) * 1000
        log.info("request %s %s %s status=%d code=%s %.0fms", rid, request.method, request.url.path,
                 response.status_code, code, ms)
        return response

    @app.post("/", summary="RecognizeHKIdcard, as the cloud SDK calls it (RPC style)",
              openapi_extra=_RAW_BODY_DOC, response_class=JSONResponse)
    async def rpc_root(request: Request) -> JSONResponse:
        """The SDK's call: ``x-acs-action: RecognizeHKIdcard``, ``x-acs-version: 2021-07-07``
        (or ``Action``/``Version`` query parameters), the image as the raw body."""
        return await handle(request, rpc=True)

    @app.post(f"/{ACTION}", summary="RecognizeHKIdcard for plain HTTP clients",
              openapi_extra=_RAW_BODY_DOC, response_class=JSONResponse)
    async def recognize_route(request: Request) -> JSONResponse:
        """POST the image as the raw body (or give ``?Url=``); same envelope as the cloud."""
        return await handle(request, rpc=False)

    @app.get("/health", summary="Liveness")
    async def health() -> dict[str, Any]:
        """``status`` ok while serving; ``ready`` once the models are loaded."""
        return {"status": "ok", "ready": state.ready, "pending": state.pending}

    @app.get("/version", summary="Versions and settings")
    async def version() -> dict[str, Any]:
        """The engine and API versions, and what this server accepts."""
        return {
            "name": "hkid-ocr",
            "version": __version__,
            "action": ACTION,
            "apiVersion": API_VERSION,
            "authentication": "ACS3-HMAC-SHA256" if state.verifier else "none",
            "allowUrl": state.allow_url,
            "maxConcurrency": state.max_concurrency,
            "maxBytes": MAX_BYTES,
        }

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        # 404 / 405 in the cloud's envelope, so SDK clients get a readable error.
        rid = _request_id()
        code = {404: "InvalidApi.NotFound", 405: "UnsupportedHTTPMethod"}.get(exc.status_code, "InvalidParameter")
        log.info("request %s %s %s status=%d code=%s", rid, request.method, request.url.path, exc.status_code, code)
        return _envelope_error(rid, code, str(exc.detail), exc.status_code)

    return app


async def _recognize(request: Request, body: _Body, state: _State, rid: str, rpc: bool) -> JSONResponse:
    params = parse_qsl(request.url.query, keep_blank_values=True)
    query = dict(params)
    headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.headers.raw]
    if rpc:
        action = request.headers.get("x-acs-action") or query.get("Action")
        version = request.headers.get("x-acs-version") or query.get("Version")
        if not action:
            raise ApiError("MissingParameter", "Action is required (x-acs-action header or Action parameter)")
        if action != ACTION:
            raise ApiError("InvalidAction.NotFound", f"Specified api is not found: only {ACTION} is served.", 404)
        if version and version != API_VERSION:
            raise ApiError("InvalidVersion", f"Specified parameter Version is not valid: {API_VERSION} is served.")
    verified: VerifiedRequest | None = None
    if state.verifier is not None:
        # Before the body is read: an unauthenticated client never gets its image looked at.
        verified = state.verifier.verify_headers(request.method, request.url.path, params, headers)
    image = await body.read(MAX_BYTES)
    if verified is not None:
        state.verifier.verify_body(verified, image)  # type: ignore[union-attr]
    elif request.headers.get("x-acs-content-sha256"):
        # Unsigned, but a client that states its body's hash gets it checked.
        if payload_hash(image) != request.headers["x-acs-content-sha256"].strip().lower():
            raise AuthError("SignatureDoesNotMatch", "x-acs-content-sha256 does not match the request body.")
    url = query.get("Url", "")
    if not image:
        if not url:
            raise RecognitionError("no image: send the image as the body or give Url", code="illegalImageContent")
        if not state.allow_url:
            raise RecognitionError(
                "fetching image URLs is disabled on this server (start it with --allow-url); send the image bytes",
                code="illegalImageUrl",
            )
        image = await asyncio.to_thread(fetch_image_url, url, limit=MAX_BYTES, timeout=state.url_timeout,
                                        allow_private=state.allow_private_urls)
    if state.pending >= state.max_pending:
        raise ApiError("ServiceUnavailable", "the service is busy; retry shortly", 503)
    state.pending += 1
    try:
        loop = asyncio.get_running_loop()
        data = await loop.run_in_executor(state.pool, state.recognize_json, image)
    finally:
        state.pending -= 1
    return JSONResponse({"RequestId": rid, "Data": data}, headers={"x-acs-request-id": rid})


def serve(app: FastAPI, host: str, port: int, *, log_level: str = "info") -> None:
    """Run ``app`` with uvicorn until interrupted (access log off: ours has no query strings).

    Example:
        >>> callable(serve)
        True
    """
    import uvicorn

    uvicorn.run(app, host=host, port=port, log_level=log_level, access_log=False,
                server_header=False, date_header=True)
