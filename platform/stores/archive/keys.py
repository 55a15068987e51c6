"""The operator's archive key: each personal value of an archive sealed on its own (AES-256-GCM).

A key is given as 32 bytes in urlsafe base64 (``--key-file``, ``MALLOW_ARCHIVE_KEY``; make one
with ``python -c "import base64, os; print(base64.urlsafe_b64encode(os.urandom(32)).decode())"``)
or as a passphrase (the merchant's console export), stretched with scrypt and a random salt kept
in the manifest. The manifest keeps the key's fingerprint, never the key: a wrong key is refused
before anything is read. Values are ``a1.<base64(nonce ‖ ciphertext ‖ tag)>``, bound to their
``table.column`` (associated data), so a value moved to another column does not open.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from mallow.stores.archive.errors import WrongKey

#: scrypt's cost for passphrases (2**15 × 8 × 1: about 32 MiB and 0.1 s once per archive)
SCRYPT_N = 2**15
MIN_PASSPHRASE = 10


@dataclass(frozen=True)
class ArchiveKey:
    raw: bytes
    kdf: str  # raw | scrypt
    salt: str = ""  # base64, scrypt only

    @property
    def fingerprint(self) -> str:
        """Names the key without revealing it (a hash of a value derived from it)."""
        return hashlib.sha256(self._derive(b"fingerprint")).hexdigest()[:16]

    def describe(self) -> dict:
        return {"fingerprint": self.fingerprint, "kdf": self.kdf, "salt": self.salt, "cipher": "AES-256-GCM"}

    def _derive(self, purpose: bytes) -> bytes:
        return hmac.new(self.raw, b"mallow-archive:" + purpose, hashlib.sha256).digest()

    def seal(self, value: str, where: str) -> str:
        nonce = os.urandom(12)
        sealed = AESGCM(self._derive(b"values")).encrypt(nonce, value.encode(), where.encode())
        return "a1." + base64.urlsafe_b64encode(nonce + sealed).decode()

    def open(self, token: str, where: str) -> str:
        if not isinstance(token, str) or not token.startswith("a1."):
            raise WrongKey(f"{where}: not a sealed value")
        try:
            raw = base64.urlsafe_b64decode(token[3:])
            return AESGCM(self._derive(b"values")).decrypt(raw[:12], raw[12:], where.encode()).decode()
        except (InvalidTag, binascii.Error, ValueError) as exc:
            raise WrongKey(f"{where}: the value does not open with this key") from exc

    def mac(self, data: bytes) -> str:
        """The manifest's seal: nobody without the key can change the manifest unnoticed."""
        return hmac.new(self._derive(b"manifest"), data, hashlib.sha256).hexdigest()


def from_secret(secret: str | bytes, *, kdf: str | None = None, salt: str = "") -> ArchiveKey:
    """A key from the operator's secret (a key file's content or ``MALLOW_ARCHIVE_KEY``): 32 bytes
    in urlsafe base64 are the key itself; anything else is a passphrase (scrypt). ``kdf`` and
    ``salt`` come from an archive's manifest when opening one."""
    text = (secret.decode() if isinstance(secret, bytes) else secret or "").strip()
    if not text:
        raise WrongKey("no archive key given")
    if kdf in (None, "raw"):
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        except (binascii.Error, ValueError):
            raw = b""
        if len(raw) == 32:
            return ArchiveKey(raw, "raw")
        if kdf == "raw":
            raise WrongKey("the archive was made with a 32-byte key: this is not one")
    return passphrase_key(text, salt=salt)


def passphrase_key(passphrase: str, *, salt: str = "") -> ArchiveKey:
    if len(passphrase) < MIN_PASSPHRASE:
        raise WrongKey(f"a passphrase has at least {MIN_PASSPHRASE} characters")
    salt_bytes = base64.urlsafe_b64decode(salt) if salt else os.urandom(16)
    raw = Scrypt(salt=salt_bytes, length=32, n=SCRYPT_N, r=8, p=1).derive(passphrase.encode())
    return ArchiveKey(raw, "scrypt", base64.urlsafe_b64encode(salt_bytes).decode())


def new_key_text() -> str:
    """A fresh 32-byte key, as a key file holds it."""
    return base64.urlsafe_b64encode(os.urandom(32)).decode()
