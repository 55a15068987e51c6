"""Per-store WeChat Pay key material, and PEM loading helpers built on ``cryptography``.

One :class:`MerchantKeys` per store. It holds secrets (the merchant private key and the APIv3
key): its ``repr`` leaves them out, and nothing in this package logs them. Storing them encrypted
at rest is the caller's job.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

PemData = str | bytes

#: WeChat Pay v3 uses RSA-2048; smaller keys are refused.
MIN_RSA_KEY_BITS = 2048
#: The APIv3 key is a 32-character string whose bytes are the AES-256-GCM key.
APIV3_KEY_LENGTH = 32

_MCHID_RE = re.compile(r"[0-9A-Za-z_-]{1,32}")
_APPID_RE = re.compile(r"[0-9A-Za-z_-]{1,32}")
# Certificate serials are hex; WeChat Pay public-key ids look like ``PUB_KEY_ID_0114...``.
_SERIAL_RE = re.compile(r"[0-9A-Za-z_]{1,64}")


def _pem_bytes(pem: PemData) -> bytes:
    if isinstance(pem, str):
        return pem.encode("ascii")
    if isinstance(pem, bytes | bytearray | memoryview):
        return bytes(pem)
    raise TypeError(f"PEM data must be str or bytes, not {type(pem).__name__}")


def _require_rsa_size(key: rsa.RSAPrivateKey | rsa.RSAPublicKey, what: str) -> None:
    if key.key_size < MIN_RSA_KEY_BITS:
        raise ValueError(f"{what} is RSA-{key.key_size}; at least RSA-{MIN_RSA_KEY_BITS} is required")


def load_merchant_private_key(pem: PemData, password: bytes | None = None) -> rsa.RSAPrivateKey:
    """Load the merchant's API private key (``apiclient_key.pem``, PKCS#8 or PKCS#1)."""
    key = serialization.load_pem_private_key(_pem_bytes(pem), password=password)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("the merchant private key must be an RSA key")
    _require_rsa_size(key, "the merchant private key")
    return key


def load_platform_public_key(pem: PemData) -> rsa.RSAPublicKey:
    """Load a WeChat Pay platform public key, from a ``PUBLIC KEY`` or a ``CERTIFICATE`` PEM.

    Certificates are accepted because stores migrating from platform certificates to WeChat Pay
    public keys hold both kinds; only the public key inside is used (no chain validation: the trust
    decision is which PEMs the operator put into the store's map).
    """
    data = _pem_bytes(pem)
    if b"-----BEGIN CERTIFICATE-----" in data:
        key = x509.load_pem_x509_certificate(data).public_key()
    else:
        key = serialization.load_pem_public_key(data)
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError("a WeChat Pay platform key must be an RSA key")
    _require_rsa_size(key, "the platform public key")
    return key


def certificate_serial(pem: PemData) -> str:
    """The serial number of a PEM certificate as WeChat Pay writes it (upper-case hex)."""
    return format(x509.load_pem_x509_certificate(_pem_bytes(pem)).serial_number, "X")


def private_key_to_pem(key: rsa.RSAPrivateKey) -> str:
    """Serialise a private key as unencrypted PKCS#8 PEM (for storage the caller encrypts)."""
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode("ascii")


def public_key_to_pem(key: rsa.RSAPublicKey) -> str:
    """Serialise a public key as SubjectPublicKeyInfo PEM."""
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode("ascii")


@dataclass(frozen=True, eq=False)
class MerchantKeys:
    """Everything one store needs to talk to WeChat Pay v3.

    ``platform_public_keys`` maps a ``Wechatpay-Serial`` value (a platform certificate serial or a
    ``PUB_KEY_ID_…`` public-key id) to the PEM that verifies messages carrying that serial. It is
    the only place verification looks for a key: an unknown serial is rejected.

    Every PEM is parsed at construction, so a broken key fails when the store is configured rather
    than when the first payment arrives.
    """

    mchid: str
    appid: str
    merchant_private_key_pem: PemData = field(repr=False)
    merchant_certificate_serial: str
    apiv3_key: str = field(repr=False)
    platform_public_keys: Mapping[str, PemData] = field(repr=False)

    _merchant_private_key: rsa.RSAPrivateKey = field(init=False, repr=False)
    _platform_keys: Mapping[str, rsa.RSAPublicKey] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.mchid, str) or not _MCHID_RE.fullmatch(self.mchid):
            raise ValueError("mchid must be 1-32 characters of [0-9A-Za-z_-]")
        if not isinstance(self.appid, str) or not _APPID_RE.fullmatch(self.appid):
            raise ValueError("appid must be 1-32 characters of [0-9A-Za-z_-]")
        if not isinstance(self.merchant_certificate_serial, str) or not _SERIAL_RE.fullmatch(
            self.merchant_certificate_serial
        ):
            raise ValueError("merchant_certificate_serial must be 1-64 characters of [0-9A-Za-z_]")
        if not isinstance(self.apiv3_key, str) or len(self.apiv3_key.encode("utf-8")) != APIV3_KEY_LENGTH:
            raise ValueError(f"the APIv3 key must be a {APIV3_KEY_LENGTH}-byte string")
        if not self.platform_public_keys:
            raise ValueError("at least one WeChat Pay platform public key is required")
        loaded: dict[str, rsa.RSAPublicKey] = {}
        pems: dict[str, PemData] = {}
        for serial, pem in self.platform_public_keys.items():
            if not isinstance(serial, str) or not _SERIAL_RE.fullmatch(serial):
                raise ValueError("platform key serials must be 1-64 characters of [0-9A-Za-z_]")
            loaded[serial] = load_platform_public_key(pem)
            pems[serial] = pem
        object.__setattr__(self, "platform_public_keys", MappingProxyType(pems))
        object.__setattr__(self, "_platform_keys", MappingProxyType(loaded))
        object.__setattr__(self, "_merchant_private_key", load_merchant_private_key(self.merchant_private_key_pem))

    @property
    def merchant_private_key(self) -> rsa.RSAPrivateKey:
        """The loaded merchant private key (signs requests and ``paySign``)."""
        return self._merchant_private_key

    @property
    def apiv3_key_bytes(self) -> bytes:
        """The 32 bytes of the APIv3 key: the AES-256-GCM key of notification resources."""
        return self.apiv3_key.encode("utf-8")

    @property
    def platform_serials(self) -> frozenset[str]:
        """The serials / public-key ids this store trusts."""
        return frozenset(self._platform_keys)

    def platform_public_key(self, serial: str) -> rsa.RSAPublicKey | None:
        """The trusted platform key for ``serial``, or ``None``: never a fallback to another key."""
        return self._platform_keys.get(serial)
