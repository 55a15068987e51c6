"""The shopper's distribution API (``/s/<slug>/api/x/distribution/``, bearer token of a shopper):
the distributor account, applying, binding to a referrer, the team, commissions and withdrawals.
Amounts are integer fen."""

from __future__ import annotations

from functools import partial

import sqlalchemy as sa
from flask import Blueprint, jsonify, request

from mallow.sdk import Customer, Errors, api_route, db, nullable, principal, returns, shape, shopper_required, string
from mallow_distribution import binding, distributors, ledger, referrals, rules, withdrawals
from mallow_distribution.api_shapes import (
    BALANCES,
    BOOL,
    COMMISSION,
    DISTRIBUTOR,
    FIELD_ERRORS,
    INT,
    NOT_DISTRIBUTOR,
    TEXT,
    WHEN,
    WITHDRAWAL,
    api_blueprint,
    body_of,
    json_body,
    list_of,
)
from mallow_distribution.distributors import DistributionProblem
from mallow_distribution.i18n import _
from mallow_distribution.models import Commission, Withdrawal
from mallow_distribution.web import commission_json, distributor_json, iso, masked, only_open_store, withdrawal_json


def _approved(*, suspended_too: bool = False):
    distributor = distributors.of_customer(principal("shopper").id)
    allowed = ("approved", "suspended") if suspended_too else ("approved",)
    if distributor is None or distributor.status not in allowed:
        raise DistributionProblem("not_distributor", _("Only approved distributors can do this."), 403)
    return distributor


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
    distributor = distributors.apply(principal("shopper"), json_body())
    return jsonify(distributor_json(distributor)), 201 if distributor.status == "pending" else 200


def bind():
    """Right after sign-up (or any time while unbound) a client reports the code it arrived with."""
    code = json_body().get("code")
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
        amount = rules.parse_yuan(json_body().get("amount"), "amount", errors)
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


def store_api() -> Blueprint:
    bp = api_blueprint()
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
                        "customer_id": INT,
                        "distributor": nullable(DISTRIBUTOR),
                        "referred_by": nullable(TEXT),
                        "levels": INT,
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
        body=body_of(
            {"agree": {"type": ["boolean", "string"], "description": "true: accepts the terms"}, "note": string(200)},
            ["agree"],
        ),
        validate="object",
        responses={
            "201": returns("Applied: pending review", DISTRIBUTOR),
            "200": returns("Approved (or applied before)", DISTRIBUTOR),
            "409": "Not possible now (suspended…)",
            "422": FIELD_ERRORS,
        },
    )(shopper_required(apply))
    route(
        "POST",
        "/bind",
        "distributionBind",
        "Report the referral code the shopper arrived with",
        endpoint="bind",
        body=body_of({"code": string(32)}),
        validate="object",
        responses={
            "200": returns("Whether it bound, and why not", shape({"bound": BOOL, "reason": nullable(TEXT)})),
            "422": FIELD_ERRORS,
        },
    )(shopper_required(bind))
    route(
        "GET",
        "/team",
        "distributionTeam",
        "The distributor's direct referrals (masked names)",
        endpoint="team",
        responses={
            "200": returns("The team", list_of("members", shape({"name": TEXT, "bound_at": WHEN}))),
            "403": NOT_DISTRIBUTOR,
        },
    )(shopper_required(team))
    route(
        "GET",
        "/commissions",
        "distributionMyCommissions",
        "The distributor's commissions, newest first",
        endpoint="commissions",
        responses={"200": returns("At most 200", list_of("commissions", COMMISSION)), "403": NOT_DISTRIBUTOR},
    )(shopper_required(my_commissions))
    route(
        "GET",
        "/withdrawals",
        "distributionMyWithdrawals",
        "The distributor's withdrawals and balances",
        endpoint="withdrawals",
        responses={
            "200": returns("At most 100", list_of("withdrawals", WITHDRAWAL, {"balances": BALANCES})),
            "403": NOT_DISTRIBUTOR,
        },
    )(shopper_required(my_withdrawals))
    route(
        "POST",
        "/withdrawals",
        "distributionRequestWithdrawal",
        'Ask to withdraw an amount (yuan, e.g. "12.50")',
        endpoint="request_withdrawal",
        body=body_of({"amount": {"type": ["string", "number"]}}, ["amount"]),
        validate="object",
        responses={
            "201": returns("The withdrawal", WITHDRAWAL),
            "403": NOT_DISTRIBUTOR,
            "409": "Not possible now (balance, minimum…)",
            "422": FIELD_ERRORS,
        },
    )(shopper_required(my_withdrawals))
    return bp
