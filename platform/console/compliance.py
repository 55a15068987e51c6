"""The merchant's compliance findings (``/s/<slug>/console/compliance``, the
``compliance_console`` blueprint): absolute terms (极限词) found in the store's texts, to accept or
appeal. Staff of the store only; a finding of another store is "not found"."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, request, url_for
from flask_babel import gettext as _

from mallow.accounts.guards import principal, staff_required
from mallow.compliance import findings
from mallow.compliance.labels import field_label, status_labels
from mallow.compliance.terms import kind_label
from mallow.statemachine import InvalidTransition
from mallow.tenants.context import current_store
from mallow.tenants.resolve import store_url_prefix
from mallow.validation import ValidationFailed
from mallow.web import render_form

bp = Blueprint("compliance_console", __name__, url_prefix=store_url_prefix("/console/compliance"))
TABS = ("open", "appealed", "accepted", "upheld", "overturned", "cleared", "all")


def object_url(finding) -> str | None:
    if finding.object_kind == "product":
        return url_for("console.product_edit", product_id=finding.object_id)
    if finding.object_kind == "page":
        return url_for("page_editor.edit", page_id=finding.object_id)
    return None


def _list_page(status: str | None, errors: ValidationFailed | None = None):
    items = findings.store_findings(current_store().id, None if status == "all" else status)
    return render_form(
        "console/compliance.html",
        errors=errors,
        tab=status,
        tabs=TABS,
        items=items,
        status_labels=status_labels(),
        field_label=field_label,
        kind_label=kind_label,
        object_url=object_url,
    )


@bp.get("/")
@staff_required
def index():
    status = request.args.get("status") or "open"
    if status not in TABS:
        abort(400)
    return _list_page(status)


def _finding_or_404(finding_id: int):
    finding = findings.store_finding(current_store().id, finding_id)
    if finding is None:
        abort(404)
    return finding


@bp.post("/<int:finding_id>/<any(accept, appeal):action>")
@staff_required
def act(finding_id, action):
    finding = _finding_or_404(finding_id)
    try:
        if action == "accept":
            findings.accept(finding, principal("merchant"))
            flash(status_labels()["accepted"], "ok")
        else:
            findings.appeal(
                finding, principal("merchant"), request.form.get("appeal_reason"), field=f"appeal_reason.{finding.id}"
            )
            flash(status_labels()["appealed"], "ok")
    except ValidationFailed as failed:
        return _list_page("open", failed)
    except InvalidTransition:
        flash(_("This request was handled meanwhile: nothing was done."), "error")
    return redirect(url_for(".index")), 303
