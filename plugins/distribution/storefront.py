"""Storefront pages (``/s/<slug>/x/distribution/``): apply, my centre (link, balances), my team
(direct referrals only), my earnings, withdrawals, and the referral link itself."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, flash, redirect, render_template, request, url_for

from mallow.sdk import (
    Customer,
    Errors,
    ValidationFailed,
    db,
    fen_to_yuan,
    principal,
    render_form,
    safe_next,
    shopper_required,
)
from mallow_distribution import binding, distributors, ledger, referrals, rules, withdrawals
from mallow_distribution.distributors import DistributionProblem
from mallow_distribution.i18n import _, translations
from mallow_distribution.models import Commission, Withdrawal
from mallow_distribution.web import (
    BLUEPRINTS,
    STATIC,
    TEMPLATES,
    asset_version,
    endpoint,
    masked,
    only_open_store,
    referral_link,
)


def _me():
    customer = principal("shopper")
    return customer, distributors.of_customer(customer.id)


def _approved_or_centre(*, suspended_too: bool = False):
    """The signed-in distributor (approved; or suspended, who keeps seeing and withdrawing
    what was earned), or None."""
    customer, distributor = _me()
    allowed = ("approved", "suspended") if suspended_too else ("approved",)
    if distributor is None or distributor.status not in allowed:
        return customer, None
    return customer, distributor


def _rates(distributor, values: dict) -> tuple[int, int]:
    """What the centre shows: the distributor's grade rates where set, else the store's."""
    from mallow_distribution.models import Grade

    grade = db.session.get(Grade, distributor.grade_id) if distributor.grade_id else None
    first, second = values.get("level1_rate_bp", 0), values.get("level2_rate_bp", 0)
    if grade is not None:
        first = grade.level1_rate_bp if grade.level1_rate_bp is not None else first
        second = grade.level2_rate_bp if grade.level2_rate_bp is not None else second
    return rules.clamp_rates(first, second if rules.levels(values) == 2 else 0)


def centre():
    customer, distributor = _me()
    context = {
        "customer": customer,
        "distributor": distributor,
        "values": rules.settings(),
        "levels": rules.levels(),
        "format_bp": rules.format_bp,
        "format_fen": fen_to_yuan,
    }
    if distributor is not None and distributor.status in ("approved", "suspended"):
        context.update(balances=ledger.balances(distributor.id), rates=_rates(distributor, context["values"]))
    if distributor is not None and distributor.status == "approved":
        context.update(link=referral_link(distributor))
    return render_form("distribution/storefront/centre.html", **context)


def apply():
    customer = principal("shopper")
    try:
        distributor = distributors.apply(customer, request.form)
    except ValidationFailed as failed:
        return render_form(
            "distribution/storefront/centre.html",
            errors=failed,
            customer=customer,
            distributor=None,
            values=rules.settings(),
            levels=rules.levels(),
            format_bp=rules.format_bp,
            format_fen=fen_to_yuan,
        )
    except DistributionProblem as problem:
        flash(problem.message, "error")
        return redirect(url_for(".centre")), 303
    flash(
        _("You are a distributor now.")
        if distributor.status == "approved"
        else _("Thank you: the store will review your application."),
        "success",
    )
    return redirect(url_for(".centre")), 303


def team():
    _customer, distributor = _approved_or_centre()
    if distributor is None:
        return redirect(url_for(".centre"))
    rows = binding.direct_referrals(distributor.id)
    names = (
        {
            c.id: c.nickname
            for c in db.session.execute(
                sa.select(Customer).where(Customer.id.in_([row.customer_id for row in rows]))
            ).scalars()
        }
        if rows
        else {}
    )
    members = [
        {"name": masked(names.get(row.customer_id)), "bound_at": row.bound_at, "expires_at": row.expires_at}
        for row in rows
    ]
    return render_template("distribution/storefront/team.html", members=members)


def earnings():
    _customer, distributor = _approved_or_centre(suspended_too=True)
    if distributor is None:
        return redirect(url_for(".centre"))
    rows = (
        db.session.execute(
            sa.select(Commission)
            .where(Commission.distributor_id == distributor.id)
            .order_by(Commission.id.desc())
            .limit(200)
        )
        .scalars()
        .all()
    )
    return render_template(
        "distribution/storefront/earnings.html",
        commissions=rows,
        balances=ledger.balances(distributor.id),
        format_fen=fen_to_yuan,
        format_bp=rules.format_bp,
    )


def withdraw():
    customer, distributor = _approved_or_centre(suspended_too=True)
    if distributor is None:
        return redirect(url_for(".centre"))
    failed = None
    if request.method == "POST":
        errors = Errors()
        amount = rules.parse_yuan(request.form.get("amount"), "amount", errors)
        try:
            errors.raise_if_any()
            withdrawals.request(distributor, amount, customer)
        except ValidationFailed as error:
            failed = error
        except DistributionProblem as problem:
            flash(problem.message, "error")
        else:
            flash(_("Your withdrawal request was sent to the store."), "success")
            return redirect(url_for(".withdraw")), 303
    rows = (
        db.session.execute(
            sa.select(Withdrawal)
            .where(Withdrawal.distributor_id == distributor.id)
            .order_by(Withdrawal.id.desc())
            .limit(100)
        )
        .scalars()
        .all()
    )
    return render_form(
        "distribution/storefront/withdraw.html",
        errors=failed,
        withdrawals=rows,
        balances=ledger.balances(distributor.id),
        minimum=int(rules.settings().get("min_withdrawal", 0)),
        format_fen=fen_to_yuan,
    )


def referral(code):
    """A distributor's link: remember the code, bind at once when the shopper is signed in."""
    found = binding.find_code(code)
    target = safe_next(url_for("storefront.home"))
    if found is None or found.status != "approved":
        return redirect(target)
    referrals.remember(found.code)
    customer = principal("shopper")
    if customer is not None:
        referrals.capture_from_session(customer.id, "link")
        db.session.commit()
    return redirect(target)


def bind_waiting_referral():
    """Any of our pages, signed in, with a code waiting in the session: bind now."""
    only_open_store()
    customer = principal("shopper")
    if customer is not None and referrals.remembered():
        bound, _reason = referrals.capture_from_session(customer.id, "link")
        if bound:
            db.session.commit()


def _page_context() -> dict:
    """The pages' stylesheet and script (with a content version) and which tab is current."""
    return {
        "dist_asset": lambda name: url_for(".static", filename=name, v=asset_version(name)),
        "dist_tab": (request.endpoint or "").rsplit(".", 1)[-1],
    }


def blueprint() -> Blueprint:
    """A fresh blueprint per app (a blueprint cannot take new hooks once registered)."""
    bp = Blueprint(BLUEPRINTS["storefront"], __name__, template_folder=TEMPLATES, static_folder=STATIC)
    bp.before_request(bind_waiting_referral)
    bp.context_processor(_page_context)
    translations.install(bp)  # the templates translate with the plugin's catalogue
    bp.add_url_rule("/", "centre", shopper_required(centre))
    bp.add_url_rule("/apply", "apply", shopper_required(apply), methods=["POST"])
    bp.add_url_rule("/team", "team", shopper_required(team))
    bp.add_url_rule("/earnings", "earnings", shopper_required(earnings))
    bp.add_url_rule("/withdraw", "withdraw", shopper_required(withdraw), methods=["GET", "POST"])
    bp.add_url_rule("/r/<code>", "referral", referral)
    return bp


__all__ = ["blueprint", "endpoint"]
