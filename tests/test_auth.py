"""ACS3-HMAC-SHA256: our signer against the official SDK's, and every way verification fails."""

from __future__ import annotations

import json
import time

import pytest

from hkid_ocr.auth import (
    ENV_KEY_ID,
    ENV_KEY_SECRET,
    AuthError,
    Credentials,
    NonceCache,
    Verifier,
    load_credentials,
    payload_hash,
    sign_request,
)

KEY_ID, SECRET = "LTAI-test-key", "s3cr%t-value"
NOW = 1_767_323_045.0  # 2026-01-02T03:04:05Z
DATE = "2026-01-02T03:04:05Z"
HOST = "127.0.0.1:8080"


def verifier(**kw) -> Verifier:
    return Verifier(Credentials({KEY_ID: SECRET}), clock=lambda: NOW, **kw)


def signed(body: bytes = b"img", params: dict | None = None, *, secret: str = SECRET, key_id: str = KEY_ID,
           date: str = DATE, nonce: str = "nonce-1", extra: dict | None = None) -> dict[str, str]:
    headers = {"host": HOST, "x-acs-action": "RecognizeHKIdcard", "x-acs-version": "2021-07-07", **(extra or {})}
    return sign_request("POST", "/", params or {}, headers, body, key_id, secret, date=date, nonce=nonce)


def check(headers: dict[str, str], body: bytes = b"img", params: dict | None = None, v: Verifier | None = None):
    v = v or verifier()
    req = v.verify_headers("POST", "/", list((params or {}).items()), list(headers.items()))
    v.verify_body(req, body)
    return req


def code_of(fn) -> tuple[str, int]:
    with pytest.raises(AuthError) as info:
        fn()
    return info.value.code, info.value.status


def test_matches_the_official_sdk_signer():
    """Our canonical request and signature equal alibabacloud_tea_openapi's, byte for byte."""
    from alibabacloud_tea_openapi.utils import Utils
    from darabonba.request import DaraRequest

    body = b"\x89PNG fake"
    params = {"Url": "https://example.com/a b/卡~片.png?x=1&y=2"}
    headers = {"host": HOST, "x-acs-action": "RecognizeHKIdcard", "x-acs-version": "2021-07-07",
               "user-agent": "AlibabaCloud (Linux) Python/3.11", "accept": "application/json",
               "content-type": "application/octet-stream"}
    ours = sign_request("POST", "/", params, headers, body, KEY_ID, SECRET, date=DATE, nonce="abc")
    req = DaraRequest()
    req.method, req.pathname, req.query = "POST", "/", dict(params)
    req.headers = {k: v for k, v in ours.items() if k != "Authorization"}
    theirs = Utils.get_authorization(req, "ACS3-HMAC-SHA256", payload_hash(body), KEY_ID, SECRET)
    assert ours["Authorization"] == theirs
    assert check(ours, body, params).access_key_id == KEY_ID


def test_header_names_and_values_are_canonicalised():
    h = signed()
    # Header names arrive in any case and values may carry surrounding blanks.
    received = {k.upper() if k != "Authorization" else k: f" {v} " if k == "host" else v for k, v in h.items()}
    assert check(received).access_key_id == KEY_ID


@pytest.mark.parametrize("case, expected", [
    ("wrong secret", ("SignatureDoesNotMatch", 400)),
    ("unknown key", ("InvalidAccessKeyId.NotFound", 404)),
    ("no authorization", ("IncompleteSignature", 400)),
    ("other algorithm", ("InvalidSignatureMethod", 400)),
    ("malformed", ("IncompleteSignature", 400)),
    ("stale date", ("InvalidTimeStamp.Expired", 400)),
    ("future date", ("InvalidTimeStamp.Expired", 400)),
    ("bad date", ("InvalidTimeStamp.Format", 400)),
    ("tampered body", ("SignatureDoesNotMatch", 400)),
    ("tampered query", ("SignatureDoesNotMatch", 400)),
    ("tampered host", ("SignatureDoesNotMatch", 400)),
    ("unsigned x-acs header", ("IncompleteSignature", 400)),
])
def test_rejections(case, expected):
    h = signed()
    body, params = b"img", {}
    if case == "wrong secret":
        h = signed(secret="not-the-secret")
    elif case == "unknown key":
        h = signed(key_id="nobody")
    elif case == "no authorization":
        del h["Authorization"]
    elif case == "other algorithm":
        h["Authorization"] = h["Authorization"].replace("ACS3-HMAC-SHA256", "ACS3-HMAC-SM3")
    elif case == "malformed":
        h["Authorization"] = "ACS3-HMAC-SHA256 Credential=" + KEY_ID
    elif case == "stale date":
        h = signed(date=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(NOW - 16 * 60)))
    elif case == "future date":
        h = signed(date=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(NOW + 16 * 60)))
    elif case == "bad date":
        h = signed(date="Fri, 02 Jan 2026 03:04:05 GMT")
    elif case == "tampered body":
        body = b"other image"
    elif case == "tampered query":
        h = signed(params={"Url": "https://a.example/1.png"})
        params = {"Url": "https://a.example/2.png"}
    elif case == "tampered host":
        h["host"] = "evil.example:8080"
    elif case == "unsigned x-acs header":
        h["x-acs-extra"] = "1"
    assert code_of(lambda: check(h, body, params)) == expected


def test_required_headers_must_be_signed():
    # A signature over the method and path alone could be replayed with any body, anywhere.
    h = sign_request("POST", "/", {}, {"host": HOST}, b"img", KEY_ID, SECRET, date=DATE, nonce="n")
    auth = h["Authorization"].replace("SignedHeaders=host;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce",
                                      "SignedHeaders=host;x-acs-date")
    h["Authorization"] = auth
    code, _ = code_of(lambda: check(h))
    assert code == "IncompleteSignature"


def test_nonce_replay_rejected_within_window():
    v = verifier()
    h = signed(nonce="once")
    check(h, v=v)
    assert code_of(lambda: check(h, v=v)) == ("SignatureNonceUsed", 400)
    check(signed(nonce="twice"), v=v)  # a fresh nonce is fine


def test_bad_signature_does_not_burn_the_nonce():
    v = verifier()
    with pytest.raises(AuthError):
        check(signed(nonce="n", secret="wrong"), v=v)
    check(signed(nonce="n"), v=v)


def test_nonce_cache_expires_and_is_bounded():
    now = [0.0]
    cache = NonceCache(ttl_s=10, max_entries=2, clock=lambda: now[0])
    assert cache.add("k", "a") and cache.add("k", "b")
    assert code_of(lambda: cache.add("k", "c")) == ("ServiceUnavailable", 503)
    now[0] = 11.0
    assert cache.add("k", "a") and cache.add("k", "c")  # the old ones expired


def test_load_credentials_json_ini_env(tmp_path):
    j = tmp_path / "keys.json"
    j.write_text(json.dumps({"IdOne": "sec%1", "IdTwo": "sec2"}))
    creds = load_credentials(j, {})
    assert dict(creds) == {"IdOne": "sec%1", "IdTwo": "sec2"}
    ini = tmp_path / "keys.ini"
    ini.write_text("[keys]\nMixedCaseId = pa%ss=word\n")
    assert dict(load_credentials(ini, {})) == {"MixedCaseId": "pa%ss=word"}
    both = load_credentials(j, {ENV_KEY_ID: "EnvId", ENV_KEY_SECRET: "envsecret"})
    assert set(both) == {"IdOne", "IdTwo", "EnvId"}
    assert "sec" not in repr(both) and "envsecret" not in str(both)


def test_load_credentials_errors_never_show_secrets(tmp_path):
    with pytest.raises(ValueError, match="both"):
        load_credentials(None, {ENV_KEY_ID: "only-id"})
    bad = tmp_path / "bad.json"
    bad.write_text('{"id": "topsecret",')
    with pytest.raises(ValueError) as info:
        load_credentials(bad, {})
    assert "topsecret" not in str(info.value)
    with pytest.raises(ValueError, match="cannot read"):
        load_credentials(tmp_path / "missing.json", {})
    noini = tmp_path / "k.ini"
    noini.write_text("[other]\na = b\n")
    with pytest.raises(ValueError, match=r"\[keys\]"):
        load_credentials(noini, {})
