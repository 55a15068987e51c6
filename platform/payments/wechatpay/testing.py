"""Test support for WeChat Pay (shipped, so the app's and plugins' tests can use it).

Generate throwaway keys, forge notifications exactly as WeChat Pay would, and run a local fake of
the API::

    merchant = make_fake_merchant()
    note = payment_notification(merchant, "ORDER123456", 1999)
    parse_notification(note.body, note.headers, merchant.keys)       # verifies and decrypts

    with FakeWeChatPayServer() as server:
        server.add_fake_merchant(merchant)                          # or server.add_merchant(...)
        client = WeChatPayClient(merchant.keys, base_url=server.base_url)

RSA-2048 key generation takes tens of milliseconds: generate keys once per test module and pass
them to :func:`make_fake_merchant`.
"""
from __future__ import annotations

import secrets
import string
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa

from .fakeserver import FakeWeChatPayServer, RecordedRequest
from .forging import (SignedNotification, build_notification, encrypt_resource, notification_body, rfc3339_now,
                      sign_headers, sign_notification)
from .keys import MerchantKeys, private_key_to_pem, public_key_to_pem
from .signing import pay_sign_message, verify_sha256_rsa

__all__ = [
    "FakeMerchant", "FakeWeChatPayServer", "RecordedRequest", "SignedNotification", "build_notification",
    "encrypt_resource", "generate_apiv3_key", "generate_certificate_serial", "generate_public_key_id",
    "generate_rsa_key", "make_fake_merchant", "notification_body", "payment_notification", "refund_notification",
    "refund_resource", "rfc3339_now", "sign_headers", "sign_notification", "transaction_resource",
    "verify_pay_sign",
]

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


def make_fake_merchant(*, mchid: str | None = None, appid: str | None = None,
                       merchant_key: rsa.RSAPrivateKey | None = None, platform_key: rsa.RSAPrivateKey | None = None,
                       platform_serial: str | None = None, apiv3_key: str | None = None,
                       extra_platform_keys: Mapping[str, rsa.RSAPublicKey] | None = None) -> FakeMerchant:
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


def transaction_resource(keys: MerchantKeys, out_trade_no: str, total_fen: int, *, trade_state: str = "SUCCESS",
                         transaction_id: str | None = None, payer_openid: str = "o-test-payer-openid",
                         currency: str = "CNY", **overrides: Any) -> dict[str, Any]:
    """The decrypted resource of a payment notification (a transaction object)."""
    resource: dict[str, Any] = {
        "mchid": keys.mchid, "appid": keys.appid, "out_trade_no": out_trade_no,
        "transaction_id": transaction_id or "4200" + "".join(secrets.choice(string.digits) for _ in range(24)),
        "trade_type": "JSAPI", "trade_state": trade_state, "trade_state_desc": "支付成功",
        "bank_type": "OTHERS", "success_time": rfc3339_now(),
        "payer": {"openid": payer_openid},
        "amount": {"total": total_fen, "payer_total": total_fen, "currency": currency, "payer_currency": currency},
    }
    resource.update(overrides)
    return resource


def refund_resource(keys: MerchantKeys, out_trade_no: str, out_refund_no: str, refund_fen: int, total_fen: int, *,
                    refund_status: str = "SUCCESS", refund_id: str | None = None,
                    transaction_id: str | None = None, **overrides: Any) -> dict[str, Any]:
    """The decrypted resource of a refund notification."""
    resource: dict[str, Any] = {
        "mchid": keys.mchid, "out_trade_no": out_trade_no,
        "transaction_id": transaction_id or "4200" + "".join(secrets.choice(string.digits) for _ in range(24)),
        "out_refund_no": out_refund_no, "refund_id": refund_id or f"50{uuid.uuid4().int % 10**30:030d}",
        "refund_status": refund_status, "success_time": rfc3339_now(), "user_received_account": "支付用户零钱",
        "amount": {"total": total_fen, "refund": refund_fen, "payer_total": total_fen, "payer_refund": refund_fen},
    }
    resource.update(overrides)
    return resource


def payment_notification(merchant: FakeMerchant, out_trade_no: str, total_fen: int, *,
                         timestamp: int | None = None, nonce: str | None = None,
                         **resource_fields: Any) -> SignedNotification:
    """A valid ``TRANSACTION.SUCCESS`` notification for this store, signed and encrypted."""
    return build_notification(apiv3_key=merchant.keys.apiv3_key, platform_private_key=merchant.platform_private_key,
                              platform_serial=merchant.platform_serial, event_type="TRANSACTION.SUCCESS",
                              payload=transaction_resource(merchant.keys, out_trade_no, total_fen, **resource_fields),
                              timestamp=timestamp, nonce=nonce)


def refund_notification(merchant: FakeMerchant, out_trade_no: str, out_refund_no: str, refund_fen: int,
                        total_fen: int, *, refund_status: str = "SUCCESS", timestamp: int | None = None,
                        **resource_fields: Any) -> SignedNotification:
    """A valid ``REFUND.<refund_status>`` notification for this store."""
    payload = refund_resource(merchant.keys, out_trade_no, out_refund_no, refund_fen, total_fen,
                              refund_status=refund_status, **resource_fields)
    return build_notification(apiv3_key=merchant.keys.apiv3_key, platform_private_key=merchant.platform_private_key,
                              platform_serial=merchant.platform_serial, event_type=f"REFUND.{refund_status}",
                              payload=payload, timestamp=timestamp)


def verify_pay_sign(params: Mapping[str, str], merchant_public_key: rsa.RSAPublicKey) -> bool:
    """Check ``wx.requestPayment`` parameters the way WeChat's client does."""
    if params.get("signType") != "RSA":
        return False
    message = pay_sign_message(params["appId"], params["timeStamp"], params["nonceStr"], params["package"])
    return verify_sha256_rsa(merchant_public_key, message, params["paySign"])
