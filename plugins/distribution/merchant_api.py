"""The merchant's distribution API (``/s/<slug>/api/console/x/distribution/``, bearer token of the
store's staff): distributors, commissions, withdrawals, settings, grades, product rules and
transfers. Amounts are integer fen; rates are sent as percentages (``"10.5"``) and returned in
basis points."""

from __future__ import annotations

from functools import partial

import sqlalchemy as sa
from flask import Blueprint, abort, jsonify, request

from mallow.sdk import (
    ID,
    ValidationFailed,
    api_route,
    db,
    id_value,
    nullable,
    principal,
    returns,
    shape,
    staff_required,
    string,
)
from mallow_distribution import binding, config, distributors, ledger, rules, withdrawals
from mallow_distribution.api_shapes import (
    BOOL,
    COMMISSION,
    DISTRIBUTOR,
    FIELD_ERRORS,
    INT,
    SETTINGS,
    TEXT,
    WITHDRAWAL,
    api_blueprint,
    body_of,
    json_body,
    list_of,
)
from mallow_distribution.models import Commission, Distributor, Withdrawal
from mallow_distribution.web import commission_json, distributor_json, withdrawal_json


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
    data = json_body()
    distributor = distributors.decide(
        _or_404(Distributor, distributor_id),
        principal("merchant"),
        data.get("approve") is True,
        str(data.get("reason") or ""),
    )
    return jsonify(distributor_json(distributor, link=False))


def grade_distributor(distributor_id):
    distributor = distributors.assign_grade(
        _or_404(Distributor, distributor_id), json_body().get("grade_id"), principal("merchant")
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
    withdrawal = withdrawals.decide(_or_404(Withdrawal, withdrawal_id), principal("merchant"), json_body())
    return jsonify(withdrawal_json(withdrawal))


def settings():
    if request.method == "PUT":
        data = json_body()
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
    grade = config.save_grade(json_body(), principal("merchant"))
    return jsonify(
        id=grade.id, name=grade.name, level1_rate_bp=grade.level1_rate_bp, level2_rate_bp=grade.level2_rate_bp
    ), 201


def save_product_rule():
    rule = config.save_product_rule(json_body(), principal("merchant"))
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
    data = json_body()
    target = binding.find_code(data.get("code") if isinstance(data.get("code"), str) else None)
    customer_id = data.get("customer_id")
    if target is None or not isinstance(customer_id, int):
        raise ValidationFailed({"code": ("invalid", config.binding_message("no_distributor"))})
    config.transfer(customer_id, target, principal("merchant"))
    return jsonify(customer_id=customer_id, distributor_id=target.id)


def console_api() -> Blueprint:
    bp = api_blueprint()
    staff, owner = staff_required, staff_required(owner=True)
    route = partial(api_route, bp, auth="merchant")
    owner_only = {"403": "Owner only"}
    route(
        "GET",
        "/distributors",
        "distributionListDistributors",
        "The store's distributors with their balances",
        endpoint="distributors",
        responses={"200": returns("At most 500", list_of("distributors", DISTRIBUTOR))},
    )(staff(list_distributors))
    route(
        "POST",
        "/distributors/<int:distributor_id>/decision",
        "distributionDecideDistributor",
        "Approve or reject an application, suspend or reinstate a distributor",
        endpoint="decide_distributor",
        body=body_of({"approve": BOOL, "reason": string(200)}),
        validate="object",
        responses={
            "200": returns("The distributor", DISTRIBUTOR),
            "409": "Not possible in its state",
            "422": FIELD_ERRORS,
        },
    )(staff(decide_distributor))
    route(
        "POST",
        "/distributors/<int:distributor_id>/grade",
        "distributionGradeDistributor",
        "Give a distributor a grade (or none)",
        endpoint="grade_distributor",
        body=body_of({"grade_id": nullable(ID)}),
        validate="object",
        responses={
            "200": returns("The distributor", DISTRIBUTOR),
            "409": "Not possible in its state",
            "422": FIELD_ERRORS,
        },
    )(staff(grade_distributor))
    route(
        "GET",
        "/commissions",
        "distributionListCommissions",
        "Commissions, newest first (optionally of an order)",
        endpoint="commissions",
        parameters=[{"name": "order_id", "in": "query", "schema": ID}],
        responses={"200": returns("At most 500", list_of("commissions", COMMISSION))},
    )(staff(list_commissions))
    route(
        "GET",
        "/withdrawals",
        "distributionListWithdrawals",
        "Withdrawal requests, newest first",
        endpoint="withdrawals",
        responses={"200": returns("At most 500", list_of("withdrawals", WITHDRAWAL))},
    )(staff(list_withdrawals))
    route(
        "POST",
        "/withdrawals/<int:withdrawal_id>/decision",
        "distributionDecideWithdrawal",
        "Pay out (with how and a reference) or reject a withdrawal",
        endpoint="decide_withdrawal",
        body=body_of(
            {"approve": BOOL, "reason": string(200), "payout_method": string(20), "payout_reference": string(64)}
        ),
        validate="object",
        responses={"200": returns("The withdrawal", WITHDRAWAL), "409": "Decided already", "422": FIELD_ERRORS},
    )(staff(decide_withdrawal))
    route(
        "GET",
        "/settings",
        "distributionGetSettings",
        "The store's distribution settings and the platform's cap",
        endpoint="settings",
        responses={
            "200": returns("The settings", shape({"settings": SETTINGS, "cap_bp": INT, "max_levels": INT})),
            **owner_only,
        },
    )(owner(settings))
    route(
        "PUT",
        "/settings",
        "distributionSaveSettings",
        'Change the settings (rates as percentages, e.g. "10.5")',
        endpoint="save_settings",
        body=body_of(
            {
                "levels": {"type": "integer", "enum": [1, 2]},
                "level1_rate": {"type": ["string", "number"]},
                "level2_rate": {"type": ["string", "number"]},
                "binding_mode": {"type": "string", "enum": ["first_touch", "days"]},
                "binding_days": {"type": "integer"},
                "min_withdrawal": {"type": ["string", "number"]},
                "auto_approve": BOOL,
                "include_flashsale": BOOL,
                "include_groupbuy": BOOL,
            }
        ),
        validate="object",
        responses={
            "200": returns("The settings", shape({"settings": SETTINGS, "cap_bp": INT})),
            "422": FIELD_ERRORS,
            **owner_only,
        },
    )(owner(settings))
    route(
        "POST",
        "/grades",
        "distributionSaveGrade",
        "Add a grade with its own rates",
        endpoint="grades",
        body=body_of(
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
                shape({"id": INT, "name": TEXT, "level1_rate_bp": nullable(INT), "level2_rate_bp": nullable(INT)}),
            ),
            "422": FIELD_ERRORS,
            **owner_only,
        },
    )(owner(save_grade))
    route(
        "POST",
        "/product-rules",
        "distributionSaveProductRule",
        "Exclude a product from commission or give it its own rates (no rates, not excluded: the rule is removed)",
        endpoint="product_rules",
        body=body_of(
            {
                "product_id": ID,
                "excluded": BOOL,
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
                                    "product_id": INT,
                                    "excluded": BOOL,
                                    "level1_rate_bp": nullable(INT),
                                    "level2_rate_bp": nullable(INT),
                                }
                            )
                        )
                    }
                ),
            ),
            "422": FIELD_ERRORS,
            **owner_only,
        },
    )(owner(save_product_rule))
    route(
        "POST",
        "/transfer",
        "distributionTransfer",
        "Bind a shopper to another distributor (by referral code)",
        endpoint="transfer",
        body=body_of({"customer_id": ID, "code": string(32)}, ["customer_id", "code"]),
        validate="object",
        responses={
            "200": returns("Done", shape({"customer_id": INT, "distributor_id": INT})),
            "422": FIELD_ERRORS,
            **owner_only,
        },
    )(owner(transfer))
    return bp
