"""Verify a ``Wechatpay-Signature``: one routine for notifications and for every API response.

Steps (the numbers are the brief's):

2. ``Wechatpay-Timestamp``, ``Wechatpay-Nonce``, ``Wechatpay-Signature`` and ``Wechatpay-Serial``
   are all present; ``Wechatpay-Signature-Type``, if present, is ``WECHATPAY2-SHA256-RSA2048``.
3. ``|now - timestamp| <= 300`` seconds (past and future alike).
4. The key is the one this store's map holds for ``Wechatpay-Serial``; an unknown serial is
   rejected -- no other key is ever tried.
5. Message = ``timestamp\\nnonce\\nbody\\n`` over the **raw body bytes**.
6. RSASSA-PKCS1-v1_5 / SHA-256; any exception is a rejection.
7. WeChat's probe notifications carry a wrong signature and simply fail here.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .errors import NotificationRejected, RejectionReason, shorten
from .keys import MerchantKeys
from .signing import SIGNATURE_SCHEME, response_message, verify_sha256_rsa

#: Largest accepted difference between the message's timestamp and our clock, in seconds.
MAX_CLOCK_SKEW_SECONDS = 300

HEADER_TIMESTAMP = "Wechatpay-Timestamp"
HEADER_NONCE = "Wechatpay-Nonce"
HEADER_SIGNATURE = "Wechatpay-Signature"
HEADER_SERIAL = "Wechatpay-Serial"
HEADER_SIGNATURE_TYPE = "Wechatpay-Signature-Type"
REQUIRED_HEADERS = (HEADER_TIMESTAMP, HEADER_NONCE, HEADER_SIGNATURE, HEADER_SERIAL)

_TIMESTAMP_RE = re.compile(r"[0-9]{1,12}")

Clock = Callable[[], float]
HeadersLike = Mapping[str, Any] | Iterable[tuple[str, Any]]


@dataclass(frozen=True)
class VerifiedSignature:
    """What a successful verification establishes."""

    serial: str
    timestamp: int
    nonce: str


def _header_items(headers: HeadersLike) -> Iterable[tuple[str, Any]]:
    # Mappings, werkzeug's Headers and email.message.Message all have items(); the last two yield
    # repeated headers once per occurrence, which is what the duplicate check needs.
    items = getattr(headers, "items", None)
    return items() if callable(items) else headers


def _text(value: Any) -> str:
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("latin-1")
    if not isinstance(value, str):
        raise TypeError
    return value


def wechatpay_headers(headers: HeadersLike) -> dict[str, str]:
    """The ``Wechatpay-*`` headers of ``headers``, looked up case-insensitively.

    Returns a dict keyed by the canonical names above. A header that appears twice with different
    values is rejected (``duplicate_header``): which one a framework picks is not defined.
    """
    wanted = {name.lower(): name for name in (*REQUIRED_HEADERS, HEADER_SIGNATURE_TYPE)}
    found: dict[str, str] = {}
    try:
        for raw_name, raw_value in _header_items(headers):
            canonical = wanted.get(_text(raw_name).strip().lower())
            if canonical is None:
                continue
            value = _text(raw_value).strip(" \t")
            if canonical in found and found[canonical] != value:
                raise NotificationRejected(
                    RejectionReason.DUPLICATE_HEADER, f"{canonical} is given more than once with different values"
                )
            found[canonical] = value
    except NotificationRejected:
        raise
    except Exception as exc:  # noqa: BLE001 -- an unreadable header set is a rejection, not a crash
        raise NotificationRejected(RejectionReason.MISSING_HEADER, "the headers could not be read") from exc
    return found


def verify_wechatpay_signature(
    body: bytes,
    headers: HeadersLike,
    keys: MerchantKeys,
    *,
    clock: Clock = time.time,
    max_skew_seconds: int = MAX_CLOCK_SKEW_SECONDS,
) -> VerifiedSignature:
    """Check that ``body`` with ``headers`` was signed by WeChat Pay for this store.

    ``body`` must be the raw bytes as received (never re-serialised JSON). Raises
    :class:`NotificationRejected` with the reason code of the first failed step.
    """
    if not isinstance(body, bytes | bytearray | memoryview):
        raise TypeError("verify the raw body bytes, not a decoded or re-serialised body")
    found = wechatpay_headers(headers)

    for name in REQUIRED_HEADERS:
        if not found.get(name):
            raise NotificationRejected(RejectionReason.MISSING_HEADER, f"the {name} header is missing")
    signature_type = found.get(HEADER_SIGNATURE_TYPE)
    if signature_type is not None and signature_type != SIGNATURE_SCHEME:
        raise NotificationRejected(
            RejectionReason.BAD_SIGNATURE_TYPE, f"unsupported signature type {shorten(signature_type)}"
        )

    timestamp_text = found[HEADER_TIMESTAMP]
    if not _TIMESTAMP_RE.fullmatch(timestamp_text):
        raise NotificationRejected(
            RejectionReason.BAD_TIMESTAMP, f"the timestamp {shorten(timestamp_text)} is not unix seconds"
        )
    timestamp = int(timestamp_text)
    skew = clock() - timestamp
    if abs(skew) > max_skew_seconds:
        direction = "old" if skew > 0 else "in the future"
        raise NotificationRejected(
            RejectionReason.STALE_TIMESTAMP,
            f"the timestamp is {abs(int(skew))} s {direction} (limit {max_skew_seconds} s)",
        )

    serial = found[HEADER_SERIAL]
    public_key = keys.platform_public_key(serial)
    if public_key is None:
        raise NotificationRejected(
            RejectionReason.UNKNOWN_SERIAL, f"serial {shorten(serial)} is not a platform key of merchant {keys.mchid}"
        )

    nonce = found[HEADER_NONCE]
    try:
        valid = verify_sha256_rsa(
            public_key, response_message(timestamp_text, nonce, bytes(body)), found[HEADER_SIGNATURE]
        )
    except Exception:  # noqa: BLE001 -- fail closed
        valid = False
    if not valid:
        raise NotificationRejected(RejectionReason.BAD_SIGNATURE, "the Wechatpay-Signature does not verify")
    return VerifiedSignature(serial=serial, timestamp=timestamp, nonce=nonce)
