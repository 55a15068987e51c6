"""The group-buy store API (``/s/<slug>/api/x/groupbuy``), public or with a shopper token:

* ``GET /campaigns`` — running campaigns; ``GET /campaigns/<id>`` — one, with its options
  (list price, opener's price) and open groups (real seats left, deadline);
* ``GET /groups/<id>`` — a group: state, real members (masked nicknames), seats, deadline;
* ``POST /quote`` — ``{"items", "province"?, "options": {"groupbuy": {…}}}``: the receipt with
  the group price and any problem, without ordering.

Orders are placed with Mallow's own ``POST /s/<slug>/api/orders`` and
``"options": {"groupbuy": {"campaign_id": …, "group_id": … or null}}``.
"""

from __future__ import annotations

from flask import Blueprint, abort, jsonify

from mallow.sdk import ValidationFailed, api_route, db, principal, quote_order, returns, shape
from mallow_groupbuy import campaigns, money, present
from mallow_groupbuy.models import Group
from mallow_groupbuy.views.api_shapes import (
    CAMPAIGN,
    CAMPAIGN_DETAIL,
    FIELD_ERRORS,
    GROUP,
    QUOTE,
    RECEIPT,
    campaign_or_404,
    invalid,
    json_body,
)


def list_campaigns():
    return jsonify(items=[campaigns.as_json(c) for c in campaigns.live_campaigns()])


def get_campaign(campaign_id: int):
    campaign = campaign_or_404(campaign_id)
    data = campaigns.as_json(campaign)
    data["skus"] = present.sku_rows(campaign, bp=money.tier_for(campaign.tiers, 1), leader_bp=campaign.leader_bp)
    data["open_groups"] = present.open_groups(campaign)
    return jsonify(data)


def get_group(group_id: int):
    group = db.session.get(Group, group_id)
    if group is None:
        abort(404)
    data = present.group_view(group)
    campaign = campaign_or_404(group.campaign_id)
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
    data = json_body()
    shopper = principal("shopper")
    try:
        priced = quote_order(
            shopper.id if shopper else None,
            data.get("items"),
            data.get("province"),
            data.get("options") if isinstance(data.get("options"), dict) else None,
        )
    except ValidationFailed as failed:
        return invalid(failed)
    return jsonify(priced_json(priced))


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
        responses={"200": returns("The receipt (fen)", RECEIPT), "422": FIELD_ERRORS},
    )(quote)
    return bp
