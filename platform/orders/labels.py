"""What people read about an order: its state, its timeline entries and who made them.

One function per question, used by every page (storefront, console) so that no page prints a
raw key (``groupbuy_opened``, ``provider:sandbox``, ``shopper:1``):

* :func:`status_label` -- Mallow's label of a state; :func:`shopper_status_label` -- what the
  shopper's order page and list show (售后中 while an after-sales request is in progress, then a
  plugin's label through ``mallow_order_status_label``, e.g. 待成团, then Mallow's);
* :func:`event_label` -- a timeline entry: Mallow's own kinds and cancel reasons, then
  ``mallow_order_event_label`` for a plugin's, then "Order updated";
* :func:`cancel_reason_label` -- Mallow's cancel reasons ("" for any other: never the code);
* :func:`actor_label` -- who acted (买家, 商家, 系统, 微信支付, the plugin's title…), never the
  actor string;
* :func:`payment_method_label` -- a provider's name for people.

Plugin hooks are asked one implementation at a time in plugin-name order (first answer wins);
one that raises is logged and left out (:func:`mallow.plugins.manager.each_result`).
"""

from __future__ import annotations

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _

from mallow.db import db
from mallow.money import fen_to_yuan
from mallow.orders import aftersales_requests
from mallow.orders.models import Order
from mallow.plugins.manager import each_result
from mallow.plugins.manifests import localized
from mallow.web.redirects import safe_target

#: the shopper-facing banner of a state (待收货 for a shipped order: it is on its way to them)
_SHOPPER_STATUS = {"shipped": "to_receive"}


def status_labels() -> dict[str, str]:
    """Mallow's label of every order state (console and storefront filters)."""
    return {
        "pending_payment": _("Pending payment"),
        "paid": _("Awaiting shipment"),
        "shipped": _("Shipped"),
        "delivered": _("Delivered"),
        "completed": _("Completed"),
        "cancelled": _("Cancelled"),
        "closed": _("Closed"),
    }


def status_label(status: str | None) -> str:
    return status_labels().get(status or "", _("Order updated"))


def event_labels() -> dict[str, str]:
    """Mallow's own timeline kinds."""
    return {
        "placed": _("Order placed"),
        "paid": _("Paid"),
        "shipped": _("Shipped"),
        "delivered": _("Receipt confirmed"),
        "auto_delivered": _("Receipt confirmed automatically"),
        "completed": _("Completed"),
        "cancelled": _("Cancelled"),
        "closed": _("Closed"),
        "note": _("Merchant note"),
        "payment_started": _("Payment started"),
        "payment_failed": _("Payment failed"),
        "payment_cancelled": _("Payment cancelled"),
        "late_payment": _("Late payment, to be refunded"),
        "surplus_payment": _("Extra payment, to be refunded"),
        "refund_requested": _("Refund requested"),
        "refund_failed": _("Refund failed"),
        "refund_abnormal": _("Refund needs attention"),
        "refunded": _("Refunded"),
        "aftersale_requested": _("After-sales requested"),
        "aftersale_withdrawn": _("After-sales withdrawn"),
        "aftersale_approved": _("After-sales approved"),
        "aftersale_rejected": _("After-sales rejected"),
        "return_shipped": _("Return sent back"),
        "return_received": _("Return received"),
        "aftersale_refund_failed": _("After-sales refund failed"),
        "aftersale_refunded": _("After-sales refunded"),
        "buyer_account_deleted": _("Buyer deleted their account"),
    }


def cancel_reasons() -> dict[str, str]:
    return {"payment_timeout": _("Not paid in time"), "shopper": _("Cancelled by the shopper")}


def cancel_reason_label(code: str | None) -> str:
    """Mallow's label of a cancel reason; "" for a reason Mallow does not know (a plugin labels
    the whole entry through ``mallow_order_event_label``)."""
    return cancel_reasons().get(code or "", "")


def _first_answer(hook: str, **kwargs) -> str | None:
    for _plugin, answer in each_result(hook, **kwargs):
        if isinstance(answer, str) and answer.strip():
            return answer.strip()
    return None


def _asks_plugins(event) -> bool:
    """Whether Mallow cannot label ``event`` fully by itself: a kind of its own, or ``cancelled``
    with a reason that is not one of Mallow's."""
    if event.kind not in event_labels():
        return True
    reason = (event.detail or {}).get("reason") if event.kind == "cancelled" else None
    return bool(reason) and reason not in cancel_reasons()


def event_label(event) -> str:
    """The label of a timeline entry (an ``OrderEvent``; a kind alone is labelled as Mallow's)."""
    if isinstance(event, str):
        return event_labels().get(event, _("Order updated"))
    own = event_labels().get(event.kind)
    if _asks_plugins(event):
        answer = _first_answer("mallow_order_event_label", event=event)
        if answer:
            return answer
    return own or _("Order updated")


def _plugin_title(name: str) -> str | None:
    manifest = current_app.extensions.get("mallow.loaded_plugins", {}).get(name)
    return localized(manifest.title) if manifest is not None and manifest.title else None


def payment_method_label(provider: str | None) -> str:
    if provider == "wechatpay":
        return _("WeChat Pay")
    if provider == "sandbox":
        return _("Test payment (sandbox)")
    return _("Online payment")


def actor_label(actor: str | None) -> str:
    """Who acted, for people: the shopper, the store's staff, the system, a payment service, a
    plugin (by its title). Never the stored actor string."""
    kind, _sep, rest = (actor or "").partition(":")
    if kind == "shopper":
        return _("Shopper")
    if kind in ("staff", "merchant"):
        return _("Merchant")
    if kind == "provider":
        return payment_method_label(rest)
    if kind == "payer":
        return _("Payer")
    if kind == "admin":
        return _("Platform")
    if kind == "plugin":
        return _plugin_title(rest) or _("System")
    return _("System")


def open_aftersales(order_ids: list[int]) -> set[int]:
    """The orders among ``order_ids`` with an after-sales request in progress (one query;
    :mod:`mallow.orders.aftersales_requests`)."""
    if not order_ids:
        return set()
    return set(
        db.session.execute(
            sa.select(Order.id).where(Order.id.in_(order_ids), aftersales_requests.in_progress())
        ).scalars()
    )


def shopper_status_label(order, in_aftersales: bool | None = None) -> str:
    """What the shopper reads for ``order``'s state: 售后中 while an after-sales request is in
    progress, else a plugin's label (``mallow_order_status_label``: 待成团…), else Mallow's
    (待收货 for a shipped order). ``in_aftersales``: known already (lists ask once for a page)."""
    if in_aftersales is None:
        in_aftersales = order.id in open_aftersales([order.id])
    if in_aftersales:
        return _("After-sales in progress")
    answer = _first_answer("mallow_order_status_label", order=order)
    if answer:
        return answer
    if _SHOPPER_STATUS.get(order.status) == "to_receive":
        return _("To receive")
    return status_label(order.status)


def status_hint(order, in_aftersales: bool = False) -> str:
    """One line under the shopper's status banner."""
    if in_aftersales:
        return _("Your after-sales request is with the store.")
    if order.status == "closed" and order.refunded_total:
        return _("¥%(amount)s was refunded. The order is closed.", amount=fen_to_yuan(order.refunded_total))
    if _first_answer("mallow_order_status_label", order=order):
        return ""  # a plugin's state (待成团: the group is still forming) is not Mallow's "preparing your parcel"
    return {
        "paid": _("The store is preparing your parcel."),
        "shipped": _("Your parcel is on its way."),
        "delivered": _("You have received the parcel."),
        "completed": _("This order is complete. Thank you!"),
        "cancelled": _("This order was cancelled."),
        "closed": _("This order is closed."),
    }.get(order.status, "")


def after_payment_url(order) -> str | None:
    """Where a plugin wants the shopper once ``order`` is paid (``mallow_after_payment_url``): a
    path on this site, or None (Mallow's success page)."""
    answer = _first_answer("mallow_after_payment_url", order=order)
    if not answer:
        return None
    target = safe_target(answer, "")
    return target or None
