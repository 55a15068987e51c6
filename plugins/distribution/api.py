"""JSON API: the shopper's (``/s/<slug>/api/x/distribution/``, bearer token of a shopper) and
the merchant's (``/s/<slug>/api/console/x/distribution/``, bearer token of the store's staff).
Amounts are integer fen; rates are sent as percentages (``"10.5"``) and returned in basis points."""
from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, abort, jsonify, request
from flask_babel import gettext as _

from mallow.accounts.guards import principal, shopper_required, staff_required
from mallow.api.errors import install
from mallow.db import db
from mallow.validation import Errors, ValidationFailed
from mallow_distribution import binding, config, distributors, ledger, referrals, rules, withdrawals
from mallow_distribution.distributors import DistributionProblem
from mallow_distribution.models import Commission, Distributor, Withdrawal
from mallow_distribution.web import (BLUEPRINTS, commission_json, distributor_json, iso, masked, only_open_store,
                                     withdrawal_json)


def _body() -> dict:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise ValidationFailed({"body": ("invalid", _("Send a JSON object."))})
    return data


def _problem(problem: DistributionProblem):
    return jsonify(error=problem.code, message=str(problem.message)), problem.status


def _approved(*, suspended_too: bool = False):
    distributor = distributors.of_customer(principal("shopper").id)
    allowed = ("approved", "suspended") if suspended_too else ("approved",)
    if distributor is None or distributor.status not in allowed:
        raise DistributionProblem("not_distributor", _("Only approved distributors can do this."), 403)
    return distributor


# --- Shopper ----------------------------------------------------------------------------------

def me():
    customer = principal("shopper")
    distributor = distributors.of_customer(customer.id)
    referrer = binding.referrer_of(customer.id)
    return jsonify(customer_id=customer.id,
                   distributor=distributor_json(distributor, ledger.balances(distributor.id)) if distributor else None,
                   referred_by=referrer.code if referrer is not None else None, levels=rules.levels())


def apply():
    distributor = distributors.apply(principal("shopper"), _body())
    return jsonify(distributor_json(distributor)), 201 if distributor.status == "pending" else 200


def bind():
    """Right after sign-up (or any time while unbound) a client reports the code it arrived with."""
    code = _body().get("code")
    bound, reason = referrals.capture(principal("shopper").id, code if isinstance(code, str) else None, "api")
    db.session.commit()
    return jsonify(bound=bound, reason=reason)


def team():
    from mallow.accounts.models import Customer

    rows = binding.direct_referrals(_approved().id)
    names = {c.id: c.nickname for c in db.session.execute(
        sa.select(Customer).where(Customer.id.in_([r.customer_id for r in rows]))).scalars()} if rows else {}
    return jsonify(members=[{"name": masked(names.get(r.customer_id)), "bound_at": iso(r.bound_at)}
                            for r in rows])


def my_commissions():
    rows = db.session.execute(sa.select(Commission).where(Commission.distributor_id == _approved(suspended_too=True).id)
                              .order_by(Commission.id.desc()).limit(200)).scalars()
    return jsonify(commissions=[commission_json(row) for row in rows])


def my_withdrawals():
    distributor = _approved(suspended_too=True)
    if request.method == "POST":
        errors = Errors()
        amount = rules.parse_yuan(_body().get("amount"), "amount", errors)
        errors.raise_if_any()
        withdrawal = withdrawals.request(distributor, amount, principal("shopper"))
        return jsonify(withdrawal_json(withdrawal)), 201
    rows = db.session.execute(sa.select(Withdrawal).where(Withdrawal.distributor_id == distributor.id)
                              .order_by(Withdrawal.id.desc()).limit(100)).scalars()
    return jsonify(withdrawals=[withdrawal_json(row) for row in rows], balances=ledger.balances(distributor.id))


# --- Merchant ---------------------------------------------------------------------------------

def _or_404(model, object_id):
    found = db.session.get(model, object_id)
    if found is None:
        abort(404)
    return found


def list_distributors():
    rows = db.session.execute(sa.select(Distributor).order_by(Distributor.id.desc()).limit(500)).scalars()
    return jsonify(distributors=[distributor_json(d, ledger.balances(d.id), link=False) | {"customer_id": d.customer_id}
                                 for d in rows])


def decide_distributor(distributor_id):
    data = _body()
    distributor = distributors.decide(_or_404(Distributor, distributor_id), principal("merchant"),
                                      data.get("approve") is True, str(data.get("reason") or ""))
    return jsonify(distributor_json(distributor, link=False))


def grade_distributor(distributor_id):
    distributor = distributors.assign_grade(_or_404(Distributor, distributor_id), _body().get("grade_id"),
                                            principal("merchant"))
    return jsonify(distributor_json(distributor, link=False))


def list_commissions():
    from mallow.plugins.api import id_value

    query = sa.select(Commission).order_by(Commission.id.desc()).limit(500)
    if request.args.get("order_id", "").isdigit():  # no such id (too large): no commissions
        query = query.where(Commission.order_id == request.args.get("order_id", type=id_value))
    return jsonify(commissions=[commission_json(row, for_staff=True) for row in db.session.execute(query).scalars()])


def list_withdrawals():
    rows = db.session.execute(sa.select(Withdrawal).order_by(Withdrawal.id.desc()).limit(500)).scalars()
    return jsonify(withdrawals=[withdrawal_json(row) for row in rows])


def decide_withdrawal(withdrawal_id):
    withdrawal = withdrawals.decide(_or_404(Withdrawal, withdrawal_id), principal("merchant"), _body())
    return jsonify(withdrawal_json(withdrawal))


def settings():
    if request.method == "PUT":
        data = _body()
        form = {key: data.get(key) for key in ("levels", "level1_rate", "level2_rate", "binding_mode", "binding_days",
                                               "min_withdrawal", *config.FLAGS)}
        return jsonify(settings=config.save_settings(form, principal("merchant")), cap_bp=rules.cap_bp())
    return jsonify(settings=rules.settings(), cap_bp=rules.cap_bp(), max_levels=rules.MAX_LEVELS)


def save_grade():
    grade = config.save_grade(_body(), principal("merchant"))
    return jsonify(id=grade.id, name=grade.name, level1_rate_bp=grade.level1_rate_bp,
                   level2_rate_bp=grade.level2_rate_bp), 201


def save_product_rule():
    rule = config.save_product_rule(_body(), principal("merchant"))
    return jsonify(rule=None if rule is None else {"product_id": rule.product_id, "excluded": rule.excluded,
                                                   "level1_rate_bp": rule.level1_rate_bp,
                                                   "level2_rate_bp": rule.level2_rate_bp})


def transfer():
    data = _body()
    target = binding.find_code(data.get("code") if isinstance(data.get("code"), str) else None)
    customer_id = data.get("customer_id")
    if target is None or not isinstance(customer_id, int):
        raise ValidationFailed({"code": ("invalid", config.binding_message("no_distributor"))})
    config.transfer(customer_id, target, principal("merchant"))
    return jsonify(customer_id=customer_id, distributor_id=target.id)


def _blueprint() -> Blueprint:
    bp = Blueprint(BLUEPRINTS["store_api"], __name__)
    install(bp)
    bp.register_error_handler(DistributionProblem, _problem)
    return bp


def store_api() -> Blueprint:
    bp = _blueprint()
    bp.before_request(only_open_store)
    bp.add_url_rule("/me", "me", shopper_required(me))
    bp.add_url_rule("/apply", "apply", shopper_required(apply), methods=["POST"])
    bp.add_url_rule("/bind", "bind", shopper_required(bind), methods=["POST"])
    bp.add_url_rule("/team", "team", shopper_required(team))
    bp.add_url_rule("/commissions", "commissions", shopper_required(my_commissions))
    bp.add_url_rule("/withdrawals", "withdrawals", shopper_required(my_withdrawals), methods=["GET", "POST"])
    return bp


def console_api() -> Blueprint:
    bp = _blueprint()
    staff, owner = staff_required, staff_required(owner=True)
    bp.add_url_rule("/distributors", "distributors", staff(list_distributors))
    bp.add_url_rule("/distributors/<int:distributor_id>/decision", "decide_distributor", staff(decide_distributor),
                    methods=["POST"])
    bp.add_url_rule("/distributors/<int:distributor_id>/grade", "grade_distributor", staff(grade_distributor),
                    methods=["POST"])
    bp.add_url_rule("/commissions", "commissions", staff(list_commissions))
    bp.add_url_rule("/withdrawals", "withdrawals", staff(list_withdrawals))
    bp.add_url_rule("/withdrawals/<int:withdrawal_id>/decision", "decide_withdrawal", staff(decide_withdrawal),
                    methods=["POST"])
    bp.add_url_rule("/settings", "settings", owner(settings), methods=["GET", "PUT"])
    bp.add_url_rule("/grades", "grades", owner(save_grade), methods=["POST"])
    bp.add_url_rule("/product-rules", "product_rules", owner(save_product_rule), methods=["POST"])
    bp.add_url_rule("/transfer", "transfer", owner(transfer), methods=["POST"])
    return bp

