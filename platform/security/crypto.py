"""Encryption of personal data at rest (AES-256-GCM) and keyed digests for equality lookups.

Ciphertexts are ``v1.<key id>.<base64(nonce ‖ ciphertext ‖ tag)>``: the key id travels with
the data so keys can be rotated. The key comes from ``MALLOW_DATA_KEY`` (32 bytes, urlsafe
base64) or, by default, is derived from ``SECRET_KEY`` with HKDF.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app


def _derive(secret: bytes, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=b"mallow", info=purpose).derive(secret)


def _keys() -> tuple[str, bytes, bytes]:
    cache = current_app.extensions.setdefault("mallow.crypto", {})
    if not cache:
        configured = current_app.config.get("MALLOW_DATA_KEY")
        root = base64.urlsafe_b64decode(configured) if configured else current_app.config["SECRET_KEY"].encode()
        key_id = hashlib.sha256(root).hexdigest()[:8]
        cache.update(key_id=key_id, enc=_derive(root, b"field-encryption"), mac=_derive(root, b"lookup-digest"))
    return cache["key_id"], cache["enc"], cache["mac"]


def encrypt(plaintext: str) -> str:
    key_id, key, _ = _keys()
    nonce = os.urandom(12)
    sealed = AESGCM(key).encrypt(nonce, plaintext.encode(), key_id.encode())
    return f"v1.{key_id}.{base64.urlsafe_b64encode(nonce + sealed).decode()}"


def decrypt(token: str) -> str:
    version, key_id, payload = token.split(".", 2)
    current_id, key, _ = _keys()
    if version != "v1" or key_id != current_id:
        raise ValueError("unknown encryption key")
    raw = base64.urlsafe_b64decode(payload)
    return AESGCM(key).decrypt(raw[:12], raw[12:], key_id.encode()).decode()


def digest(value: str) -> str:
    """Keyed hash of a normalised value, for unique indexes and lookups without plaintext."""
    _, _, mac = _keys()
    return hmac.new(mac, value.encode(), hashlib.sha256).hexdigest()


def mask(value: str, keep_start: int = 3, keep_end: int = 4) -> str:
    """``13812345678`` → ``138****5678``; short values keep less."""
    if len(value) <= keep_start + keep_end:
        return value[:1] + "*" * max(len(value) - 1, 0)
    return value[:keep_start] + "*" * (len(value) - keep_start - keep_end) + value[-keep_end:]


def mask_email(value: str) -> str:
    name, _, domain = value.partition("@")
    return (name[:1] + "***@" + domain) if domain else mask(value)
