"""``mallow.security.signing``: itsdangerous' timed serializer with its keys derived once gives
the very tokens and session cookies itsdangerous gives, and reads theirs (key rotation included),
so a visitor's cookie and form token stay valid across the change and across processes."""

from __future__ import annotations

import hashlib

import pytest
from flask import Flask
from flask.sessions import SecureCookieSessionInterface
from itsdangerous import BadSignature, URLSafeTimedSerializer

from mallow.security.signing import KeptKeySerializer
from mallow.web.sessions import CookieSessionInterface

RAW = "5f1c0d3e2b4a69788796a5b4c3d2e1f00112233a"


@pytest.fixture
def frozen(monkeypatch):
    """Signatures made in the same second: both sides stamp the same time."""
    monkeypatch.setattr("itsdangerous.timed.time.time", lambda: 1_780_000_000.25)


@pytest.mark.parametrize("derivation", ["django-concat", "hmac", "concat"])
def test_the_same_token_as_itsdangerous_and_each_reads_the_other(frozen, derivation) -> None:
    options = {"salt": "wtf-csrf-token", "signer_kwargs": {"key_derivation": derivation}}
    theirs, ours = URLSafeTimedSerializer("s" * 32, **options), KeptKeySerializer("s" * 32, **options)
    for _twice in range(2):  # the second time from the kept signer and key
        assert ours.dumps(RAW) == theirs.dumps(RAW)
        assert ours.loads(theirs.dumps(RAW)) == RAW and theirs.loads(ours.dumps(RAW)) == RAW
    assert ours.dumps(RAW, salt="another") == theirs.dumps(RAW, salt="another")
    with pytest.raises(BadSignature):
        ours.loads(URLSafeTimedSerializer("t" * 32, **options).dumps(RAW))


def test_the_session_cookie_is_flasks_with_the_fallback_keys(frozen) -> None:
    app = Flask(__name__)
    app.secret_key = "new-" * 8
    app.config["SECRET_KEY_FALLBACKS"] = ["old-" * 8]
    ours = CookieSessionInterface().get_signing_serializer(app)
    flasks = SecureCookieSessionInterface().get_signing_serializer(app)
    assert isinstance(ours, KeptKeySerializer)
    session = {"csrf_token": RAW, "cart": [1, 2], "when": b"\x00bytes"}
    assert ours.dumps(session) == flasks.dumps(session)
    assert flasks.loads(ours.dumps(session)) == session

    # a cookie signed with the old key still opens; one signed with an unknown key does not
    old = Flask(__name__)
    old.secret_key = "old-" * 8
    before = SecureCookieSessionInterface().get_signing_serializer(old).dumps(session)
    assert ours.loads(before) == session
    other = Flask(__name__)
    other.secret_key = "else" * 8
    with pytest.raises(BadSignature):
        ours.loads(SecureCookieSessionInterface().get_signing_serializer(other).dumps(session))


def test_a_signer_is_made_once_per_salt_and_its_key_derived_once(monkeypatch) -> None:
    derived = []
    original = hashlib.sha1

    def counting(data=b"", **kwargs):
        derived.append(data)
        return original(data, **kwargs)

    ours = KeptKeySerializer("s" * 32, salt="wtf-csrf-token")
    assert ours.make_signer() is ours.make_signer()
    ours.dumps(RAW)
    monkeypatch.setattr("itsdangerous.signer.hashlib.sha1", counting)
    monkeypatch.setattr("itsdangerous.signer._lazy_sha1", counting)
    for _n in range(5):
        assert ours.loads(ours.dumps(RAW)) == RAW
    assert [d for d in derived if d.startswith(b"wtf-csrf-token")] == []  # no key derived again
