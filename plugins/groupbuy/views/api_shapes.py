"""The JSON shapes of the group-buy API (in the OpenAPI document under the plugin's paths, tagged
groupbuy; prices in integer fen, discounts in basis points) and the request helpers its store and
console operations share."""

from __future__ import annotations

from flask import abort, jsonify, request

from mallow.sdk import ID, ValidationFailed, nullable, obj, shape, string
from mallow_groupbuy import campaigns


def invalid(failed: ValidationFailed):
    """Field errors: 422 with the errors as JSON."""
    return jsonify(failed.as_json()), 422


def json_body() -> dict:
    """The request's JSON object (400 for anything else)."""
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        abort(400)
    return data


def campaign_or_404(campaign_id: int):
    """The store's campaign by id, or 404."""
    campaign = campaigns.get(campaign_id)
    if campaign is None:
        abort(404)
    return campaign


INT, TEXT, BOOL = {"type": "integer"}, {"type": "string"}, {"type": "boolean"}
_TIER = shape({"size": INT, "percent": TEXT, "bp": {**INT, "description": "basis points of the list price"}})
CAMPAIGN = shape(
    {
        "id": INT,
        "title": TEXT,
        "product_id": INT,
        "sku_ids": {"type": "array", "items": INT, "description": "empty: every option"},
        "group_size": INT,
        "tiers": {"type": "array", "items": _TIER},
        "leader_discount_percent": nullable(TEXT),
        "window_hours": INT,
        "starts_at": TEXT,
        "ends_at": TEXT,
        "quota": INT,
        "remaining": INT,
        "per_order_limit": nullable(INT),
        "per_shopper_limit": nullable(INT),
        "new_customers_only": BOOL,
        "phase": {"type": "string", "enum": ["scheduled", "active", "expired", "ended"]},
        # the console's own fields
        "sold": INT,
        "status": TEXT,
        "auto_complete_percent": nullable(INT),
        "stats": shape(
            {
                key: INT
                for key in ("open", "succeeded", "failed", "cancelled", "members", "refunds_owed", "refunds_failed")
            }
        ),
    },
    optional=("sold", "status", "auto_complete_percent", "stats"),
)
_SKU_ROW = shape(
    {
        "id": INT,
        "label": TEXT,
        "price": {**INT, "description": "fen"},
        "group_price": {**INT, "description": "fen"},
        "price_yuan": TEXT,
        "group_price_yuan": TEXT,
        "stock": INT,
    }
)
_OPEN_GROUP = shape(
    {
        "id": INT,
        "leader": TEXT,
        "headcount": INT,
        "size": INT,
        "needed": INT,
        "deadline": TEXT,
        "deadline_iso": TEXT,
        "seconds_left": INT,
    }
)
CAMPAIGN_DETAIL = {
    "allOf": [CAMPAIGN],
    **shape({"skus": {"type": "array", "items": _SKU_ROW}, "open_groups": {"type": "array", "items": _OPEN_GROUP}}),
}
GROUP = shape(
    {
        "id": INT,
        "campaign_id": INT,
        "status": TEXT,
        "size": INT,
        "headcount": INT,
        "seats": INT,
        "needed": INT,
        "open_seats": INT,
        "deadline": TEXT,
        "deadline_iso": TEXT,
        "seconds_left": INT,
        "opened_at": TEXT,
        "closed_at": TEXT,
        "members": {"type": "array", "items": shape({"id": INT, "name": TEXT, "leader": BOOL, "joined_at": TEXT})},
        "refunded_after": INT,
        "auto_completed": BOOL,
        "ladder": {"type": "array", "items": _TIER},
        "next_percent": TEXT,
        "final_percent": nullable(TEXT),
        "skus": {"type": "array", "items": _SKU_ROW},
    }
)
_ADJUSTMENT = shape(
    {
        "stage": TEXT,
        "source": TEXT,
        "code": TEXT,
        "label": TEXT,
        "amount": {**INT, "description": "fen; a discount is negative"},
    }
)
RECEIPT = shape(
    {
        "lines": {
            "type": "array",
            "items": shape(
                {
                    "sku_id": INT,
                    "title": TEXT,
                    "unit_price": INT,
                    "quantity": INT,
                    "total": INT,
                    "adjustments": {"type": "array", "items": _ADJUSTMENT},
                }
            ),
        },
        "adjustments": {"type": "array", "items": _ADJUSTMENT},
        "items_total": INT,
        "total": INT,
        "problems": {"type": "array", "items": shape({"code": TEXT, "message": TEXT, "line": nullable(INT)})},
    }
)
CONSOLE_GROUP = shape(
    {
        "id": INT,
        "campaign_id": INT,
        "status": TEXT,
        "size": INT,
        "headcount": INT,
        "seats": INT,
        "opened_at": TEXT,
        "deadline": TEXT,
        "closed_at": nullable(TEXT),
        "final_percent": nullable(TEXT),
        "auto_completed": BOOL,
        "leader_member_id": nullable(INT),
        "members": {
            "type": "array",
            "items": shape(
                {
                    "id": INT,
                    "order_id": nullable(INT),
                    "customer_id": INT,
                    "status": TEXT,
                    "seq": nullable(INT),
                    "sku_id": INT,
                    "quantity": INT,
                    "unit_price": INT,
                    "paid_unit": nullable(INT),
                    "opener": BOOL,
                    "refunds": {
                        "type": "array",
                        "items": shape(
                            {
                                "id": INT,
                                "kind": TEXT,
                                "amount": INT,
                                "status": TEXT,
                                "attempts": INT,
                                "last_error": nullable(TEXT),
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
FIELD_ERRORS = {"$ref": "#/components/responses/ValidationFailed"}
