"""Exceptions of the WeChat Pay library.

Two families, on purpose:

* :class:`NotificationRejected` -- a signed message (a notification, or a response's signature) or
  its decrypted content failed a check. It carries a stable ``reason_code`` for logs and metrics.
* :class:`WeChatPayError` -- an API call did not give a trustworthy success: an HTTP error mapped
  from WeChat's ``{"code": ..., "message": ...}``, an unverifiable response, a transport failure.

Messages never contain key material; values that come from the wire are shortened before they are
quoted.
"""

from __future__ import annotations

from enum import StrEnum


class RejectionReason(StrEnum):
    """Why a notification (or a response signature) was refused. Compares equal to plain strings."""

    # Signature layer (brief steps 2-7).
    MISSING_HEADER = "missing_header"
    DUPLICATE_HEADER = "duplicate_header"
    BAD_SIGNATURE_TYPE = "bad_signature_type"
    BAD_TIMESTAMP = "bad_timestamp"
    STALE_TIMESTAMP = "stale_timestamp"
    UNKNOWN_SERIAL = "unknown_serial"
    BAD_SIGNATURE = "bad_signature"
    # Envelope and resource (brief step 8).
    MALFORMED_BODY = "malformed_body"
    UNSUPPORTED_EVENT = "unsupported_event"
    BAD_RESOURCE = "bad_resource"
    BAD_ALGORITHM = "bad_algorithm"
    BAD_CIPHERTEXT = "bad_ciphertext"
    DECRYPT_FAILED = "decrypt_failed"
    BAD_PLAINTEXT = "bad_plaintext"
    BAD_PAYLOAD = "bad_payload"
    # Business checks (brief step 9).
    WRONG_MCHID = "wrong_mchid"
    WRONG_APPID = "wrong_appid"
    WRONG_ORDER = "wrong_order"
    WRONG_REFUND = "wrong_refund"
    WRONG_AMOUNT = "wrong_amount"
    WRONG_CURRENCY = "wrong_currency"
    NOT_SUCCESS = "not_success"


class NotificationRejected(Exception):
    """A notification (or a signed response) failed verification, decryption or a business check."""

    def __init__(self, reason_code: RejectionReason | str, message: str) -> None:
        super().__init__(f"{reason_code}: {message}")
        self.reason_code = RejectionReason(reason_code)
        self.message = message


class WeChatPayError(Exception):
    """An API call failed. ``status`` is the HTTP status (0 when no response arrived)."""

    def __init__(self, status: int, code: str, message: str, request_id: str | None = None) -> None:
        super().__init__(f"HTTP {status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.request_id = request_id


class UnverifiedResponse(WeChatPayError):
    """A response whose WeChat Pay signature did not verify: its content must not be trusted."""

    def __init__(self, status: int, rejection: NotificationRejected, request_id: str | None = None) -> None:
        super().__init__(status, "UNVERIFIED_RESPONSE", rejection.message, request_id)
        self.reason_code = rejection.reason_code


class TransportError(WeChatPayError):
    """No usable HTTP response (connection refused, timeout, dropped connection).

    The outcome of the call is unknown: query with the same ``out_trade_no`` / retry the refund with
    the same ``out_refund_no``; never mint a new number for the same order or refund.
    """

    def __init__(self, message: str) -> None:
        super().__init__(0, "TRANSPORT_ERROR", message)


class InvalidRequest(ValueError):
    """The caller's parameters break WeChat Pay's documented limits; nothing was sent."""


def shorten(value: object, limit: int = 64) -> str:
    """``repr`` of an untrusted value, cut to ``limit`` characters, for error messages."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
