"""The fake WeChat Pay's order book: its merchants, orders and refunds, and the API calls that
read and change them (orders in three scenes, query and close, refunds and refund query), with
WeChat Pay's rules: the same ``out_trade_no`` with the same parameters returns the same prepay,
H5 URL or ``code_url`` (with other parameters -- another scene too -- it is refused); the
refunded total never exceeds what was paid, at most 50 refunds per order, and a refund retried
with the same ``out_refund_no`` returns the same refund.

:class:`~mallow.testing.wechatpay.FakeWeChatPayServer` authenticates a request, then asks the
book (under its lock) for the answer; an :class:`ApiError` is WeChat Pay's error answer.
"""

from __future__ import annotations

import ipaddress
import itertools
import json
import re
import secrets
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from .forging import rfc3339_now
from .records import FakeMerchantAccount, FakeOrder, FakeRefund

MAX_REFUNDS_PER_ORDER = 50
_OUT_TRADE_NO_RE = re.compile(r"[0-9A-Za-z_\-|*]{6,32}")
_OUT_REFUND_NO_RE = re.compile(r"[0-9A-Za-z_\-|*@]{1,64}")


class ApiError(Exception):
    """WeChat Pay's answer to a refused request: HTTP ``status`` and ``{"code", "message"}``."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


# ---- field checks on request bodies -----------------------------------------------------


def _object(value: Any, name: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ApiError(400, "PARAM_ERROR", f"{name} must be an object")
    return value


def _text(body: dict[str, Any], name: str, max_chars: int, *, required: bool = True) -> str | None:
    value = body.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not 1 <= len(value) <= max_chars:
        raise ApiError(400, "PARAM_ERROR", f"{name} is missing or longer than {max_chars} characters")
    return value


def _fen(body: dict[str, Any], name: str) -> int:
    value = body.get(name)
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ApiError(400, "PARAM_ERROR", f"amount.{name} must be a positive integer")
    return value


def _notify_url(body: dict[str, Any], *, required: bool = True) -> str | None:
    url = _text(body, "notify_url", 255, required=required)
    if url is not None:
        parts = urlsplit(url)
        if parts.scheme != "https" or not parts.hostname or parts.query or "?" in url:
            raise ApiError(400, "PARAM_ERROR", "notify_url must be https without a query string")
    return url


def _currency(amount: dict[str, Any]) -> None:
    if amount.get("currency", "CNY") != "CNY":
        raise ApiError(400, "PARAM_ERROR", "currency must be CNY")


class OrderBook:
    """What WeChat Pay knows. Not thread-safe on its own: the server calls it under its lock."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        self.merchants: dict[str, FakeMerchantAccount] = {}
        self.orders: dict[tuple[str, str], FakeOrder] = {}
        self.refunds: dict[tuple[str, str], FakeRefund] = {}
        self._sequence = itertools.count(1)

    def merchant(self, mchid: str | None) -> FakeMerchantAccount:
        """The merchant ``mchid``, or the only one registered when ``mchid`` is ``None``."""
        if mchid is None:
            if len(self.merchants) != 1:
                raise ValueError("several merchants are registered: pass mchid")
            return next(iter(self.merchants.values()))
        return self.merchants[mchid]

    def mark_paid(self, order: FakeOrder, payer_openid: str | None) -> dict[str, Any]:
        """The shopper paid ``order``: ``SUCCESS`` with a transaction id. Returns its JSON."""
        if order.trade_state != "NOTPAY":
            raise ValueError(f"order {order.out_trade_no} is {order.trade_state}, not NOTPAY")
        order.trade_state = "SUCCESS"
        order.transaction_id = f"4200{next(self._sequence):024d}"[:32]
        order.success_time = rfc3339_now(self.clock())
        if order.payer_openid is None:
            order.payer_openid = payer_openid or "o-fake-h5-payer"
        return order.as_json()

    def complete_refund(self, refund: FakeRefund, status: str) -> dict[str, Any]:
        """Move ``refund`` to ``status`` (``SUCCESS``, ``CLOSED`` or ``ABNORMAL``). Returns its JSON."""
        refund.status = status
        if status == "SUCCESS":
            refund.success_time = rfc3339_now(self.clock())
        return refund.as_json()

    # ---- the API --------------------------------------------------------------------------

    def answer(
        self, merchant: FakeMerchantAccount, method: str, raw_path: str, body: bytes
    ) -> tuple[int, dict[str, Any] | None]:
        parts = urlsplit(raw_path)
        path, query = parts.path, parse_qs(parts.query)
        if method == "POST" and path == "/v3/pay/transactions/jsapi":
            return 200, self._create_order(merchant, "JSAPI", self._json(body))
        if method == "POST" and path == "/v3/pay/transactions/h5":
            return 200, self._create_order(merchant, "MWEB", self._json(body))
        if method == "POST" and path == "/v3/pay/transactions/native":
            return 200, self._create_order(merchant, "NATIVE", self._json(body))
        if method == "POST" and path == "/v3/refund/domestic/refunds":
            return 200, self._create_refund(merchant, self._json(body))
        match = re.fullmatch(r"/v3/pay/transactions/out-trade-no/([^/]+)(/close)?", path)
        if match and method == "GET" and not match.group(2):
            if query.get("mchid") != [merchant.mchid]:
                raise ApiError(400, "PARAM_ERROR", "the mchid query parameter must be the caller's")
            return 200, self.find_order(merchant, unquote(match.group(1))).as_json()
        if match and method == "POST" and match.group(2):
            if self._json(body).get("mchid") != merchant.mchid:
                raise ApiError(400, "PARAM_ERROR", "mchid does not match the caller")
            order = self.find_order(merchant, unquote(match.group(1)))
            if order.trade_state in ("SUCCESS", "REFUND"):
                raise ApiError(400, "ORDERPAID", "the order is paid")
            order.trade_state = "CLOSED"
            return 204, None
        match = re.fullmatch(r"/v3/refund/domestic/refunds/([^/]+)", path)
        if match and method == "GET":
            refund = self.refunds.get((merchant.mchid, unquote(match.group(1))))
            if refund is None:
                raise ApiError(404, "RESOURCE_NOT_EXISTS", "no such refund")
            return 200, refund.as_json()
        raise ApiError(404, "NOT_FOUND", "no such API")

    @staticmethod
    def _json(body: bytes) -> dict[str, Any]:
        try:
            return _object(json.loads(body), "the body")
        except ValueError as exc:
            raise ApiError(400, "PARAM_ERROR", "the body is not JSON") from exc

    def find_order(self, merchant: FakeMerchantAccount, out_trade_no: str) -> FakeOrder:
        order = self.orders.get((merchant.mchid, out_trade_no))
        if order is None:
            raise ApiError(404, "ORDER_NOT_EXIST", "the order does not exist")
        return order

    def _create_order(self, merchant: FakeMerchantAccount, trade_type: str, body: dict[str, Any]) -> dict[str, Any]:
        if body.get("mchid") != merchant.mchid:
            raise ApiError(400, "PARAM_ERROR", "mchid does not match the caller")
        if body.get("appid") != merchant.appid:
            raise ApiError(400, "APPID_MCHID_NOT_MATCH", "appid and mchid do not match")
        description = _text(body, "description", 127)
        out_trade_no = body.get("out_trade_no")
        if not isinstance(out_trade_no, str) or not _OUT_TRADE_NO_RE.fullmatch(out_trade_no):
            raise ApiError(400, "PARAM_ERROR", "out_trade_no is invalid")
        notify_url = _notify_url(body)
        amount = _object(body.get("amount"), "amount")
        total = _fen(amount, "total")
        _currency(amount)
        attach = _text(body, "attach", 128, required=False)
        payer_openid = None
        if trade_type == "JSAPI":
            payer_openid = _text(_object(body.get("payer"), "payer"), "openid", 128)
        elif trade_type == "MWEB" or body.get("scene_info") is not None:  # optional for Native
            scene = _object(body.get("scene_info"), "scene_info")
            try:
                ipaddress.ip_address(scene.get("payer_client_ip"))
            except ValueError as exc:
                raise ApiError(400, "PARAM_ERROR", "scene_info.payer_client_ip is invalid") from exc
            if trade_type == "MWEB" and _object(scene.get("h5_info"), "scene_info.h5_info").get("type") not in (
                "Wap",
                "iOS",
                "Android",
            ):
                raise ApiError(400, "PARAM_ERROR", "scene_info.h5_info.type is invalid")
        identity = {k: v for k, v in body.items() if k != "time_expire"} | {"trade_type": trade_type}

        existing = self.orders.get((merchant.mchid, out_trade_no))
        if existing is not None:
            if existing.trade_state in ("SUCCESS", "REFUND"):
                raise ApiError(400, "ORDERPAID", "the order is already paid")
            if existing.trade_state == "CLOSED":
                raise ApiError(400, "ORDER_CLOSED", "the order is closed")
            if existing.identity != identity:
                raise ApiError(400, "INVALID_REQUEST", "out_trade_no was used with other parameters")
            order = existing
        else:
            prepay_id = f"wx{time.strftime('%d%H%M%S')}{secrets.token_hex(12)}"
            order = FakeOrder(
                mchid=merchant.mchid,
                appid=merchant.appid,
                out_trade_no=out_trade_no,
                trade_type=trade_type,
                description=description,
                total_fen=total,
                notify_url=notify_url,
                identity=identity,
                prepay_id=prepay_id,
                payer_openid=payer_openid,
                attach=attach,
            )
            if trade_type == "MWEB":
                order.h5_url = f"https://wx.tenpay.com/cgi-bin/mmpayweb-bin/checkmweb?prepay_id={prepay_id}"
            elif trade_type == "NATIVE":
                order.code_url = f"weixin://wxpay/bizpayurl?pr={secrets.token_urlsafe(6).replace('-', 'x')}"
            self.orders[(merchant.mchid, out_trade_no)] = order
        if trade_type == "JSAPI":
            return {"prepay_id": order.prepay_id}
        return {"h5_url": order.h5_url} if trade_type == "MWEB" else {"code_url": order.code_url}

    def _create_refund(self, merchant: FakeMerchantAccount, body: dict[str, Any]) -> dict[str, Any]:
        out_refund_no = body.get("out_refund_no")
        if not isinstance(out_refund_no, str) or not _OUT_REFUND_NO_RE.fullmatch(out_refund_no):
            raise ApiError(400, "PARAM_ERROR", "out_refund_no is invalid")
        out_trade_no = body.get("out_trade_no")
        if not isinstance(out_trade_no, str):
            raise ApiError(400, "PARAM_ERROR", "out_trade_no is required")
        amount = _object(body.get("amount"), "amount")
        refund_fen, total_fen = _fen(amount, "refund"), _fen(amount, "total")
        _currency(amount)
        reason = _text(body, "reason", 80, required=False)
        notify_url = _notify_url(body, required=False)

        existing = self.refunds.get((merchant.mchid, out_refund_no))
        if existing is not None:  # a retry: the same refund, never a second payment
            if existing.out_trade_no != out_trade_no or existing.refund_fen != refund_fen:
                raise ApiError(400, "INVALID_REQUEST", "out_refund_no was used with other parameters")
            return existing.as_json()

        order = self.orders.get((merchant.mchid, out_trade_no))
        if order is None:
            raise ApiError(404, "RESOURCE_NOT_EXISTS", "the order does not exist")
        if order.trade_state not in ("SUCCESS", "REFUND") or order.transaction_id is None:
            raise ApiError(400, "INVALID_REQUEST", "the order is not paid")
        if total_fen != order.total_fen:
            raise ApiError(400, "PARAM_ERROR", "amount.total is not the order's total")
        refunds = [self.refunds[(merchant.mchid, no)] for no in order.refund_nos]
        if len(refunds) >= MAX_REFUNDS_PER_ORDER:
            raise ApiError(400, "INVALID_REQUEST", f"at most {MAX_REFUNDS_PER_ORDER} refunds per order")
        already = sum(r.refund_fen for r in refunds if r.status != "CLOSED")
        if already + refund_fen > order.total_fen:
            raise ApiError(400, "INVALID_REQUEST", "the refund exceeds the refundable amount")
        refund = FakeRefund(
            mchid=merchant.mchid,
            out_refund_no=out_refund_no,
            refund_id=f"50{next(self._sequence):030d}",
            out_trade_no=out_trade_no,
            transaction_id=order.transaction_id,
            refund_fen=refund_fen,
            total_fen=total_fen,
            create_time=rfc3339_now(self.clock()),
            notify_url=notify_url,
            reason=reason,
        )
        self.refunds[(merchant.mchid, out_refund_no)] = refund
        order.refund_nos.append(out_refund_no)
        order.trade_state = "REFUND"
        return refund.as_json()
