"""The sandbox provider: a simulated cashier so a demo store can take orders end to end.

It behaves like a real gateway where it matters. ``create_payment`` answers with the URL of a
cashier page (``/s/<slug>/pay/sandbox/<out_trade_no>?token=…``, see
:mod:`mallow.storefront.sandbox`). When the shopper presses *Pay* there, the sandbox -- playing the
gateway -- signs a ``TRANSACTION.SUCCESS`` notification with the store's sandbox secret and
delivers it through :func:`mallow.payments.notifications.accept_notification`, the same verification and
acceptance path a WeChat Pay notification takes. The order is never paid because a client said
so: the cashier's POST only asks the sandbox to notify, and the notification must verify.

Signature: ``Mallow-Sandbox-Signature`` = hex HMAC-SHA256 over
``timestamp\\nnonce\\nbody\\n`` (raw body bytes), with ``Mallow-Sandbox-Timestamp`` (unix seconds,
within 300 s) and ``Mallow-Sandbox-Nonce``. The secret is derived server-side from ``SECRET_KEY``
and the store id: it never leaves the server, and store A's secret cannot sign for store B.

The sandbox gateway keeps no books of its own: an active query reports what the store recorded,
refunds succeed at once.

**When a store may use it** (:func:`availability`, the one check): the platform setting
``MALLOW_SANDBOX_PAYMENTS`` is on (off unless the environment sets it: the demo and development
turn it on), the store has no live provider (WeChat Pay saved and turned on), and the owner did not
turn it off in the console. Every path that starts or completes a sandbox payment passes it:
building the provider (:func:`factory`, so ``payOrder``, the providers offered to shoppers and
notification acceptance), and the cashier page. A sandbox payment started before the store went
live cannot complete afterwards. An order the sandbox paid is a *test order*
(``Order.is_test``, from the provider's ``live = False``): no commission, no sales.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import time
from typing import Any

from flask import current_app, url_for
from flask_babel import gettext as _

from mallow.db import db
from mallow.payments import wechat
from mallow.payments.models import Payment, PaymentConfig
from mallow.payments.providers import PaymentStart, ProviderUnavailable
from mallow.payments.wechatpay import NotificationRejected, RejectionReason
from mallow.payments.wechatpay.models import PayloadError, parse_refund, parse_transaction, transaction_fields
from mallow.payments.wechatpay.notifications import PaymentNotification, RefundNotification
from mallow.payments.wechatpay.verification import MAX_CLOCK_SKEW_SECONDS

NAME = "sandbox"
APPID = "mallow-sandbox"
HEADER_TIMESTAMP = "Mallow-Sandbox-Timestamp"
HEADER_NONCE = "Mallow-Sandbox-Nonce"
HEADER_SIGNATURE = "Mallow-Sandbox-Signature"
_TIMESTAMP_RE = re.compile(r"[0-9]{1,12}")
_HEX64_RE = re.compile(r"[0-9a-f]{64}")


def store_secret(store) -> bytes:
    """The store's sandbox signing secret, derived from ``SECRET_KEY`` (never stored, never sent)."""
    root = current_app.config["SECRET_KEY"].encode()
    return hmac.new(root, f"mallow-sandbox-payments\x00{store.id}".encode(), hashlib.sha256).digest()


#: why a store may not use the sandbox now (see :func:`availability`)
PLATFORM_OFF, STORE_LIVE, STORE_OFF = "platform_off", "store_live", "store_off"


def platform_allows() -> bool:
    """The platform setting ``MALLOW_SANDBOX_PAYMENTS`` (off unless the environment turns it on)."""
    return bool(current_app.config.get("MALLOW_SANDBOX_PAYMENTS", False))


def availability(store=None) -> str | None:
    """The one check: ``None`` when the active store may start or complete a sandbox payment now,
    else why not (:data:`PLATFORM_OFF`, :data:`STORE_LIVE`, :data:`STORE_OFF`)."""
    if not platform_allows():
        return PLATFORM_OFF
    if wechat.is_live():
        return STORE_LIVE
    row = db.session.get(PaymentConfig, NAME)
    if row is not None and not row.enabled:
        return STORE_OFF
    return None


def enabled(store=None) -> bool:
    """The active store may use the sandbox now (:func:`availability`)."""
    return availability(store) is None


def refusal(reason: str | None) -> str:
    """What to tell a shopper (or an owner) when :func:`availability` says no."""
    if reason == PLATFORM_OFF:
        return _("Test payments (the sandbox) are turned off on this platform.")
    if reason == STORE_LIVE:
        return _("This store takes real payments with WeChat Pay: test payments (the sandbox) are not available.")
    return _("This store has turned test payments (the sandbox) off.")


def set_enabled(value: bool, actor: str) -> None:
    row = db.session.get(PaymentConfig, NAME)
    if row is None:
        row = PaymentConfig(provider=NAME, public={})
        db.session.add(row)
    row.enabled, row.updated_by = bool(value), actor


def _message(timestamp: str, nonce: str, body: bytes) -> bytes:
    return timestamp.encode() + b"\n" + nonce.encode() + b"\n" + body + b"\n"


def _header(headers, name: str) -> str | None:
    items = headers.items() if hasattr(headers, "items") else headers
    found = None
    for key, value in items:
        if str(key).lower() == name.lower():
            if found is not None and found != value:
                raise NotificationRejected(RejectionReason.DUPLICATE_HEADER, f"{name} is given twice")
            found = value
    return found


class SandboxProvider:
    name = NAME
    appid = APPID
    live = False  # no money moves: the orders it pays are test orders

    def __init__(self, store, *, clock=time.time) -> None:
        self.store = store
        self.mchid = f"SANDBOX{store.id}"
        self._secret = store_secret(store)
        self._clock = clock

    # ---- the gateway side (what the simulated cashier makes the sandbox do) -----------------

    def cashier_token(self, out_trade_no: str) -> str:
        """The capability in the cashier URL: only who got the URL from ``payOrder`` opens it."""
        return hmac.new(self._secret, b"cashier\x00" + out_trade_no.encode(), hashlib.sha256).hexdigest()[:32]

    def check_cashier_token(self, out_trade_no: str, token: str | None) -> bool:
        return bool(token) and hmac.compare_digest(self.cashier_token(out_trade_no), str(token))

    def transaction_id(self, out_trade_no: str) -> str:
        # Deterministic: pressing Pay twice is the same payment notified twice (a replay).
        digest = hmac.new(self._secret, b"transaction\x00" + out_trade_no.encode(), hashlib.sha256).hexdigest()
        return "SBX" + digest[:29]

    def sign(self, body: bytes, *, timestamp: int | None = None, nonce: str | None = None) -> dict[str, str]:
        timestamp_text = str(int(self._clock()) if timestamp is None else timestamp)
        nonce = nonce or secrets.token_hex(16)
        signature = hmac.new(self._secret, _message(timestamp_text, nonce, body), hashlib.sha256).hexdigest()
        return {HEADER_TIMESTAMP: timestamp_text, HEADER_NONCE: nonce, HEADER_SIGNATURE: signature}

    def payment_notification(self, payment, *, payer: str | None = None) -> tuple[bytes, dict[str, str]]:
        """The signed ``TRANSACTION.SUCCESS`` notification the sandbox sends when Pay is pressed."""
        resource = {
            "mchid": self.mchid,
            "appid": self.appid,
            "out_trade_no": payment.out_trade_no,
            "transaction_id": self.transaction_id(payment.out_trade_no),
            "trade_type": "SANDBOX",
            "trade_state": "SUCCESS",
            "amount": {"total": payment.amount, "currency": "CNY"},
            "payer": {"openid": payer or "sandbox-payer"},
        }
        body = json.dumps(
            {"id": secrets.token_hex(8), "event_type": "TRANSACTION.SUCCESS", "resource": resource},
            separators=(",", ":"),
        ).encode()
        return body, self.sign(body)

    # ---- the provider interface ---------------------------------------------------------------

    def create_payment(
        self,
        payment,
        order,
        *,
        description: str,
        notify_url: str | None,
        payer_openid: str | None,
        client_ip: str | None,
        scene: str | None,
    ) -> PaymentStart:
        url = url_for(
            "payments_pages.sandbox_cashier",
            out_trade_no=payment.out_trade_no,
            token=self.cashier_token(payment.out_trade_no),
        )
        return PaymentStart("redirect", url=url)

    def parse_notification(self, body: bytes, headers) -> PaymentNotification | RefundNotification:
        timestamp, nonce, signature = (
            _header(headers, HEADER_TIMESTAMP),
            _header(headers, HEADER_NONCE),
            _header(headers, HEADER_SIGNATURE),
        )
        for name, value in ((HEADER_TIMESTAMP, timestamp), (HEADER_NONCE, nonce), (HEADER_SIGNATURE, signature)):
            if not value:
                raise NotificationRejected(RejectionReason.MISSING_HEADER, f"the {name} header is missing")
        if not _TIMESTAMP_RE.fullmatch(timestamp):
            raise NotificationRejected(RejectionReason.BAD_TIMESTAMP, "the timestamp is not unix seconds")
        if abs(self._clock() - int(timestamp)) > MAX_CLOCK_SKEW_SECONDS:
            raise NotificationRejected(RejectionReason.STALE_TIMESTAMP, "the timestamp is too far from now")
        expected = hmac.new(self._secret, _message(timestamp, nonce, bytes(body)), hashlib.sha256).hexdigest()
        if not _HEX64_RE.fullmatch(signature) or not hmac.compare_digest(expected, signature):
            raise NotificationRejected(RejectionReason.BAD_SIGNATURE, "the sandbox signature does not verify")
        try:
            envelope = json.loads(bytes(body).decode("utf-8"))
            event_type, resource = envelope["event_type"], envelope["resource"]
        except (ValueError, TypeError, KeyError, UnicodeError) as exc:
            raise NotificationRejected(RejectionReason.MALFORMED_BODY, "not a sandbox notification") from exc
        try:
            if event_type.startswith("TRANSACTION."):
                return PaymentNotification(
                    **transaction_fields(resource), event_type=event_type, notification_id=envelope.get("id")
                )
        except (PayloadError, TypeError) as exc:
            raise NotificationRejected(RejectionReason.BAD_PAYLOAD, str(exc)) from exc
        raise NotificationRejected(RejectionReason.UNSUPPORTED_EVENT, "unsupported event_type")

    def query_payment(self, payment):
        state = {"paid": "SUCCESS", "closed": "CLOSED", "failed": "PAYERROR"}.get(payment.status, "NOTPAY")
        data: dict[str, Any] = {
            "mchid": self.mchid,
            "appid": self.appid,
            "out_trade_no": payment.out_trade_no,
            "trade_state": state,
            "amount": {"total": payment.amount, "currency": "CNY"},
        }
        if payment.transaction_id:
            data["transaction_id"] = payment.transaction_id
        return parse_transaction(data)

    def close_payment(self, payment) -> None:
        return None

    def _refund_json(self, refund, payment) -> dict[str, Any]:
        refund_id = (
            "SBXR"
            + hmac.new(self._secret, b"refund\x00" + refund.out_refund_no.encode(), hashlib.sha256).hexdigest()[:28]
        )
        return {
            "out_refund_no": refund.out_refund_no,
            "refund_id": refund_id,
            "out_trade_no": payment.out_trade_no,
            "transaction_id": payment.transaction_id,
            "status": "SUCCESS",
            "mchid": self.mchid,
            "amount": {"refund": refund.amount, "total": payment.amount, "currency": "CNY"},
        }

    def refund(self, refund, payment, *, notify_url: str | None):
        return parse_refund(self._refund_json(refund, payment))

    def query_refund(self, refund):
        return parse_refund(self._refund_json(refund, db.session.get(Payment, refund.payment_id)))


def factory(store) -> SandboxProvider:
    reason = availability(store)
    if reason is not None:
        raise ProviderUnavailable(NAME, refusal(reason))
    return SandboxProvider(store)
