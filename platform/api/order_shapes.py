"""The JSON shapes of the store API's carts, orders and addresses (all money is integer fen), and
:func:`order_json`: an order as the store and console APIs answer it."""

from __future__ import annotations

from mallow.api.registry import ID, nullable, schema, shape
from mallow.api.views import iso
from mallow.orders import addresses, receipts
from mallow.orders.models import ORDER_STATES, Order

ERR = {"$ref": "#/components/responses/ValidationFailed"}
ITEMS = {
    "type": "array",
    "minItems": 1,
    "maxItems": 50,
    "items": {
        "type": "object",
        "required": ["sku_id", "quantity"],
        "additionalProperties": False,
        "properties": {"sku_id": ID, "quantity": {"type": "integer", "minimum": 1, "maximum": 999}},
    },
}


# --- response schemas (all money is integer fen) ------------------------------------------------

FEN = {"type": "integer", "description": "fen (1 yuan = 100 fen)"}
SIGNED_FEN = {"type": "integer", "description": "fen; a discount is negative"}
TEXT = {"type": "string"}
WHEN = {"type": "string", "format": "date-time"}
_ADJUSTMENT = shape(
    {
        "line_id": nullable({"type": "integer"}),
        "stage": TEXT,
        "source": TEXT,
        "code": TEXT,
        "label": TEXT,
        "amount": SIGNED_FEN,
    },
    optional=("line_id",),
)
PRICED = schema(
    "PricedItems",
    shape(
        {
            "lines": {
                "type": "array",
                "items": shape(
                    {
                        "sku_id": {"type": "integer"},
                        "title": TEXT,
                        "spec": TEXT,
                        "unit_price": FEN,
                        "quantity": {"type": "integer"},
                        "total": FEN,
                        "adjustments": {"type": "array", "items": _ADJUSTMENT},
                    }
                ),
            },
            "adjustments": {"type": "array", "items": _ADJUSTMENT},
            "items_total": FEN,
            "total": {**FEN, "description": "items_total plus every adjustment (of the lines and of the order)"},
            "problems": {
                "type": "array",
                "items": shape({"code": TEXT, "message": TEXT, "line": nullable({"type": "integer"})}),
            },
        }
    ),
)
CART = schema(
    "Cart",
    shape(
        {
            "items": {
                "type": "array",
                "items": shape({"sku_id": {"type": "integer"}, "quantity": {"type": "integer"}}),
            },
            "quote": nullable(PRICED),
            "unavailable": {
                "type": "array",
                "items": {"type": "integer"},
                "description": "SKUs that cannot be bought now (left out of the quote)",
            },
        },
        optional=("unavailable",),
    ),
)
ORDER = schema(
    "Order",
    shape(
        {
            "id": {"type": "integer"},
            "number": TEXT,
            "status": {"type": "string", "enum": list(ORDER_STATES.states)},
            "items_total": FEN,
            "total": {**FEN, "description": "items_total + sum(adjustments.amount)"},
            "refunded_total": FEN,
            "note": TEXT,
            "carrier": nullable(TEXT),
            "tracking_number": nullable(TEXT),
            "created_at": WHEN,
            "pay_deadline": WHEN,
            "test": {
                "type": "boolean",
                "description": "a test order: paid through the sandbox, no money moved "
                "(no commission, not counted in sales)",
            },
            "address": {"type": "object", "description": "the delivery address when ordered (phone masked)"},
            "lines": {
                "type": "array",
                "items": shape(
                    {
                        "id": {"type": "integer"},
                        "sku_id": {"type": "integer"},
                        "product_id": {"type": "integer"},
                        "title": TEXT,
                        "spec": TEXT,
                        "unit_price": FEN,
                        "quantity": {"type": "integer"},
                        "total": FEN,
                    }
                ),
            },
            "adjustments": {"type": "array", "items": _ADJUSTMENT},
            "timeline": {
                "type": "array",
                "items": shape(
                    {
                        "at": WHEN,
                        "kind": TEXT,
                        "by": {"type": "string", "description": "shopper, staff, system, provider, payer"},
                        "detail": {"type": "object"},
                        "actor": {"type": "string", "description": "staff only: who exactly"},
                    },
                    optional=("actor",),
                ),
            },
            "merchant_note": TEXT,
            "customer_id": {"type": "integer"},
        },
        optional=("merchant_note", "customer_id"),
    ),
)
ORDERS = schema("OrderList", shape({"items": {"type": "array", "items": ORDER}}))
_REGION_CODE = nullable(
    {
        "type": "string",
        "description": "GB/T 2260 code (six digits); null: no such level, or an address saved before codes",
    }
)
ADDRESS = schema(
    "Address",
    shape(
        {
            "id": {"type": "integer"},
            "recipient": TEXT,
            "phone": {**TEXT, "description": "masked"},
            "province": TEXT,
            "city": TEXT,
            "district": nullable(TEXT),
            "detail": TEXT,
            "is_default": {"type": "boolean"},
            "province_code": _REGION_CODE,
            "city_code": _REGION_CODE,
            "district_code": _REGION_CODE,
        }
    ),
)


def _event_json(event, for_staff: bool) -> dict:
    """``by``: who did it (shopper, staff, system, provider, payer); staff also see the account."""
    data = {"at": iso(event.at), "kind": event.kind, "by": event.actor.split(":", 1)[0], "detail": event.detail}
    if for_staff:
        data["actor"] = event.actor
    return data


def order_json(order: Order, for_staff: bool = False) -> dict:
    data = {
        "id": order.id,
        "number": order.number,
        "status": order.status,
        "items_total": order.items_total,
        "total": order.total,
        "refunded_total": order.refunded_total,
        "note": order.note,
        "carrier": order.carrier,
        "tracking_number": order.tracking_number,
        "created_at": iso(order.created_at),
        "pay_deadline": iso(order.pay_deadline),
        "test": bool(order.is_test),
        "address": addresses.read_snapshot(order.address_cipher),
        "lines": receipts.order_lines_json(order),
        "adjustments": receipts.order_adjustments_json(order),
        "timeline": [_event_json(e, for_staff) for e in order.events],
    }
    if for_staff:
        data["merchant_note"] = order.merchant_note
        data["customer_id"] = order.customer_id
    return data
