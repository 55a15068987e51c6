"""Throwaway WeChat Pay merchants for tests: RSA keys, APIv3 keys, serials and a
:class:`FakeMerchant` (a store's :class:`~mallow.payments.wechatpay.MerchantKeys` plus the
WeChat-side private key tests sign with), and ``paySign`` checked as WeChat's client does.

RSA-2048 key generation takes tens of milliseconds: generate keys once per test module and pass
them to :func:`make_fake_merchant`.
"""

from __future__ import annotations

import secrets
import string
from collections.abc import Mapping
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric import rsa

from mallow.payments.wechatpay.keys import MerchantKeys, private_key_to_pem, public_key_to_pem
from mallow.payments.wechatpay.signing import pay_sign_message, verify_sha256_rsa

_APIV3_ALPHABET = string.ascii_letters + string.digits


def generate_rsa_key(key_size: int = 2048) -> rsa.RSAPrivateKey:
    """A fresh RSA private key (public exponent 65537)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=key_size)


def generate_apiv3_key() -> str:
    """A random 32-character APIv3 key, as merchants set in the WeChat Pay console."""
    return "".join(secrets.choice(_APIV3_ALPHABET) for _ in range(32))


def generate_certificate_serial() -> str:
    """A 40-hex-digit certificate serial like WeChat Pay's."""
    return secrets.token_hex(20).upper()


def generate_public_key_id() -> str:
    """A WeChat Pay public-key id (``PUB_KEY_ID_`` and digits)."""
    return "PUB_KEY_ID_" + "".join(secrets.choice(string.digits) for _ in range(26))


@dataclass(frozen=True, eq=False)
class FakeMerchant:
    """A store's :class:`MerchantKeys` plus the WeChat-side private key that tests sign with."""

    keys: MerchantKeys
    platform_private_key: rsa.RSAPrivateKey
    platform_serial: str

    @property
    def merchant_public_key(self) -> rsa.RSAPublicKey:
        """What WeChat Pay verifies the store's requests and ``paySign`` with."""
        return self.keys.merchant_private_key.public_key()


def make_fake_merchant(
    *,
    mchid: str | None = None,
    appid: str | None = None,
    merchant_key: rsa.RSAPrivateKey | None = None,
    platform_key: rsa.RSAPrivateKey | None = None,
    platform_serial: str | None = None,
    apiv3_key: str | None = None,
    extra_platform_keys: Mapping[str, rsa.RSAPublicKey] | None = None,
) -> FakeMerchant:
    """A store with consistent throwaway keys. Pass pre-generated RSA keys to keep tests fast.

    ``extra_platform_keys`` adds more trusted serials (e.g. a certificate and a public-key id
    during a migration).
    """
    merchant_key = merchant_key or generate_rsa_key()
    platform_key = platform_key or generate_rsa_key()
    platform_serial = platform_serial or generate_public_key_id()
    trusted = {platform_serial: public_key_to_pem(platform_key.public_key())}
    for serial, public_key in (extra_platform_keys or {}).items():
        trusted[serial] = public_key_to_pem(public_key)
    keys = MerchantKeys(
        mchid=mchid or str(1900000000 + secrets.randbelow(99999999)),
        appid=appid or "wx" + secrets.token_hex(8),
        merchant_private_key_pem=private_key_to_pem(merchant_key),
        merchant_certificate_serial=generate_certificate_serial(),
        apiv3_key=apiv3_key or generate_apiv3_key(),
        platform_public_keys=trusted,
    )
    return FakeMerchant(keys=keys, platform_private_key=platform_key, platform_serial=platform_serial)


def verify_pay_sign(params: Mapping[str, str], merchant_public_key: rsa.RSAPublicKey) -> bool:
    """Check ``wx.requestPayment`` parameters the way WeChat's client does."""
    if params.get("signType") != "RSA":
        return False
    message = pay_sign_message(params["appId"], params["timeStamp"], params["nonceStr"], params["package"])
    return verify_sha256_rsa(merchant_public_key, message, params["paySign"])
