"""A small WeChat Pay API v3 client: orders (JSAPI, H5, Native), queries, closing and refunds.

Requests are signed with the store's merchant key; every response -- success or error -- is
verified with the store's platform keys by the same routine as notifications before anything in it
is believed. HTTP goes through an :class:`~.transport.HttpTransport`, so tests (and the app's
tests) run against :class:`~mallow.testing.wechatpay.FakeWeChatPayServer` with no network;
parameters are checked before anything is sent (:mod:`.request_checks`).
"""

from __future__ import annotations

import ipaddress
import json
import re
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlsplit

from .errors import InvalidRequest, NotificationRejected, UnverifiedResponse, WeChatPayError
from .keys import MerchantKeys
from .models import PayloadError, Refund, Transaction, parse_refund, parse_transaction
from .notifications import CURRENCY
from .request_checks import (
    MAX_ATTACH_CHARS,
    MAX_DESCRIPTION_CHARS,
    MAX_REFUND_REASON_CHARS,
    format_time_expire,
    require_text,
    validate_fen,
    validate_notify_url,
    validate_out_refund_no,
    validate_out_trade_no,
)
from .signing import authorization_header, generate_nonce, jsapi_payment_params
from .transport import HttpTransport, UrllibTransport, check_base_url, header
from .verification import Clock, verify_wechatpay_signature

DEFAULT_BASE_URL = "https://api.mch.weixin.qq.com"
USER_AGENT = "mallow-wechatpay/1"
H5_TYPES = ("Wap", "iOS", "Android")
#: what a Native ``code_url`` looks like (``weixin://wxpay/bizpayurl?pr=…``): only WeChat opens it
NATIVE_CODE_URL_RE = re.compile(r"weixin://wxpay/bizpayurl\?pr=[0-9A-Za-z_\-]{1,128}")


class WeChatPayClient:
    """WeChat Pay API v3 for one store (direct merchant mode).

    ``clock`` and ``nonce_factory`` are injectable for tests; the clock is used both to timestamp
    requests and to check the freshness of responses.
    """

    def __init__(
        self,
        keys: MerchantKeys,
        transport: HttpTransport | None = None,
        base_url: str = DEFAULT_BASE_URL,
        *,
        clock: Clock = time.time,
        nonce_factory: Callable[[], str] = generate_nonce,
    ) -> None:
        self.keys = keys
        self.transport: HttpTransport = transport if transport is not None else UrllibTransport()
        self.base_url = check_base_url(base_url)
        self._clock = clock
        self._nonce_factory = nonce_factory

    # ---- orders ---------------------------------------------------------------------------

    def _order_body(
        self,
        out_trade_no: str,
        description: str,
        total_fen: int,
        notify_url: str,
        time_expire: datetime | str | None,
        attach: str | None,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "appid": self.keys.appid,
            "mchid": self.keys.mchid,
            "description": require_text(description, "description", MAX_DESCRIPTION_CHARS),
            "out_trade_no": validate_out_trade_no(out_trade_no),
            "notify_url": validate_notify_url(notify_url),
            "amount": {"total": validate_fen(total_fen, "total_fen"), "currency": CURRENCY},
        }
        if time_expire is not None:
            body["time_expire"] = format_time_expire(time_expire)
        if attach is not None:
            body["attach"] = require_text(attach, "attach", MAX_ATTACH_CHARS)
        return body

    def create_jsapi_order(
        self,
        out_trade_no: str,
        description: str,
        total_fen: int,
        payer_openid: str,
        notify_url: str,
        time_expire: datetime | str | None = None,
        attach: str | None = None,
    ) -> str:
        """``POST /v3/pay/transactions/jsapi``; returns the ``prepay_id``.

        On a timeout (:class:`TransportError`) call :meth:`query_order` or retry with the **same**
        ``out_trade_no``; never mint a new one for the same order.
        """
        body = self._order_body(out_trade_no, description, total_fen, notify_url, time_expire, attach)
        body["payer"] = {"openid": require_text(payer_openid, "payer_openid", 128)}
        result = self._call("POST", "/v3/pay/transactions/jsapi", body)
        return self._required_str(result, "prepay_id")

    def jsapi_payment_params(
        self, prepay_id: str, *, timestamp: int | None = None, nonce: str | None = None
    ) -> dict[str, str]:
        """The signed ``wx.requestPayment`` parameters for a ``prepay_id``."""
        if timestamp is None:
            timestamp = int(self._clock())
        return jsapi_payment_params(
            self.keys, prepay_id, timestamp=timestamp, nonce=self._nonce_factory() if nonce is None else nonce
        )

    def create_h5_order(
        self,
        out_trade_no: str,
        description: str,
        total_fen: int,
        payer_client_ip: str,
        notify_url: str,
        h5_type: str = "Wap",
        time_expire: datetime | str | None = None,
        attach: str | None = None,
    ) -> str:
        """``POST /v3/pay/transactions/h5`` (mobile browser outside WeChat); returns the ``h5_url``."""
        body = self._order_body(out_trade_no, description, total_fen, notify_url, time_expire, attach)
        try:
            ip = str(ipaddress.ip_address(payer_client_ip))
        except (ValueError, TypeError) as exc:
            raise InvalidRequest("payer_client_ip must be an IPv4 or IPv6 address") from exc
        if h5_type not in H5_TYPES:
            raise InvalidRequest(f"h5_type must be one of {', '.join(H5_TYPES)}")
        body["scene_info"] = {"payer_client_ip": ip, "h5_info": {"type": h5_type}}
        result = self._call("POST", "/v3/pay/transactions/h5", body)
        return self._required_str(result, "h5_url")

    def create_native_order(
        self,
        out_trade_no: str,
        description: str,
        total_fen: int,
        notify_url: str,
        time_expire: datetime | str | None = None,
        attach: str | None = None,
    ) -> str:
        """``POST /v3/pay/transactions/native`` (扫码支付: a desktop browser shows the QR code, the payer
        scans it with WeChat); returns the ``code_url`` (``weixin://wxpay/bizpayurl?pr=…``) to draw.

        Called again with the same ``out_trade_no`` and parameters it returns the same code. A
        ``code_url`` that is not WeChat's is a ``BAD_RESPONSE``: a QR code must never lead elsewhere.
        """
        body = self._order_body(out_trade_no, description, total_fen, notify_url, time_expire, attach)
        result = self._call("POST", "/v3/pay/transactions/native", body)
        code_url = self._required_str(result, "code_url")
        if not NATIVE_CODE_URL_RE.fullmatch(code_url):
            raise WeChatPayError(200, "BAD_RESPONSE", "the code_url is not a WeChat Pay code")
        return code_url

    def query_order(self, out_trade_no: str) -> Transaction:
        """``GET /v3/pay/transactions/out-trade-no/{out_trade_no}?mchid=…``.

        Check the result with :func:`~mallow.payments.wechatpay.notifications.check_payment` before
        marking an order paid.
        """
        path = (
            f"/v3/pay/transactions/out-trade-no/{quote(validate_out_trade_no(out_trade_no), safe='')}"
            f"?mchid={quote(self.keys.mchid, safe='')}"
        )
        return self._parsed(self._call("GET", path), parse_transaction)

    def close_order(self, out_trade_no: str) -> None:
        """``POST /v3/pay/transactions/out-trade-no/{out_trade_no}/close`` (204 on success)."""
        path = f"/v3/pay/transactions/out-trade-no/{quote(validate_out_trade_no(out_trade_no), safe='')}/close"
        self._call("POST", path, {"mchid": self.keys.mchid})

    # ---- refunds --------------------------------------------------------------------------

    def refund(
        self,
        out_trade_no: str,
        out_refund_no: str,
        refund_fen: int,
        total_fen: int,
        reason: str | None,
        notify_url: str | None,
    ) -> Refund:
        """``POST /v3/refund/domestic/refunds``; returns the refund (usually ``PROCESSING``).

        Retry a failed or timed-out refund with the **same** ``out_refund_no``: WeChat Pay returns
        the existing refund instead of paying twice. The final state comes by notification or
        :meth:`query_refund`.
        """
        body: dict[str, Any] = {
            "out_trade_no": validate_out_trade_no(out_trade_no),
            "out_refund_no": validate_out_refund_no(out_refund_no),
            "amount": {
                "refund": validate_fen(refund_fen, "refund_fen"),
                "total": validate_fen(total_fen, "total_fen"),
                "currency": CURRENCY,
            },
        }
        if refund_fen > total_fen:
            raise InvalidRequest("refund_fen cannot exceed total_fen")
        if reason is not None:
            body["reason"] = require_text(reason, "reason", MAX_REFUND_REASON_CHARS)
        if notify_url is not None:
            body["notify_url"] = validate_notify_url(notify_url)
        return self._parsed(self._call("POST", "/v3/refund/domestic/refunds", body), parse_refund)

    def query_refund(self, out_refund_no: str) -> Refund:
        """``GET /v3/refund/domestic/refunds/{out_refund_no}``."""
        path = f"/v3/refund/domestic/refunds/{quote(validate_out_refund_no(out_refund_no), safe='')}"
        return self._parsed(self._call("GET", path), parse_refund)

    # ---- plumbing -------------------------------------------------------------------------

    def _call(self, method: str, path_with_query: str, payload: Mapping[str, Any] | None = None) -> Any:
        """Sign, send, verify; the decoded JSON of a 2xx answer (``None`` for an empty body)."""
        body = (
            b"" if payload is None else json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        )
        url = self.base_url + path_with_query
        parts = urlsplit(url)
        signed_path = parts.path + (f"?{parts.query}" if parts.query else "")
        headers = {
            "Authorization": authorization_header(
                self.keys, method, signed_path, body, timestamp=int(self._clock()), nonce=self._nonce_factory()
            ),
            "Accept": "application/json",
            "User-Agent": USER_AGENT,
        }
        if payload is not None:
            headers["Content-Type"] = "application/json"
        status, response_headers, response_body = self.transport.request(method, url, headers, body)
        request_id = header(response_headers, "Request-ID")
        try:
            verify_wechatpay_signature(response_body, response_headers, self.keys, clock=self._clock)
        except NotificationRejected as rejection:
            raise UnverifiedResponse(status, rejection, request_id) from rejection

        if not 200 <= status < 300:
            code, message = f"HTTP_{status}", "WeChat Pay returned an error"
            try:
                error = json.loads(response_body)
                if isinstance(error, dict):
                    code = str(error.get("code") or code)
                    message = str(error.get("message") or message)
            except ValueError:
                pass
            raise WeChatPayError(status, code, message, request_id)
        if not response_body:
            return None
        try:
            return json.loads(response_body)
        except ValueError as exc:
            raise WeChatPayError(status, "BAD_RESPONSE", "the response is not JSON", request_id) from exc

    @staticmethod
    def _required_str(result: Any, name: str) -> str:
        value = result.get(name) if isinstance(result, dict) else None
        if not isinstance(value, str) or not value:
            raise WeChatPayError(200, "BAD_RESPONSE", f"the response has no {name}")
        return value

    @staticmethod
    def _parsed(result: Any, parser: Callable[[Any], Any]) -> Any:
        try:
            return parser(result)
        except PayloadError as exc:
            raise WeChatPayError(200, "BAD_RESPONSE", str(exc)) from exc
