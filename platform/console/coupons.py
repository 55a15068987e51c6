"""The console's coupons (营销 → 优惠券, ``/s/<slug>/console/coupons``, staff of the store): the
list with each coupon's state and counts, the create / edit form (amounts in yuan, stored in fen;
the field errors of :mod:`mallow.coupons.service` shown beside the fields), pause / resume / end,
and issuing to shoppers by mobile number or customer id (a job: :func:`service.queue_issue`)."""

from __future__ import annotations

from datetime import UTC

import sqlalchemy as sa
from flask import abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _

from mallow.accounts import customers
from mallow.accounts.guards import staff_required
from mallow.accounts.models import Customer
from mallow.catalog.models import Product, ProductCategory
from mallow.coupons import rules, service
from mallow.coupons.models import KINDS, MARKETING_PLUGINS, SCOPES, VALIDITIES, Coupon
from mallow.coupons.service import LOCAL
from mallow.db import db
from mallow.money import MoneyError, fen_to_yuan, yuan_to_fen
from mallow.security import crypto
from mallow.validation import Errors, ValidationFailed
from mallow.web import render_form
from mallow.web.blueprints import console as bp

#: the form's yuan fields → the service's fen fields
YUAN_FIELDS = {"threshold": "threshold_fen", "amount": "amount_fen", "cap": "cap_fen"}
#: the service's fields → the form's (field errors show beside the form's inputs)
FORM_NAMES = {fen: form for form, fen in YUAN_FIELDS.items()}
#: a coupon's next states and their buttons
ACTIONS = {"draft": ("active", "ended"), "active": ("paused", "ended"), "paused": ("active", "ended"), "ended": ()}
MAX_ISSUE = 1000


def status_labels() -> dict[str, str]:
    return {"draft": _("Draft"), "active": _("Active"), "paused": _("Paused"), "ended": _("Ended")}


def kind_labels() -> dict[str, str]:
    return {
        "amount_off": _("Amount off over a threshold (满减)"),
        "percent_off": _("Percent off (折扣)"),
        "no_threshold": _("Amount off, no minimum (无门槛)"),
    }


def plugin_labels() -> dict[str, str]:
    return {"distribution": _("Distribution"), "flashsale": _("Flash sales"), "groupbuy": _("Group buying")}


def _local_input(moment) -> str:
    """A stored time as a ``datetime-local`` input's value, China time."""
    if moment is None:
        return ""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(LOCAL).strftime("%Y-%m-%dT%H:%M")


def _data_from_form(form, coupon: Coupon | None) -> dict:
    """The service's input from the form: yuan → fen (a field error when it is not an amount),
    the checked ids and plugins as lists. On an edit of an issued coupon only what may still
    change is sent (the rest is a promise to its holders)."""
    errors = Errors()
    data: dict = {
        key: form.get(key, "")
        for key in (
            "name",
            "description",
            "kind",
            "percent",
            "scope",
            "validity",
            "starts_at",
            "ends_at",
            "valid_days",
            "total_quantity",
            "per_shopper_limit",
        )
    }
    for name, fen_key in YUAN_FIELDS.items():
        raw = (form.get(name) or "").strip()
        if not raw:
            data[fen_key] = None
            continue
        try:
            data[fen_key] = yuan_to_fen(raw)
        except MoneyError:
            errors.add(name, "invalid", _("Enter an amount in yuan, e.g. 12.50."))
    scope = data["scope"]
    data["scope_ids"] = form.getlist("category_ids" if scope == "categories" else "product_ids")
    data["stacks_with"] = [name for name in form.getlist("stacks_with") if name]
    data["auto_issue"] = "new_member" if form.get("auto_issue") else None
    if data["validity"] != "days_after_claim":
        data.pop("valid_days")
    errors.raise_if_any()
    if coupon is not None and coupon.issued_count > 0:
        data = {key: value for key, value in data.items() if key in service.EDITABLE_AFTER_ISSUE}
    return data


def _form_errors(failed: ValidationFailed) -> ValidationFailed:
    """The service's field names as the form's (``threshold_fen`` → ``threshold``)."""
    errors = {}
    for key, value in failed.errors.items():
        if key == "scope_ids":
            key = "product_ids" if request.form.get("scope") == "products" else "category_ids"
        errors[FORM_NAMES.get(key, key)] = value
    return ValidationFailed(errors)


def _choices() -> dict:
    products = db.session.execute(sa.select(Product.id, Product.title).order_by(Product.id.desc()).limit(300)).all()
    categories = db.session.execute(
        sa.select(ProductCategory.id, ProductCategory.name).order_by(ProductCategory.id)
    ).all()
    return {
        "products": products,
        "categories": categories,
        "kinds": [(k, kind_labels()[k]) for k in KINDS],
        "scopes": SCOPES,
        "validities": VALIDITIES,
        "plugins": [(p, plugin_labels()[p]) for p in MARKETING_PLUGINS],
    }


def _form_of(coupon: Coupon) -> dict:
    """The edit form's values from a coupon (fen → yuan, times in China time)."""
    return {
        "name": coupon.name,
        "description": coupon.description or "",
        "kind": coupon.kind,
        "threshold": fen_to_yuan(coupon.threshold_fen) if coupon.threshold_fen else "",
        "amount": fen_to_yuan(coupon.amount_fen) if coupon.amount_fen else "",
        "percent": str(coupon.percent or ""),
        "cap": fen_to_yuan(coupon.cap_fen) if coupon.cap_fen else "",
        "scope": coupon.scope,
        "scope_ids": [int(i) for i in coupon.scope_ids or ()],
        "validity": coupon.validity,
        "starts_at": _local_input(coupon.starts_at),
        "ends_at": _local_input(coupon.ends_at),
        "valid_days": str(coupon.valid_days or ""),
        "total_quantity": str(coupon.total_quantity),
        "per_shopper_limit": str(coupon.per_shopper_limit),
        "stacks_with": list(coupon.stacks_with or ()),
        "auto_issue": coupon.auto_issue or "",
    }


class _Form(dict):
    """A dict that answers ``getlist`` like the request's form (the edit form's first view)."""

    def getlist(self, key):
        value = self.get(key)
        return [str(v) for v in value] if isinstance(value, list) else ([value] if value else [])


def _render_editor(coupon: Coupon | None, errors: ValidationFailed | None = None, form=None):
    if errors is not None:
        g.form_errors = errors.errors
    if form is None:
        form = request.form if request.method == "POST" else _Form(_form_of(coupon) if coupon else _defaults())
    if not hasattr(form, "getlist"):
        form = _Form(form)
    return (
        render_template(
            "console/coupon_form.html",
            coupon=coupon,
            form=form,
            locked=coupon is not None and coupon.issued_count > 0,
            editable=service.EDITABLE_AFTER_ISSUE,
            **_choices(),
        ),
        422 if errors is not None else 200,
    )


def _defaults() -> dict:
    return {
        "kind": "amount_off",
        "scope": "store",
        "validity": "fixed",
        "total_quantity": "100",
        "per_shopper_limit": "1",
        "stacks_with": ["distribution"],
    }


@bp.get("/coupons")
@staff_required
def coupons_list():
    status = request.args.get("status") or None
    if status not in (None, *ACTIONS):
        status = None
    rows = service.list_coupons(status)
    return render_template(
        "console/coupons.html",
        coupons=[{"coupon": c, "offer": rules.describe(c), "actions": ACTIONS[c.status]} for c in rows],
        status=status,
        status_labels=status_labels(),
    )


@bp.route("/coupons/new", methods=["GET", "POST"])
@staff_required
def coupon_new():
    if request.method == "GET":
        return _render_editor(None)
    try:
        data = _data_from_form(request.form, None)
        data["status"] = "active" if request.form.get("activate") else "draft"
        coupon = service.create_coupon(data)
    except ValidationFailed as failed:
        db.session.rollback()
        return _render_editor(None, _form_errors(failed))
    flash(_("Coupon saved: %(name)s", name=coupon.name), "success")
    return redirect(url_for("console.coupons_list")), 303


def _coupon_or_404(coupon_id: int) -> Coupon:
    coupon = service.get_coupon(coupon_id)
    if coupon is None:
        abort(404)
    return coupon


@bp.route("/coupons/<int:coupon_id>", methods=["GET", "POST"])
@staff_required
def coupon_edit(coupon_id: int):
    coupon = _coupon_or_404(coupon_id)
    if request.method == "GET":
        return _render_editor(coupon)
    try:
        service.update_coupon(coupon, _data_from_form(request.form, coupon))
    except ValidationFailed as failed:
        db.session.rollback()
        return _render_editor(db.session.get(Coupon, coupon_id), _form_errors(failed))
    flash(_("Coupon saved: %(name)s", name=coupon.name), "success")
    return redirect(url_for("console.coupons_list")), 303


@bp.post("/coupons/<int:coupon_id>/status")
@staff_required
def coupon_status(coupon_id: int):
    coupon = _coupon_or_404(coupon_id)
    try:
        service.set_status(coupon, request.form.get("status", ""))
    except ValidationFailed as failed:
        db.session.rollback()
        flash("; ".join(message for _code, message in failed.errors.values()), "error")
        return redirect(url_for("console.coupons_list")), 303
    flash(_("%(name)s is now: %(status)s", name=coupon.name, status=status_labels()[coupon.status]), "success")
    return redirect(url_for("console.coupons_list")), 303


def customer_ids_from(raw: str) -> tuple[list[int], list[str]]:
    """Mobile numbers and customer ids (one a line, or separated by commas or spaces) → the
    shoppers' ids and what matched no shopper."""
    ids: set[int] = set()
    unknown: list[str] = []
    parts = [p for p in raw.replace("，", ",").replace(",", " ").split() if p]
    for part in parts[:MAX_ISSUE]:
        login = customers.normalise_login(part)
        if login is not None:
            found = db.session.execute(
                sa.select(Customer.id).where(Customer.login_digest == crypto.digest(login))
            ).scalar_one_or_none()
        elif part.isascii() and part.isdigit() and len(part) < 19:
            found = db.session.execute(sa.select(Customer.id).where(Customer.id == int(part))).scalar_one_or_none()
        else:
            found = None
        if found is None:
            unknown.append(part)
        else:
            ids.add(found)
    return sorted(ids), unknown


@bp.route("/coupons/<int:coupon_id>/issue", methods=["GET", "POST"])
@staff_required
def coupon_issue(coupon_id: int):
    """发放: to the shoppers the merchant lists (by mobile number or customer id), by a job."""
    coupon = _coupon_or_404(coupon_id)
    if request.method == "GET":
        return render_form("console/coupon_issue.html", coupon=coupon, offer=rules.describe(coupon))
    raw = request.form.get("recipients", "")
    ids, unknown = customer_ids_from(raw)
    problem = None
    if coupon.status != "active":
        problem = ("not_active", _("Activate the coupon before issuing it."))
    elif unknown:
        problem = ("unknown", _("No shopper of this store: %(values)s", values="、".join(unknown[:10])))
    elif not ids:
        problem = ("required", _("Enter mobile numbers or customer ids, one a line."))
    if problem is not None:
        return render_form(
            "console/coupon_issue.html",
            errors=ValidationFailed({"recipients": problem}),
            coupon=coupon,
            offer=rules.describe(coupon),
        )
    service.queue_issue(coupon.id, ids)
    flash(_("Issuing to %(count)s shoppers: the counts update when it is done.", count=len(ids)), "success")
    return redirect(url_for("console.coupons_list")), 303
