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

from mallow.sdk import (
    ID,
    ValidationFailed,
    api_route,
    db,
    id_value,
    nullable,
    obj,
    principal,
    quote_order,
    returns,
    shape,
    staff_required,
    string,
)
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
    return {
        "lines": [
            {
                "sku_id": p.line.sku_id,
                "title": p.line.title,
                "unit_price": p.line.unit_price,
                "quantity": p.line.quantity,
                "total": p.total,
                "adjustments": [_adjustment(a) for a in p.adjustments],
            }
            for p in priced.lines
        ],
        "adjustments": [_adjustment(a) for a in priced.adjustments],
        "items_total": priced.items_total,
        "total": priced.total,
        "problems": [{"code": p.code, "message": str(p.message), "line": p.line_index} for p in priced.problems],
    }


def quote():
    data = _body()
    shopper = principal("shopper")
    try:
        priced = quote_order(
            shopper.id if shopper else None,
            data.get("items"),
            data.get("province"),
            data.get("options") if isinstance(data.get("options"), dict) else None,
        )
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


# --- the operations (in the OpenAPI document under the plugin's paths, tagged groupbuy) ----------

_INT, _TEXT, _BOOL = {"type": "integer"}, {"type": "string"}, {"type": "boolean"}
_TIER = shape({"size": _INT, "percent": _TEXT, "bp": {**_INT, "description": "basis points of the list price"}})
CAMPAIGN = shape(
    {
        "id": _INT,
        "title": _TEXT,
        "product_id": _INT,
        "sku_ids": {"type": "array", "items": _INT, "description": "empty: every option"},
        "group_size": _INT,
        "tiers": {"type": "array", "items": _TIER},
        "leader_discount_percent": nullable(_TEXT),
        "window_hours": _INT,
        "starts_at": _TEXT,
        "ends_at": _TEXT,
        "quota": _INT,
        "remaining": _INT,
        "per_order_limit": nullable(_INT),
        "per_shopper_limit": nullable(_INT),
        "new_customers_only": _BOOL,
        "phase": {"type": "string", "enum": ["scheduled", "active", "expired", "ended"]},
        # the console's own fields
        "sold": _INT,
        "status": _TEXT,
        "auto_complete_percent": nullable(_INT),
        "stats": shape(
            {
                key: _INT
                for key in ("open", "succeeded", "failed", "cancelled", "members", "refunds_owed", "refunds_failed")
            }
        ),
    },
    optional=("sold", "status", "auto_complete_percent", "stats"),
)
_SKU_ROW = shape(
    {
        "id": _INT,
        "label": _TEXT,
        "price": {**_INT, "description": "fen"},
        "group_price": {**_INT, "description": "fen"},
        "price_yuan": _TEXT,
        "group_price_yuan": _TEXT,
        "stock": _INT,
    }
)
_OPEN_GROUP = shape(
    {
        "id": _INT,
        "leader": _TEXT,
        "headcount": _INT,
        "size": _INT,
        "needed": _INT,
        "deadline": _TEXT,
        "deadline_iso": _TEXT,
        "seconds_left": _INT,
    }
)
CAMPAIGN_DETAIL = {
    "allOf": [CAMPAIGN],
    **shape({"skus": {"type": "array", "items": _SKU_ROW}, "open_groups": {"type": "array", "items": _OPEN_GROUP}}),
}
GROUP = shape(
    {
        "id": _INT,
        "campaign_id": _INT,
        "status": _TEXT,
        "size": _INT,
        "headcount": _INT,
        "seats": _INT,
        "needed": _INT,
        "open_seats": _INT,
        "deadline": _TEXT,
        "deadline_iso": _TEXT,
        "seconds_left": _INT,
        "opened_at": _TEXT,
        "closed_at": _TEXT,
        "members": {"type": "array", "items": shape({"id": _INT, "name": _TEXT, "leader": _BOOL, "joined_at": _TEXT})},
        "refunded_after": _INT,
        "auto_completed": _BOOL,
        "ladder": {"type": "array", "items": _TIER},
        "next_percent": _TEXT,
        "final_percent": nullable(_TEXT),
        "skus": {"type": "array", "items": _SKU_ROW},
    }
)
_ADJUSTMENT = shape(
    {
        "stage": _TEXT,
        "source": _TEXT,
        "code": _TEXT,
        "label": _TEXT,
        "amount": {**_INT, "description": "fen; a discount is negative"},
    }
)
RECEIPT = shape(
    {
        "lines": {
            "type": "array",
            "items": shape(
                {
                    "sku_id": _INT,
                    "title": _TEXT,
                    "unit_price": _INT,
                    "quantity": _INT,
                    "total": _INT,
                    "adjustments": {"type": "array", "items": _ADJUSTMENT},
                }
            ),
        },
        "adjustments": {"type": "array", "items": _ADJUSTMENT},
        "items_total": _INT,
        "total": _INT,
        "problems": {"type": "array", "items": shape({"code": _TEXT, "message": _TEXT, "line": nullable(_INT)})},
    }
)
CONSOLE_GROUP = shape(
    {
        "id": _INT,
        "campaign_id": _INT,
        "status": _TEXT,
        "size": _INT,
        "headcount": _INT,
        "seats": _INT,
        "opened_at": _TEXT,
        "deadline": _TEXT,
        "closed_at": nullable(_TEXT),
        "final_percent": nullable(_TEXT),
        "auto_completed": _BOOL,
        "leader_member_id": nullable(_INT),
        "members": {
            "type": "array",
            "items": shape(
                {
                    "id": _INT,
                    "order_id": nullable(_INT),
                    "customer_id": _INT,
                    "status": _TEXT,
                    "seq": nullable(_INT),
                    "sku_id": _INT,
                    "quantity": _INT,
                    "unit_price": _INT,
                    "paid_unit": nullable(_INT),
                    "opener": _BOOL,
                    "refunds": {
                        "type": "array",
                        "items": shape(
                            {
                                "id": _INT,
                                "kind": _TEXT,
                                "amount": _INT,
                                "status": _TEXT,
                                "attempts": _INT,
                                "last_error": nullable(_TEXT),
                            }
                        ),
                    },
                }
            ),
        },
    },
    optional=("members",),
)
CAMPAIGN_FORM = obj(
    {
        "title": string(60),
        "product_id": ID,
        "sku_ids": {"type": "array", "items": ID, "description": "empty: every option"},
        "group_size": {"type": "integer"},
        "tiers": {
            "type": "array",
            "items": obj({"size": {"type": "integer"}, "percent": {"type": ["string", "number"]}}),
        },
        "leader_discount_percent": {"type": ["string", "number", "null"]},
        "window_hours": {"type": "integer"},
        "starts_at": {"type": "string", "description": "ISO 8601; without a zone: the store's time zone"},
        "ends_at": {"type": "string"},
        "quota": {"type": "integer"},
        "per_order_limit": {"type": ["integer", "null"]},
        "per_shopper_limit": {"type": ["integer", "null"]},
        "new_customers_only": {"type": "boolean"},
        "auto_complete_percent": {"type": ["integer", "null"], "description": "empty: off"},
    },
    additional=True,
)
QUOTE = obj(
    {
        "items": {"type": "array", "items": obj({"sku_id": ID, "quantity": {"type": "integer"}})},
        "province": string(20),
        "options": {"type": "object", "description": '{"groupbuy": {"campaign_id", "group_id" or null, "open": bool}}'},
    },
    ["items"],
    additional=True,
)
_FIELD_ERRORS = {"$ref": "#/components/responses/ValidationFailed"}
_CAMPAIGN_ID = [{"name": "campaign_id", "in": "path", "required": True, "schema": ID}]


def make_store_blueprint() -> Blueprint:
    bp = Blueprint("shop_api", "mallow_groupbuy")
    bp.groupbuy_role = "shop_api"
    api_route(
        bp,
        "GET",
        "/campaigns",
        "groupbuyListCampaigns",
        "Running group-buy campaigns",
        auth=None,
        endpoint="list_campaigns",
        responses={"200": returns("The campaigns", shape({"items": {"type": "array", "items": CAMPAIGN}}))},
    )(list_campaigns)
    api_route(
        bp,
        "GET",
        "/campaigns/<int:campaign_id>",
        "groupbuyGetCampaign",
        "A campaign with its options (list and group prices) and its open groups",
        auth=None,
        endpoint="get_campaign",
        responses={"200": returns("The campaign", CAMPAIGN_DETAIL)},
    )(get_campaign)
    api_route(
        bp,
        "GET",
        "/groups/<int:group_id>",
        "groupbuyGetGroup",
        "A group: its state, real members (masked nicknames), seats and deadline",
        auth=None,
        endpoint="get_group",
        responses={"200": returns("The group", GROUP)},
    )(get_group)
    api_route(
        bp,
        "POST",
        "/quote",
        "groupbuyQuote",
        "The receipt at the group price, with any problem, without ordering (a shopper token is optional)",
        auth=None,
        endpoint="quote",
        body=QUOTE,
        validate="object",
        responses={"200": returns("The receipt (fen)", RECEIPT), "422": _FIELD_ERRORS},
    )(quote)
    return bp


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
        responses={"201": returns("The campaign", CAMPAIGN), "422": _FIELD_ERRORS},
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
        responses={"200": returns("The campaign", CAMPAIGN), "422": _FIELD_ERRORS},
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
