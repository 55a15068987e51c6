"""The WeChat Pay client's parameter checks: :class:`~mallow.payments.wechatpay.errors.InvalidRequest`
before anything is sent (order and refund numbers, amounts in fen, notify URLs, expiry times, text
lengths)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from .errors import InvalidRequest

OUT_TRADE_NO_RE = re.compile(r"[0-9A-Za-z_\-|*]{6,32}")
OUT_REFUND_NO_RE = re.compile(r"[0-9A-Za-z_\-|*@]{1,64}")
MAX_DESCRIPTION_CHARS = 127
MAX_ATTACH_CHARS = 128
MAX_REFUND_REASON_CHARS = 80
MAX_NOTIFY_URL_CHARS = 255


def require_text(value: Any, name: str, max_chars: int, *, min_chars: int = 1) -> str:
    if not isinstance(value, str) or not (min_chars <= len(value) <= max_chars):
        raise InvalidRequest(f"{name} must be a string of {min_chars}-{max_chars} characters")
    if any(ch in value for ch in "\r\n\x00"):
        raise InvalidRequest(f"{name} must be a single line")
    return value


def validate_out_trade_no(out_trade_no: Any) -> str:
    """6-32 characters of ``[0-9A-Za-z_-|*]``, unique per merchant."""
    if not isinstance(out_trade_no, str) or not OUT_TRADE_NO_RE.fullmatch(out_trade_no):
        raise InvalidRequest("out_trade_no must be 6-32 characters of [0-9A-Za-z_-|*]")
    return out_trade_no


def validate_out_refund_no(out_refund_no: Any) -> str:
    """1-64 characters of ``[0-9A-Za-z_-|*@]``, unique per merchant."""
    if not isinstance(out_refund_no, str) or not OUT_REFUND_NO_RE.fullmatch(out_refund_no):
        raise InvalidRequest("out_refund_no must be 1-64 characters of [0-9A-Za-z_-|*@]")
    return out_refund_no


def validate_fen(value: Any, name: str) -> int:
    """A positive integer amount in fen (``bool`` refused)."""
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise InvalidRequest(f"{name} must be a positive integer number of fen")
    return value


def validate_notify_url(url: Any) -> str:
    """An absolute https URL without query string or fragment (WeChat Pay's requirement)."""
    require_text(url, "notify_url", MAX_NOTIFY_URL_CHARS)
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname or parts.query or parts.fragment or "?" in url:
        raise InvalidRequest("notify_url must be an https URL without query string or fragment")
    return url


def format_time_expire(value: datetime | str) -> str:
    """RFC 3339 with an explicit offset, e.g. ``2025-06-08T10:34:56+08:00``."""
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise InvalidRequest("time_expire must be timezone-aware")
        return value.isoformat(timespec="seconds")
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError as exc:
            raise InvalidRequest("time_expire must be an RFC 3339 timestamp") from exc
        if parsed.tzinfo is None or "T" not in value:
            raise InvalidRequest("time_expire must be an RFC 3339 timestamp with an offset")
        return value
    raise InvalidRequest("time_expire must be a datetime or an RFC 3339 string")
