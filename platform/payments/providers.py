"""The payment provider interface and the registry of providers by name.

A provider is built for the active store (``get(name)``): it knows that store's merchant
identity and keys, and nothing of any other store. What every provider does:

* :meth:`PaymentProvider.create_payment` -- start paying one :class:`~mallow.payments.models.Payment`
  attempt; returns what the client needs (a cashier URL, signed ``wx.requestPayment`` parameters,
  an H5 URL, a Native ``code_url`` to show as a QR code). Nothing is paid by this: only a verified notification or an active query pays.
* :meth:`PaymentProvider.parse_notification` -- verify a notification's signature from the raw body
  and headers, decrypt it, and type it (:class:`PaymentResult` or :class:`RefundResult`); raises
  :class:`~mallow.payments.wechatpay.NotificationRejected` with a reason code.
* :meth:`PaymentProvider.query_payment`, :meth:`PaymentProvider.close_payment` (active queries).
* :meth:`PaymentProvider.refund`, :meth:`PaymentProvider.query_refund`.

Failures of an outbound call are :class:`ProviderError` with ``retryable`` telling whether the
outcome is unknown (a timeout: retry with the *same* numbers) or a definite refusal.

The business checks (mchid, appid, order, amount, currency, state) are made by
:mod:`mallow.payments.notifications` with the provider's ``mchid`` / ``appid``, the same way for every
provider. The registry belongs to the app (:func:`install`; ``create_app`` lists the built-in
providers); tests and deployments can replace a provider with :func:`register`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol
from collections.abc import Callable, Mapping

from flask import current_app

from mallow.payments.wechatpay.models import Refund as RefundResult, Transaction as PaymentResult
from mallow.tenants.context import current_store

__all__ = [
    "PaymentProvider",
    "PaymentResult",
    "ProviderError",
    "ProviderUnavailable",
    "RefundResult",
    "PaymentStart",
    "get",
    "names",
    "install",
    "register",
]


@dataclass(frozen=True)
class PaymentStart:
    """What the client needs to let the shopper pay. ``kind``: ``redirect`` (open ``url``),
    ``jsapi`` (call ``wx.requestPayment(params)`` inside WeChat), ``h5`` (open ``url`` in a mobile
    browser), ``native`` (show ``url``, a ``weixin://`` code, as a QR code for WeChat's scanner),
    ``paid`` (nothing to pay)."""

    kind: str
    url: str | None = None
    params: Mapping[str, str] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"kind": self.kind}
        if self.url is not None:
            data["url"] = self.url
        if self.params:
            data["params"] = dict(self.params)
        return data


class ProviderError(Exception):
    """An outbound call to the provider did not succeed.

    ``retryable``: no answer or a server error, the outcome is unknown -- query, or retry with
    the same ``out_trade_no`` / ``out_refund_no``. Otherwise the provider refused (``code``).
    """

    def __init__(self, code: str, message: str, *, retryable: bool) -> None:
        super().__init__(f"{code}: {message}")
        self.code, self.message, self.retryable = code, message, retryable


class ProviderUnavailable(LookupError):
    """The provider is unknown, disabled, or not configured for this store. ``message``, when
    given, tells a person why (e.g. the sandbox in a store that takes real payments)."""

    def __init__(self, name: str, message: str | None = None) -> None:
        super().__init__(name)
        self.name, self.message = name, message


class PaymentProvider(Protocol):
    name: str
    #: real money (WeChat Pay); False for the sandbox, whose orders are test orders
    live: bool
    #: this store's merchant identity at the provider (checked on every payment result)
    mchid: str
    appid: str

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
    ) -> PaymentStart: ...

    def parse_notification(self, body: bytes, headers) -> PaymentResult | RefundResult: ...

    def query_payment(self, payment) -> PaymentResult: ...

    def close_payment(self, payment) -> None: ...

    def refund(self, refund, payment, *, notify_url: str | None) -> RefundResult: ...

    def query_refund(self, refund) -> RefundResult: ...


ProviderFactory = Callable[[Any], PaymentProvider]  # (store) -> provider, raises ProviderUnavailable
EXTENSION = "mallow.payment_providers"


def install(app, factories: dict[str, ProviderFactory]) -> None:
    """Give ``app`` its providers (``create_app`` lists the built-in ones): the registry belongs
    to the app, and importing a provider's module registers nothing."""
    app.extensions[EXTENSION] = dict(factories)


def register(name: str, factory: ProviderFactory, app=None) -> ProviderFactory | None:
    """Register (or replace) the factory of provider ``name`` on ``app`` (default: the current
    app); returns the one it replaced."""
    factories = (app or current_app).extensions[EXTENSION]
    previous = factories.get(name)
    factories[name] = factory
    return previous


def names() -> list[str]:
    return sorted(current_app.extensions[EXTENSION])


def get(name: str, store=None) -> PaymentProvider:
    """The provider ``name`` for ``store`` (default: the active store)."""
    factory = current_app.extensions[EXTENSION].get(name)
    if factory is None:
        raise ProviderUnavailable(name)
    store = store or current_store()
    if store is None:
        raise ProviderUnavailable(name)
    return factory(store)
