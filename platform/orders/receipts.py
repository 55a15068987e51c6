"""The money of a quote or an order as plain data (integer fen): its lines, their adjustments,
the order-level adjustments and the totals, with ``items_total + every adjustment == total``.

One shape for the order API (``PricedItems`` and the money fields of ``Order``), the checkout
page and the order pages of the storefront and the console.
"""

from __future__ import annotations

from mallow.orders.models import Order
from mallow.pricing.model import PricedOrder


def _adjustment_json(adjustment) -> dict:
    return {
        "stage": adjustment.stage,
        "source": adjustment.source,
        "code": adjustment.code,
        "label": str(adjustment.label),
        "amount": adjustment.amount,
    }


def quote_json(priced: PricedOrder) -> dict:
    """A priced cart (not an order yet): lines with their own adjustments, problems if any."""
    return {
        "lines": [
            {
                "sku_id": p.line.sku_id,
                "title": p.line.title,
                "spec": p.line.spec_key,
                "unit_price": p.line.unit_price,
                "quantity": p.line.quantity,
                "total": p.total,
                "adjustments": [_adjustment_json(a) for a in p.adjustments],
            }
            for p in priced.lines
        ],
        "adjustments": [_adjustment_json(a) for a in priced.adjustments],
        "items_total": priced.items_total,
        "total": priced.total,
        "problems": [{"code": p.code, "message": str(p.message), "line": p.line_index} for p in priced.problems],
    }


def order_lines_json(order: Order) -> list[dict]:
    return [
        {
            "id": line.id,
            "sku_id": line.sku_id,
            "product_id": line.product_id,
            "title": line.title,
            "spec": line.spec_key,
            "unit_price": line.unit_price,
            "quantity": line.quantity,
            "total": line.total,
        }
        for line in order.lines
    ]


def order_adjustments_json(order: Order) -> list[dict]:
    """Every adjustment kept with the order; ``line_id`` names its line (None: the whole order)."""
    return [
        {
            "line_id": a.line_id,
            "stage": a.stage,
            "source": a.source,
            "code": a.code,
            "label": a.label,
            "amount": a.amount,
        }
        for a in order.adjustments
    ]


def _receipt(data: dict) -> dict:
    by_line: dict[int | None, list] = {}
    for adjustment in data["adjustments"]:  # a quote's are all order-level; an order's name their line
        by_line.setdefault(adjustment.get("line_id"), []).append(adjustment)
    lines = [
        dict(
            line,
            base=line["unit_price"] * line["quantity"],
            adjustments=line["adjustments"] if "adjustments" in line else by_line.get(line["id"], []),
        )
        for line in data["lines"]
    ]
    return {
        "lines": lines,
        "adjustments": by_line.get(None, []),
        "items_total": data["items_total"],
        "total": data["total"],
    }


def quote_receipt(priced: PricedOrder) -> dict:
    """The receipt the checkout page shows: lines (with ``base`` = unit price × quantity and their
    adjustments), the order-level adjustments, ``items_total`` and ``total``."""
    return _receipt(quote_json(priced))


def order_receipt(order: Order) -> dict:
    """The same receipt for a placed order, from what the order kept."""
    return _receipt(
        {
            "lines": order_lines_json(order),
            "adjustments": order_adjustments_json(order),
            "items_total": order.items_total,
            "total": order.total,
        }
    )
