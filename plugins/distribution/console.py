"""Merchant console pages (``/s/<slug>/console/x/distribution/``): distributors, the commission
ledger, withdrawals and the rules (settings, grades, product rates). Staff of the store only."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for

from mallow.sdk import Customer, ValidationFailed, db, fen_to_yuan, principal, render_form, staff_required
from mallow_distribution import binding, config, distributors, ledger, rules, withdrawals
from mallow_distribution.distributors import DistributionProblem
from mallow_distribution.i18n import _, translations
from mallow_distribution.models import DISTRIBUTOR_STATES, Commission, Distributor, Grade, ProductRule, Withdrawal
from mallow_distribution.web import BLUEPRINTS, TEMPLATES

PAGE = 50


def _staff():
    return principal("merchant")


def _page() -> int:
    raw = request.args.get("page", "1")
    return max(1, int(raw)) if raw.isdigit() else 1


def _or_404(model, object_id):
    found = db.session.get(model, object_id)
    if found is None:
        abort(404)
    return found


def _helpers() -> dict:
    return {"format_fen": fen_to_yuan, "format_bp": rules.format_bp}


def distributors_page():
    status = request.args.get("status", "")
    query = sa.select(Distributor).order_by(Distributor.id.desc())
    if status in DISTRIBUTOR_STATES:
        query = query.where(Distributor.status == status)
    page = _page()
    rows = db.session.execute(query.limit(PAGE).offset((page - 1) * PAGE)).scalars().all()
    names = (
        {
            c.id: c.nickname
            for c in db.session.execute(
                sa.select(Customer).where(Customer.id.in_([d.customer_id for d in rows]))
            ).scalars()
        }
        if rows
        else {}
    )
    grades = db.session.execute(sa.select(Grade).order_by(Grade.id)).scalars().all()
    return render_form(
        "distribution/console/distributors.html",
        distributors=rows,
        names=names,
        grades=grades,
        shown=status,
        states=DISTRIBUTOR_STATES,
        page=page,
        more=len(rows) == PAGE,
        balances={d.id: ledger.balances(d.id) for d in rows},
        **_helpers(),
    )


def decide_distributor(distributor_id):
    distributor = _or_404(Distributor, distributor_id)
    try:
        distributors.decide(distributor, _staff(), request.form.get("approve") == "1", request.form.get("reason", ""))
    except ValidationFailed as failed:
        flash(next(iter(failed.errors.values()))[1], "error")
    except DistributionProblem as problem:
        flash(problem.message, "error")
    return redirect(url_for(".distributors", status=request.args.get("status", ""))), 303


def grade_distributor(distributor_id):
    distributor = _or_404(Distributor, distributor_id)
    try:
        distributors.assign_grade(distributor, request.form.get("grade_id"), _staff())
    except ValidationFailed as failed:
        flash(next(iter(failed.errors.values()))[1], "error")
    return redirect(url_for(".distributors")), 303


def transfer_binding():
    code = request.form.get("code", "")
    raw = request.form.get("customer_id", "")
    try:
        if not raw.isdigit():
            raise ValidationFailed({"customer_id": ("invalid", _("Choose a shopper of this store."))})
        target = binding.find_code(code)
        if target is None:
            raise ValidationFailed({"code": ("invalid", config.binding_message("no_distributor"))})
        config.transfer(int(raw), target, _staff())
    except ValidationFailed as failed:
        flash(next(iter(failed.errors.values()))[1], "error")
    else:
        flash(_("The shopper now belongs to distributor %(code)s.", code=target.code), "success")
    return redirect(url_for(".distributors")), 303


def ledger_page():
    status = request.args.get("status", "")
    query = sa.select(Commission).order_by(Commission.id.desc())
    if status in ("pending", "frozen", "settled", "reversed"):
        query = query.where(Commission.status == status)
    page = _page()
    rows = db.session.execute(query.limit(PAGE).offset((page - 1) * PAGE)).scalars().all()
    net = sa.func.sum(Commission.amount - Commission.reversed_amount)
    totals = dict(db.session.execute(sa.select(Commission.status, net).group_by(Commission.status)).all())
    return render_template(
        "distribution/console/ledger.html",
        commissions=rows,
        shown=status,
        page=page,
        more=len(rows) == PAGE,
        totals={k: int(v or 0) for k, v in totals.items()},
        **_helpers(),
    )


def withdrawals_page():
    status = request.args.get("status", "requested")
    query = sa.select(Withdrawal).order_by(Withdrawal.id.desc())
    if status in ("requested", "paid", "rejected"):
        query = query.where(Withdrawal.status == status)
    rows = db.session.execute(query.limit(200)).scalars().all()
    codes = (
        dict(
            db.session.execute(
                sa.select(Distributor.id, Distributor.code).where(Distributor.id.in_([w.distributor_id for w in rows]))
            ).all()
        )
        if rows
        else {}
    )
    return render_form(
        "distribution/console/withdrawals.html",
        withdrawals=rows,
        codes=codes,
        shown=status,
        methods=rules.PAYOUT_METHODS,
        **_helpers(),
    )


def decide_withdrawal(withdrawal_id):
    withdrawal = _or_404(Withdrawal, withdrawal_id)
    try:
        withdrawals.decide(withdrawal, _staff(), request.form)
    except ValidationFailed as failed:
        flash(next(iter(failed.errors.values()))[1], "error")
    except DistributionProblem as problem:
        flash(problem.message, "error")
    return redirect(url_for(".withdrawals")), 303


def _settings_context(**extra) -> dict:
    grades = db.session.execute(sa.select(Grade).order_by(Grade.id)).scalars().all()
    product_rules = db.session.execute(sa.select(ProductRule).order_by(ProductRule.product_id)).scalars().all()
    return {
        "values": rules.settings(),
        "grades": grades,
        "product_rules": product_rules,
        "cap": rules.cap_bp(),
        "max_levels": rules.MAX_LEVELS,
        **_helpers(),
        **extra,
    }


def settings_page():
    if request.method == "POST":
        try:
            config.save_settings(request.form, _staff())
        except ValidationFailed as failed:
            return render_form("distribution/console/settings.html", errors=failed, **_settings_context())
        flash(_("Settings saved."), "success")
        return redirect(url_for(".settings")), 303
    return render_form("distribution/console/settings.html", **_settings_context())


def save_grade(grade_id=None):
    grade = _or_404(Grade, grade_id) if grade_id is not None else None
    try:
        config.save_grade(request.form, _staff(), grade)
    except ValidationFailed as failed:
        return render_form("distribution/console/settings.html", errors=failed, **_settings_context())
    flash(_("Grade saved."), "success")
    return redirect(url_for(".settings")), 303


def delete_grade(grade_id):
    config.delete_grade(_or_404(Grade, grade_id), _staff())
    flash(_("Grade deleted."), "success")
    return redirect(url_for(".settings")), 303


def save_product_rule():
    try:
        config.save_product_rule(request.form, _staff())
    except ValidationFailed as failed:
        return render_form("distribution/console/settings.html", errors=failed, **_settings_context())
    flash(_("Product rule saved."), "success")
    return redirect(url_for(".settings")), 303


def blueprint() -> Blueprint:
    bp = Blueprint(BLUEPRINTS["console"], __name__, template_folder=TEMPLATES)
    translations.install(bp)  # the templates translate with the plugin's catalogue
    staff = staff_required
    bp.add_url_rule("/", "distributors", staff(distributors_page))
    bp.add_url_rule(
        "/distributors/<int:distributor_id>/decision", "decide_distributor", staff(decide_distributor), methods=["POST"]
    )
    bp.add_url_rule(
        "/distributors/<int:distributor_id>/grade", "grade_distributor", staff(grade_distributor), methods=["POST"]
    )
    bp.add_url_rule("/bindings/transfer", "transfer_binding", staff(transfer_binding), methods=["POST"])
    bp.add_url_rule("/ledger", "ledger", staff(ledger_page))
    bp.add_url_rule("/withdrawals", "withdrawals", staff(withdrawals_page))
    bp.add_url_rule(
        "/withdrawals/<int:withdrawal_id>/decision", "decide_withdrawal", staff(decide_withdrawal), methods=["POST"]
    )
    bp.add_url_rule("/settings", "settings", staff(owner=True)(settings_page), methods=["GET", "POST"])
    bp.add_url_rule("/grades", "new_grade", staff(owner=True)(save_grade), methods=["POST"])
    bp.add_url_rule("/grades/<int:grade_id>", "save_grade", staff(owner=True)(save_grade), methods=["POST"])
    bp.add_url_rule("/grades/<int:grade_id>/delete", "delete_grade", staff(owner=True)(delete_grade), methods=["POST"])
    bp.add_url_rule("/products", "save_product_rule", staff(owner=True)(save_product_rule), methods=["POST"])
    return bp
