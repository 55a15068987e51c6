"""The drain's plugin work per order without a unit-of-work flush: the sale's short payment
window is asked for while pricing (``context.pay_within``) and written with the order, not by an
``UPDATE`` after it; the sale's take is sent as text compiled once, with no autoflush
(``mallow.sdk.hot_rows``). The same rows: the order's deadline is the sale's window, never later
than the store's; a ticket's answer says the deadline the database holds. And what
``hot_rows`` keeps of ``db.session.execute``: the reach check."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from mallow.testing.sql import listing, statements

from . import test_admission
from .conftest import in_store
from .test_admission import _concurrent_buyers, _drain, _sale

door_app, door = test_admission.door_app, test_admission.door  # the PostgreSQL + Redis app and its prefixes

ORDERS = 6


def _flushes():
    """Counts the session's unit-of-work flushes (``before_flush`` fires only when there is
    something to write)."""
    from sqlalchemy.orm import Session

    seen: list[int] = []

    def count(_session, _context, _instances):
        seen.append(1)

    sa.event.listen(Session, "before_flush", count)
    return seen, lambda: sa.event.remove(Session, "before_flush", count)


def test_a_drained_order_costs_no_flush_and_keeps_its_statements_and_rows(door):
    from mallow.db import db
    from mallow.orders.models import Order
    from mallow_flashsale.models import Purchase

    app = door.app
    shop, sku, sale_id, people = _sale(app, 2 + ORDERS + 1, 2 + ORDERS)
    _concurrent_buyers(app, shop, sale_id, sku, people[:2])
    assert _drain(app, shop) == 2  # the process meets the store's kept answers
    _concurrent_buyers(app, shop, sale_id, sku, people[2:])
    flushes, stop = _flushes()
    try:
        with statements() as seen:
            assert _drain(app, shop) == ORDERS
    finally:
        stop()
    assert not flushes  # before: one per order (the payment window, flushed by the take's autoflush)
    assert not [s for s in seen if "SET pay_deadline" in s], listing(seen)  # before: one UPDATE an order
    assert len(seen) <= 7 * ORDERS + 2, listing(seen)  # per order: relax, read, order, savepoint,
    # take, release, the stock with the COMMIT; the job: the store, the flush

    def rows():
        found = db.session.execute(
            sa.select(Order.id, Order.created_at, Order.pay_deadline, Purchase.deadline)
            .join(Purchase, Purchase.order_id == Order.id)
            .where(Purchase.sale_id == sale_id)
        ).all()
        return [(i, created, deadline, window) for i, created, deadline, window in found]

    placed = in_store(app, shop, rows)
    assert len(placed) == 2 + ORDERS
    for _id, created, deadline, window in placed:
        assert deadline == window  # the sale's window is the order's (5 minutes, not the store's 30)
        # priced a moment before the order was written: the sale's 5 minutes from then
        assert timedelta(minutes=5) - timedelta(seconds=5) < deadline - created <= timedelta(minutes=5)
    by_id = {order_id: deadline for order_id, _c, deadline, _w in placed}
    answers = [json.loads(door.redis.hget(key, "body")) for key in _ticket_keys(door, shop)]
    assert len(answers) == 2 + ORDERS
    for answer in answers:  # what the shopper is told is what the database holds
        order = answer["order"]
        assert datetime.fromisoformat(order["pay_deadline"]) == by_id[order["id"]]


def _ticket_keys(door, shop):
    return list(door.redis.scan_iter(match=f"{door.prefix}:fs:ticket:{shop.store_id}:*", count=1000))


@pytest.fixture
def store_of(door):
    """A store of the door's app with one unpaid order of a shopper: ``(app, shop, order id)``."""
    from mallow.sdk import place_order

    app = door.app
    shop, sku, _sale_id, people = _sale(app, 5, 1)
    _token, address, customer = people[0]

    def place():
        from mallow.db import db
        from mallow.accounts.models import Customer

        order, _created = place_order(db.session.get(Customer, customer), [{"sku_id": sku, "quantity": 1}], address)
        return order.id

    return app, shop, in_store(app, shop, place)


def test_hot_rows_are_checked_like_execute_and_do_not_autoflush(store_of):
    from mallow.db import db
    from mallow.orders.models import Order
    from mallow.plugins.acting import acting_as
    from mallow.sdk import hot_rows as rows
    from mallow.sdk.reach import StoreAccessRefused
    from mallow.tenants.models import Store
    from mallow_flashsale.models import SaleItem

    app, shop, order_id = store_of
    own = sa.select(sa.func.count(SaleItem.id)).where(SaleItem.quota >= sa.bindparam("at_least"))

    def run():
        with acting_as("flashsale"):
            assert rows(own, {"at_least": 1}) == [(1,)]
            assert rows(own, {"at_least": 6}) == [(0,)]  # the same statement object, another value
            with pytest.raises(StoreAccessRefused):  # a core table written by a plugin's statement
                rows(sa.update(Order).values(note="x").where(Order.id == order_id))
            with pytest.raises(StoreAccessRefused):  # a platform table
                rows(sa.select(Store.id))
        order = db.session.get(Order, order_id)
        order.note = "pending"  # an ORM change not flushed: rows() does not flush it first
        read = sa.select(Order.note).where(Order.id == sa.bindparam("id"))
        assert rows(read, {"id": order_id}) == [("",)]
        db.session.rollback()

    in_store(app, shop, run)
