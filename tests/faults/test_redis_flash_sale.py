"""Redis restarted in the middle of a flash sale (issue 15, faults survived).

The sale's gate, its ticket queue and the shopper sessions live in a Redis of this module, which
the test kills (SIGKILL) and starts again empty (nothing is kept on disk). Shoppers buy through
the store API's real route (``POST …/api/x/flashsale/sales/<id>/buy``, the whole WSGI app, in
threads), and the drain job makes the admitted tickets into orders:

1. Redis up: a crowd is admitted (202, a ticket each) and drained into orders; a second crowd is
   admitted and Redis dies **while the drain works through it** (after its first ticket);
2. Redis down: the database path takes over (201 with the order, or 409 sold out), never a 500;
   a ticket's poll says "try again" (503), never a 500;
3. Redis back, empty: the gate is seeded again from the database (not trusted from an empty
   Redis), so the units left are exactly the database's and a shopper who bought while Redis
   was away is refused a second order; the crowd is admitted through Redis again.

At the end: units sold ≤ the quota, the database's remaining units and the SKU's stock are the
initial ones minus what was sold, no shopper has two orders, and every shopper who was told
"you got it" (201 with an order, or a ticket polled as ordered) has exactly one order.
"""

from __future__ import annotations

import json
import threading

import pytest
import sqlalchemy as sa

from mallow.testing import JobRecorder, backend_params, bearer, dispose_app, plugin_app

pytestmark = pytest.mark.redis

QUOTA = 16
STOCK = 40
LIMITS = {"ip_attempts_per_minute": 1_000_000, "shopper_attempts_per_minute": 600}


@pytest.fixture(scope="module", params=backend_params())
def sale_app(request, tmp_path_factory, redis_server):
    app = plugin_app(
        tmp_path_factory,
        request.param,
        ["flashsale"],
        REDIS_URL=redis_server.url,
        FLASHSALE_REDIS_URL=redis_server.url,
    )
    yield app
    dispose_app(app)


@pytest.fixture
def fault(sale_app, redis_server, monkeypatch):
    """The drain job recorded (the test runs it), the front door's budget generous, Redis
    running and empty at the start."""
    from mallow.plugins import early

    if not redis_server.answers():
        redis_server.start()
    client = redis_server.client()
    client.flushall()  # this module's own server
    client.close()
    jobs = JobRecorder(only="flashsale.")
    monkeypatch.setitem(sale_app.extensions, "mallow.jobs", jobs)
    routes = sale_app.extensions.get("mallow.early_routes") or early.install(sale_app)
    monkeypatch.setattr(routes, "budget_ms", 10_000.0)
    with sale_app.app_context():
        from mallow_flashsale import flags

        flags.reset()
    return jobs


def _setup(app):
    from tests.flashsale.conftest import create_sale, enabled_store, make_shoppers, product

    shop = enabled_store(app, LIMITS)
    sku = product(app, shop, stock=STOCK)
    sale = create_sale(app, shop, [{"sku_id": sku, "sale_price": 990, "quota": QUOTA}], per_shopper=1)
    return shop, sku, sale["id"], make_shoppers(app, shop, 40)


def _crowd(app, shop, sale_id, sku, people):
    """Each of ``people`` tries once, all at the same time: ``[(status, body, person)]``."""
    answers, lock = [], threading.Lock()

    def attempt(person):
        token, address, _customer = person
        response = app.test_client().post(
            f"{shop.prefix}/api/x/flashsale/sales/{sale_id}/buy",
            headers=bearer(token),
            json={"sku_id": sku, "quantity": 1, "address_id": address},
        )
        with lock:
            answers.append((response.status_code, response.get_json(), person))

    threads = [threading.Thread(target=attempt, args=(p,)) for p in people]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert len(answers) == len(people)
    return answers


def _poll(app, shop, ticket, token):
    response = app.test_client().get(f"{shop.prefix}/api/x/flashsale/tickets/{ticket}", headers=bearer(token))
    return response.status_code, response.get_json()


def _drain(app, shop, **kwargs):
    from mallow.tenants.context import current_store, store_context
    from mallow_flashsale import admission

    with store_context(shop.store_id, app=app):
        return admission.drain(current_store(), **kwargs)


def _facts(app, shop, sale_id, sku):
    from mallow.db import db
    from mallow.orders.checkout import sku_stock
    from mallow.orders.models import Order
    from mallow.tenants.context import store_context
    from mallow_flashsale.models import Purchase, SaleItem

    with store_context(shop.store_id, app=app):
        purchases = db.session.execute(
            sa.select(Purchase.customer_id, Purchase.order_id, Purchase.quantity).where(Purchase.sale_id == sale_id)
        ).all()
        orders = db.session.execute(
            sa.select(Order.id, Order.customer_id).where(Order.id.in_([p.order_id for p in purchases]))
        ).all()
        remaining = db.session.execute(sa.select(SaleItem.remaining).where(SaleItem.sale_id == sale_id)).scalar_one()
        return {"purchases": purchases, "orders": orders, "remaining": remaining, "stock": sku_stock(sku)}


def test_redis_dies_and_comes_back_empty_in_the_middle_of_a_flash_sale(sale_app, fault, redis_server, monkeypatch):
    from mallow_flashsale import admission

    app = sale_app
    shop, sku, sale_id, people = _setup(app)
    told: dict[int, int] = {}  # customer → the order they were told they got
    every_answer: list[int] = []

    def tell(customer, order_id):
        assert customer not in told or told[customer] == order_id
        told[customer] = order_id

    # 1. Redis up: 6 admitted and drained, each polled "ordered"
    first = _crowd(app, shop, sale_id, sku, people[:6])
    every_answer += [s for s, _b, _p in first]
    assert {s for s, _b, _p in first} == {202}
    assert _drain(app, shop) == 6
    for _s, body, (token, _a, customer) in first:
        status, polled = _poll(app, shop, body["ticket"], token)
        assert status == 200 and polled["status"] == "ordered"
        tell(customer, polled["order"]["id"])

    # the next 4 are admitted; Redis dies while the drain has placed the first of them
    second = _crowd(app, shop, sale_id, sku, people[6:10])
    every_answer += [s for s, _b, _p in second]
    assert {s for s, _b, _p in second} == {202}
    placed = []
    real_place = admission.place_ticket

    def place_then_die(store, raw):
        if placed:
            redis_server.kill()  # before the second ticket: its order is placed with Redis gone
        placed.append(raw)
        return real_place(store, raw)

    monkeypatch.setattr(admission, "place_ticket", place_then_die)
    with pytest.raises(Exception):  # noqa: B017 -- redis-py's ConnectionError, whichever the drain meets first
        _drain(app, shop, batch=1)
    monkeypatch.setattr(admission, "place_ticket", real_place)
    assert not redis_server.answers()
    # of the 4 admitted: one ordered and told, one placed while Redis died (its outcome lost), two
    # lost with Redis in the queue (their units were reserved only in Redis: nothing is held)
    assert len(placed) == 2
    in_database = _facts(app, shop, sale_id, sku)
    assert len(in_database["purchases"]) == 8 and in_database["remaining"] == QUOTA - 8

    # 2. Redis down: the database decides; the crowd gets orders or "sold out", never a 500
    for _s, body, (token, _a, _c) in second:
        status, polled = _poll(app, shop, body["ticket"], token)
        assert status == 503 and polled["error"] == "unavailable" and polled["message"]  # try again soon
    third = _crowd(app, shop, sale_id, sku, people[10:15])
    every_answer += [s for s, _b, _p in third]
    assert sorted(s for s, _b, _p in third) == [201] * 5, [b for _s, b, _p in third]
    for _s, body, (_t, _a, customer) in third:
        tell(customer, body["order"]["id"])
    assert fault.queued == [("flashsale.drain", {"store_id": shop.store_id})] * 2  # only while Redis was up

    # 3. Redis back, empty: the gate is rebuilt from the database
    redis_server.start()
    units_left = QUOTA - 13
    # those with an unpaid order cannot buy again: those who bought while Redis was away, and the
    # two the drain placed as it died (which two of the four were queued first is the crowd's
    # race: read from the tickets the drain took)
    by_customer = {person[2]: person for person in people}
    drained = [by_customer[json.loads(raw)["c"]] for raw in placed]
    again = _crowd(app, shop, sale_id, sku, people[10:15] + drained)
    every_answer += [s for s, _b, _p in again]
    assert {(s, b["error"]) for s, b, _p in again} == {(409, "pending_order")}, again
    last = _crowd(app, shop, sale_id, sku, people[15:40])
    every_answer += [s for s, _b, _p in last]
    admitted = [(b, p) for s, b, p in last if s == 202]
    assert len(admitted) == units_left  # exactly the database's units, not a fresh count
    assert {(s, b.get("error")) for s, b, _p in last if s != 202} == {(409, "sold_out")}
    assert _drain(app, shop) == units_left
    for body, (token, _a, customer) in admitted:
        status, polled = _poll(app, shop, body["ticket"], token)
        assert status == 200 and polled["status"] == "ordered"
        tell(customer, polled["order"]["id"])
    # a ticket lost with Redis is answered "not found" (its shopper tries again), never a 500
    assert _poll(app, shop, second[-1][1]["ticket"], second[-1][2][0])[0] == 404

    assert 500 not in every_answer and all(s in (201, 202, 409) for s in every_answer)
    facts = _facts(app, shop, sale_id, sku)
    sold = sum(p.quantity for p in facts["purchases"])
    assert sold == QUOTA  # sold out, and not one unit more
    assert facts["remaining"] == QUOTA - sold == 0
    assert facts["stock"] == STOCK - sold
    buyers = [p.customer_id for p in facts["purchases"]]
    assert len(buyers) == len(set(buyers))  # one order per shopper (the sale's limit): no unit sold twice
    orders = {customer: order for order, customer in facts["orders"]}
    assert len(facts["orders"]) == len(facts["purchases"])
    for customer, order_id in told.items():
        assert orders.get(customer) == order_id  # told "you got it": exactly that one order
    assert len(told) == 6 + 5 + units_left
