"""Field encryption without setting the key up on every call (``security/crypto.py``): each app
keeps one ``AESGCM`` of its key, made with the keys, and its app context is read directly. The
ciphertexts are unchanged (``v1.<key id>.<base64(nonce ‖ ciphertext ‖ tag)>``, the key id as the
associated data), every encryption still draws its own nonce, and a token of another key is
still refused."""

from __future__ import annotations

import base64
import hashlib
import os

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from flask import Flask

from mallow.security import crypto


def _app(secret: str = "a secret key", data_key: str | None = None) -> Flask:
    app = Flask(__name__)
    app.config.update(SECRET_KEY=secret, MALLOW_DATA_KEY=data_key)
    return app


def _key_id_and_key(root: bytes) -> tuple[str, bytes]:
    """What the module's documentation promises: the key id and the HKDF-derived key."""
    return hashlib.sha256(root).hexdigest()[:8], crypto._derive(root, b"field-encryption")


def test_one_cipher_object_serves_every_call_of_an_app(monkeypatch):
    made = []

    def counting(key):
        made.append(key)
        return AESGCM(key)

    monkeypatch.setattr(crypto, "AESGCM", counting)
    with _app().app_context():
        tokens = [crypto.encrypt(f"张三 {n}") for n in range(5)]
        assert [crypto.decrypt(t) for t in tokens] == [f"张三 {n}" for n in range(5)]
    with _app().app_context():  # another app: its own keys
        crypto.decrypt(crypto.encrypt("x"))
    assert len(made) == 2


def test_every_encryption_draws_a_fresh_nonce():
    with _app().app_context():
        tokens = [crypto.encrypt("13812345678") for _ in range(50)]
    nonces = {base64.urlsafe_b64decode(t.split(".", 2)[2])[:12] for t in tokens}
    assert len(set(tokens)) == len(nonces) == 50


def test_the_format_is_read_both_ways():
    """A token sealed by hand as the format says is read, and one the module writes opens by hand."""
    key_id, key = _key_id_and_key(b"a secret key")
    nonce = os.urandom(12)
    by_hand = f"v1.{key_id}.{base64.urlsafe_b64encode(nonce + AESGCM(key).encrypt(nonce, '上海 1号'.encode(), key_id.encode())).decode()}"
    with _app().app_context():
        assert crypto.decrypt(by_hand) == "上海 1号"
        written = crypto.encrypt("浦东新区")
    version, written_id, payload = written.split(".", 2)
    raw = base64.urlsafe_b64decode(payload)
    assert (version, written_id) == ("v1", key_id)
    assert AESGCM(key).decrypt(raw[:12], raw[12:], key_id.encode()).decode() == "浦东新区"


def test_a_configured_data_key_is_used():
    root = os.urandom(32)
    configured = base64.urlsafe_b64encode(root).decode()
    key_id, key = _key_id_and_key(root)
    with _app(data_key=configured).app_context():
        token = crypto.encrypt("detail")
    raw = base64.urlsafe_b64decode(token.split(".", 2)[2])
    assert token.startswith(f"v1.{key_id}.")
    assert AESGCM(key).decrypt(raw[:12], raw[12:], key_id.encode()) == b"detail"


def test_a_token_of_another_key_or_version_is_refused():
    with _app("one key").app_context():
        token = crypto.encrypt("secret")
        digest = crypto.digest("secret")
    with _app("another key").app_context():
        with pytest.raises(ValueError, match="unknown encryption key"):
            crypto.decrypt(token)
        assert crypto.digest("secret") != digest
    with _app("one key").app_context():
        assert crypto.decrypt(token) == "secret"
        assert crypto.digest("secret") == digest
        with pytest.raises(ValueError, match="unknown encryption key"):
            crypto.decrypt("v2" + token[2:])


def test_a_tampered_token_is_refused():
    from cryptography.exceptions import InvalidTag

    with _app().app_context():
        token = crypto.encrypt("secret")
        raw = bytearray(base64.urlsafe_b64decode(token.split(".", 2)[2]))
        raw[-1] ^= 1
        with pytest.raises(InvalidTag):
            crypto.decrypt(token.rsplit(".", 1)[0] + "." + base64.urlsafe_b64encode(bytes(raw)).decode())


def test_outside_an_app_context_it_refuses_as_before():
    with pytest.raises(RuntimeError):
        crypto.encrypt("x")
    with pytest.raises(RuntimeError):
        crypto.digest("x")
