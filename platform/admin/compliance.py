"""Platform admin compliance pages (``/admin/compliance``, the ``compliance_admin`` blueprint):
the absolute-term list (极限词), the mandatory statements and the findings queue."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from mallow.accounts.guards import admin_required, principal
from mallow.compliance import findings
from mallow.compliance.labels import field_label, status_labels
from mallow.compliance.terms import (
    KINDS,
    MandatoryStatement,
    Term,
    all_statements,
    all_terms,
    kind_label,
    reason_text,
    save_statement,
    save_term,
)
from mallow.db import db
from mallow.qualifications.matrix import active_categories
from mallow.statemachine import InvalidTransition
from mallow.tenants.models import Store
from mallow.validation import ValidationFailed
from mallow.web import render_form

bp = Blueprint("compliance_admin", __name__, url_prefix="/admin/compliance")
QUEUE_TABS = ("appealed", "open", "accepted", "upheld", "overturned", "cleared")


def _term_context(**extra) -> dict:
    categories = active_categories()
    return {
        "kinds": KINDS,
        "kind_label": kind_label,
        "reason_text": reason_text,
        "categories": categories,
        "category_names": lambda locale: {c.code: c.name(locale) for c in categories},
        **extra,
    }


@bp.get("/terms")
@admin_required
def terms():
    kind = request.args.get("kind") or None
    if kind and kind not in KINDS:
        abort(400)
    return render_template("admin/compliance_terms.html", terms=all_terms(kind), kind=kind, **_term_context())


def _term_form(term: Term | None):
    if request.method == "POST":
        try:
            saved = save_term(term, request.form, principal("admin"))
        except ValidationFailed as failed:
            return render_form("admin/compliance_term_form.html", errors=failed, term=term, **_term_context())
        flash(_("Saved."), "ok")
        return redirect(url_for(".terms", kind=saved.kind)), 303
    return render_form("admin/compliance_term_form.html", term=term, **_term_context())


@bp.route("/terms/new", methods=["GET", "POST"])
@admin_required
def new_term():
    return _term_form(None)


@bp.route("/terms/<int:term_id>", methods=["GET", "POST"])
@admin_required
def edit_term(term_id):
    return _term_form(db.get_or_404(Term, term_id))


@bp.get("/statements")
@admin_required
def statements():
    return render_template("admin/compliance_statements.html", statements=all_statements())


def _statement_form(statement: MandatoryStatement | None):
    if request.method == "POST":
        try:
            save_statement(statement, request.form, principal("admin"))
        except ValidationFailed as failed:
            return render_form("admin/compliance_statement_form.html", errors=failed, statement=statement)
        flash(_("Saved."), "ok")
        return redirect(url_for(".statements")), 303
    return render_form("admin/compliance_statement_form.html", statement=statement)


@bp.route("/statements/new", methods=["GET", "POST"])
@admin_required
def new_statement():
    return _statement_form(None)


@bp.route("/statements/<int:statement_id>", methods=["GET", "POST"])
@admin_required
def edit_statement(statement_id):
    return _statement_form(db.get_or_404(MandatoryStatement, statement_id))


def _queue_page(status: str, errors: ValidationFailed | None = None):
    items = findings.review_queue(None if status == "all" else status)
    stores = {
        s.id: s for s in db.session.execute(sa.select(Store).where(Store.id.in_({f.store_id for f in items}))).scalars()
    }
    return render_form(
        "admin/compliance_findings.html",
        errors=errors,
        items=items,
        stores=stores,
        tab=status,
        tabs=QUEUE_TABS,
        status_labels=status_labels(),
        field_label=field_label,
        kind_label=kind_label,
    )


@bp.get("/findings")
@admin_required
def queue():
    status = request.args.get("status", "appealed")
    if status not in (*QUEUE_TABS, "all"):
        abort(400)
    return _queue_page(status)


@bp.post("/findings/<int:finding_id>/<any(uphold, overturn):action>")
@admin_required
def decide(finding_id, action):
    finding = db.get_or_404(findings.Finding, finding_id)
    outcome = "upheld" if action == "uphold" else "overturned"
    try:
        findings.decide(finding, principal("admin"), outcome, request.form.get("reason"), field=f"reason.{finding.id}")
    except ValidationFailed as failed:
        return _queue_page("appealed", failed)
    except InvalidTransition:
        flash(_("This submission was decided already."), "error")
        return redirect(url_for(".queue")), 303
    flash(status_labels()[outcome], "ok")
    return redirect(url_for(".queue")), 303
