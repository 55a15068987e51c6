"""The database truth of a sale's units and of each shopper's share, inside the order's transaction.

* :func:`take` — at order placement (``mallow_order_placed``): the shopper's one unpaid order in
  the sale (:func:`hold_pending`, the primary key of ``flashsale_pending``: a second one, even a
  concurrent one, fails), then one conditional UPDATE ``remaining = remaining - q WHERE
  remaining >= q`` that also holds the shopper's units over the sale and the day (counted across
  all their orders) to the limits: concurrent buyers queue on the item's row and the condition
  is re-checked on the current row, so the sale never oversells (a CHECK constraint backs it
  up). One round trip on the winning path; only a refused UPDATE asks why (limits or units).
  The UPDATE returns what is left: the take that sells an item out moves the store's stamp at
  its commit (``mark_changed``), so a page kept for anonymous visitors says "sold out" at once
  (units sold otherwise move no stamp, and kept sale pages last a few seconds), and so does the
  give-back that brings units back to a sold-out item.
* :func:`give_back` — an unpaid order was cancelled or timed out: each of its purchases moves
  ``pending → returned`` in one conditional UPDATE, and only the caller that moved it gives
  the units back: exactly once, whoever else (the core's sweep, ours, the shopper) tries too.
* :func:`settle_paid` — the order was paid: its purchases stay counted, its unpaid marker goes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from mallow.sdk import CheckoutProblems, Problem, SoldOut, db, hot_rows, mark_changed
from mallow_flashsale.i18n import _
from mallow_flashsale.models import PendingOrder, Purchase, Sale, SaleItem, utcnow

COUNTED = ("pending", "paid")


@dataclass(frozen=True)
class Units:
    """Units that moved, for the Redis gate after the commit."""

    sale_id: int
    item_id: int
    customer_id: int
    quantity: int
    day: str


def shopper_units(sale_id: int, customer_id: int, day: str) -> tuple[int, int]:
    """Units the shopper holds in the sale (unpaid or paid): over the sale, and on ``day``."""
    on_day = sa.case((Purchase.day == day, Purchase.quantity), else_=0)
    total, today = db.session.execute(
        sa.select(sa.func.coalesce(sa.func.sum(Purchase.quantity), 0), sa.func.coalesce(sa.func.sum(on_day), 0)).where(
            Purchase.sale_id == sale_id, Purchase.customer_id == customer_id, Purchase.status.in_(COUNTED)
        )
    ).one()
    return int(total), int(today)


def has_pending(sale_id: int, customer_id: int) -> bool:
    return db.session.get(PendingOrder, (sale_id, customer_id)) is not None


def limit_problem(
    sale: Sale, customer_id: int, quantity: int, day: str, line_index: int | None = None
) -> Problem | None:
    """The shopper's limits over the sale and the day, with ``quantity`` more units."""
    if not sale.per_shopper_limit and not sale.per_day_limit:
        return None
    total, today = shopper_units(sale.id, customer_id, day)
    if sale.per_shopper_limit and total + quantity > sale.per_shopper_limit:
        return Problem(
            "flashsale_shopper_limit",
            _("You can buy at most %(limit)s in this flash sale.", limit=sale.per_shopper_limit),
            line_index,
        )
    if sale.per_day_limit and today + quantity > sale.per_day_limit:
        return Problem(
            "flashsale_day_limit",
            _("You can buy at most %(limit)s a day in this flash sale.", limit=sale.per_day_limit),
            line_index,
        )
    return None


def pending_problem() -> Problem:
    return Problem("flashsale_pending_order", _("You have an unpaid order in this flash sale: pay or cancel it first."))


def hold_pending(sale_id: int, customer_id: int, order_id: int) -> None:
    """The shopper's one unpaid order in the sale; CheckoutProblems when there is one already.

    One ``INSERT … ON CONFLICT DO NOTHING``: a concurrent order of the same shopper in the same
    sale waits for the first one's transaction, then inserts nothing and is refused."""
    dialect = db.engine.dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    table = PendingOrder.__table__
    statement = (
        insert(table)
        .values(sale_id=sale_id, customer_id=customer_id, order_id=order_id, created_at=utcnow())
        .on_conflict_do_nothing()
        .returning(table.c.order_id)
    )
    if db.session.execute(statement).first() is None:
        raise CheckoutProblems([pending_problem()])


def _live_sale(sale_id, now):
    """Condition: the sale is published and live in the database now (the caller may have decided
    from a snapshot a moment old; an "End now" in another process is honoured here)."""
    return sa.exists(
        sa.select(Sale.id).where(
            Sale.id == sale_id, Sale.published.is_(True), Sale.starts_at <= now, Sale.ends_at > now
        )
    )


def _within_limits(sale_id, customer_id, quantity, day, shopper_limit, day_limit) -> list:
    """Conditions of the units UPDATE: the shopper's units over the sale and the day, with
    ``quantity`` more, within the sale's limits (what :func:`limit_problem` checks); a limit of
    None is not a condition."""
    mine = sa.and_(Purchase.sale_id == sale_id, Purchase.customer_id == customer_id, Purchase.status.in_(COUNTED))
    conditions = []
    if shopper_limit is not None:
        held = sa.select(sa.func.coalesce(sa.func.sum(Purchase.quantity), 0)).where(mine).scalar_subquery()
        conditions.append(held + quantity <= shopper_limit)
    if day_limit is not None:
        today = sa.select(sa.func.coalesce(sa.func.sum(Purchase.quantity), 0)).where(mine, Purchase.day == day)
        conditions.append(today.scalar_subquery() + quantity <= day_limit)
    return conditions


# --- the take's statements: built once per shape, run with bound parameters ------------------------
#
# A drain places order after order, each with the same statement but its own values: building
# the statement per order (and SQLAlchemy's cache key, and the SDK's reach check walking it) was
# about half of the drain's own CPU. The shape is what changes the SQL: the unpaid marker taken with
# this line or not, and which of the sale's two limits are set; the values are bound parameters.

_P = {
    name: sa.bindparam(f"fs_{name}", type_=column.type)
    for name, column in (
        ("sale_id", Purchase.__table__.c.sale_id),
        ("item_id", Purchase.__table__.c.item_id),
        ("sku_id", Purchase.__table__.c.sku_id),
        ("order_id", Purchase.__table__.c.order_id),
        ("customer_id", Purchase.__table__.c.customer_id),
        ("quantity", Purchase.__table__.c.quantity),
        ("day", Purchase.__table__.c.day),
        ("status", Purchase.__table__.c.status),
        ("deadline", Purchase.__table__.c.deadline),
        ("created_at", Purchase.__table__.c.created_at),
        ("sale_price", SaleItem.__table__.c.sale_price),
        ("now", Sale.__table__.c.starts_at),
        ("shopper_limit", Sale.__table__.c.per_shopper_limit),
        ("day_limit", Sale.__table__.c.per_day_limit),
    )
}
#: the purchase row's columns, in the order the INSERT names them
_PURCHASE_COLUMNS = (
    "sale_id",
    "item_id",
    "sku_id",
    "order_id",
    "customer_id",
    "quantity",
    "day",
    "status",
    "deadline",
    "created_at",
)
#: (kind, hold, shopper limit set, day limit set) -> the statement
_SHAPES: dict[tuple, Any] = {}


def _take_conditions(shopper_limit: bool, day_limit: bool) -> list:
    """Units left, the price the order was given still the sale's, the sale live, the limits."""
    return [
        SaleItem.__table__.c.id == _P["item_id"],
        SaleItem.__table__.c.remaining >= _P["quantity"],
        SaleItem.__table__.c.sale_price == _P["sale_price"],
        _live_sale(_P["sale_id"], _P["now"]),
        *_within_limits(
            _P["sale_id"],
            _P["customer_id"],
            _P["quantity"],
            _P["day"],
            _P["shopper_limit"] if shopper_limit else None,
            _P["day_limit"] if day_limit else None,
        ),
    ]


def _shape(kind: str, hold: bool, sale) -> Any:
    key = (kind, hold, bool(sale.per_shopper_limit), bool(sale.per_day_limit))
    statement = _SHAPES.get(key)
    if statement is None:
        statement = _SHAPES[key] = (_take_in_one_statement if kind == "one" else _take_update_statement)(*key[1:])
    return statement


def _take_update_statement(_hold: bool, shopper_limit: bool, day_limit: bool):
    """SQLite: the units UPDATE alone (the marker and the purchase are statements of their own)."""
    items = SaleItem.__table__
    return (
        sa.update(items)
        .where(*_take_conditions(shopper_limit, day_limit))
        .values(remaining=items.c.remaining - _P["quantity"])
        .returning(items.c.remaining)
    )


def _take_in_one_statement(hold: bool, shopper_limit: bool, day_limit: bool):
    """PostgreSQL: the marker, the units and the purchase in one statement (data-modifying CTEs)."""
    conditions = _take_conditions(shopper_limit, day_limit)
    pend = None
    if hold:
        pending = PendingOrder.__table__
        pend = (
            postgresql.insert(pending)
            .values(
                sale_id=_P["sale_id"],
                customer_id=_P["customer_id"],
                order_id=_P["order_id"],
                created_at=_P["created_at"],
            )
            .on_conflict_do_nothing()
            .returning(pending.c.order_id)
            .cte("pend")
        )
        conditions.append(sa.exists(sa.select(pend.c.order_id)))
    items = SaleItem.__table__
    took = (
        sa.update(items)
        .where(*conditions)
        .values(remaining=items.c.remaining - _P["quantity"])
        .returning(items.c.id, items.c.remaining)
        .cte("took")
    )
    purchases = Purchase.__table__
    bought = (
        sa.insert(purchases)
        .from_select(
            list(_PURCHASE_COLUMNS),
            sa.select(*[_P[name].label(name) for name in _PURCHASE_COLUMNS]).where(sa.exists(sa.select(took.c.id))),
        )
        .returning(purchases.c.id)
        .cte("bought")
    )
    return sa.select(
        sa.select(sa.func.count()).select_from(pend).scalar_subquery() if pend is not None else sa.literal(1),
        sa.select(sa.func.count()).select_from(bought).scalar_subquery(),
        sa.select(took.c.remaining).scalar_subquery(),
    )


def _take_params(sale, item, order_id, customer_id, quantity, day, deadline, now) -> dict:
    return {
        "fs_sale_id": sale.id,
        "fs_item_id": item.id,
        "fs_sku_id": item.sku_id,
        "fs_order_id": order_id,
        "fs_customer_id": customer_id,
        "fs_quantity": quantity,
        "fs_day": day,
        "fs_status": "pending",
        "fs_deadline": deadline,
        "fs_created_at": now,
        "fs_sale_price": item.sale_price,
        "fs_now": now,
        "fs_shopper_limit": sale.per_shopper_limit,
        "fs_day_limit": sale.per_day_limit,
    }


def take(
    sale,
    item,
    *,
    order_id: int,
    customer_id: int,
    quantity: int,
    day: str,
    deadline: datetime,
    title: str,
    hold: bool = True,
) -> None:
    """Take ``quantity`` units of ``item`` for the order; with ``hold``, first the shopper's one
    unpaid order in the sale (:func:`hold_pending`). Raises SoldOut or CheckoutProblems, and the
    order's transaction rolls back.

    ``sale`` and ``item`` may be the buy endpoint's snapshot (a moment old): the statement checks
    against the database's rows that the sale is live and the item's price is the one the order
    got. On PostgreSQL the unpaid marker, the units and the purchase are one statement (data-
    modifying CTEs: one round trip); on SQLite three. The statements are built once per shape
    (:func:`_shape`) and run with the order's values as bound parameters."""
    now = utcnow()
    params = _take_params(sale, item, order_id, customer_id, quantity, day, deadline, now)
    if db.engine.dialect.name == "postgresql":  # sent as text compiled once, no autoflush (nothing to see)
        [(pend_ok, taken, left)] = hot_rows(_shape("one", hold, sale), params)
        if not pend_ok:
            raise CheckoutProblems([pending_problem()])
    else:
        if hold:
            hold_pending(sale.id, customer_id, order_id)
        left = db.session.execute(_shape("update", hold, sale), params).scalar_one_or_none()
        taken = 0 if left is None else 1
        if taken == 1:
            db.session.execute(
                sa.insert(Purchase).values(
                    _purchase_values(sale, item, order_id, customer_id, quantity, day, deadline, now)
                )
            )
    if taken != 1:
        _refusal(sale.id, item.id, customer_id, quantity, day, title)
    if left == 0:
        mark_changed()  # sold out: pages kept of the sale say so after the commit (no stamp moves else)


def _purchase_values(sale, item, order_id, customer_id, quantity, day, deadline, now) -> dict:
    return {
        "sale_id": sale.id,
        "item_id": item.id,
        "sku_id": item.sku_id,
        "order_id": order_id,
        "customer_id": customer_id,
        "quantity": quantity,
        "day": day,
        "status": "pending",
        "deadline": deadline,
        "created_at": now,
    }


def _refusal(sale_id: int, item_id: int, customer_id: int, quantity: int, day: str, title: str):
    """The units UPDATE was refused: say why, from the database's rows (one read; the limits'
    sum only when the sale has limits)."""
    sale = db.session.get(Sale, sale_id, populate_existing=True)
    item = db.session.get(SaleItem, item_id, populate_existing=True)
    if sale is None or item is None or sale.state(utcnow()) != "live":
        raise CheckoutProblems([Problem("flashsale_ended", _("The flash sale is over."))])
    problem = limit_problem(sale, customer_id, quantity, day)
    if problem is not None:
        raise CheckoutProblems([problem])
    if item.remaining >= quantity:  # units are there: the price moved under the order
        raise CheckoutProblems([Problem("flashsale_changed", _("The flash sale has just changed: look at it again."))])
    raise SoldOut(item.sku_id, title)


def remaining(item_id: int) -> int:
    return int(db.session.execute(sa.select(SaleItem.remaining).where(SaleItem.id == item_id)).scalar() or 0)


def give_back(order_id: int) -> list[Units]:
    """Return an unpaid order's units to their sales, once. Returns what this call returned."""
    returned = []
    purchases = (
        db.session.execute(sa.select(Purchase).where(Purchase.order_id == order_id, Purchase.status == "pending"))
        .scalars()
        .all()
    )
    for purchase in purchases:
        moved = db.session.execute(
            sa.update(Purchase)
            .where(Purchase.id == purchase.id, Purchase.status == "pending")
            .values(status="returned")
            .execution_options(synchronize_session=False)
        ).rowcount
        if moved != 1:
            continue  # another actor returned it a moment ago
        left = db.session.execute(
            sa.update(SaleItem)
            .where(SaleItem.id == purchase.item_id)
            .values(remaining=SaleItem.remaining + purchase.quantity)
            .returning(SaleItem.remaining)
            .execution_options(synchronize_session=False)
        ).scalar_one_or_none()
        if left == purchase.quantity:
            mark_changed()  # units again where it was sold out: kept pages say so after the commit
        returned.append(
            Units(purchase.sale_id, purchase.item_id, purchase.customer_id, purchase.quantity, purchase.day)
        )
    db.session.execute(
        sa.delete(PendingOrder).where(PendingOrder.order_id == order_id).execution_options(synchronize_session=False)
    )
    return returned


def settle_paid(order_id: int) -> list[Units]:
    paid = []
    purchases = (
        db.session.execute(sa.select(Purchase).where(Purchase.order_id == order_id, Purchase.status == "pending"))
        .scalars()
        .all()
    )
    for purchase in purchases:
        moved = db.session.execute(
            sa.update(Purchase)
            .where(Purchase.id == purchase.id, Purchase.status == "pending")
            .values(status="paid")
            .execution_options(synchronize_session=False)
        ).rowcount
        if moved == 1:
            paid.append(
                Units(purchase.sale_id, purchase.item_id, purchase.customer_id, purchase.quantity, purchase.day)
            )
    db.session.execute(
        sa.delete(PendingOrder).where(PendingOrder.order_id == order_id).execution_options(synchronize_session=False)
    )
    return paid
