"""Verify, decrypt and check WeChat Pay v3 notifications (payment and refund results).

Use from a webhook that resolved the store from its URL path (never from the body)::

    try:
        note = parse_notification(request.get_data(), request.headers, store_keys)
        if isinstance(note, PaymentNotification):
            check_payment(note, store_keys, order.out_trade_no, order.total_fen)
    except NotificationRejected as exc:
        log(exc.reason_code, exc.message)
        return failure_body("rejected"), 400
    ... persist idempotently (unique transaction_id), enqueue, answer 204 within 5 s ...

A replayed valid notification passes every check here: deduplicate in the database.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from .errors import NotificationRejected, RejectionReason, shorten
from .keys import MerchantKeys
from .models import PayloadError, Refund, Transaction, refund_fields, transaction_fields
from .verification import Clock, HeadersLike, verify_wechatpay_signature

RESOURCE_TYPE = "encrypt-resource"
RESOURCE_ALGORITHM = "AEAD_AES_256_GCM"
GCM_NONCE_BYTES = 12
GCM_TAG_BYTES = 16
PAYMENT_EVENT_PREFIX = "TRANSACTION."
REFUND_EVENT_TYPES = frozenset({"REFUND.SUCCESS", "REFUND.ABNORMAL", "REFUND.CLOSED"})
#: The currency every Mallow order is priced in.
CURRENCY = "CNY"


@dataclass(frozen=True, kw_only=True)
class PaymentNotification(Transaction):
    """A verified, decrypted ``TRANSACTION.*`` notification. ``raw`` is the decrypted resource."""

    event_type: str
    notification_id: str | None = None
    create_time: str | None = None
    summary: str | None = None


@dataclass(frozen=True, kw_only=True)
class RefundNotification(Refund):
    """A verified, decrypted ``REFUND.SUCCESS|ABNORMAL|CLOSED`` notification."""

    event_type: str
    notification_id: str | None = None
    summary: str | None = None


def _reject(reason: RejectionReason, message: str) -> NotificationRejected:
    return NotificationRejected(reason, message)


def decrypt_resource(resource: Any, apiv3_key: bytes | str) -> bytes:
    """Decrypt an ``encrypt-resource`` object with AES-256-GCM; the plaintext bytes.

    Key = the 32 bytes of the APIv3 key, nonce = ``resource.nonce`` as UTF-8 (12 bytes), associated
    data = ``resource.associated_data`` as UTF-8 (may be empty), ciphertext = base64 of
    ``resource.ciphertext`` whose last 16 bytes are the GCM tag.
    """
    key = apiv3_key.encode("utf-8") if isinstance(apiv3_key, str) else bytes(apiv3_key)
    if len(key) != 32:
        raise ValueError("the APIv3 key must be 32 bytes")
    if not isinstance(resource, Mapping):
        raise _reject(RejectionReason.BAD_RESOURCE, "resource must be a JSON object")
    algorithm = resource.get("algorithm")
    if algorithm != RESOURCE_ALGORITHM:
        raise _reject(RejectionReason.BAD_ALGORITHM, f"unsupported algorithm {shorten(algorithm)}")
    nonce, associated_data, ciphertext_b64 = (
        resource.get("nonce"),
        resource.get("associated_data", ""),
        resource.get("ciphertext"),
    )
    if associated_data is None:
        associated_data = ""
    if not isinstance(nonce, str) or not isinstance(associated_data, str) or not isinstance(ciphertext_b64, str):
        raise _reject(RejectionReason.BAD_RESOURCE, "nonce, associated_data and ciphertext must be strings")
    try:
        nonce_bytes, aad_bytes = nonce.encode("utf-8"), associated_data.encode("utf-8")
    except UnicodeError as exc:
        raise _reject(RejectionReason.BAD_RESOURCE, "nonce or associated_data is not valid text") from exc
    if len(nonce_bytes) != GCM_NONCE_BYTES:
        raise _reject(RejectionReason.BAD_RESOURCE, f"the nonce must be {GCM_NONCE_BYTES} bytes")
    try:
        ciphertext = base64.b64decode(ciphertext_b64.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeError, ValueError) as exc:
        raise _reject(RejectionReason.BAD_CIPHERTEXT, "the ciphertext is not valid base64") from exc
    if len(ciphertext) <= GCM_TAG_BYTES:
        raise _reject(RejectionReason.BAD_CIPHERTEXT, "the ciphertext is too short to hold the GCM tag")
    try:
        return AESGCM(key).decrypt(nonce_bytes, ciphertext, aad_bytes)
    except InvalidTag as exc:
        raise _reject(
            RejectionReason.DECRYPT_FAILED, "AES-GCM authentication failed (tampered data or another APIv3 key)"
        ) from exc
    except Exception as exc:  # noqa: BLE001 -- fail closed
        raise _reject(RejectionReason.DECRYPT_FAILED, "the resource could not be decrypted") from exc


def _json_object(data: bytes, reason: RejectionReason, what: str) -> dict[str, Any]:
    try:
        value = json.loads(data.decode("utf-8"))
    except (UnicodeError, ValueError) as exc:
        raise _reject(reason, f"{what} is not UTF-8 JSON") from exc
    if not isinstance(value, dict):
        raise _reject(reason, f"{what} is not a JSON object")
    return value


def _optional_str(envelope: Mapping[str, Any], name: str) -> str | None:
    value = envelope.get(name)
    return value if isinstance(value, str) else None


def parse_notification(
    body: bytes, headers: HeadersLike, keys: MerchantKeys, *, clock: Clock = time.time
) -> PaymentNotification | RefundNotification:
    """Verify the signature of a notification, then decrypt and type its resource.

    ``body`` is the raw request body (``request.get_data()``), ``headers`` any case-insensitive or
    plain mapping (or list of pairs) of the request headers, ``keys`` the store resolved from the
    notify URL's path. Raises :class:`NotificationRejected`. Business checks are separate:
    :func:`check_payment`, :func:`check_refund`.
    """
    verify_wechatpay_signature(body, headers, keys, clock=clock)

    envelope = _json_object(bytes(body), RejectionReason.MALFORMED_BODY, "the notification body")
    event_type = envelope.get("event_type")
    if not isinstance(event_type, str) or not event_type:
        raise _reject(RejectionReason.MALFORMED_BODY, "event_type is missing")
    if envelope.get("resource_type") != RESOURCE_TYPE:
        raise _reject(
            RejectionReason.BAD_RESOURCE,
            f"resource_type is {shorten(envelope.get('resource_type'))}, not {RESOURCE_TYPE!r}",
        )
    if "resource" not in envelope:
        raise _reject(RejectionReason.MALFORMED_BODY, "the resource is missing")
    is_payment = event_type.startswith(PAYMENT_EVENT_PREFIX)
    if not is_payment and event_type not in REFUND_EVENT_TYPES:
        raise _reject(RejectionReason.UNSUPPORTED_EVENT, f"unsupported event_type {shorten(event_type)}")

    plaintext = decrypt_resource(envelope["resource"], keys.apiv3_key_bytes)
    payload = _json_object(plaintext, RejectionReason.BAD_PLAINTEXT, "the decrypted resource")
    common = dict(
        event_type=event_type, notification_id=_optional_str(envelope, "id"), summary=_optional_str(envelope, "summary")
    )
    try:
        if is_payment:
            return PaymentNotification(
                **transaction_fields(payload), **common, create_time=_optional_str(envelope, "create_time")
            )
        return RefundNotification(**refund_fields(payload), **common)
    except PayloadError as exc:
        raise _reject(RejectionReason.BAD_PAYLOAD, str(exc)) from exc


def check_payment(
    notification: Transaction, keys: MerchantKeys, expected_out_trade_no: str, expected_total_fen: int
) -> None:
    """Brief step 9: the payment is for this store's order, in full, in CNY, and succeeded.

    Works on a :class:`PaymentNotification` and on a queried :class:`Transaction` alike. Raises
    :class:`NotificationRejected` (``wrong_mchid``, ``wrong_appid``, ``wrong_order``,
    ``wrong_amount``, ``wrong_currency``, ``not_success``).
    """
    if isinstance(expected_total_fen, bool) or not isinstance(expected_total_fen, int):
        raise TypeError("expected_total_fen must be an int (fen)")
    if notification.mchid != keys.mchid:
        raise _reject(RejectionReason.WRONG_MCHID, f"mchid {shorten(notification.mchid)} is not this store's")
    if notification.appid != keys.appid:
        raise _reject(RejectionReason.WRONG_APPID, f"appid {shorten(notification.appid)} is not this store's")
    if notification.out_trade_no != expected_out_trade_no:
        raise _reject(
            RejectionReason.WRONG_ORDER, f"out_trade_no {shorten(notification.out_trade_no)} is not the expected order"
        )
    if notification.amount_total_fen != expected_total_fen:
        raise _reject(
            RejectionReason.WRONG_AMOUNT,
            f"amount.total {notification.amount_total_fen} != order total {expected_total_fen} fen",
        )
    if notification.currency != CURRENCY:
        raise _reject(RejectionReason.WRONG_CURRENCY, f"currency {shorten(notification.currency)} is not CNY")
    if notification.trade_state != "SUCCESS":
        raise _reject(RejectionReason.NOT_SUCCESS, f"trade_state is {shorten(notification.trade_state)}")


def check_refund(
    notification: Refund, keys: MerchantKeys, expected_out_refund_no: str, expected_refund_fen: int | None = None
) -> None:
    """Check a refund result belongs to this store and to the expected refund.

    Raises :class:`NotificationRejected` (``wrong_mchid``, ``wrong_refund``, ``wrong_amount``).
    The refund status is the caller's to act on (``SUCCESS``, ``CLOSED``, ``ABNORMAL``).
    """
    if notification.mchid is not None and notification.mchid != keys.mchid:
        raise _reject(RejectionReason.WRONG_MCHID, f"mchid {shorten(notification.mchid)} is not this store's")
    if notification.out_refund_no != expected_out_refund_no:
        raise _reject(
            RejectionReason.WRONG_REFUND,
            f"out_refund_no {shorten(notification.out_refund_no)} is not the expected refund",
        )
    if expected_refund_fen is not None and notification.amount_refund_fen != expected_refund_fen:
        raise _reject(
            RejectionReason.WRONG_AMOUNT,
            f"amount.refund {notification.amount_refund_fen} != expected {expected_refund_fen} fen",
        )


def failure_body(message: str = "rejected") -> bytes:
    """The JSON body WeChat Pay expects with a 4xx/5xx answer: ``{"code":"FAIL","message":…}``.

    Success is HTTP 200 or 204 with no body. Do not put rejection details in ``message``: they go
    to the log.
    """
    return json.dumps({"code": "FAIL", "message": message}, ensure_ascii=False).encode("utf-8")
