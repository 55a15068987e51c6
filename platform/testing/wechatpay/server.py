"""A local fake of the WeChat Pay v3 API, for tests: real signatures, in-memory state.

It listens on ``127.0.0.1`` (port chosen by the OS) in a background thread and behaves like
WeChat Pay where Mallow depends on it:

* every request's ``Authorization`` is checked with the merchant's **public** key (scheme, mchid,
  serial, timestamp within 300 s, signature over ``METHOD\\nPATH?QUERY\\nts\\nnonce\\nbody\\n``);
  a failure is ``401 SIGN_ERROR``;
* every response is signed with the merchant's platform key (``Wechatpay-*`` headers);
* orders, refunds and their rules are the :class:`~.orderbook.OrderBook`'s.

Test controls: :meth:`mark_paid`, :meth:`scan_and_pay` (a payer scans a Native ``code_url`` and
pays; the signed notification goes to the store), :meth:`complete_refund`, :meth:`payment_notification`,
:meth:`refund_notification`, :meth:`tamper_next_response`, :meth:`drop_next_responses`,
:meth:`fail_next_requests`, and :attr:`requests` (a log of what arrived).

Usage::

    with FakeWeChatPayServer() as server:
        server.add_merchant(...)
        client = WeChatPayClient(keys, base_url=server.base_url)
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Callable
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa

from mallow.payments.wechatpay.signing import parse_authorization_header, request_message, verify_sha256_rsa

from ..local_server import LocalFakeServer
from .forging import SignedNotification, build_notification, sign_headers
from .orderbook import ApiError, OrderBook
from .records import FakeMerchantAccount, FakeOrder, FakeRefund, RecordedRequest

ResponseTamper = Callable[[int, dict[str, str], bytes], tuple[int, dict[str, str], bytes]]


class FakeWeChatPayServer(LocalFakeServer):
    """WeChat Pay API v3 on ``127.0.0.1`` for tests. Use as a context manager or start()/stop()."""

    thread_name = "fake-wechatpay"

    def __init__(self, *, clock: Callable[[], float] = time.time, max_skew_seconds: int = 300) -> None:
        super().__init__()
        self.clock = clock
        self.max_skew_seconds = max_skew_seconds
        self.requests: list[RecordedRequest] = []
        self._book = OrderBook(lambda: self.clock())
        self._tampers: list[ResponseTamper] = []
        self._drops = 0
        self._failures: list[tuple[int, str, str]] = []
        self._lock = threading.RLock()

    # ---- set-up and test controls ---------------------------------------------------------

    def add_merchant(
        self,
        *,
        mchid: str,
        appid: str,
        merchant_public_key: rsa.RSAPublicKey,
        merchant_serial: str,
        platform_private_key: rsa.RSAPrivateKey,
        platform_serial: str,
        apiv3_key: str,
    ) -> None:
        """Register a merchant: the key that signs its requests and the platform key that signs for it."""
        with self._lock:
            self._book.merchants[mchid] = FakeMerchantAccount(
                mchid, appid, merchant_public_key, merchant_serial, platform_private_key, platform_serial, apiv3_key
            )

    def add_fake_merchant(self, merchant: Any) -> None:
        """Register a :class:`~mallow.testing.wechatpay.FakeMerchant` (``keys``,
        ``platform_private_key``, ``platform_serial``)."""
        keys = merchant.keys
        self.add_merchant(
            mchid=keys.mchid,
            appid=keys.appid,
            merchant_public_key=keys.merchant_private_key.public_key(),
            merchant_serial=keys.merchant_certificate_serial,
            platform_private_key=merchant.platform_private_key,
            platform_serial=merchant.platform_serial,
            apiv3_key=keys.apiv3_key,
        )

    def order(self, out_trade_no: str, mchid: str | None = None) -> FakeOrder | None:
        """The server-side order, or ``None``."""
        with self._lock:
            return self._book.orders.get((self._book.merchant(mchid).mchid, out_trade_no))

    def refund_record(self, out_refund_no: str, mchid: str | None = None) -> FakeRefund | None:
        """The server-side refund, or ``None``."""
        with self._lock:
            return self._book.refunds.get((self._book.merchant(mchid).mchid, out_refund_no))

    def mark_paid(
        self, out_trade_no: str, mchid: str | None = None, *, payer_openid: str | None = None
    ) -> dict[str, Any]:
        """The shopper paid: the order becomes ``SUCCESS`` with a transaction id. Returns its JSON."""
        with self._lock:
            order = self._book.orders[(self._book.merchant(mchid).mchid, out_trade_no)]
            return self._book.mark_paid(order, payer_openid)

    def order_by_code_url(self, code_url: str) -> FakeOrder | None:
        """The Native order whose QR code says ``code_url`` (what WeChat finds when a payer scans it)."""
        with self._lock:
            return next((order for order in self._book.orders.values() if order.code_url == code_url), None)

    def scan_and_pay(
        self,
        code_url: str,
        *,
        payer_openid: str = "o-fake-native-payer",
        deliver: Callable[[SignedNotification], Any] | None = None,
    ) -> SignedNotification:
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

    def complete_refund(
        self, out_refund_no: str, mchid: str | None = None, *, status: str = "SUCCESS"
    ) -> dict[str, Any]:
        """Move a ``PROCESSING`` refund to ``SUCCESS``, ``CLOSED`` or ``ABNORMAL``. Returns its JSON."""
        if status not in ("SUCCESS", "CLOSED", "ABNORMAL"):
            raise ValueError("status must be SUCCESS, CLOSED or ABNORMAL")
        with self._lock:
            refund = self._book.refunds[(self._book.merchant(mchid).mchid, out_refund_no)]
            return self._book.complete_refund(refund, status)

    def payment_notification(
        self, out_trade_no: str, mchid: str | None = None, *, timestamp: int | None = None
    ) -> SignedNotification:
        """The ``TRANSACTION.SUCCESS`` notification WeChat Pay would post for a paid order."""
        with self._lock:
            merchant = self._book.merchant(mchid)
            order = self._book.orders[(merchant.mchid, out_trade_no)]
            payload = order.as_json()
        return build_notification(
            apiv3_key=merchant.apiv3_key,
            platform_private_key=merchant.platform_private_key,
            platform_serial=merchant.platform_serial,
            event_type="TRANSACTION.SUCCESS",
            payload=payload,
            timestamp=timestamp if timestamp is not None else int(self.clock()),
            notify_url=order.notify_url,
        )

    def refund_notification(
        self, out_refund_no: str, mchid: str | None = None, *, timestamp: int | None = None
    ) -> SignedNotification:
        """The ``REFUND.<status>`` notification for a completed refund."""
        with self._lock:
            merchant = self._book.merchant(mchid)
            refund = self._book.refunds[(merchant.mchid, out_refund_no)]
            payload = refund.notification_json()
        return build_notification(
            apiv3_key=merchant.apiv3_key,
            platform_private_key=merchant.platform_private_key,
            platform_serial=merchant.platform_serial,
            event_type=f"REFUND.{refund.status}",
            payload=payload,
            timestamp=timestamp if timestamp is not None else int(self.clock()),
            notify_url=refund.notify_url,
        )

    def tamper_next_response(self, tamper: ResponseTamper) -> None:
        """Apply ``tamper(status, headers, body)`` to the next response *after* it is signed."""
        with self._lock:
            self._tampers.append(tamper)

    def drop_next_responses(self, count: int = 1) -> None:
        """Process the next ``count`` requests but close the connection instead of answering
        (a timeout as the client sees it: the order or refund may exist)."""
        with self._lock:
            self._drops += count

    def fail_next_requests(
        self, count: int = 1, *, status: int = 500, code: str = "SYSTEM_ERROR", message: str = "系统错误"
    ) -> None:
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

    def _serve(
        self, method: str, raw_path: str, authorization: str | None, body: bytes
    ) -> tuple[int, dict[str, str], bytes] | None:
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
                    raise ApiError(status, code, message)
                status, payload = self._book.answer(signer, method, raw_path, body)
            except ApiError as error:
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
                headers.update(
                    sign_headers(
                        signer.platform_private_key, signer.platform_serial, response_body, timestamp=int(self.clock())
                    )
                )
            if self._tampers:
                status, headers, response_body = self._tampers.pop(0)(status, headers, response_body)
            return status, headers, response_body

    def _identify(self, authorization: str | None) -> tuple[dict[str, str], FakeMerchantAccount]:
        if not authorization:
            raise ApiError(401, "SIGN_ERROR", "Authorization header is missing")
        try:
            params = parse_authorization_header(authorization)
        except ValueError as exc:
            raise ApiError(401, "SIGN_ERROR", f"bad Authorization header: {exc}") from exc
        merchant = self._book.merchants.get(params["mchid"])
        if merchant is None:
            raise ApiError(401, "SIGN_ERROR", "unknown mchid")
        return params, merchant

    def _check_signature(
        self, merchant: FakeMerchantAccount, params: dict[str, str], method: str, raw_path: str, body: bytes
    ) -> None:
        """Check a request exactly as WeChat Pay does, with the merchant's public key."""
        if params["serial_no"] != merchant.merchant_serial:
            raise ApiError(401, "SIGN_ERROR", "serial_no is not the merchant's certificate")
        timestamp = params["timestamp"]
        if (
            not (timestamp.isascii() and timestamp.isdigit())
            or abs(self.clock() - int(timestamp)) > self.max_skew_seconds
        ):
            raise ApiError(401, "SIGN_ERROR", "timestamp is too far from now")
        try:
            message = request_message(method, raw_path, timestamp, params["nonce_str"], body)
        except ValueError as exc:
            raise ApiError(401, "SIGN_ERROR", "the request line cannot be signed") from exc
        if not verify_sha256_rsa(merchant.merchant_public_key, message, params["signature"]):
            raise ApiError(401, "SIGN_ERROR", "signature verification failed")
