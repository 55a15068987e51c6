"""JSON API: the shopper's (``/s/<slug>/api/x/distribution/``, bearer token of a shopper) and
the merchant's (``/s/<slug>/api/console/x/distribution/``, bearer token of the store's staff).
Amounts are integer fen; rates are sent as percentages (``"10.5"``) and returned in basis points."""

from __future__ import annotations

from functools import partial

import sqlalchemy as sa
from flask import Blueprint, abort, jsonify, request

from mallow.sdk import (
    ID,
    Customer,
    Errors,
    ValidationFailed,
    api_route,
    db,
    id_value,
    nullable,
    obj,
    principal,
    returns,
    shape,
    shopper_required,
    staff_required,
    string,
)
from mallow_distribution import binding, config, distributors, ledger, referrals, rules, withdrawals
from mallow_distribution.distributors import DistributionProblem
from mallow_distribution.i18n import _
from mallow_distribution.models import Commission, Distributor, Withdrawal
from mallow_distribution.web import (
    BLUEPRINTS,
    commission_json,
    distributor_json,
    iso,
    masked,
    only_open_store,
    withdrawal_json,
)


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
    return jsonify(
        customer_id=customer.id,
        distributor=distributor_json(distributor, ledger.balances(distributor.id)) if distributor else None,
        referred_by=referrer.code if referrer is not None else None,
        levels=rules.levels(),
    )


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
    rows = binding.direct_referrals(_approved().id)
    names = (
        {
            c.id: c.nickname
            for c in db.session.execute(
                sa.select(Customer).where(Customer.id.in_([r.customer_id for r in rows]))
            ).scalars()
        }
        if rows
        else {}
    )
    return jsonify(members=[{"name": masked(names.get(r.customer_id)), "bound_at": iso(r.bound_at)} for r in rows])


def my_commissions():
    rows = db.session.execute(
        sa.select(Commission)
        .where(Commission.distributor_id == _approved(suspended_too=True).id)
        .order_by(Commission.id.desc())
        .limit(200)
    ).scalars()
    return jsonify(commissions=[commission_json(row) for row in rows])


def my_withdrawals():
    distributor = _approved(suspended_too=True)
    if request.method == "POST":
        errors = Errors()
        amount = rules.parse_yuan(_body().get("amount"), "amount", errors)
        errors.raise_if_any()
        withdrawal = withdrawals.request(distributor, amount, principal("shopper"))
        return jsonify(withdrawal_json(withdrawal)), 201
    rows = db.session.execute(
        sa.select(Withdrawal)
        .where(Withdrawal.distributor_id == distributor.id)
        .order_by(Withdrawal.id.desc())
        .limit(100)
    ).scalars()
    return jsonify(withdrawals=[withdrawal_json(row) for row in rows], balances=ledger.balances(distributor.id))


# --- Merchant ---------------------------------------------------------------------------------


def _or_404(model, object_id):
    found = db.session.get(model, object_id)
    if found is None:
        abort(404)
    return found


def list_distributors():
    rows = db.session.execute(sa.select(Distributor).order_by(Distributor.id.desc()).limit(500)).scalars()
    return jsonify(
        distributors=[
            distributor_json(d, ledger.balances(d.id), link=False) | {"customer_id": d.customer_id} for d in rows
        ]
    )


def decide_distributor(distributor_id):
    data = _body()
    distributor = distributors.decide(
        _or_404(Distributor, distributor_id),
        principal("merchant"),
        data.get("approve") is True,
        str(data.get("reason") or ""),
    )
    return jsonify(distributor_json(distributor, link=False))


def grade_distributor(distributor_id):
    distributor = distributors.assign_grade(
        _or_404(Distributor, distributor_id), _body().get("grade_id"), principal("merchant")
    )
    return jsonify(distributor_json(distributor, link=False))


def list_commissions():
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
        form = {
            key: data.get(key)
            for key in (
                "levels",
                "level1_rate",
                "level2_rate",
                "binding_mode",
                "binding_days",
                "min_withdrawal",
                *config.FLAGS,
            )
        }
        return jsonify(settings=config.save_settings(form, principal("merchant")), cap_bp=rules.cap_bp())
    return jsonify(settings=rules.settings(), cap_bp=rules.cap_bp(), max_levels=rules.MAX_LEVELS)


def save_grade():
    grade = config.save_grade(_body(), principal("merchant"))
    return jsonify(
        id=grade.id, name=grade.name, level1_rate_bp=grade.level1_rate_bp, level2_rate_bp=grade.level2_rate_bp
    ), 201


def save_product_rule():
    rule = config.save_product_rule(_body(), principal("merchant"))
    return jsonify(
        rule=None
        if rule is None
        else {
            "product_id": rule.product_id,
            "excluded": rule.excluded,
            "level1_rate_bp": rule.level1_rate_bp,
            "level2_rate_bp": rule.level2_rate_bp,
        }
    )


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
    bp.register_error_handler(DistributionProblem, _problem)
    return bp


# --- the operations (in the OpenAPI document under the plugin's paths, tagged distribution) -----

_INT, _TEXT, _BOOL = {"type": "integer"}, {"type": "string"}, {"type": "boolean"}
_FEN = {"type": "integer", "description": "fen"}
_WHEN = nullable({"type": "string", "format": "date-time"})
BALANCES = shape({name: _FEN for name in ("pending", "frozen", "withdrawable", "withdrawing", "withdrawn")})
DISTRIBUTOR = shape(
    {
        "id": _INT,
        "status": _TEXT,
        "code": _TEXT,
        "grade_id": nullable(_INT),
        "reason": nullable(_TEXT),
        "applied_at": _WHEN,
        "link": {"type": "string", "description": "approved: the referral link"},
        "balances": BALANCES,
        "customer_id": _INT,
    },
    optional=("link", "balances", "customer_id"),
)
COMMISSION = shape(
    {
        "id": _INT,
        "order_number": _TEXT,
        "level": _INT,
        "base": _FEN,
        "rate_bp": {**_INT, "description": "basis points"},
        "amount": _FEN,
        "reversed_amount": _FEN,
        "net": _FEN,
        "status": _TEXT,
        "created_at": _WHEN,
        "release_at": _WHEN,
        "order_id": _INT,
        "distributor_id": _INT,
        "buyer_id": _INT,
        "product_id": nullable(_INT),
    },
    optional=("order_id", "distributor_id", "buyer_id", "product_id"),
)
WITHDRAWAL = shape(
    {
        "id": _INT,
        "distributor_id": _INT,
        "amount": _FEN,
        "status": _TEXT,
        "reason": nullable(_TEXT),
        "payout_method": nullable(_TEXT),
        "payout_reference": nullable(_TEXT),
        "requested_at": _WHEN,
        "decided_at": _WHEN,
    }
)
SETTINGS = {
    "type": "object",
    "description": "levels, level1_rate_bp, level2_rate_bp, binding_mode, binding_days, "
    "min_withdrawal (fen), auto_approve, include_flashsale, include_groupbuy",
}
_FIELD_ERRORS = {"$ref": "#/components/responses/ValidationFailed"}
_NOT_DISTRIBUTOR = "Not an approved distributor (not_distributor)"


def _list(name: str, item: dict, extra: dict | None = None) -> dict:
    return shape({name: {"type": "array", "items": item}} | (extra or {}))


def _body_of(properties: dict, required: list[str] | None = None) -> dict:
    return obj(properties, required, additional=True)


def store_api() -> Blueprint:
    bp = _blueprint()
    bp.before_request(only_open_store)
    route = partial(api_route, bp, auth="shopper")
    route(
        "GET",
        "/me",
        "distributionMe",
        "The shopper's distributor account (or null), referrer and levels",
        endpoint="me",
        responses={
            "200": returns(
                "The account",
                shape(
                    {
                        "customer_id": _INT,
                        "distributor": nullable(DISTRIBUTOR),
                        "referred_by": nullable(_TEXT),
                        "levels": _INT,
                    }
                ),
            )
        },
    )(shopper_required(me))
    route(
        "POST",
        "/apply",
        "distributionApply",
        "Apply to become a distributor (approved at once with auto-approve)",
        endpoint="apply",
        body=_body_of(
            {"agree": {"type": ["boolean", "string"], "description": "true: accepts the terms"}, "note": string(200)},
            ["agree"],
        ),
        validate="object",
        responses={
            "201": returns("Applied: pending review", DISTRIBUTOR),
            "200": returns("Approved (or applied before)", DISTRIBUTOR),
            "409": "Not possible now (suspended…)",
            "422": _FIELD_ERRORS,
        },
    )(shopper_required(apply))
    route(
        "POST",
        "/bind",
        "distributionBind",
        "Report the referral code the shopper arrived with",
        endpoint="bind",
        body=_body_of({"code": string(32)}),
        validate="object",
        responses={
            "200": returns("Whether it bound, and why not", shape({"bound": _BOOL, "reason": nullable(_TEXT)})),
            "422": _FIELD_ERRORS,
        },
    )(shopper_required(bind))
    route(
        "GET",
        "/team",
        "distributionTeam",
        "The distributor's direct referrals (masked names)",
        endpoint="team",
        responses={
            "200": returns("The team", _list("members", shape({"name": _TEXT, "bound_at": _WHEN}))),
            "403": _NOT_DISTRIBUTOR,
        },
    )(shopper_required(team))
    route(
        "GET",
        "/commissions",
        "distributionMyCommissions",
        "The distributor's commissions, newest first",
        endpoint="commissions",
        responses={"200": returns("At most 200", _list("commissions", COMMISSION)), "403": _NOT_DISTRIBUTOR},
    )(shopper_required(my_commissions))
    route(
        "GET",
        "/withdrawals",
        "distributionMyWithdrawals",
        "The distributor's withdrawals and balances",
        endpoint="withdrawals",
        responses={
            "200": returns("At most 100", _list("withdrawals", WITHDRAWAL, {"balances": BALANCES})),
            "403": _NOT_DISTRIBUTOR,
        },
    )(shopper_required(my_withdrawals))
    route(
        "POST",
        "/withdrawals",
        "distributionRequestWithdrawal",
        'Ask to withdraw an amount (yuan, e.g. "12.50")',
        endpoint="request_withdrawal",
        body=_body_of({"amount": {"type": ["string", "number"]}}, ["amount"]),
        validate="object",
        responses={
            "201": returns("The withdrawal", WITHDRAWAL),
            "403": _NOT_DISTRIBUTOR,
            "409": "Not possible now (balance, minimum…)",
            "422": _FIELD_ERRORS,
        },
    )(shopper_required(my_withdrawals))
    return bp


def console_api() -> Blueprint:
    bp = _blueprint()
    staff, owner = staff_required, staff_required(owner=True)
    route = partial(api_route, bp, auth="merchant")
    owner_only = {"403": "Owner only"}
    route(
        "GET",
        "/distributors",
        "distributionListDistributors",
        "The store's distributors with their balances",
        endpoint="distributors",
        responses={"200": returns("At most 500", _list("distributors", DISTRIBUTOR))},
    )(staff(list_distributors))
    route(
        "POST",
        "/distributors/<int:distributor_id>/decision",
        "distributionDecideDistributor",
        "Approve or reject an application, suspend or reinstate a distributor",
        endpoint="decide_distributor",
        body=_body_of({"approve": _BOOL, "reason": string(200)}),
        validate="object",
        responses={
            "200": returns("The distributor", DISTRIBUTOR),
            "409": "Not possible in its state",
            "422": _FIELD_ERRORS,
        },
    )(staff(decide_distributor))
    route(
        "POST",
        "/distributors/<int:distributor_id>/grade",
        "distributionGradeDistributor",
        "Give a distributor a grade (or none)",
        endpoint="grade_distributor",
        body=_body_of({"grade_id": nullable(ID)}),
        validate="object",
        responses={
            "200": returns("The distributor", DISTRIBUTOR),
            "409": "Not possible in its state",
            "422": _FIELD_ERRORS,
        },
    )(staff(grade_distributor))
    route(
        "GET",
        "/commissions",
        "distributionListCommissions",
        "Commissions, newest first (optionally of an order)",
        endpoint="commissions",
        parameters=[{"name": "order_id", "in": "query", "schema": ID}],
        responses={"200": returns("At most 500", _list("commissions", COMMISSION))},
    )(staff(list_commissions))
    route(
        "GET",
        "/withdrawals",
        "distributionListWithdrawals",
        "Withdrawal requests, newest first",
        endpoint="withdrawals",
        responses={"200": returns("At most 500", _list("withdrawals", WITHDRAWAL))},
    )(staff(list_withdrawals))
    route(
        "POST",
        "/withdrawals/<int:withdrawal_id>/decision",
        "distributionDecideWithdrawal",
        "Pay out (with how and a reference) or reject a withdrawal",
        endpoint="decide_withdrawal",
        body=_body_of(
            {"approve": _BOOL, "reason": string(200), "payout_method": string(20), "payout_reference": string(64)}
        ),
        validate="object",
        responses={"200": returns("The withdrawal", WITHDRAWAL), "409": "Decided already", "422": _FIELD_ERRORS},
    )(staff(decide_withdrawal))
    route(
        "GET",
        "/settings",
        "distributionGetSettings",
        "The store's distribution settings and the platform's cap",
        endpoint="settings",
        responses={
            "200": returns("The settings", shape({"settings": SETTINGS, "cap_bp": _INT, "max_levels": _INT})),
            **owner_only,
        },
    )(owner(settings))
    route(
        "PUT",
        "/settings",
        "distributionSaveSettings",
        'Change the settings (rates as percentages, e.g. "10.5")',
        endpoint="save_settings",
        body=_body_of(
            {
                "levels": {"type": "integer", "enum": [1, 2]},
                "level1_rate": {"type": ["string", "number"]},
                "level2_rate": {"type": ["string", "number"]},
                "binding_mode": {"type": "string", "enum": ["first_touch", "days"]},
                "binding_days": {"type": "integer"},
                "min_withdrawal": {"type": ["string", "number"]},
                "auto_approve": _BOOL,
                "include_flashsale": _BOOL,
                "include_groupbuy": _BOOL,
            }
        ),
        validate="object",
        responses={
            "200": returns("The settings", shape({"settings": SETTINGS, "cap_bp": _INT})),
            "422": _FIELD_ERRORS,
            **owner_only,
        },
    )(owner(settings))
    route(
        "POST",
        "/grades",
        "distributionSaveGrade",
        "Add a grade with its own rates",
        endpoint="grades",
        body=_body_of(
            {
                "name": string(30),
                "level1_rate": {"type": ["string", "number"]},
                "level2_rate": {"type": ["string", "number"]},
            },
            ["name"],
        ),
        validate="object",
        responses={
            "201": returns(
                "The grade",
                shape({"id": _INT, "name": _TEXT, "level1_rate_bp": nullable(_INT), "level2_rate_bp": nullable(_INT)}),
            ),
            "422": _FIELD_ERRORS,
            **owner_only,
        },
    )(owner(save_grade))
    route(
        "POST",
        "/product-rules",
        "distributionSaveProductRule",
        "Exclude a product from commission or give it its own rates (no rates, not excluded: the rule is removed)",
        endpoint="product_rules",
        body=_body_of(
            {
                "product_id": ID,
                "excluded": _BOOL,
                "level1_rate": {"type": ["string", "number", "null"]},
                "level2_rate": {"type": ["string", "number", "null"]},
            },
            ["product_id"],
        ),
        validate="object",
        responses={
            "200": returns(
                "The rule, or null when removed",
                shape(
                    {
                        "rule": nullable(
                            shape(
                                {
                                    "product_id": _INT,
                                    "excluded": _BOOL,
                                    "level1_rate_bp": nullable(_INT),
                                    "level2_rate_bp": nullable(_INT),
                                }
                            )
                        )
                    }
                ),
            ),
            "422": _FIELD_ERRORS,
            **owner_only,
        },
    )(owner(save_product_rule))
    route(
        "POST",
        "/transfer",
        "distributionTransfer",
        "Bind a shopper to another distributor (by referral code)",
        endpoint="transfer",
        body=_body_of({"customer_id": ID, "code": string(32)}, ["customer_id", "code"]),
        validate="object",
        responses={
            "200": returns("Done", shape({"customer_id": _INT, "distributor_id": _INT})),
            "422": _FIELD_ERRORS,
            **owner_only,
        },
    )(owner(transfer))
    return bp
