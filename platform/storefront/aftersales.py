"""The shopper's after-sales pages (routes on the ``storefront`` blueprint): the request form of
an order and withdrawing a request; and ``aftersale_status_label``, the app-wide template global
that storefront and console pages show a request's state with. All rules are in
:mod:`mallow.aftersales.service`; these views only parse forms and render."""

from __future__ import annotations

from flask import abort, flash, redirect, request, url_for
from flask_babel import gettext as _

from mallow.accounts.guards import principal, shopper_required
from mallow.aftersales import service
from mallow.aftersales.models import AfterSale
from mallow.db import db
from mallow.money import MoneyError, yuan_to_fen
from mallow.orders import access
from mallow.validation import ValidationFailed
from mallow.web import render_form
from mallow.web.blueprints import storefront as bp


def status_labels() -> dict[str, str]:
    """What a shopper (and the console) reads for each state of an after-sales request. Written
    out with ``_()`` so that every label is extracted into the catalogue: a label kept as a bare
    string is never translated (the page showed "Waiting for the store" to Chinese shoppers)."""
    return {
        "requested": _("Awaiting approval"),  # 待审核: the store has not decided yet
        "approved": _("Approved"),
        "returned": _("Return sent back"),  # 退货已寄回: the goods are on their way back
        "refunded": _("Refunded"),
        "rejected": _("Rejected"),
        "withdrawn": _("Withdrawn"),
    }


@bp.app_template_global("aftersale_status_label")
def aftersale_status_label(status: str) -> str:
    return status_labels().get(status, _("Order updated"))


def _form_data() -> dict:
    """The form as the service takes it: the amount typed in yuan becomes fen."""
    data = {"kind": request.form.get("kind", ""), "reason": request.form.get("reason", "")}
    typed = (request.form.get("amount") or "").strip()
    if typed:
        try:
            data["amount"] = str(yuan_to_fen(typed))
        except MoneyError:
            raise ValidationFailed({"amount": ("invalid", _("Enter an amount in yuan, e.g. 12.50."))}) from None
    return data


@bp.route("/orders/<int:order_id>/aftersale", methods=["GET", "POST"])
@shopper_required
def request_aftersale(order_id):
    order = access.own_order(order_id)
    if request.method == "POST":
        try:
            service.request(principal("shopper"), order, _form_data(), request.files)
        except ValidationFailed as failed:
            return render_form("storefront/aftersale.html", errors=failed, order=order)
        except service.AfterSaleProblem as problem:
            flash(str(problem.message), "error")
            return redirect(url_for("storefront.order_detail", order_id=order.id)), 303
        flash(_("Your request was sent to the store."), "success")
        return redirect(url_for("storefront.order_detail", order_id=order.id)), 303
    return render_form("storefront/aftersale.html", order=order)


@bp.post("/aftersales/<int:aftersale_id>/withdraw")
@shopper_required
def withdraw_aftersale(aftersale_id):
    aftersale = db.session.get(AfterSale, aftersale_id)
    if aftersale is None or aftersale.customer_id != principal("shopper").id:
        abort(404)
    if aftersale.status == "requested":
        service.withdraw(aftersale, f"shopper:{aftersale.customer_id}")
    return redirect(url_for("storefront.order_detail", order_id=aftersale.order_id)), 303
