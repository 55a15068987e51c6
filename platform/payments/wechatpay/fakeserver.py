"""A local fake of the WeChat Pay v3 API, for tests: real signatures, in-memory state.

It listens on ``127.0.0.1`` (port chosen by the OS) in a background thread and behaves like
WeChat Pay where Mallow depends on it:

* every request's ``Authorization`` is checked with the merchant's **public** key (scheme, mchid,
  serial, timestamp within 300 s, signature over ``METHOD\\nPATH?QUERY\\nts\\nnonce\\nbody\\n``);
  a failure is ``401 SIGN_ERROR``;
* every response is signed with the merchant's platform key (``Wechatpay-*`` headers);
* JSAPI, H5 and Native orders (the same ``out_trade_no`` with the same parameters returns the same
  prepay, H5 URL or ``code_url``; with other parameters -- another scene too -- it is refused),
  order query and close, refunds and refund query:
  the refunded total never exceeds what was paid, at most 50 refunds per order, and a refund
  retried with the same ``out_refund_no`` returns the same refund.

Test controls: :meth:`mark_paid`, :meth:`scan_and_pay` (a payer scans a Native ``code_url`` and
pays; the signed notification goes to the store), :meth:`complete_refund`, :meth:`payment_notification`,
:meth:`refund_notification`, :meth:`tamper_next_response`, :meth:`drop_next_responses`,
:meth:`fail_next_requests`, and :attr:`requests` (a log of what arrived).

:class:`LocalFakeServer` is the HTTP part on its own (127.0.0.1, a daemon thread, a context
manager), for other fakes of WeChat (e.g. :mod:`mallow.payments.wechat_oauth_fakeserver`).

Usage::

    with FakeWeChatPayServer() as server:
        server.add_merchant(...)
        client = WeChatPayClient(keys, base_url=server.base_url)
"""
from __future__ import annotations

import ipaddress
import itertools
import json
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from cryptography.hazmat.primitives.asymmetric import rsa

from .forging import SignedNotification, build_notification, rfc3339_now, sign_headers
from .signing import parse_authorization_header, request_message, verify_sha256_rsa

MAX_REQUEST_BYTES = 1_048_576
MAX_REFUNDS_PER_ORDER = 50
_OUT_TRADE_NO_RE = re.compile(r"[0-9A-Za-z_\-|*]{6,32}")
_OUT_REFUND_NO_RE = re.compile(r"[0-9A-Za-z_\-|*@]{1,64}")
_TRADE_STATE_DESC = {"NOTPAY": "订单未支付", "SUCCESS": "支付成功", "CLOSED": "订单已关闭", "REFUND": "转入退款"}

ResponseTamper = Callable[[int, dict[str, str], bytes], tuple[int, dict[str, str], bytes]]


class _ApiError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


@dataclass
class FakeMerchantAccount:
    """What WeChat Pay knows about one merchant."""

    mchid: str
    appid: str
    merchant_public_key: rsa.RSAPublicKey
    merchant_serial: str
    platform_private_key: rsa.RSAPrivateKey
    platform_serial: str
    apiv3_key: str


@dataclass
class FakeOrder:
    mchid: str
    appid: str
    out_trade_no: str
    trade_type: str
    description: str
    total_fen: int
    notify_url: str
    identity: dict[str, Any]
    prepay_id: str
    payer_openid: str | None = None
    attach: str | None = None
    h5_url: str | None = None
    code_url: str | None = None
    trade_state: str = "NOTPAY"
    transaction_id: str | None = None
    success_time: str | None = None
    refund_nos: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "appid": self.appid, "mchid": self.mchid, "out_trade_no": self.out_trade_no,
            "trade_type": self.trade_type, "trade_state": self.trade_state,
            "trade_state_desc": _TRADE_STATE_DESC[self.trade_state],
            "amount": {"total": self.total_fen, "currency": "CNY"},
        }
        if self.attach is not None:
            data["attach"] = self.attach
        if self.transaction_id is not None:
            data.update(transaction_id=self.transaction_id, bank_type="OTHERS", success_time=self.success_time)
            data["amount"].update(payer_total=self.total_fen, payer_currency="CNY")
        if self.payer_openid is not None:
            data["payer"] = {"openid": self.payer_openid}
        return data


@dataclass
class FakeRefund:
    mchid: str
    out_refund_no: str
    refund_id: str
    out_trade_no: str
    transaction_id: str
    refund_fen: int
    total_fen: int
    create_time: str
    notify_url: str | None
    reason: str | None
    status: str = "PROCESSING"
    success_time: str | None = None

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "refund_id": self.refund_id, "out_refund_no": self.out_refund_no,
            "transaction_id": self.transaction_id, "out_trade_no": self.out_trade_no, "channel": "ORIGINAL",
            "user_received_account": "支付用户零钱", "create_time": self.create_time, "status": self.status,
            "funds_account": "AVAILABLE",
            "amount": {"total": self.total_fen, "refund": self.refund_fen, "payer_total": self.total_fen,
                       "payer_refund": self.refund_fen, "settlement_total": self.total_fen,
                       "settlement_refund": self.refund_fen, "discount_refund": 0, "currency": "CNY"},
        }
        if self.success_time is not None:
            data["success_time"] = self.success_time
        return data

    def notification_json(self) -> dict[str, Any]:
        """The refund notification's resource schema (``refund_status``, fewer amount fields)."""
        data = {"mchid": self.mchid, "out_trade_no": self.out_trade_no, "transaction_id": self.transaction_id,
                "out_refund_no": self.out_refund_no, "refund_id": self.refund_id, "refund_status": self.status,
                "user_received_account": "支付用户零钱",
                "amount": {"total": self.total_fen, "refund": self.refund_fen, "payer_total": self.total_fen,
                           "payer_refund": self.refund_fen}}
        if self.success_time is not None:
            data["success_time"] = self.success_time
        return data


@dataclass(frozen=True)
class RecordedRequest:
    """One request the fake received and how it answered."""

    method: str
    path: str
    mchid: str | None
    status: int
    code: str | None


# ---------------------------------------------------------------------------------------------
# Field checks on request bodies.

def _object(value: Any, name: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _ApiError(400, "PARAM_ERROR", f"{name} must be an object")
    return value


def _text(body: dict[str, Any], name: str, max_chars: int, *, required: bool = True) -> str | None:
    value = body.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not 1 <= len(value) <= max_chars:
        raise _ApiError(400, "PARAM_ERROR", f"{name} is missing or longer than {max_chars} characters")
    return value


def _fen(body: dict[str, Any], name: str) -> int:
    value = body.get(name)
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise _ApiError(400, "PARAM_ERROR", f"amount.{name} must be a positive integer")
    return value


def _notify_url(body: dict[str, Any], *, required: bool = True) -> str | None:
    url = _text(body, "notify_url", 255, required=required)
    if url is not None:
        parts = urlsplit(url)
        if parts.scheme != "https" or not parts.hostname or parts.query or "?" in url:
            raise _ApiError(400, "PARAM_ERROR", "notify_url must be https without a query string")
    return url


def _currency(amount: dict[str, Any]) -> None:
    if amount.get("currency", "CNY") != "CNY":
        raise _ApiError(400, "PARAM_ERROR", "currency must be CNY")


class _Handler(BaseHTTPRequestHandler):
    server: _HttpServer
    server_version = "FakeWeChat/1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 -- keep test output quiet
        return

    def do_GET(self) -> None:  # noqa: N802
        self._handle("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._handle("POST")

    def do_PUT(self) -> None:  # noqa: N802
        self._handle("PUT")

    def do_DELETE(self) -> None:  # noqa: N802
        self._handle("DELETE")

    def _handle(self, method: str) -> None:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if not 0 <= length <= MAX_REQUEST_BYTES:
            self._write(413, {"Content-Type": "application/json"}, b'{"code":"PARAM_ERROR","message":"body size"}')
            return
        body = self.rfile.read(length) if length else b""
        answer = self.server.fake._serve(method, self.path, self.headers.get("Authorization"), body)
        if answer is None:  # a dropped response: close without a word
            self.close_connection = True
            return
        self._write(*answer)

    def _write(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body:
            self.wfile.write(body)


class _HttpServer(ThreadingHTTPServer):
    daemon_threads = True
    fake: LocalFakeServer


class LocalFakeServer:
    """An HTTP fake on ``127.0.0.1`` (port chosen by the OS), served from a daemon thread. A
    subclass answers in :meth:`_serve` with ``(status, headers, body)``, or ``None`` to close the
    connection without a word. Use as a context manager or start()/stop()."""

    thread_name = "local-fake"

    def __init__(self) -> None:
        self._httpd: _HttpServer | None = None
        self._thread: threading.Thread | None = None

    def _serve(self, method: str, raw_path: str, authorization: str | None,
               body: bytes) -> tuple[int, dict[str, str], bytes] | None:
        raise NotImplementedError

    def start(self):
        """Bind to 127.0.0.1 on a free port and serve in a daemon thread."""
        if self._httpd is not None:
            return self
        httpd = _HttpServer(("127.0.0.1", 0), _Handler)
        httpd.fake = self
        self._httpd = httpd
        self._thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=self.thread_name, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        if self._httpd is None:
            return
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = self._thread = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>`` (start the server first)."""
        if self._httpd is None:
            raise RuntimeError("the fake server is not started")
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"


class FakeWeChatPayServer(LocalFakeServer):
    """WeChat Pay API v3 on ``127.0.0.1`` for tests. Use as a context manager or start()/stop()."""

    thread_name = "fake-wechatpay"

    def __init__(self, *, clock: Callable[[], float] = time.time, max_skew_seconds: int = 300) -> None:
        super().__init__()
        self.clock = clock
        self.max_skew_seconds = max_skew_seconds
        self.requests: list[RecordedRequest] = []
        self._merchants: dict[str, FakeMerchantAccount] = {}
        self._orders: dict[tuple[str, str], FakeOrder] = {}
        self._refunds: dict[tuple[str, str], FakeRefund] = {}
        self._tampers: list[ResponseTamper] = []
        self._drops = 0
        self._failures: list[tuple[int, str, str]] = []
        self._lock = threading.RLock()
        self._sequence = itertools.count(1)

    # ---- set-up and test controls ---------------------------------------------------------

    def add_merchant(self, *, mchid: str, appid: str, merchant_public_key: rsa.RSAPublicKey, merchant_serial: str,
                     platform_private_key: rsa.RSAPrivateKey, platform_serial: str, apiv3_key: str) -> None:
        """Register a merchant: the key that signs its requests and the platform key that signs for it."""
        with self._lock:
            self._merchants[mchid] = FakeMerchantAccount(mchid, appid, merchant_public_key, merchant_serial,
                                                         platform_private_key, platform_serial, apiv3_key)

    def add_fake_merchant(self, merchant: Any) -> None:
        """Register a :class:`~mallow.payments.wechatpay.testing.FakeMerchant` (``keys``,
        ``platform_private_key``, ``platform_serial``)."""
        keys = merchant.keys
        self.add_merchant(mchid=keys.mchid, appid=keys.appid,
                          merchant_public_key=keys.merchant_private_key.public_key(),
                          merchant_serial=keys.merchant_certificate_serial,
                          platform_private_key=merchant.platform_private_key,
                          platform_serial=merchant.platform_serial, apiv3_key=keys.apiv3_key)

    def _merchant(self, mchid: str | None) -> FakeMerchantAccount:
        if mchid is None:
            if len(self._merchants) != 1:
                raise ValueError("several merchants are registered: pass mchid")
            return next(iter(self._merchants.values()))
        return self._merchants[mchid]

    def order(self, out_trade_no: str, mchid: str | None = None) -> FakeOrder | None:
        """The server-side order, or ``None``."""
        with self._lock:
            return self._orders.get((self._merchant(mchid).mchid, out_trade_no))

    def refund_record(self, out_refund_no: str, mchid: str | None = None) -> FakeRefund | None:
        """The server-side refund, or ``None``."""
        with self._lock:
            return self._refunds.get((self._merchant(mchid).mchid, out_refund_no))

    def mark_paid(self, out_trade_no: str, mchid: str | None = None, *, payer_openid: str | None = None) -> dict[str, Any]:
        """The shopper paid: the order becomes ``SUCCESS`` with a transaction id. Returns its JSON."""
        with self._lock:
            order = self._orders[(self._merchant(mchid).mchid, out_trade_no)]
            if order.trade_state != "NOTPAY":
                raise ValueError(f"order {out_trade_no} is {order.trade_state}, not NOTPAY")
            order.trade_state = "SUCCESS"
            order.transaction_id = f"4200{next(self._sequence):024d}"[:32]
            order.success_time = rfc3339_now(self.clock())
            if order.payer_openid is None:
                order.payer_openid = payer_openid or "o-fake-h5-payer"
            return order.as_json()

    def order_by_code_url(self, code_url: str) -> FakeOrder | None:
        """The Native order whose QR code says ``code_url`` (what WeChat finds when a payer scans it)."""
        with self._lock:
            return next((order for order in self._orders.values() if order.code_url == code_url), None)

    def scan_and_pay(self, code_url: str, *, payer_openid: str = "o-fake-native-payer",
                     deliver: Callable[[SignedNotification], Any] | None = None) -> SignedNotification:
        """A payer scans the Native QR code ``code_url`` with WeChat and pays: the order becomes
        ``SUCCESS`` and WeChat Pay's signed ``TRANSACTION.SUCCESS`` notification is built for the
        order's ``notify_url``. ``deliver(notification)`` posts it (tests choose how: a test client, a
        real HTTP request); the notification is returned either way."""
        order = self.order_by_code_url(code_url)
        if order is None:
            raise KeyError(f"no Native order has the code {code_url!r}")
        self.mark_paid(order.out_trade_no, order.mchid, payer_openid=payer_openid)
        notification = self.payment_notification(order.out_trade_no, order.mchid)
        if deliver is not None:
            deliver(notification)
        return notification

    def complete_refund(self, out_refund_no: str, mchid: str | None = None, *, status: str = "SUCCESS") -> dict[str, Any]:
        """Move a ``PROCESSING`` refund to ``SUCCESS``, ``CLOSED`` or ``ABNORMAL``. Returns its JSON."""
        if status not in ("SUCCESS", "CLOSED", "ABNORMAL"):
            raise ValueError("status must be SUCCESS, CLOSED or ABNORMAL")
        with self._lock:
            refund = self._refunds[(self._merchant(mchid).mchid, out_refund_no)]
            refund.status = status
            if status == "SUCCESS":
                refund.success_time = rfc3339_now(self.clock())
            return refund.as_json()

    def payment_notification(self, out_trade_no: str, mchid: str | None = None, *,
                             timestamp: int | None = None) -> SignedNotification:
        """The ``TRANSACTION.SUCCESS`` notification WeChat Pay would post for a paid order."""
        with self._lock:
            merchant = self._merchant(mchid)
            order = self._orders[(merchant.mchid, out_trade_no)]
            payload = order.as_json()
        return build_notification(apiv3_key=merchant.apiv3_key, platform_private_key=merchant.platform_private_key,
                                  platform_serial=merchant.platform_serial, event_type="TRANSACTION.SUCCESS",
                                  payload=payload, timestamp=timestamp if timestamp is not None else int(self.clock()),
                                  notify_url=order.notify_url)

    def refund_notification(self, out_refund_no: str, mchid: str | None = None, *,
                            timestamp: int | None = None) -> SignedNotification:
        """The ``REFUND.<status>`` notification for a completed refund."""
        with self._lock:
            merchant = self._merchant(mchid)
            refund = self._refunds[(merchant.mchid, out_refund_no)]
            payload = refund.notification_json()
        return build_notification(apiv3_key=merchant.apiv3_key, platform_private_key=merchant.platform_private_key,
                                  platform_serial=merchant.platform_serial, event_type=f"REFUND.{refund.status}",
                                  payload=payload, timestamp=timestamp if timestamp is not None else int(self.clock()),
                                  notify_url=refund.notify_url)

    def tamper_next_response(self, tamper: ResponseTamper) -> None:
        """Apply ``tamper(status, headers, body)`` to the next response *after* it is signed."""
        with self._lock:
            self._tampers.append(tamper)

    def drop_next_responses(self, count: int = 1) -> None:
        """Process the next ``count`` requests but close the connection instead of answering
        (a timeout as the client sees it: the order or refund may exist)."""
        with self._lock:
            self._drops += count

    def fail_next_requests(self, count: int = 1, *, status: int = 500, code: str = "SYSTEM_ERROR",
                           message: str = "系统错误") -> None:
        """Answer the next ``count`` authenticated requests with a signed error, without processing."""
        with self._lock:
            self._failures.extend([(status, code, message)] * count)

    def reset_faults(self) -> None:
        """Forget pending tampers, drops and failures (e.g. between tests sharing a server)."""
        with self._lock:
            self._tampers.clear()
            self._drops = 0
            self._failures.clear()

    # ---- request handling -----------------------------------------------------------------

    def _serve(self, method: str, raw_path: str, authorization: str | None,
               body: bytes) -> tuple[int, dict[str, str], bytes] | None:
        with self._lock:
            signer: FakeMerchantAccount | None = None  # whose platform key signs the answer
            authenticated = False
            code: str | None = None
            try:
                params, signer = self._identify(authorization)
                self._check_signature(signer, params, method, raw_path, body)
                authenticated = True
                if self._failures:
                    status, code, message = self._failures.pop(0)
                    raise _ApiError(status, code, message)
                status, payload = self._route(signer, method, raw_path, body)
            except _ApiError as error:
                status, payload, code = error.status, {"code": error.code, "message": error.message}, error.code
            self.requests.append(RecordedRequest(method, raw_path, signer.mchid if signer else None, status, code))
            if self._drops and authenticated:
                self._drops -= 1
                return None
            response_body = b"" if payload is None else json.dumps(payload, ensure_ascii=False).encode("utf-8")
            headers = {"Request-ID": secrets.token_hex(16)}
            if response_body:
                headers["Content-Type"] = "application/json"
            if signer is not None:  # an unknown merchant has no platform key to sign with
                headers.update(sign_headers(signer.platform_private_key, signer.platform_serial, response_body,
                                            timestamp=int(self.clock())))
            if self._tampers:
                status, headers, response_body = self._tampers.pop(0)(status, headers, response_body)
            return status, headers, response_body

    def _identify(self, authorization: str | None) -> tuple[dict[str, str], FakeMerchantAccount]:
        if not authorization:
            raise _ApiError(401, "SIGN_ERROR", "Authorization header is missing")
        try:
            params = parse_authorization_header(authorization)
        except ValueError as exc:
            raise _ApiError(401, "SIGN_ERROR", f"bad Authorization header: {exc}") from exc
        merchant = self._merchants.get(params["mchid"])
        if merchant is None:
            raise _ApiError(401, "SIGN_ERROR", "unknown mchid")
        return params, merchant

    def _check_signature(self, merchant: FakeMerchantAccount, params: dict[str, str], method: str,
                         raw_path: str, body: bytes) -> None:
        """Check a request exactly as WeChat Pay does, with the merchant's public key."""
        if params["serial_no"] != merchant.merchant_serial:
            raise _ApiError(401, "SIGN_ERROR", "serial_no is not the merchant's certificate")
        timestamp = params["timestamp"]
        if not (timestamp.isascii() and timestamp.isdigit()) or abs(self.clock() - int(timestamp)) > self.max_skew_seconds:
            raise _ApiError(401, "SIGN_ERROR", "timestamp is too far from now")
        try:
            message = request_message(method, raw_path, timestamp, params["nonce_str"], body)
        except ValueError as exc:
            raise _ApiError(401, "SIGN_ERROR", "the request line cannot be signed") from exc
        if not verify_sha256_rsa(merchant.merchant_public_key, message, params["signature"]):
            raise _ApiError(401, "SIGN_ERROR", "signature verification failed")

    def _route(self, merchant: FakeMerchantAccount, method: str, raw_path: str,
               body: bytes) -> tuple[int, dict[str, Any] | None]:
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
                raise _ApiError(400, "PARAM_ERROR", "the mchid query parameter must be the caller's")
            return 200, self._find_order(merchant, unquote(match.group(1))).as_json()
        if match and method == "POST" and match.group(2):
            if self._json(body).get("mchid") != merchant.mchid:
                raise _ApiError(400, "PARAM_ERROR", "mchid does not match the caller")
            order = self._find_order(merchant, unquote(match.group(1)))
            if order.trade_state in ("SUCCESS", "REFUND"):
                raise _ApiError(400, "ORDERPAID", "the order is paid")
            order.trade_state = "CLOSED"
            return 204, None
        match = re.fullmatch(r"/v3/refund/domestic/refunds/([^/]+)", path)
        if match and method == "GET":
            refund = self._refunds.get((merchant.mchid, unquote(match.group(1))))
            if refund is None:
                raise _ApiError(404, "RESOURCE_NOT_EXISTS", "no such refund")
            return 200, refund.as_json()
        raise _ApiError(404, "NOT_FOUND", "no such API")

    @staticmethod
    def _json(body: bytes) -> dict[str, Any]:
        try:
            return _object(json.loads(body), "the body")
        except ValueError as exc:
            raise _ApiError(400, "PARAM_ERROR", "the body is not JSON") from exc

    def _find_order(self, merchant: FakeMerchantAccount, out_trade_no: str) -> FakeOrder:
        order = self._orders.get((merchant.mchid, out_trade_no))
        if order is None:
            raise _ApiError(404, "ORDER_NOT_EXIST", "the order does not exist")
        return order

    def _create_order(self, merchant: FakeMerchantAccount, trade_type: str, body: dict[str, Any]) -> dict[str, Any]:
        if body.get("mchid") != merchant.mchid:
            raise _ApiError(400, "PARAM_ERROR", "mchid does not match the caller")
        if body.get("appid") != merchant.appid:
            raise _ApiError(400, "APPID_MCHID_NOT_MATCH", "appid and mchid do not match")
        description = _text(body, "description", 127)
        out_trade_no = body.get("out_trade_no")
        if not isinstance(out_trade_no, str) or not _OUT_TRADE_NO_RE.fullmatch(out_trade_no):
            raise _ApiError(400, "PARAM_ERROR", "out_trade_no is invalid")
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
                raise _ApiError(400, "PARAM_ERROR", "scene_info.payer_client_ip is invalid") from exc
            if trade_type == "MWEB" and _object(scene.get("h5_info"), "scene_info.h5_info").get("type") not in (
                    "Wap", "iOS", "Android"):
                raise _ApiError(400, "PARAM_ERROR", "scene_info.h5_info.type is invalid")
        identity = {k: v for k, v in body.items() if k != "time_expire"} | {"trade_type": trade_type}

        existing = self._orders.get((merchant.mchid, out_trade_no))
        if existing is not None:
            if existing.trade_state in ("SUCCESS", "REFUND"):
                raise _ApiError(400, "ORDERPAID", "the order is already paid")
            if existing.trade_state == "CLOSED":
                raise _ApiError(400, "ORDER_CLOSED", "the order is closed")
            if existing.identity != identity:
                raise _ApiError(400, "INVALID_REQUEST", "out_trade_no was used with other parameters")
            order = existing
        else:
            prepay_id = f"wx{time.strftime('%d%H%M%S')}{secrets.token_hex(12)}"
            order = FakeOrder(mchid=merchant.mchid, appid=merchant.appid, out_trade_no=out_trade_no,
                              trade_type=trade_type, description=description, total_fen=total, notify_url=notify_url,
                              identity=identity, prepay_id=prepay_id, payer_openid=payer_openid, attach=attach)
            if trade_type == "MWEB":
                order.h5_url = f"https://wx.tenpay.com/cgi-bin/mmpayweb-bin/checkmweb?prepay_id={prepay_id}"
            elif trade_type == "NATIVE":
                order.code_url = f"weixin://wxpay/bizpayurl?pr={secrets.token_urlsafe(6).replace('-', 'x')}"
            self._orders[(merchant.mchid, out_trade_no)] = order
        if trade_type == "JSAPI":
            return {"prepay_id": order.prepay_id}
        return {"h5_url": order.h5_url} if trade_type == "MWEB" else {"code_url": order.code_url}

    def _create_refund(self, merchant: FakeMerchantAccount, body: dict[str, Any]) -> dict[str, Any]:
        out_refund_no = body.get("out_refund_no")
        if not isinstance(out_refund_no, str) or not _OUT_REFUND_NO_RE.fullmatch(out_refund_no):
            raise _ApiError(400, "PARAM_ERROR", "out_refund_no is invalid")
        out_trade_no = body.get("out_trade_no")
        if not isinstance(out_trade_no, str):
            raise _ApiError(400, "PARAM_ERROR", "out_trade_no is required")
        amount = _object(body.get("amount"), "amount")
        refund_fen, total_fen = _fen(amount, "refund"), _fen(amount, "total")
        _currency(amount)
        reason = _text(body, "reason", 80, required=False)
        notify_url = _notify_url(body, required=False)

        existing = self._refunds.get((merchant.mchid, out_refund_no))
        if existing is not None:  # a retry: the same refund, never a second payment
            if existing.out_trade_no != out_trade_no or existing.refund_fen != refund_fen:
                raise _ApiError(400, "INVALID_REQUEST", "out_refund_no was used with other parameters")
            return existing.as_json()

        order = self._orders.get((merchant.mchid, out_trade_no))
        if order is None:
            raise _ApiError(404, "RESOURCE_NOT_EXISTS", "the order does not exist")
        if order.trade_state not in ("SUCCESS", "REFUND") or order.transaction_id is None:
            raise _ApiError(400, "INVALID_REQUEST", "the order is not paid")
        if total_fen != order.total_fen:
            raise _ApiError(400, "PARAM_ERROR", "amount.total is not the order's total")
        refunds = [self._refunds[(merchant.mchid, no)] for no in order.refund_nos]
        if len(refunds) >= MAX_REFUNDS_PER_ORDER:
            raise _ApiError(400, "INVALID_REQUEST", f"at most {MAX_REFUNDS_PER_ORDER} refunds per order")
        already = sum(r.refund_fen for r in refunds if r.status != "CLOSED")
        if already + refund_fen > order.total_fen:
            raise _ApiError(400, "INVALID_REQUEST", "the refund exceeds the refundable amount")
        refund = FakeRefund(mchid=merchant.mchid, out_refund_no=out_refund_no,
                            refund_id=f"50{next(self._sequence):030d}", out_trade_no=out_trade_no,
                            transaction_id=order.transaction_id, refund_fen=refund_fen, total_fen=total_fen,
                            create_time=rfc3339_now(self.clock()), notify_url=notify_url, reason=reason)
        self._refunds[(merchant.mchid, out_refund_no)] = refund
        order.refund_nos.append(out_refund_no)
        order.trade_state = "REFUND"
        return refund.as_json()

