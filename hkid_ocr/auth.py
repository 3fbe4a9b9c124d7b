"""ACS3-HMAC-SHA256 request signatures, as the Alibaba Cloud SDKs compute them.

The local service (:mod:`hkid_ocr.server`) accepts the official cloud SDK unchanged, so
it verifies exactly the signature that SDK sends (``alibabacloud_tea_openapi``'s
``get_authorization``)::

    canonical request = METHOD \\n URI \\n canonical query \\n canonical headers \\n
                        signed header names \\n hex(sha256(body))
    string to sign    = "ACS3-HMAC-SHA256\\n" + hex(sha256(canonical request))
    signature         = hex(hmac_sha256(AccessKeySecret, string to sign))
    Authorization: ACS3-HMAC-SHA256 Credential=<AccessKeyId>,SignedHeaders=<a;b;c>,Signature=<hex>

- canonical query: parameters sorted by name, ``name=value`` with the value
  percent-encoded (RFC 3986, ``~`` kept), joined by ``&``.
- canonical headers: for each signed header, ``name:value\\n`` with the name lower-cased
  and the value stripped (repeated headers: values sorted and joined by ``,``).

On top of the signature the service checks what the cloud gateway checks: the body
hashes to ``x-acs-content-sha256``, ``x-acs-date`` is within a skew window, and no
``x-acs-signature-nonce`` is used twice inside that window (replay). Failures carry
the cloud's error codes (:data:`AUTH_ERROR_STATUS`).

:func:`sign_request` does the client side, for plain HTTP clients (and the tests).

Example:
    >>> creds = Credentials({"my-key-id": "my-secret"})
    >>> headers = sign_request("POST", "/RecognizeHKIdcard", {}, {"host": "127.0.0.1:8080"},
    ...                        b"image bytes", "my-key-id", "my-secret",
    ...                        date="2026-01-02T03:04:05Z", nonce="n-1")
    >>> headers["Authorization"].split(",")[0]
    'ACS3-HMAC-SHA256 Credential=my-key-id'
    >>> verifier = Verifier(creds, clock=lambda: 1767323045.0)  # the same instant
    >>> req = verifier.verify_headers("POST", "/RecognizeHKIdcard", [], list(headers.items()))
    >>> verifier.verify_body(req, b"image bytes")
    >>> req.access_key_id
    'my-key-id'
"""

from __future__ import annotations

import calendar
import configparser
import hashlib
import hmac
import json
import os
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

__all__ = [
    "ALGORITHM",
    "AUTH_ERROR_STATUS",
    "AuthError",
    "Credentials",
    "DEFAULT_SKEW_S",
    "ENV_KEY_ID",
    "ENV_KEY_SECRET",
    "VerifiedRequest",
    "Verifier",
    "canonical_headers",
    "canonical_query",
    "canonical_request",
    "load_credentials",
    "payload_hash",
    "sign_request",
    "signature",
    "string_to_sign",
]

ALGORITHM = "ACS3-HMAC-SHA256"
#: The cloud rejects a request whose x-acs-date is more than 15 minutes off.
DEFAULT_SKEW_S = 15 * 60
ENV_KEY_ID = "HKID_OCR_ACCESS_KEY_ID"
ENV_KEY_SECRET = "HKID_OCR_ACCESS_KEY_SECRET"
#: Format of x-acs-date (ISO 8601, UTC, whole seconds), as the SDK writes it.
DATE_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
#: Headers every signed request must sign: without them a signature could be replayed
#: against another host, with another body, or at another time.
REQUIRED_SIGNED = ("host", "x-acs-content-sha256", "x-acs-date", "x-acs-signature-nonce")
#: Most nonces remembered at once (a bound on memory; see NonceCache).
MAX_NONCES = 200_000

#: HTTP status of each authentication error code (the cloud's common POP error codes).
AUTH_ERROR_STATUS: dict[str, int] = {
    "IncompleteSignature": 400,
    "InvalidSignatureMethod": 400,
    "InvalidAccessKeyId.NotFound": 404,
    "InvalidTimeStamp.Format": 400,
    "InvalidTimeStamp.Expired": 400,
    "SignatureDoesNotMatch": 400,
    "SignatureNonceUsed": 400,
    "ServiceUnavailable": 503,
}


class AuthError(Exception):
    """A request failed authentication; ``code`` is the cloud's error code.

    Example:
        >>> AuthError("SignatureDoesNotMatch", "no").status
        400
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = AUTH_ERROR_STATUS.get(code, 400)

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


# -- configured keys ------------------------------------------------------------------


class Credentials(Mapping[str, str]):
    """AccessKeyId -> AccessKeySecret. Its repr never shows a secret.

    Example:
        >>> c = Credentials({"id1": "s1"})
        >>> (len(c), c["id1"], repr(c))
        (1, 's1', 'Credentials(1 access key)')
    """

    def __init__(self, keys: Mapping[str, str]) -> None:
        clean: dict[str, str] = {}
        for key_id, secret in keys.items():
            if not isinstance(key_id, str) or not isinstance(secret, str) or not key_id or not secret:
                raise ValueError("access key ids and secrets must be non-empty strings")
            clean[key_id] = secret
        self._keys = clean

    def __getitem__(self, key_id: str) -> str:
        return self._keys[key_id]

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys)

    def __len__(self) -> int:
        return len(self._keys)

    def __repr__(self) -> str:
        # A secret must never reach a log or a traceback through repr().
        n = len(self._keys)
        return f"Credentials({n} access key{'' if n == 1 else 's'})"


def _parse_key_file(text: str) -> dict[str, str]:
    stripped = text.lstrip()
    if stripped.startswith("{"):
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError("a JSON key file must be an object of AccessKeyId: AccessKeySecret")
        return {str(k): v for k, v in data.items()}
    # INI: interpolation off ('%' is legal in a secret) and names kept case-sensitive
    # (configparser lower-cases option names by default; key ids are case-sensitive).
    parser = configparser.ConfigParser(interpolation=None, delimiters=("=",))
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(text)
    if not parser.has_section("keys"):
        raise ValueError("an INI key file needs a [keys] section of AccessKeyId = AccessKeySecret lines")
    return dict(parser.items("keys"))


def load_credentials(path: str | os.PathLike[str] | None = None,
                     environ: Mapping[str, str] | None = None) -> Credentials | None:
    """The configured access keys: a key file and/or the environment; None when none.

    The file is JSON (``{"AccessKeyId": "AccessKeySecret", ...}``) or INI (a ``[keys]``
    section of ``AccessKeyId = AccessKeySecret`` lines). The environment adds one key:
    ``HKID_OCR_ACCESS_KEY_ID`` with ``HKID_OCR_ACCESS_KEY_SECRET``.

    Raises:
        ValueError: the file cannot be read or parsed, or only one of the two
            environment variables is set (the message never contains a secret).

    Example:
        >>> load_credentials(None, {}) is None
        True
        >>> load_credentials(None, {ENV_KEY_ID: "id", ENV_KEY_SECRET: "s"})
        Credentials(1 access key)
    """
    env = os.environ if environ is None else environ
    keys: dict[str, str] = {}
    if path is not None:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise ValueError(f"cannot read key file {path}: {exc.strerror}") from None
        try:
            keys.update(_parse_key_file(text))
        except (json.JSONDecodeError, configparser.Error) as exc:
            # The parser's message may quote the file's content: report only where.
            where = getattr(exc, "lineno", None)
            raise ValueError(f"key file {path} is neither valid JSON nor INI"
                             + (f" (line {where})" if where else "")) from None
    key_id, secret = env.get(ENV_KEY_ID, ""), env.get(ENV_KEY_SECRET, "")
    if bool(key_id) != bool(secret):
        raise ValueError(f"set both {ENV_KEY_ID} and {ENV_KEY_SECRET}, or neither")
    if key_id:
        keys[key_id] = secret
    return Credentials(keys) if keys else None


# -- the signature --------------------------------------------------------------------


def payload_hash(body: bytes) -> str:
    """Hex sha256 of the request body (the ``x-acs-content-sha256`` header).

    Example:
        >>> payload_hash(b"")[:16]
        'e3b0c44298fc1c14'
    """
    return hashlib.sha256(body).hexdigest()


def canonical_query(params: Iterable[tuple[str, str]]) -> str:
    """The canonical query string: sorted by name, values percent-encoded (``~`` kept).

    Names are not encoded, exactly as the SDK does.

    Example:
        >>> canonical_query([("Url", "http://a/b c"), ("Action", "X")])
        'Action=X&Url=http%3A%2F%2Fa%2Fb%20c'
    """
    return "&".join(f"{k}={quote(v, safe='~', encoding='utf-8')}" for k, v in sorted(params))


def canonical_headers(headers: Iterable[tuple[str, str]], signed: Sequence[str]) -> str:
    """``name:value\\n`` for each signed header (in ``signed``'s order).

    Raises:
        AuthError: a signed header is not in the request (IncompleteSignature).

    Example:
        >>> canonical_headers([("Host", " h:1 "), ("X-Acs-Date", "d")], ["host", "x-acs-date"])
        'host:h:1\\nx-acs-date:d\\n'
    """
    values: dict[str, list[str]] = {}
    for name, value in headers:
        values.setdefault(name.lower(), []).append(value.strip())
    out = []
    for name in signed:
        if name not in values:
            raise AuthError("IncompleteSignature", f"signed header {name!r} is not in the request")
        out.append(f"{name}:{','.join(sorted(values[name]))}\n")
    return "".join(out)


def canonical_request(method: str, path: str, params: Iterable[tuple[str, str]],
                      headers: Iterable[tuple[str, str]], signed: Sequence[str], content_sha256: str) -> str:
    """The canonical request the signature covers.

    Example:
        >>> canonical_request("POST", "/", [], [("host", "h")], ["host"], "ab").split("\\n")
        ['POST', '/', '', 'host:h', '', 'host', 'ab']
    """
    return "\n".join([
        method.upper(),
        path or "/",
        canonical_query(params),
        canonical_headers(headers, signed),
        ";".join(signed),
        content_sha256,
    ])


def string_to_sign(canonical: str) -> str:
    """``ACS3-HMAC-SHA256\\n`` + hex sha256 of the canonical request.

    Example:
        >>> string_to_sign("x").split("\\n")[0]
        'ACS3-HMAC-SHA256'
    """
    return f"{ALGORITHM}\n{hashlib.sha256(canonical.encode('utf-8')).hexdigest()}"


def signature(secret: str, to_sign: str) -> str:
    """Hex HMAC-SHA256 of the string to sign with the AccessKeySecret.

    Example:
        >>> len(signature("secret", "text"))
        64
    """
    return hmac.new(secret.encode("utf-8"), to_sign.encode("utf-8"), hashlib.sha256).hexdigest()


def sign_request(method: str, path: str, params: Mapping[str, str], headers: Mapping[str, str],
                 body: bytes, access_key_id: str, access_key_secret: str, *,
                 date: str | None = None, nonce: str | None = None) -> dict[str, str]:
    """Sign a request as the SDK does; returns ``headers`` plus the signing headers.

    Every header passed (and the added ``x-acs-*`` ones) is signed; pass ``host``
    exactly as the HTTP client will send it (``127.0.0.1:8080``).

    Args:
        method, path, params: the request line (``params``: the query, unencoded).
        headers: headers to send and sign (at least ``host``).
        body: the exact body bytes.
        access_key_id, access_key_secret: the key pair.
        date: ``x-acs-date`` (default: now); nonce: ``x-acs-signature-nonce`` (default: random).

    Example:
        >>> h = sign_request("POST", "/", {}, {"host": "h"}, b"", "id", "s", date="2026-01-01T00:00:00Z", nonce="1")
        >>> sorted(h)
        ['Authorization', 'host', 'x-acs-content-sha256', 'x-acs-date', 'x-acs-signature-nonce']
    """
    out = dict(headers)
    out["x-acs-date"] = date or time.strftime(DATE_FORMAT, time.gmtime())
    out["x-acs-signature-nonce"] = nonce or secrets.token_hex(16)
    out["x-acs-content-sha256"] = payload_hash(body)
    signed = sorted({k.lower() for k in out})
    canon = canonical_request(method, path, params.items(), out.items(), signed, out["x-acs-content-sha256"])
    sig = signature(access_key_secret, string_to_sign(canon))
    out["Authorization"] = f"{ALGORITHM} Credential={access_key_id},SignedHeaders={';'.join(signed)},Signature={sig}"
    return out


# -- verification ---------------------------------------------------------------------


class NonceCache:
    """Nonces seen in the last ``ttl_s`` seconds (thread-safe, bounded).

    A nonce must be remembered as long as a request carrying it could still pass the
    date check: until its date plus the skew, i.e. at most twice the skew from now.

    Example:
        >>> cache = NonceCache(ttl_s=60)
        >>> (cache.add("k", "n1"), cache.add("k", "n1"), cache.add("k", "n2"))
        (True, False, True)
    """

    def __init__(self, ttl_s: float, max_entries: int = MAX_NONCES,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl = ttl_s
        self._max = max_entries
        self._clock = clock
        self._seen: OrderedDict[tuple[str, str], float] = OrderedDict()
        self._lock = threading.Lock()

    def add(self, key_id: str, nonce: str) -> bool:
        """Record a nonce; False when it was already seen in the window.

        Raises:
            AuthError: the cache is full of live nonces (ServiceUnavailable), rather than
                forgetting one early and reopening a replay window.
        """
        now = self._clock()
        with self._lock:
            # Entries are kept in insertion order with one TTL, so expired ones are in front.
            while self._seen and next(iter(self._seen.values())) <= now:
                self._seen.popitem(last=False)
            key = (key_id, nonce)
            if key in self._seen:
                return False
            if len(self._seen) >= self._max:
                raise AuthError("ServiceUnavailable", "too many signed requests in the replay window")
            self._seen[key] = now + self._ttl
            return True


@dataclass(frozen=True)
class VerifiedRequest:
    """A request whose headers passed verification; its body is checked next."""

    access_key_id: str
    content_sha256: str


def _parse_authorization(value: str) -> tuple[str, str, list[str], str]:
    algorithm, _, rest = value.strip().partition(" ")
    if algorithm != ALGORITHM:
        raise AuthError("InvalidSignatureMethod",
                        f"the signature method must be {ALGORITHM}")
    parts: dict[str, str] = {}
    for item in rest.split(","):
        name, sep, val = item.strip().partition("=")
        if sep:
            parts[name.strip()] = val.strip()
    try:
        key_id, signed, sig = parts["Credential"], parts["SignedHeaders"], parts["Signature"]
    except KeyError:
        raise AuthError("IncompleteSignature",
                        "the Authorization header needs Credential, SignedHeaders and Signature") from None
    names = [n.strip().lower() for n in signed.split(";") if n.strip()]
    if not key_id or not names or not sig:
        raise AuthError("IncompleteSignature", "the Authorization header has an empty part")
    return algorithm, key_id, names, sig.lower()


class Verifier:
    """Checks ACS3-HMAC-SHA256 signed requests against the configured keys.

    Verification is split so a bad request is refused before its body is read:
    :meth:`verify_headers` checks everything in the request line and headers
    (signature included: it covers the declared body hash), :meth:`verify_body` then
    checks the body against that declared hash.

    Args:
        credentials: AccessKeyId -> AccessKeySecret.
        skew_s: how far x-acs-date may be from the server's clock.
        clock: seconds since the epoch (for tests).

    Example:
        >>> v = Verifier(Credentials({"id": "s"}))
        >>> try:
        ...     v.verify_headers("POST", "/", [], [("host", "h")])
        ... except AuthError as exc:
        ...     exc.code
        'IncompleteSignature'
    """

    def __init__(self, credentials: Credentials, skew_s: float = DEFAULT_SKEW_S,
                 clock: Callable[[], float] = time.time) -> None:
        self.credentials = credentials
        self.skew_s = skew_s
        self._clock = clock
        self._nonces = NonceCache(2 * skew_s)

    def verify_headers(self, method: str, path: str, params: Sequence[tuple[str, str]],
                       headers: Sequence[tuple[str, str]]) -> VerifiedRequest:
        """Check the Authorization header, the date, the signature and the nonce.

        Args:
            method, path: the request line (path without the query).
            params: the query, decoded, as (name, value) pairs.
            headers: every request header as received, (name, value) pairs.

        Raises:
            AuthError: with the cloud's code.
        """
        lowered: dict[str, str] = {}
        for name, value in headers:
            lowered.setdefault(name.lower(), value.strip())
        auth = lowered.get("authorization")
        if not auth:
            raise AuthError("IncompleteSignature",
                            f"this service requires requests signed with {ALGORITHM} (no Authorization header)")
        _, key_id, signed, claimed = _parse_authorization(auth)
        secret = self.credentials.get(key_id)
        if secret is None:
            raise AuthError("InvalidAccessKeyId.NotFound", "Specified access key is not found.")
        missing = [h for h in REQUIRED_SIGNED if h not in signed]
        # Every x-acs-* header the client sent must be signed, as the cloud requires.
        missing += [h for h in lowered if h.startswith("x-acs-") and h not in signed and h not in missing]
        if missing:
            raise AuthError("IncompleteSignature", f"these headers must be signed: {', '.join(sorted(missing))}")
        date = lowered.get("x-acs-date", "")
        try:
            when = calendar.timegm(time.strptime(date, DATE_FORMAT))
        except ValueError:
            raise AuthError("InvalidTimeStamp.Format",
                            "Specified time stamp or date value is not well formatted.") from None
        if abs(self._clock() - when) > self.skew_s:
            raise AuthError("InvalidTimeStamp.Expired", "Specified time stamp or date value is expired.")
        content = lowered.get("x-acs-content-sha256", "").lower()
        canon = canonical_request(method, path, params, headers, signed, content)
        expected = signature(secret, string_to_sign(canon))
        # Constant-time: a byte-by-byte comparison would leak the signature's prefix.
        if not hmac.compare_digest(expected, claimed):
            raise AuthError("SignatureDoesNotMatch", "Specified signature is not matched with our calculation.")
        nonce = lowered.get("x-acs-signature-nonce", "")
        if not nonce:
            raise AuthError("IncompleteSignature", "x-acs-signature-nonce is empty")
        # Recorded only after the signature is good, so nobody can burn others' nonces.
        if not self._nonces.add(key_id, nonce):
            raise AuthError("SignatureNonceUsed", "Specified signature nonce was used already.")
        return VerifiedRequest(access_key_id=key_id, content_sha256=content)

    @staticmethod
    def verify_body(request: VerifiedRequest, body: bytes) -> None:
        """Check the body against the signed ``x-acs-content-sha256``.

        Raises:
            AuthError: SignatureDoesNotMatch, as the cloud answers a body changed in transit.
        """
        if not hmac.compare_digest(payload_hash(body), request.content_sha256):
            raise AuthError("SignatureDoesNotMatch", "x-acs-content-sha256 does not match the request body.")
