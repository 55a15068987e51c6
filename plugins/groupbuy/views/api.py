"""JSON API.

Store API (``/s/<slug>/api/x/groupbuy``), public or with a shopper token:

* ``GET /campaigns`` — running campaigns; ``GET /campaigns/<id>`` — one, with its options
  (list price, opener's price) and open groups (real seats left, deadline);
* ``GET /groups/<id>`` — a group: state, real members (masked nicknames), seats, deadline;
* ``POST /quote`` — ``{"items", "province"?, "options": {"groupbuy": {…}}}``: the receipt with
  the group price and any problem, without ordering.

Orders are placed with Mallow's own ``POST /s/<slug>/api/orders`` and
``"options": {"groupbuy": {"campaign_id": …, "group_id": … or null}}``.

Console API (``/s/<slug>/api/console/x/groupbuy``), merchant token of the store's staff:
``GET|POST /campaigns``, ``GET|PUT|DELETE /campaigns/<id>``, ``POST /campaigns/<id>/end``,
``GET /groups?campaign_id=&state=``, ``GET /groups/<id>`` (members with their orders and refunds).
"""
from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, abort, jsonify, request

from mallow.accounts.guards import principal, staff_required
from mallow.db import db
from mallow.orders import checkout as orders_checkout
from mallow.validation import ValidationFailed
from mallow_groupbuy import campaigns, money, present
from mallow_groupbuy.models import Group, Member, RefundTask


def _invalid(failed: ValidationFailed):
    return jsonify(failed.as_json()), 422


def _body() -> dict:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        abort(400)
    return data


def _campaign_or_404(campaign_id: int):
    campaign = campaigns.get(campaign_id)
    if campaign is None:
        abort(404)
    return campaign


# --- store API ----------------------------------------------------------------------------------

def list_campaigns():
    return jsonify(items=[campaigns.as_json(c) for c in campaigns.live_campaigns()])


def get_campaign(campaign_id: int):
    campaign = _campaign_or_404(campaign_id)
    data = campaigns.as_json(campaign)
    data["skus"] = present.sku_rows(campaign, bp=money.tier_for(campaign.tiers, 1), leader_bp=campaign.leader_bp)
    data["open_groups"] = present.open_groups(campaign)
    return jsonify(data)


def get_group(group_id: int):
    group = db.session.get(Group, group_id)
    if group is None:
        abort(404)
    data = present.group_view(group)
    campaign = _campaign_or_404(group.campaign_id)
    data["skus"] = present.sku_rows(campaign, bp=present.next_bp(group))
    return jsonify(data)


def _adjustment(a) -> dict:
    return {"stage": a.stage, "source": a.source, "code": a.code, "label": str(a.label), "amount": a.amount}


def priced_json(priced) -> dict:
    """The receipt: every line with its adjustments, the order's adjustments, the problems."""
    return {"lines": [{"sku_id": p.line.sku_id, "title": p.line.title, "unit_price": p.line.unit_price,
                       "quantity": p.line.quantity, "total": p.total,
                       "adjustments": [_adjustment(a) for a in p.adjustments]} for p in priced.lines],
            "adjustments": [_adjustment(a) for a in priced.adjustments], "items_total": priced.items_total,
            "total": priced.total,
            "problems": [{"code": p.code, "message": str(p.message), "line": p.line_index} for p in priced.problems]}


def quote():
    data = _body()
    shopper = principal("shopper")
    try:
        priced = orders_checkout.quote(shopper.id if shopper else None, data.get("items"), data.get("province"),
                                       data.get("options") if isinstance(data.get("options"), dict) else None)
    except ValidationFailed as failed:
        return _invalid(failed)
    return jsonify(priced_json(priced))


# --- console API --------------------------------------------------------------------------------

@staff_required
def console_campaigns():
    if request.method == "POST":
        try:
            campaign = campaigns.create(_body())
        except ValidationFailed as failed:
            db.session.rollback()
            return _invalid(failed)
        db.session.commit()
        return jsonify(campaigns.as_json(campaign, private=True)), 201
    from mallow_groupbuy.models import Campaign

    rows = list(db.session.execute(sa.select(Campaign).order_by(Campaign.id.desc()).limit(200)).scalars())
    stats = campaigns.stats([c.id for c in rows])
    return jsonify(items=[campaigns.as_json(c, private=True) | {"stats": stats[c.id]} for c in rows])


@staff_required
def console_campaign(campaign_id: int):
    campaign = _campaign_or_404(campaign_id)
    if request.method == "PUT":
        try:
            campaigns.update(campaign, _body())
        except ValidationFailed as failed:
            db.session.rollback()
            return _invalid(failed)
        db.session.commit()
    elif request.method == "DELETE":
        try:
            campaigns.delete(campaign)
        except ValidationFailed as failed:
            db.session.rollback()
            return jsonify(failed.as_json()), 409
        db.session.commit()
        return "", 204
    return jsonify(campaigns.as_json(campaign, private=True) | {"stats": campaigns.stats([campaign.id])[campaign.id]})


@staff_required
def console_end_campaign(campaign_id: int):
    campaign = _campaign_or_404(campaign_id)
    campaigns.end(campaign)
    db.session.commit()
    return jsonify(campaigns.as_json(campaign, private=True))


def _console_group(group: Group, *, detail: bool = False) -> dict:
    data = {"id": group.id, "campaign_id": group.campaign_id, "status": group.status, "size": group.size,
            "headcount": group.headcount, "seats": group.seats, "opened_at": campaigns.aware(group.opened_at).isoformat(),
            "deadline": campaigns.aware(group.deadline).isoformat(),
            "closed_at": campaigns.aware(group.closed_at).isoformat() if group.closed_at else None,
            "final_percent": money.percent_text(group.final_bp) if group.final_bp else None,
            "auto_completed": group.auto_completed, "leader_member_id": group.leader_member_id}
    if detail:
        members = list(db.session.execute(sa.select(Member).where(Member.group_id == group.id)
                                          .order_by(Member.seq, Member.id)).scalars())
        tasks = list(db.session.execute(sa.select(RefundTask).where(
            RefundTask.member_id.in_([m.id for m in members]))).scalars()) if members else []
        data["members"] = [{"id": m.id, "order_id": m.order_id, "customer_id": m.customer_id, "status": m.status,
                            "seq": m.seq, "sku_id": m.sku_id, "quantity": m.quantity, "unit_price": m.unit_price,
                            "paid_unit": m.paid_unit, "opener": m.opener,
                            "refunds": [{"id": t.id, "kind": t.kind, "amount": t.amount, "status": t.status,
                                         "attempts": t.attempts, "last_error": t.last_error}
                                        for t in tasks if t.member_id == m.id]} for m in members]
    return data


@staff_required
def console_groups():
    from mallow.plugins.api import id_value

    query = sa.select(Group).order_by(Group.id.desc()).limit(200)
    if request.args.get("campaign_id", "").isdigit():  # no such id (too large): no groups
        query = query.where(Group.campaign_id == request.args.get("campaign_id", type=id_value))
    if request.args.get("state"):
        query = query.where(Group.status == request.args["state"])
    return jsonify(items=[_console_group(g) for g in db.session.execute(query).scalars()])


@staff_required
def console_group(group_id: int):
    group = db.session.get(Group, group_id)
    if group is None:
        abort(404)
    return jsonify(_console_group(group, detail=True))


def make_store_blueprint() -> Blueprint:
    bp = Blueprint("shop_api", "mallow_groupbuy")
    bp.groupbuy_role = "shop_api"
    bp.add_url_rule("/campaigns", "list_campaigns", list_campaigns)
    bp.add_url_rule("/campaigns/<int:campaign_id>", "get_campaign", get_campaign)
    bp.add_url_rule("/groups/<int:group_id>", "get_group", get_group)
    bp.add_url_rule("/quote", "quote", quote, methods=["POST"])
    return bp


def make_console_blueprint() -> Blueprint:
    bp = Blueprint("console_api", "mallow_groupbuy")
    bp.groupbuy_role = "console_api"
    bp.add_url_rule("/campaigns", "campaigns", console_campaigns, methods=["GET", "POST"])
    bp.add_url_rule("/campaigns/<int:campaign_id>", "campaign", console_campaign, methods=["GET", "PUT", "DELETE"])
    bp.add_url_rule("/campaigns/<int:campaign_id>/end", "end_campaign", console_end_campaign, methods=["POST"])
    bp.add_url_rule("/groups", "groups", console_groups)
    bp.add_url_rule("/groups/<int:group_id>", "group", console_group)
    return bp
