"""The flash sale's part of a shopper's data rights (PIPL): its section of the export
(``mallow_customer_data``) and its erasure when the account is deleted (``mallow_erase_customer``).

What it holds about a shopper: their purchases (which sale, which SKU at which sale price, how
many, for which order, on which day, in which state) and, while an order of theirs is unpaid, the
one-unpaid-order lock of the sale (``flashsale_pending``). Nothing they typed and nothing that
identifies them beyond the customer id, which the deletion turns into a tombstone.

The erasure refuses nothing: an unpaid sale order is an unpaid order, which the core's own check
refuses already, and the plugin owes the shopper nothing once an order is paid (its after-sales
are the core's). It keeps the purchases: they are the sale's bookkeeping (the quota's units
sold and returned exactly once, the sweep that returns an unpaid order's units), like the orders
the core keeps, and they name only the tombstone's id.
"""

from __future__ import annotations

import sqlalchemy as sa

from mallow.sdk import Order, db, hookimpl
from mallow_flashsale.models import PendingOrder, Purchase, Sale, SaleItem, aware


def customer_data(customer) -> dict | None:
    """The shopper's flash-sale purchases, as plain JSON (money in fen)."""
    rows = db.session.execute(
        sa.select(Purchase, Sale.title, SaleItem.sale_price, Order.number)
        .join(Sale, Sale.id == Purchase.sale_id)
        .join(SaleItem, SaleItem.id == Purchase.item_id)
        .outerjoin(Order, Order.id == Purchase.order_id)
        .where(Purchase.customer_id == customer.id)
        .order_by(Purchase.id)
    ).all()
    waiting = db.session.execute(
        sa.select(Sale.title, Order.number)
        .select_from(PendingOrder)
        .join(Sale, Sale.id == PendingOrder.sale_id)
        .outerjoin(Order, Order.id == PendingOrder.order_id)
        .where(PendingOrder.customer_id == customer.id)
        .order_by(PendingOrder.sale_id)
    ).all()
    if not rows and not waiting:
        return None
    return {
        "purchases": [
            {
                "sale": title,
                "sku_id": purchase.sku_id,
                "sale_price": price,
                "quantity": purchase.quantity,
                "order_number": number,
                "day": purchase.day,
                "status": purchase.status,
                "created_at": aware(purchase.created_at).isoformat(),
            }
            for purchase, title, price, number in rows
        ],
        "unpaid_orders": [{"sale": title, "order_number": number} for title, number in waiting],
    }


def erase_customer(customer) -> list[str] | None:
    """Nothing to erase or refuse (see the module): the purchases name only the tombstone's id."""
    return None


@hookimpl
def mallow_customer_data(customer):
    """The shopper's flash-sale purchases (the export)."""
    return customer_data(customer)


@hookimpl
def mallow_erase_customer(customer):
    """Nothing refused, nothing to erase beyond the core's tombstone (see the module)."""
    return erase_customer(customer)
