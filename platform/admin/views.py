"""Platform admin pages: sign-in and the qualification review queue."""

from __future__ import annotations

from flask import abort, flash, g, redirect, render_template, request, url_for
from flask_babel import get_locale, gettext as _

from mallow.accounts.authenticate import login_limits
from mallow.accounts.guards import admin_required, principal
from mallow.accounts.signin import password_sign_in, sign_out
from mallow.db import db
from mallow.qualifications import service
from mallow.qualifications.files import send_qualification_file
from mallow.qualifications.matrix import (
    Category,
    active_categories,
    format_requirements,
    parse_requirements,
    permit_kinds,
    update_requirements,
)
from mallow.qualifications.models import Qualification
from mallow.statemachine import InvalidTransition
from mallow.stores import lifecycle as store_lifecycle
from mallow.tenants.models import STORE_STATES, Store
from mallow.validation import ValidationFailed
from mallow.web import blueprints, render_form

bp = blueprints.admin


@bp.context_processor
def admin_helpers():
    return {"category_name": _category_name}


def _category_name(code: str) -> str:
    """A store category's name in the page's language (all categories read once per request)."""
    if "mallow_categories" not in g:
        g.mallow_categories = {c.code: c for c in active_categories()}
    category = g.mallow_categories.get(code)
    return category.name(str(get_locale())) if category else code


@bp.route("/login", methods=["GET", "POST"])
@login_limits
def login():
    return password_sign_in("admin", "auth/login.html", "admin.queue", area="admin")


@bp.post("/logout")
def logout():
    return sign_out("admin", "admin.login")


@bp.get("/")
@admin_required
def dashboard():
    return redirect(url_for("admin.queue"))


@bp.get("/qualifications")
@admin_required
def queue():
    status = request.args.get("status", "submitted")
    if status not in service.QUEUES:
        abort(400)
    items = service.review_queue(None if status == "all" else status)
    stores = {
        s.id: s for s in db.session.execute(db.select(Store).where(Store.id.in_({q.store_id for q in items}))).scalars()
    }
    return render_template("admin/queue.html", items=items, stores=stores, status=status, is_due=service.is_due)


@bp.get("/qualifications/<int:qualification_id>")
@admin_required
def review(qualification_id):
    return _review_page(db.get_or_404(Qualification, qualification_id))


def _review_page(qualification: Qualification, errors: ValidationFailed | None = None):
    store = db.session.get(Store, qualification.store_id)
    return render_form(
        "admin/review.html",
        errors=errors,
        q=qualification,
        store_row=store,
        kinds=permit_kinds(),
        history=service.history(store.id),
        due=service.is_due(qualification),
    )


@bp.post("/qualifications/<int:qualification_id>/approve")
@admin_required
def approve(qualification_id):
    qualification = db.get_or_404(Qualification, qualification_id)
    try:
        service.approve(qualification, principal("admin"), request.form.get("reason", ""))
    except InvalidTransition:
        flash(_("This submission was decided already."), "error")
        return redirect(url_for("admin.review", qualification_id=qualification_id)), 303
    flash(_("Approved: the store is open."), "ok")
    return redirect(url_for("admin.queue")), 303


@bp.post("/qualifications/<int:qualification_id>/reject")
@admin_required
def reject(qualification_id):
    qualification = db.get_or_404(Qualification, qualification_id)
    field_reasons = {key[len("field_") :]: value for key, value in request.form.items() if key.startswith("field_")}
    try:
        service.reject(qualification, principal("admin"), request.form.get("reason", ""), field_reasons)
    except ValidationFailed as failed:
        return _review_page(qualification, failed)
    except InvalidTransition:
        flash(_("This submission was decided already."), "error")
        return redirect(url_for("admin.review", qualification_id=qualification_id)), 303
    flash(_("Rejected: the merchant sees your reasons."), "ok")
    return redirect(url_for("admin.queue")), 303


@bp.post("/qualifications/<int:qualification_id>/<any(reverify, resubmit):action>")
@admin_required
def reverify(qualification_id, action):
    """The periodic re-verification of an approved qualification: still right, or ask for new documents."""
    qualification = db.get_or_404(Qualification, qualification_id)
    try:
        if action == "reverify":
            service.reverify(qualification, principal("admin"), request.form.get("reason", ""))
            flash(_("Re-verified: due again in six months."), "ok")
        else:
            service.request_resubmission(qualification, principal("admin"), request.form.get("reason", ""))
            flash(_("The merchant is asked to resubmit; the store stays open meanwhile."), "ok")
    except ValidationFailed as failed:
        return _review_page(qualification, failed)
    except InvalidTransition:
        flash(_("Only an approved qualification can be re-verified."), "error")
        return redirect(url_for("admin.review", qualification_id=qualification_id)), 303
    return redirect(url_for("admin.queue", status="reverify")), 303


@bp.get("/qualifications/<int:qualification_id>/files/<which>")
@admin_required
def qualification_file(qualification_id, which):
    return send_qualification_file(db.get_or_404(Qualification, qualification_id), which)


@bp.get("/stores")
@admin_required
def stores():
    status = request.args.get("status") or None
    if status and status not in STORE_STATES.states:
        abort(400)
    return render_template("admin/stores.html", stores=store_lifecycle.list_stores(status), status=status)


@bp.post("/stores/<int:store_id>/<any(suspend, reopen, close):action>")
@admin_required
def change_store(store_id, action):
    store = db.get_or_404(Store, store_id)
    try:
        if action == "suspend":
            store_lifecycle.suspend(store, principal("admin"), request.form.get("reason", ""))
            flash(_("The store is suspended."), "ok")
        elif action == "close":
            store_lifecycle.close(store, principal("admin"), request.form.get("reason", ""))
            flash(_("The store is closed. Its data are deleted after the retention period."), "ok")
        else:
            store_lifecycle.reopen(store, principal("admin"))
            flash(_("The store is open again."), "ok")
    except ValidationFailed as failed:
        flash(next(iter(failed.errors.values()))[1], "error")
    except InvalidTransition:
        flash(_("The store's status changed meanwhile: nothing was done."), "error")
    return redirect(url_for("admin.stores")), 303


@bp.route("/categories", methods=["GET", "POST"])
@admin_required
def categories():
    if request.method == "POST":
        category = db.session.get(Category, request.form.get("code", ""))
        if category is None:
            abort(404)
        try:
            update_requirements(category, parse_requirements(request.form.get("requirements", "")), principal("admin"))
            flash(_("Requirements saved."), "ok")
        except ValidationFailed as failed:
            flash(next(iter(failed.errors.values()))[1], "error")
        return redirect(url_for("admin.categories")), 303
    return render_template(
        "admin/categories.html", categories=active_categories(), kinds=permit_kinds(), fmt=format_requirements
    )
