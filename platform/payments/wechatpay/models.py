"""Typed views of WeChat Pay transactions and refunds (amounts are integer fen).

The same shapes arrive decrypted in notifications and in plain (signed) query responses, so one
parser serves both. Parsers raise :class:`PayloadError` (a ``ValueError``) on a missing field or a
wrong type; callers turn it into their own error.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


class PayloadError(ValueError):
    """A transaction or refund object lacks a required field or has a field of the wrong type."""


@dataclass(frozen=True, kw_only=True)
class Transaction:
    """A payment as WeChat Pay reports it (query response or decrypted notification resource)."""

    mchid: str
    appid: str
    out_trade_no: str
    trade_state: str
    #: ``amount.total`` in fen (what the order asked for).
    amount_total_fen: int
    currency: str | None
    transaction_id: str | None = None
    trade_state_desc: str | None = None
    trade_type: str | None = None
    #: ``amount.payer_total``: what the payer paid after coupons, in fen.
    payer_total_fen: int | None = None
    payer_openid: str | None = None
    success_time: str | None = None
    attach: str | None = None
    #: The decoded JSON object as received (left out of ``repr``).
    raw: Mapping[str, Any] = field(repr=False)


@dataclass(frozen=True, kw_only=True)
class Refund:
    """A refund as WeChat Pay reports it (refund/query response or decrypted notification)."""

    out_refund_no: str
    refund_id: str
    out_trade_no: str
    transaction_id: str | None
    #: ``SUCCESS``, ``CLOSED``, ``PROCESSING`` or ``ABNORMAL`` (``status`` / ``refund_status``).
    refund_status: str
    amount_refund_fen: int
    amount_total_fen: int
    payer_refund_fen: int | None = None
    currency: str | None = None
    mchid: str | None = None
    success_time: str | None = None
    create_time: str | None = None
    user_received_account: str | None = None
    #: The decoded JSON object as received (left out of ``repr``).
    raw: Mapping[str, Any] = field(repr=False)


def _object(data: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise PayloadError(f"{where} must be a JSON object")
    return data


def _str(data: Mapping[str, Any], name: str, *, required: bool = True) -> str | None:
    value = data.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or (required and not value):
        raise PayloadError(f"{name} must be a {'non-empty ' if required else ''}string")
    return value


def _fen(data: Mapping[str, Any], name: str, *, required: bool = True) -> int | None:
    value = data.get(name)
    if value is None and not required:
        return None
    # bool is an int subclass: true must not pass for 1 fen.
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise PayloadError(f"amount.{name} must be a non-negative integer (fen)")
    return value


def transaction_fields(data: Any) -> dict[str, Any]:
    """The keyword arguments of :class:`Transaction` (or a subclass) read from a decoded JSON object."""
    data = _object(data, "the transaction")
    amount = _object(data.get("amount"), "amount")
    payer = data.get("payer")
    payer_openid = None
    if payer is not None:
        payer_openid = _str(_object(payer, "payer"), "openid", required=False)
    return dict(
        mchid=_str(data, "mchid"),
        appid=_str(data, "appid"),
        out_trade_no=_str(data, "out_trade_no"),
        trade_state=_str(data, "trade_state"),
        amount_total_fen=_fen(amount, "total"),
        currency=_str(amount, "currency", required=False),
        transaction_id=_str(data, "transaction_id", required=False),
        trade_state_desc=_str(data, "trade_state_desc", required=False),
        trade_type=_str(data, "trade_type", required=False),
        payer_total_fen=_fen(amount, "payer_total", required=False),
        payer_openid=payer_openid,
        success_time=_str(data, "success_time", required=False),
        attach=_str(data, "attach", required=False),
        raw=data,
    )


def parse_transaction(data: Any) -> Transaction:
    """Build a :class:`Transaction` from a decoded JSON object."""
    return Transaction(**transaction_fields(data))


def refund_fields(data: Any) -> dict[str, Any]:
    """The keyword arguments of :class:`Refund` (or a subclass) read from a decoded JSON object.

    The status is ``status`` in API responses and ``refund_status`` in notifications.
    """
    data = _object(data, "the refund")
    amount = _object(data.get("amount"), "amount")
    status = data.get("refund_status", data.get("status"))
    if not isinstance(status, str) or not status:
        raise PayloadError("refund_status / status must be a non-empty string")
    return dict(
        out_refund_no=_str(data, "out_refund_no"),
        refund_id=_str(data, "refund_id"),
        out_trade_no=_str(data, "out_trade_no"),
        transaction_id=_str(data, "transaction_id", required=False),
        refund_status=status,
        amount_refund_fen=_fen(amount, "refund"),
        amount_total_fen=_fen(amount, "total"),
        payer_refund_fen=_fen(amount, "payer_refund", required=False),
        currency=_str(amount, "currency", required=False),
        mchid=_str(data, "mchid", required=False),
        success_time=_str(data, "success_time", required=False),
        create_time=_str(data, "create_time", required=False),
        user_received_account=_str(data, "user_received_account", required=False),
        raw=data,
    )


def parse_refund(data: Any) -> Refund:
    """Build a :class:`Refund` from a decoded JSON object."""
    return Refund(**refund_fields(data))
