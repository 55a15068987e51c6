"""The group-buy console API (``/s/<slug>/api/console/x/groupbuy``), merchant token of the store's
staff: ``GET|POST /campaigns``, ``GET|PUT|DELETE /campaigns/<id>``, ``POST /campaigns/<id>/end``,
``GET /groups?campaign_id=&state=``, ``GET /groups/<id>`` (members with their orders and refunds).
"""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, abort, jsonify, request

from mallow.sdk import ID, ValidationFailed, api_route, db, id_value, returns, shape, staff_required
from mallow_groupbuy import campaigns, money
from mallow_groupbuy.models import Group, Member, RefundTask
from mallow_groupbuy.views.api_shapes import (
    CAMPAIGN,
    CAMPAIGN_FORM,
    CONSOLE_GROUP,
    FIELD_ERRORS,
    campaign_or_404,
    invalid,
    json_body,
)


@staff_required
def console_campaigns():
    if request.method == "POST":
        try:
            campaign = campaigns.create(json_body())
        except ValidationFailed as failed:
            db.session.rollback()
            return invalid(failed)
        db.session.commit()
        return jsonify(campaigns.as_json(campaign, private=True)), 201
    from mallow_groupbuy.models import Campaign

    rows = list(db.session.execute(sa.select(Campaign).order_by(Campaign.id.desc()).limit(200)).scalars())
    stats = campaigns.stats([c.id for c in rows])
    return jsonify(items=[campaigns.as_json(c, private=True) | {"stats": stats[c.id]} for c in rows])


@staff_required
def console_campaign(campaign_id: int):
    campaign = campaign_or_404(campaign_id)
    if request.method == "PUT":
        try:
            campaigns.update(campaign, json_body())
        except ValidationFailed as failed:
            db.session.rollback()
            return invalid(failed)
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
    campaign = campaign_or_404(campaign_id)
    campaigns.end(campaign)
    db.session.commit()
    return jsonify(campaigns.as_json(campaign, private=True))


def _console_group(group: Group, *, detail: bool = False) -> dict:
    data = {
        "id": group.id,
        "campaign_id": group.campaign_id,
        "status": group.status,
        "size": group.size,
        "headcount": group.headcount,
        "seats": group.seats,
        "opened_at": campaigns.aware(group.opened_at).isoformat(),
        "deadline": campaigns.aware(group.deadline).isoformat(),
        "closed_at": campaigns.aware(group.closed_at).isoformat() if group.closed_at else None,
        "final_percent": money.percent_text(group.final_bp) if group.final_bp else None,
        "auto_completed": group.auto_completed,
        "leader_member_id": group.leader_member_id,
    }
    if detail:
        members = list(
            db.session.execute(
                sa.select(Member).where(Member.group_id == group.id).order_by(Member.seq, Member.id)
            ).scalars()
        )
        tasks = (
            list(
                db.session.execute(
                    sa.select(RefundTask).where(RefundTask.member_id.in_([m.id for m in members]))
                ).scalars()
            )
            if members
            else []
        )
        data["members"] = [
            {
                "id": m.id,
                "order_id": m.order_id,
                "customer_id": m.customer_id,
                "status": m.status,
                "seq": m.seq,
                "sku_id": m.sku_id,
                "quantity": m.quantity,
                "unit_price": m.unit_price,
                "paid_unit": m.paid_unit,
                "opener": m.opener,
                "refunds": [
                    {
                        "id": t.id,
                        "kind": t.kind,
                        "amount": t.amount,
                        "status": t.status,
                        "attempts": t.attempts,
                        "last_error": t.last_error,
                    }
                    for t in tasks
                    if t.member_id == m.id
                ],
            }
            for m in members
        ]
    return data


@staff_required
def console_groups():
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


def make_console_blueprint() -> Blueprint:
    bp = Blueprint("console_api", "mallow_groupbuy")
    bp.groupbuy_role = "console_api"
    api_route(
        bp,
        "GET",
        "/campaigns",
        "groupbuyListStoreCampaigns",
        "Every campaign of the store with its figures",
        auth="merchant",
        endpoint="campaigns",
        responses={
            "200": returns("The campaigns (at most 200)", shape({"items": {"type": "array", "items": CAMPAIGN}}))
        },
    )(console_campaigns)
    api_route(
        bp,
        "POST",
        "/campaigns",
        "groupbuyCreateCampaign",
        "Create a campaign",
        auth="merchant",
        endpoint="create_campaign",
        body=CAMPAIGN_FORM,
        validate="object",
        responses={"201": returns("The campaign", CAMPAIGN), "422": FIELD_ERRORS},
    )(console_campaigns)
    api_route(
        bp,
        "GET",
        "/campaigns/<int:campaign_id>",
        "groupbuyGetStoreCampaign",
        "A campaign with its figures",
        auth="merchant",
        endpoint="campaign",
        responses={"200": returns("The campaign", CAMPAIGN)},
    )(console_campaign)
    api_route(
        bp,
        "PUT",
        "/campaigns/<int:campaign_id>",
        "groupbuyUpdateCampaign",
        "Change a campaign (once groups exist, only what does not change their price)",
        auth="merchant",
        endpoint="update_campaign",
        body=CAMPAIGN_FORM,
        validate="object",
        responses={"200": returns("The campaign", CAMPAIGN), "422": FIELD_ERRORS},
    )(console_campaign)
    api_route(
        bp,
        "DELETE",
        "/campaigns/<int:campaign_id>",
        "groupbuyDeleteCampaign",
        "Delete a campaign no group has joined yet",
        auth="merchant",
        endpoint="delete_campaign",
        responses={"204": "Deleted", "409": "Groups exist: end it instead"},
    )(console_campaign)
    api_route(
        bp,
        "POST",
        "/campaigns/<int:campaign_id>/end",
        "groupbuyEndCampaign",
        "End a campaign now (open groups run until their deadline)",
        auth="merchant",
        endpoint="end_campaign",
        responses={"200": returns("The campaign", CAMPAIGN)},
    )(console_end_campaign)
    api_route(
        bp,
        "GET",
        "/groups",
        "groupbuyListGroups",
        "Groups, newest first, by campaign and state",
        auth="merchant",
        endpoint="groups",
        parameters=[
            {"name": "campaign_id", "in": "query", "schema": ID},
            {
                "name": "state",
                "in": "query",
                "schema": {"type": "string", "enum": ["open", "succeeded", "failed", "cancelled"]},
            },
        ],
        responses={
            "200": returns("The groups (at most 200)", shape({"items": {"type": "array", "items": CONSOLE_GROUP}}))
        },
    )(console_groups)
    api_route(
        bp,
        "GET",
        "/groups/<int:group_id>",
        "groupbuyGetStoreGroup",
        "A group with its members, their orders and refunds",
        auth="merchant",
        endpoint="group",
        responses={"200": returns("The group", CONSOLE_GROUP)},
    )(console_group)
    return bp
