"""What the drain (the ``flashsale.drain`` job) spends per order, counted, and what it must not
give up for it: the store's row is read once per job, not once per order (put back after each
commit while the store's stamp holds), and a store suspended in the middle of a drain refuses
the drain's next order as before; the sale's take is one statement built once per shape (the
same SQL text for every order); the SDK's reach check remembers a statement object that passed,
and still refuses a new statement derived from it."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from mallow.testing.sql import listing, statements

from . import test_admission
from .conftest import buy, sale_item
from .test_admission import _concurrent_buyers, _drain, _orders, _sale

door_app, door = test_admission.door_app, test_admission.door  # the PostgreSQL + Redis app and its prefixes

ORDERS = 8


def _stamp_known(app, shop) -> None:
    """The process's stamp listener subscribed and the store's stamp in its memory (as in a worker
    that has run a job of the store before): then the row is kept without a round trip."""
    import time

    from mallow.tenants import stamps

    with app.app_context():
        backend = stamps.stamps().backend
        deadline = time.monotonic() + 5
        while not getattr(backend, "live", True) and time.monotonic() < deadline:
            stamps.current(shop.store_id)
            time.sleep(0.02)
        stamps.current(shop.store_id)


def test_a_drain_reads_the_store_row_once_and_runs_one_take_statement_text(door):
    app = door.app
    # one unit more than is sold: selling out moves the store's stamp (kept sale pages say so at
    # once), and the row is then rightly read again
    shop, sku, sale_id, people = _sale(app, 3 + ORDERS, 2 + ORDERS)
    _concurrent_buyers(app, shop, sale_id, sku, people[:2])
    assert _drain(app, shop) == 2  # the process meets the store's kept answers
    _concurrent_buyers(app, shop, sale_id, sku, people[2:])
    _stamp_known(app, shop)
    with statements() as seen:
        assert _drain(app, shop) == ORDERS
    assert len(_orders(app, shop, sale_id)) == 2 + ORDERS
    stores = [s for s in seen if " FROM stores" in s]
    assert len(stores) == 1, listing(stores)  # the job's own read, not one per order (9 before)
    takes = {s for s in seen if "flashsale_pending" in s}
    assert len(takes) == 1, listing(sorted(takes))  # one shape: the same text, bound values
    # per order: relax the commit, the shopper's level, the order, the savepoint and its release
    # around the plugin's hook, the payment window, the take (7); the job: the store, the flush
    assert len(seen) <= 7 * ORDERS + 2, listing(seen)
    assert sale_item(app, shop, sale_id, sku)["remaining"] == 1


def test_a_store_suspended_in_the_middle_of_a_drain_refuses_its_next_orders(door, monkeypatch):
    """The store's row is kept across the drain's commits only while its stamp holds: suspended
    after the second order, the third is refused as the core refuses any order of a suspended
    store (the row read again), its unit goes back to the gate, and nothing is sold after."""
    from mallow.db import db
    from mallow.tenants.context import store_context
    from mallow.tenants.models import Store
    from mallow_flashsale import buying, gate

    app = door.app
    shop, sku, sale_id, people = _sale(app, 4, 4)
    client = app.test_client()
    _concurrent_buyers(app, shop, sale_id, sku, people[:1])
    assert _drain(app, shop) == 1  # the process knows the store's stamp now
    tickets = [buy(client, shop, sale_id, t, a, sku).get_json()["ticket"] for t, a, _c in people[1:]]
    _stamp_known(app, shop)
    placed = []
    original = buying.place_admitted

    def place_then_suspend(*args, **kwargs):
        answer = original(*args, **kwargs)
        placed.append(answer.status)
        if len(placed) == 1:  # the platform suspends the store while the drain goes on
            with store_context(shop.store_id, app=app):
                db.session.get(Store, shop.store_id).status = "suspended"
                db.session.commit()
        return answer

    monkeypatch.setattr(buying, "place_admitted", place_then_suspend)
    assert _drain(app, shop) == 3
    assert placed == [201, 422, 422]
    with app.app_context():  # the tickets' outcomes (the store's pages refuse while it is suspended)
        keys = [gate.ticket_key(shop.store_id, t) for t in tickets]
    outcomes = [{k.decode(): v.decode() for k, v in door.redis.hgetall(key).items()} for key in keys]
    assert [o["status"] for o in outcomes] == ["ordered", "failed", "failed"]
    assert json.loads(outcomes[1]["body"])["fields"]["store"]["code"] == "not_taking_orders"
    assert len(_orders(app, shop, sale_id)) == 2
    assert sale_item(app, shop, sale_id, sku)["remaining"] == 2


@pytest.fixture
def reach_app(door_app):
    with door_app.app_context():
        yield door_app


def test_the_reach_check_remembers_a_statement_that_passed_and_checks_what_is_derived(reach_app):
    from mallow.orders.models import Order
    from mallow.sdk.reach import StoreAccessRefused, check_statement
    from mallow_flashsale.models import SaleItem

    own = frozenset({"tables"})
    statement = sa.select(SaleItem.remaining).where(SaleItem.id == sa.bindparam("item"))
    check_statement(statement, "flashsale", own)
    check_statement(statement, "flashsale", own)  # remembered: the same object passes again
    with pytest.raises(StoreAccessRefused):  # the same object, fewer permissions: checked again
        check_statement(statement, "flashsale", frozenset())
    with pytest.raises(StoreAccessRefused):  # another plugin: checked again
        check_statement(statement, "groupbuy", own)
    derived = statement.where(SaleItem.id.in_(sa.select(Order.id)))  # a new object reaching orders
    with pytest.raises(StoreAccessRefused):
        check_statement(derived, "flashsale", own)
    check_statement(statement, "flashsale", own)  # a refusal is not remembered for the original
    with pytest.raises(StoreAccessRefused):
        check_statement(derived, "flashsale", own)  # nor a pass for the refused one
