"""Messages forged the way WeChat Pay builds them, for tests: signed headers, encrypted resources and
whole notifications (a payment's or a refund's, for a :class:`~.merchants.FakeMerchant`).

These helpers hold the *platform* side of the protocol (WeChat's private key, encryption with the
APIv3 key). They exist for tests and for the fake server; production code never signs as WeChat.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import string
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from mallow.payments.wechatpay.keys import MerchantKeys
from mallow.payments.wechatpay.signing import SIGNATURE_SCHEME, generate_nonce, response_message, sign_sha256_rsa

from .merchants import FakeMerchant

CHINA_STANDARD_TIME = timezone(timedelta(hours=8))
_NONCE_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


@dataclass(frozen=True)
class SignedNotification:
    """A notification as WeChat Pay would POST it: raw body bytes and headers."""

    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    notify_url: str | None = None


def rfc3339_now(clock: float | None = None) -> str:
    """The current time in Beijing time, RFC 3339, as WeChat Pay writes times."""
    moment = datetime.fromtimestamp(time.time() if clock is None else clock, CHINA_STANDARD_TIME)
    return moment.isoformat(timespec="seconds")


def sign_headers(
    platform_private_key: rsa.RSAPrivateKey,
    serial: str,
    body: bytes,
    *,
    timestamp: int | str | None = None,
    nonce: str | None = None,
    signature_type: str | None = SIGNATURE_SCHEME,
) -> dict[str, str]:
    """The ``Wechatpay-*`` headers of a response or notification signed with a platform key."""
    timestamp_text = str(int(time.time()) if timestamp is None else timestamp)
    nonce = generate_nonce() if nonce is None else nonce
    headers = {
        "Wechatpay-Timestamp": timestamp_text,
        "Wechatpay-Nonce": nonce,
        "Wechatpay-Signature": sign_sha256_rsa(platform_private_key, response_message(timestamp_text, nonce, body)),
        "Wechatpay-Serial": serial,
    }
    if signature_type is not None:
        headers["Wechatpay-Signature-Type"] = signature_type
    return headers


#: Same thing, named for what tests use it for.
sign_notification = sign_headers


def encrypt_resource(
    apiv3_key: str | bytes,
    plaintext: Mapping[str, Any] | bytes | str,
    *,
    associated_data: str = "transaction",
    nonce: str | None = None,
    original_type: str = "transaction",
) -> dict[str, str]:
    """An ``encrypt-resource`` object: AES-256-GCM of ``plaintext`` with the APIv3 key."""
    key = apiv3_key.encode("utf-8") if isinstance(apiv3_key, str) else apiv3_key
    if isinstance(plaintext, Mapping):
        data = json.dumps(plaintext, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    elif isinstance(plaintext, str):
        data = plaintext.encode("utf-8")
    else:
        data = bytes(plaintext)
    if nonce is None:
        nonce = "".join(_NONCE_CHARS[b % len(_NONCE_CHARS)] for b in os.urandom(12))
    ciphertext = AESGCM(key).encrypt(nonce.encode("utf-8"), data, associated_data.encode("utf-8"))
    return {
        "algorithm": "AEAD_AES_256_GCM",
        "ciphertext": base64.b64encode(ciphertext).decode("ascii"),
        "associated_data": associated_data,
        "original_type": original_type,
        "nonce": nonce,
    }


def notification_body(
    event_type: str,
    resource: Mapping[str, Any],
    *,
    notification_id: str | None = None,
    create_time: str | None = None,
    summary: str | None = None,
    resource_type: str = "encrypt-resource",
) -> bytes:
    """The JSON envelope of a notification, serialised as WeChat Pay sends it."""
    envelope = {
        "id": notification_id or str(uuid.uuid4()),
        "create_time": create_time or rfc3339_now(),
        "resource_type": resource_type,
        "event_type": event_type,
        "summary": summary or ("支付成功" if event_type.startswith("TRANSACTION.") else "退款状态变更"),
        "resource": dict(resource),
    }
    return json.dumps(envelope, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def build_notification(
    *,
    apiv3_key: str | bytes,
    platform_private_key: rsa.RSAPrivateKey,
    platform_serial: str,
    event_type: str,
    payload: Mapping[str, Any],
    timestamp: int | None = None,
    nonce: str | None = None,
    notify_url: str | None = None,
) -> SignedNotification:
    """Encrypt ``payload``, wrap it in an envelope and sign it: a notification WeChat would send."""
    original_type = "transaction" if event_type.startswith("TRANSACTION.") else "refund"
    resource = encrypt_resource(apiv3_key, payload, associated_data=original_type, original_type=original_type)
    body = notification_body(event_type, resource)
    headers = sign_headers(platform_private_key, platform_serial, body, timestamp=timestamp, nonce=nonce)
    return SignedNotification(body=body, headers=headers, notify_url=notify_url)


def transaction_resource(
    keys: MerchantKeys,
    out_trade_no: str,
    total_fen: int,
    *,
    trade_state: str = "SUCCESS",
    transaction_id: str | None = None,
    payer_openid: str = "o-test-payer-openid",
    currency: str = "CNY",
    **overrides: Any,
) -> dict[str, Any]:
    """The decrypted resource of a payment notification (a transaction object)."""
    resource: dict[str, Any] = {
        "mchid": keys.mchid,
        "appid": keys.appid,
        "out_trade_no": out_trade_no,
        "transaction_id": transaction_id or "4200" + "".join(secrets.choice(string.digits) for _ in range(24)),
        "trade_type": "JSAPI",
        "trade_state": trade_state,
        "trade_state_desc": "支付成功",
        "bank_type": "OTHERS",
        "success_time": rfc3339_now(),
        "payer": {"openid": payer_openid},
        "amount": {"total": total_fen, "payer_total": total_fen, "currency": currency, "payer_currency": currency},
    }
    resource.update(overrides)
    return resource


def refund_resource(
    keys: MerchantKeys,
    out_trade_no: str,
    out_refund_no: str,
    refund_fen: int,
    total_fen: int,
    *,
    refund_status: str = "SUCCESS",
    refund_id: str | None = None,
    transaction_id: str | None = None,
    **overrides: Any,
) -> dict[str, Any]:
    """The decrypted resource of a refund notification."""
    resource: dict[str, Any] = {
        "mchid": keys.mchid,
        "out_trade_no": out_trade_no,
        "transaction_id": transaction_id or "4200" + "".join(secrets.choice(string.digits) for _ in range(24)),
        "out_refund_no": out_refund_no,
        "refund_id": refund_id or f"50{uuid.uuid4().int % 10**30:030d}",
        "refund_status": refund_status,
        "success_time": rfc3339_now(),
        "user_received_account": "支付用户零钱",
        "amount": {"total": total_fen, "refund": refund_fen, "payer_total": total_fen, "payer_refund": refund_fen},
    }
    resource.update(overrides)
    return resource


def payment_notification(
    merchant: FakeMerchant,
    out_trade_no: str,
    total_fen: int,
    *,
    timestamp: int | None = None,
    nonce: str | None = None,
    **resource_fields: Any,
) -> SignedNotification:
    """A valid ``TRANSACTION.SUCCESS`` notification for this store, signed and encrypted."""
    return build_notification(
        apiv3_key=merchant.keys.apiv3_key,
        platform_private_key=merchant.platform_private_key,
        platform_serial=merchant.platform_serial,
        event_type="TRANSACTION.SUCCESS",
        payload=transaction_resource(merchant.keys, out_trade_no, total_fen, **resource_fields),
        timestamp=timestamp,
        nonce=nonce,
    )


def refund_notification(
    merchant: FakeMerchant,
    out_trade_no: str,
    out_refund_no: str,
    refund_fen: int,
    total_fen: int,
    *,
    refund_status: str = "SUCCESS",
    timestamp: int | None = None,
    **resource_fields: Any,
) -> SignedNotification:
    """A valid ``REFUND.<refund_status>`` notification for this store."""
    payload = refund_resource(
        merchant.keys,
        out_trade_no,
        out_refund_no,
        refund_fen,
        total_fen,
        refund_status=refund_status,
        **resource_fields,
    )
    return build_notification(
        apiv3_key=merchant.keys.apiv3_key,
        platform_private_key=merchant.platform_private_key,
        platform_serial=merchant.platform_serial,
        event_type=f"REFUND.{refund_status}",
        payload=payload,
        timestamp=timestamp,
    )
