"""The merchant console of one store (``/s/<slug>/console``): staff of that store only."""

from __future__ import annotations

from flask import abort, redirect, render_template, request, url_for

from mallow.accounts import staff as team
from mallow.accounts.guards import principal, staff_required
from mallow.db import db
from mallow.notices import open_notices
from mallow.qualifications import expiry, service
from mallow.qualifications.files import send_qualification_file
from mallow.qualifications.matrix import Category, permit_kinds, required_kinds
from mallow.qualifications.models import Qualification
from mallow.tenants.context import current_store
from mallow.validation import ValidationFailed
from mallow.web import blueprints, render_form

bp = blueprints.console


@bp.get("/")
@staff_required
def dashboard():
    store = current_store()
    lapsed = store.status == "suspended" and store.status_reason == expiry.LAPSED_REASON
    return render_template(
        "console/dashboard.html", latest=service.latest(store.id), notices=open_notices(), suspended_for_lapse=lapsed
    )


def _form_context():
    store = current_store()
    category = db.session.get(Category, store.main_category)
    kinds = permit_kinds()
    return {
        "category": category,
        "permits": [kinds[k] for k in required_kinds(category) if k in kinds] if category else [],
        "latest": service.latest(store.id),
        "history": service.history(store.id),
    }


@bp.route("/qualification", methods=["GET", "POST"])
@staff_required(owner=True)
def qualification():
    if request.method == "POST":
        try:
            service.submit(current_store(), principal("merchant"), request.form, request.files)
        except ValidationFailed as failed:
            return render_form("console/qualification.html", errors=failed, **_form_context())
        return redirect(url_for("console.dashboard")), 303
    return render_form("console/qualification.html", **_form_context())


@bp.get("/qualification/<int:qualification_id>/files/<which>")
@staff_required(owner=True)
def qualification_file(qualification_id, which):
    qualification = db.session.get(Qualification, qualification_id)
    if qualification is None or qualification.store_id != current_store().id:
        abort(404)
    return send_qualification_file(qualification, which)


@bp.route("/staff", methods=["GET", "POST"])
@staff_required(owner=True)
def staff():
    if request.method == "POST":
        try:
            team.add(current_store(), principal("merchant"), request.form)
        except ValidationFailed as failed:
            return render_form("console/staff.html", errors=failed, members=team.members())
        return redirect(url_for("console.staff")), 303
    return render_form("console/staff.html", members=team.members())


@bp.post("/staff/<int:staff_id>/remove")
@staff_required(owner=True)
def remove_staff(staff_id):
    try:
        team.remove(current_store(), principal("merchant"), staff_id)
    except LookupError:
        abort(404)
    except ValidationFailed:
        abort(400)
    return redirect(url_for("console.staff")), 303
