"""A small WeChat Pay API v3 client: orders (JSAPI, H5, Native), queries, closing and refunds.

Requests are signed with the store's merchant key; every response -- success or error -- is
verified with the store's platform keys by the same routine as notifications before anything in it
is believed. HTTP goes through an :class:`HttpTransport`, so tests (and the app's tests) run
against :class:`~mallow.testing.wechatpay.FakeWeChatPayServer` with no network.
"""

from __future__ import annotations

import http.client
import ipaddress
import json
import re
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Protocol
from urllib.parse import quote, urlsplit

from .errors import InvalidRequest, NotificationRejected, TransportError, UnverifiedResponse, WeChatPayError
from .keys import MerchantKeys
from .models import PayloadError, Refund, Transaction, parse_refund, parse_transaction
from .notifications import CURRENCY
from .signing import authorization_header, generate_nonce, jsapi_payment_params
from .verification import Clock, verify_wechatpay_signature

DEFAULT_BASE_URL = "https://api.mch.weixin.qq.com"
USER_AGENT = "mallow-wechatpay/1"

OUT_TRADE_NO_RE = re.compile(r"[0-9A-Za-z_\-|*]{6,32}")
OUT_REFUND_NO_RE = re.compile(r"[0-9A-Za-z_\-|*@]{1,64}")
MAX_DESCRIPTION_CHARS = 127
MAX_ATTACH_CHARS = 128
MAX_REFUND_REASON_CHARS = 80
MAX_NOTIFY_URL_CHARS = 255
H5_TYPES = ("Wap", "iOS", "Android")
#: what a Native ``code_url`` looks like (``weixin://wxpay/bizpayurl?pr=…``): only WeChat opens it
NATIVE_CODE_URL_RE = re.compile(r"weixin://wxpay/bizpayurl\?pr=[0-9A-Za-z_\-]{1,128}")
_LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}


class HttpTransport(Protocol):
    """Sends one HTTP request. Must not follow redirects.

    Returns ``(status, headers, body)`` for any HTTP answer, error statuses included; raises
    :class:`~mallow.payments.wechatpay.errors.TransportError` when there is no answer.
    """

    def request(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes
    ) -> tuple[int, Mapping[str, str], bytes]: ...


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: D102, ANN001
        return None  # a redirect surfaces as an HTTPError: the signed Authorization never leaves


class UrllibTransport:
    """:class:`HttpTransport` on ``urllib.request`` (TLS verified by the default context)."""

    def __init__(self, timeout: float = 10.0, max_response_bytes: int = 1_048_576) -> None:
        self.timeout = timeout
        self.max_response_bytes = max_response_bytes
        # Environment proxies apply to WeChat Pay; a local test server is always reached directly.
        self._opener = urllib.request.build_opener(_NoRedirect())
        self._direct_opener = urllib.request.build_opener(_NoRedirect(), urllib.request.ProxyHandler({}))

    def request(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes
    ) -> tuple[int, Mapping[str, str], bytes]:
        req = urllib.request.Request(url, data=body if body else None, headers=dict(headers), method=method)
        try:
            opener = self._direct_opener if urlsplit(url).hostname in _LOOPBACK_HOSTS else self._opener
            with opener.open(req, timeout=self.timeout) as response:
                return response.status, _joined_headers(response.headers), self._read(response)
        except urllib.error.HTTPError as error:
            with error:
                return error.code, _joined_headers(error.headers), self._read(error)
        except (urllib.error.URLError, OSError, http.client.HTTPException, ValueError) as exc:
            raise TransportError(f"{type(exc).__name__}: {exc}") from exc

    def _read(self, response: Any) -> bytes:
        data = response.read(self.max_response_bytes + 1)
        if len(data) > self.max_response_bytes:
            raise TransportError("the response is larger than max_response_bytes")
        return data


def _joined_headers(message: Any) -> dict[str, str]:
    """Headers as a dict; a repeated header is joined with ``", "`` (so a doubled signature fails)."""
    joined: dict[str, str] = {}
    for name, value in message.items() if message is not None else ():
        key = name.lower()
        joined[key] = f"{joined[key]}, {value}" if key in joined else value
    return joined


def _check_base_url(base_url: str) -> str:
    parts = urlsplit(base_url)
    if parts.query or parts.fragment or not parts.hostname:
        raise ValueError("base_url must be scheme://host[:port][/prefix]")
    if parts.scheme != "https" and not (parts.scheme == "http" and parts.hostname in _LOOPBACK_HOSTS):
        raise ValueError("base_url must be https (plain http only for a local test server)")
    return base_url.rstrip("/")


def _header(headers: Mapping[str, str], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name.lower():
            return value
    return None


# ---------------------------------------------------------------------------------------------
# Parameter checks (InvalidRequest before anything is sent).


def _require_text(value: Any, name: str, max_chars: int, *, min_chars: int = 1) -> str:
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
    _require_text(url, "notify_url", MAX_NOTIFY_URL_CHARS)
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
        self.base_url = _check_base_url(base_url)
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
            "description": _require_text(description, "description", MAX_DESCRIPTION_CHARS),
            "out_trade_no": validate_out_trade_no(out_trade_no),
            "notify_url": validate_notify_url(notify_url),
            "amount": {"total": validate_fen(total_fen, "total_fen"), "currency": CURRENCY},
        }
        if time_expire is not None:
            body["time_expire"] = format_time_expire(time_expire)
        if attach is not None:
            body["attach"] = _require_text(attach, "attach", MAX_ATTACH_CHARS)
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
        body["payer"] = {"openid": _require_text(payer_openid, "payer_openid", 128)}
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
            body["reason"] = _require_text(reason, "reason", MAX_REFUND_REASON_CHARS)
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
        request_id = _header(response_headers, "Request-ID")
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
