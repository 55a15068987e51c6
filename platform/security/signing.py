"""itsdangerous' URL-safe timed serializer with its keys derived once, not on every signature.

Every ``dumps`` of :class:`itsdangerous.URLSafeTimedSerializer` makes a new signer and derives its
key again (an HMAC or a hash of the salt and the secret), then keys a new HMAC object for the
signature; every ``loads`` derives each candidate key again. An anonymous visitor's kept page pays
two signatures (its session cookie and its CSRF token): 59 µs of a request that otherwise costs
~200 µs in-process. :class:`KeptKeySerializer` makes one signer per salt and that signer derives
each key once and signs with a copy of an HMAC object already keyed with it; the tokens, cookies
and checks are byte for byte itsdangerous' own (``tests/security/test_signing.py``), the key
rotation (fallback secrets, newest last) included.
"""

from __future__ import annotations

import hmac

from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from itsdangerous.encoding import base64_encode, want_bytes


class KeptKeySigner(TimestampSigner):
    """A :class:`~itsdangerous.TimestampSigner` that derives each secret's key once (a signer's
    salt, derivation and digest are fixed for its life) and keeps an HMAC keyed with it."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._derived: dict[bytes, bytes] = {}
        self._keyed: dict[bytes, object] = {}

    def derive_key(self, secret_key: str | bytes | None = None) -> bytes:
        secret = self.secret_keys[-1] if secret_key is None else want_bytes(secret_key)
        key = self._derived.get(secret)
        if key is None:
            key = self._derived[secret] = super().derive_key(secret)
        return key

    def get_signature(self, value: str | bytes) -> bytes:
        key = self.derive_key()
        keyed = self._keyed.get(key)
        if keyed is None:
            if not hasattr(self.algorithm, "digest_method"):  # not an HMAC: as itsdangerous signs
                return super().get_signature(value)
            keyed = self._keyed[key] = hmac.new(key, digestmod=self.algorithm.digest_method)
        mac = keyed.copy()  # type: ignore[attr-defined]
        mac.update(want_bytes(value))
        return base64_encode(mac.digest())


class KeptKeySerializer(URLSafeTimedSerializer):
    """:class:`~itsdangerous.URLSafeTimedSerializer` with one :class:`KeptKeySigner` per salt.
    Keep the serializer (per secret) for its signers to be kept."""

    default_signer = KeptKeySigner

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._signers: dict[bytes | str | None, TimestampSigner] = {}

    def make_signer(self, salt: str | bytes | None = None) -> TimestampSigner:
        salt = self.salt if salt is None else salt  # (loads asks with the salt, dumps with None)
        signer = self._signers.get(salt)
        if signer is None:
            signer = super().make_signer(salt)
            if len(self._signers) < 64:  # a few salts per serializer; never a growing set
                self._signers[salt] = signer
        return signer  # type: ignore[return-value]
