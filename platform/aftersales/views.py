"""After-sales pages: the shopper's request form and list on the storefront, the merchant's
queue with approve/reject and "goods received" in the console. All rules are in
:mod:`mallow.aftersales.service`; these views only parse forms and render."""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from mallow.accounts.guards import principal, shopper_required, staff_required
from mallow.aftersales import service
from mallow.aftersales.models import AFTERSALE_STATES, AfterSale
from mallow.money import MoneyError, yuan_to_fen
from mallow.web.blueprints import console
from mallow.db import db
from mallow.orders import access
from mallow.statemachine import InvalidTransition
from mallow.web.blueprints import storefront
from mallow.validation import ValidationFailed
from mallow.web import render_form

STATUS_LABELS = {"requested": "Waiting for the store", "approved": "Approved", "returned": "Goods returned",
                 "refunded": "Refunded", "rejected": "Rejected", "withdrawn": "Withdrawn"}


@storefront.app_template_global("aftersale_status_label")
def aftersale_status_label(status: str) -> str:
    return _(STATUS_LABELS.get(status, status))


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


@storefront.route("/orders/<int:order_id>/aftersale", methods=["GET", "POST"])
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


@storefront.post("/aftersales/<int:aftersale_id>/withdraw")
@shopper_required
def withdraw_aftersale(aftersale_id):
    aftersale = db.session.get(AfterSale, aftersale_id)
    if aftersale is None or aftersale.customer_id != principal("shopper").id:
        abort(404)
    if aftersale.status == "requested":
        service.withdraw(aftersale, f"shopper:{aftersale.customer_id}")
    return redirect(url_for("storefront.order_detail", order_id=aftersale.order_id)), 303


@console.get("/aftersales")
@staff_required
def aftersales_list():
    status = request.args.get("status") or None
    if status and status not in AFTERSALE_STATES.states:
        abort(400)
    return render_template("console/aftersales.html", items=service.of_store(status), status=status)


@console.post("/aftersales/<int:aftersale_id>/<any(approve, reject, received):action>")
@staff_required
def aftersale_action(aftersale_id, action):
    aftersale = db.get_or_404(AfterSale, aftersale_id)
    actor = access.staff_actor()
    try:
        if action == "received":
            service.confirm_return(aftersale, actor)
        else:
            service.decide(aftersale, actor, action == "approve", request.form.get("reason", ""))
        flash(_("Done."), "ok")
    except ValidationFailed as failed:
        flash(next(iter(failed.errors.values()))[1], "error")
    except service.AfterSaleProblem as problem:
        flash(str(problem.message), "error")
    except InvalidTransition:
        flash(_("This request was handled meanwhile: nothing was done."), "error")
    return redirect(url_for("console.aftersales_list")), 303
