"""Admission at the front door (排队中): with the shopper tokens mirrored in the gate's Redis, a buy
attempt is admitted before Flask (202 and a ticket, no SQL, one script) and its order is made by
the drain job behind the door: exactly N sold however many try, refusals as the route words them,
a revoked token goes to the route (401), a ticket is its own shopper's, a dying drain loses and
doubles nothing."""

from __future__ import annotations

import json
import threading
import uuid
from collections import Counter
from types import SimpleNamespace

import pytest
import sqlalchemy as sa
from werkzeug.test import EnvironBuilder

from mallow.jobs.registry import execute
from mallow.plugins.early import early_answer
from mallow.testing.sql import listing, statements
from mallow.testing import HAVE_POSTGRES, HAVE_REDIS, REDIS_URL, JobRecorder, bearer, dispose_app, plugin_app

from .conftest import OPEN_LIMITS, buy, create_sale, enabled_store, in_store, make_shoppers, product, sale_item
from .test_early_answers import counted


@pytest.fixture(scope="module")
def door_app(tmp_path_factory):
    if not HAVE_POSTGRES or not HAVE_REDIS:
        pytest.skip("PostgreSQL and Redis are needed")
    app = plugin_app(
        tmp_path_factory,
        "postgresql",
        ["flashsale"],
        REDIS_URL=REDIS_URL,
        FLASHSALE_REDIS_URL=REDIS_URL,
        FLASHSALE_SNAPSHOT_SECONDS=600,
    )
    yield app
    dispose_app(app)


@pytest.fixture
def door(door_app, monkeypatch):
    """Own key prefixes (deleted afterwards, never FLUSHDB), a job recorder, a generous budget."""
    import redis

    from mallow.plugins import early

    prefix = f"mallow-test:{uuid.uuid4().hex[:10]}"
    monkeypatch.setitem(door_app.config, "FLASHSALE_REDIS_PREFIX", f"{prefix}:fs")
    monkeypatch.setitem(door_app.config, "SESSION_MIRROR_PREFIX", f"{prefix}:m")
    jobs = JobRecorder(only="flashsale.")  # the drain; not the notifications of the store's approval
    monkeypatch.setitem(door_app.extensions, "mallow.jobs", jobs)
    routes = door_app.extensions.get("mallow.early_routes") or early.install(door_app)
    monkeypatch.setattr(routes, "budget_ms", 10_000.0)
    with door_app.app_context():
        from mallow_flashsale import flags

        flags.reset()
    client = redis.Redis.from_url(REDIS_URL)
    yield SimpleNamespace(app=door_app, jobs=jobs, redis=client, prefix=prefix)
    keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()


def _sale(app, units, shoppers, per_shopper=1):
    shop = enabled_store(app, OPEN_LIMITS)
    sku = product(app, shop, stock=1000)
    sale = create_sale(app, shop, [{"sku_id": sku, "sale_price": 100, "quota": units}], per_shopper=per_shopper)
    people = make_shoppers(app, shop, shoppers)
    # the route reads the sale and the settings once (a quantity over the per-order limit: 409)
    warm = buy(app.test_client(), shop, sale["id"], people[0][0], people[0][1], sku, quantity=2)
    assert warm.status_code == 409 and warm.get_json()["error"] == "limit_reached"
    _seed(app, shop, sale["id"])  # as the route's first attempt does
    return shop, sku, sale["id"], people


def _seed(app, shop, sale_id):
    from mallow_flashsale import gate

    assert in_store(app, shop, lambda: gate.seed(shop.store_id, sale_id))


def _drain(app, shop):
    return execute(app, "flashsale.drain", {"store_id": shop.store_id})


def _orders(app, shop, sale_id):
    from mallow.db import db
    from mallow_flashsale.models import Purchase

    return in_store(
        app,
        shop,
        lambda: db.session.execute(
            sa.select(Purchase.customer_id, Purchase.order_id).where(Purchase.sale_id == sale_id)
        ).all(),
    )


def _poll(client, shop, ticket, token):
    return client.get(f"{shop.prefix}/api/x/flashsale/tickets/{ticket}", headers=bearer(token))


def test_a_crowd_is_admitted_at_the_door_and_exactly_n_are_sold(door):
    app = door.app
    shop, sku, sale_id, people = _sale(app, 5, 16)
    answers, lock = [], threading.Lock()

    def shopper(token, address):
        response = buy(app.test_client(), shop, sale_id, token, address, sku)
        with lock:
            answers.append((response.status_code, response.get_json(), token))

    threads = [threading.Thread(target=shopper, args=(t, a)) for t, a, _c in people]
    [t.start() for t in threads]
    [t.join() for t in threads]

    admitted = [body for status, body, _t in answers if status == 202]
    assert len(admitted) == 5  # the units, no more
    assert {status for status, _b, _t in answers} == {202, 409}
    assert all(body["error"] == "sold_out" for status, body, _t in answers if status == 409)
    assert all(body["status"] == "queued" and body["poll_url"].endswith(body["ticket"]) for body in admitted)
    assert door.jobs.queued == [("flashsale.drain", {"store_id": shop.store_id})]  # one job for the crowd

    assert _drain(app, shop) == 5
    bought = _orders(app, shop, sale_id)
    assert len(bought) == 5 and len({c for c, _o in bought}) == 5
    assert sale_item(app, shop, sale_id, sku)["remaining"] == 0

    client = app.test_client()
    for status, body, token in answers:
        if status == 202:
            polled = _poll(client, shop, body["ticket"], token)
            assert polled.status_code == 200
            found = polled.get_json()
            assert found["status"] == "ordered" and found["sale_id"] == sale_id
            assert found["pay_url"] == f"{shop.prefix}/orders/{found['order']['id']}/pay"
    assert _drain(app, shop) == 0  # nothing left, nothing twice
    assert len(_orders(app, shop, sale_id)) == 5


def test_an_admitted_attempt_costs_no_sql_and_one_script(door):
    app = door.app
    shop, sku, sale_id, people = _sale(app, 10, 3)
    store = SimpleNamespace(id=shop.store_id, slug=shop.slug, status="open", enabled=frozenset({"flashsale"}))

    def environ(token, address):
        return EnvironBuilder(
            path=f"{shop.prefix}/api/x/flashsale/sales/{sale_id}/buy",
            method="POST",
            json={"sku_id": sku, "quantity": 1, "address_id": address},
            headers=bearer(token),
        ).get_environ()

    (t0, a0, _c0), (t1, a1, _c1), (t2, a2, _c2) = people
    first = early_answer(app, environ(t0, a0), store)  # loads the script into Redis once
    assert first[0] == 202 and len(door.jobs.queued) == 1
    with counted() as counts:
        second = early_answer(app, environ(t1, a1), store)
    assert second[0] == 202 and json.loads(second[2])["status"] == "queued"
    assert counts == {"sql": 0, "redis": 1}  # the drain is already on its way: no job queued
    assert len(door.jobs.queued) == 1
    _drain(app, shop)
    with counted() as counts:  # the queue was empty again: this one raises the drain flag
        third = early_answer(app, environ(t2, a2), store)
    assert third[0] == 202 and counts == {"sql": 0, "redis": 1} and len(door.jobs.queued) == 2


def wsgi_attempt(app, shop, sale_id, sku, token, address):
    """One buy attempt through the app's WSGI callable as gunicorn calls it (a prepared environ):
    ``(status line, headers, JSON body)``."""
    import io

    body = json.dumps({"sku_id": sku, "quantity": 1, "address_id": address}).encode()
    environ = EnvironBuilder(
        path=f"{shop.prefix}/api/x/flashsale/sales/{sale_id}/buy",
        method="POST",
        headers=bearer(token),
        content_type="application/json",
    ).get_environ()
    environ["wsgi.input"], environ["CONTENT_LENGTH"] = io.BytesIO(body), str(len(body))
    seen = []
    answer = b"".join(app(environ, lambda status, headers, exc_info=None: seen.append((status, headers))))
    return seen[0][0], dict(seen[0][1]), json.loads(answer)


def test_an_attempt_through_the_whole_wsgi_app_is_one_redis_round_trip(door):
    """The app called as gunicorn calls it (its WSGI callable, a prepared environ): an admitted
    attempt sends exactly one command to Redis (the admission script: the token's session, the
    rates, the units, the ticket, the drain flag) and runs no SQL, attempt after attempt."""
    app = door.app
    shop, sku, sale_id, people = _sale(app, 10, 6)

    def call(token, address):
        status, _headers, body = wsgi_attempt(app, shop, sale_id, sku, token, address)
        return status, body

    status, _body = call(*people[0][:2])  # loads the script into Redis once
    assert status.startswith("202")
    for token, address, _c in people[1:]:
        with counted() as counts:
            status, body = call(token, address)
        assert status == "202 ACCEPTED" and body["status"] == "queued"
        assert counts == {"sql": 0, "redis": 1}
    assert _drain(app, shop) == 6


def test_refusals_at_the_door_are_the_routes_own(door, monkeypatch):
    from mallow_flashsale import admission

    app = door.app
    shop, sku, sale_id, people = _sale(app, 2, 3)
    client = app.test_client()
    (token, address, _c), (other, other_address, _o), (third, third_address, _t) = people
    assert buy(client, shop, sale_id, token, address, sku).status_code == 202
    _drain(app, shop)

    def both(*args, **headers):
        at_door = buy(client, shop, sale_id, *args, **headers)
        with monkeypatch.context() as patched:
            patched.setattr(admission.Door, "buy", lambda *a, **k: None)
            by_route = buy(client, shop, sale_id, *args, **headers)
        return at_door, by_route

    # an unpaid order in the sale (in English this time)
    at_door, by_route = both(token, address, sku, **{"Accept-Language": "en"})
    assert at_door.status_code == by_route.status_code == 409
    assert at_door.get_json() == by_route.get_json() and at_door.get_json()["error"] == "pending_order"
    assert "unpaid order" in at_door.get_json()["message"]
    # sold out (the script says so, then the flag)
    from mallow_flashsale import flags

    assert buy(client, shop, sale_id, other, other_address, sku).status_code == 202
    at_door = buy(client, shop, sale_id, third, third_address, sku)
    with app.app_context():
        flags.reset()
        flags.remember_settings(shop.store_id, OPEN_LIMITS)
    with monkeypatch.context() as patched:
        patched.setattr(admission.Door, "buy", lambda *a, **k: None)
        by_route = buy(client, shop, sale_id, third, third_address, sku)
    assert at_door.status_code == by_route.status_code == 409
    assert at_door.get_json() == by_route.get_json() and at_door.get_json()["error"] == "sold_out"


def test_the_shoppers_limit_and_the_rate_are_refused_as_the_route_does(door, monkeypatch):
    from mallow.db import db
    from mallow_flashsale import admission

    app = door.app
    shop = enabled_store(app, {"ip_attempts_per_minute": 1_000_000, "shopper_attempts_per_minute": 3})
    sku = product(app, shop, stock=1000)
    sale = create_sale(app, shop, [{"sku_id": sku, "sale_price": 100, "quota": 50}], per_shopper=1)
    (token, address, _c), (other, other_address, _o) = make_shoppers(app, shop, 2)
    client = app.test_client()
    buy(client, shop, sale["id"], token, address, sku, quantity=2)  # warms the door (409)
    _seed(app, shop, sale["id"])
    assert buy(client, shop, sale["id"], token, address, sku).status_code == 202
    _drain(app, shop)

    def pay_nothing_but_clear_pending():  # the unpaid marker goes: the shopper's limit decides
        door.redis.hdel(f"{door.prefix}:fs:{{{shop.store_id}:{sale['id']}}}:pend", str(_c))

    pay_nothing_but_clear_pending()
    at_door = buy(client, shop, sale["id"], token, address, sku, **{"Accept-Language": "en"})
    assert at_door.status_code == 409 and at_door.get_json()["error"] == "limit_reached"
    assert at_door.get_json()["message"] == "You can buy at most 1 in this flash sale."
    # the shopper's fourth attempt in the minute: 429, worded as the route words it
    assert buy(client, shop, sale["id"], token, address, sku).status_code == 409  # the third
    at_door = buy(client, shop, sale["id"], token, address, sku)
    with monkeypatch.context() as patched:
        patched.setattr(admission.Door, "buy", lambda *a, **k: None)
        by_route = buy(client, shop, sale["id"], token, address, sku)
    assert at_door.status_code == by_route.status_code == 429
    assert at_door.get_json() == by_route.get_json() and at_door.get_json()["error"] == "rate_limited"
    assert db is not None and other and other_address


def test_a_revoked_token_is_not_admitted(door):
    from mallow.accounts import sessions
    from mallow.db import db

    app = door.app
    shop, sku, sale_id, people = _sale(app, 5, 2)
    (token, address, _c), _other = people

    def logout():
        sessions.revoke("shopper", token)
        db.session.commit()

    in_store(app, shop, logout)
    refused = buy(app.test_client(), shop, sale_id, token, address, sku)
    assert refused.status_code == 401 and refused.get_json()["error"] == "unauthenticated"
    assert door.jobs.queued == [] and _orders(app, shop, sale_id) == []


def test_a_token_the_mirror_missed_goes_to_the_route_which_mirrors_it(door):
    app = door.app
    shop, sku, sale_id, people = _sale(app, 5, 2)
    (token, address, _c), _other = people
    keys = list(door.redis.scan_iter(match=f"{door.prefix}:m:sess:*"))
    door.redis.delete(*keys)  # evicted, or issued before the mirror
    admitted = buy(app.test_client(), shop, sale_id, token, address, sku)
    assert admitted.status_code == 202  # the route admitted it as the door would have
    assert admitted.get_json()["poll_url"] == f"/s/{shop.slug}/api/x/flashsale/tickets/{admitted.get_json()['ticket']}"
    assert len(list(door.redis.scan_iter(match=f"{door.prefix}:m:sess:*"))) == 1  # written back
    assert _drain(app, shop) == 1
    assert _poll(app.test_client(), shop, admitted.get_json()["ticket"], token).get_json()["status"] == "ordered"


def test_a_ticket_is_read_only_by_its_shopper(door, monkeypatch):
    from mallow_flashsale import admission

    app = door.app
    shop, sku, sale_id, people = _sale(app, 5, 2)
    (token, address, _c), (other, _a, _o) = people
    client = app.test_client()
    ticket = buy(client, shop, sale_id, token, address, sku).get_json()["ticket"]
    assert _poll(client, shop, ticket, token).get_json() == {"ticket": ticket, "status": "queued"}
    stranger = _poll(client, shop, ticket, other)
    assert stranger.status_code == 404 and stranger.get_json()["error"] == "not_found"
    assert _poll(client, shop, ticket, "shp_nonsense").status_code == 401
    _drain(app, shop)
    at_door = _poll(client, shop, ticket, token)
    with monkeypatch.context() as patched:  # the route answers the same
        patched.setattr(admission.Door, "poll", lambda *a, **k: None)
        by_route = _poll(client, shop, ticket, token)
        assert _poll(client, shop, ticket, other).status_code == 404
    assert at_door.get_json() == by_route.get_json() and at_door.get_json()["status"] == "ordered"


def test_a_drain_that_dies_loses_nothing_and_sells_nothing_twice(door, monkeypatch):
    """The drain dies in the middle of a batch, after three orders committed and before any
    outcome was written: the whole batch stays in the processing set, and placed again (the
    tickets' idempotency keys) each ticket has exactly one order."""
    from mallow_flashsale import admission, buying, gate

    app = door.app
    shop, sku, sale_id, people = _sale(app, 6, 6)
    client = app.test_client()
    tickets = [buy(client, shop, sale_id, t, a, sku).get_json()["ticket"] for t, a, _c in people]
    assert len(tickets) == 6

    real_place, placed = buying.place_admitted, []

    def dying(sale, ticket, customer):
        if len(placed) == 3:
            raise KeyboardInterrupt("worker killed")
        placed.append(ticket["id"])
        return real_place(sale, ticket, customer)

    monkeypatch.setattr(buying, "place_admitted", dying)
    with pytest.raises(KeyboardInterrupt):
        _drain(app, shop)
    monkeypatch.setattr(buying, "place_admitted", real_place)
    assert len(_orders(app, shop, sale_id)) == 3  # three committed, none told

    import time

    queue, taken, _flag = gate.queue_keys(shop.store_id, f"{door.prefix}:fs")
    assert door.redis.zcard(taken) == 6  # the batch it took and never settled
    assert _drain(app, shop) == 0  # not yet stale: another drain leaves them alone
    with app.test_request_context():
        from mallow.tenants.context import store_context

        with store_context(shop.store_id, app=app):
            assert admission.requeue_stale(shop.store_id, now=time.time() + 3600) == 6
    assert _drain(app, shop) == 6
    bought = _orders(app, shop, sale_id)
    assert len(bought) == 6 and len({o for _c, o in bought}) == 6  # one order per ticket, none twice
    assert sale_item(app, shop, sale_id, sku)["remaining"] == 0
    statuses = [_poll(client, shop, t, p[0]).get_json()["status"] for t, p in zip(tickets, people, strict=True)]
    assert statuses == ["ordered"] * 6


def test_a_batch_with_a_failing_ticket_in_the_middle_places_the_others(door):
    """PostgreSQL: seven tickets drained as one batch, the fourth shopper's address deleted after
    admission. The six others become orders, the fourth a refusal its shopper reads on poll, its
    unit goes back to the gate and is sold to the next shopper; the batch's commits wait for the
    disk once (one flush), and its outcomes are written in one Redis round trip."""
    from mallow.db import db
    from mallow.orders.models import Address

    app = door.app
    shop, sku, sale_id, people = _sale(app, 7, 8)
    client = app.test_client()
    tickets = [buy(client, shop, sale_id, t, a, sku).get_json()["ticket"] for t, a, _c in people[:7]]
    gone = people[3][1]

    def delete_address():
        db.session.execute(sa.delete(Address).where(Address.id == gone))
        db.session.commit()

    in_store(app, shop, delete_address)
    statements: list[str] = []

    def record(_conn, _cursor, statement, *_args):
        statements.append(statement)

    with counted() as counts:
        sa.event.listen(sa.engine.Engine, "before_cursor_execute", record)
        try:
            assert _drain(app, shop) == 7
        finally:
            sa.event.remove(sa.engine.Engine, "before_cursor_execute", record)
    assert sum("synchronous_commit" in s for s in statements) == 7  # each order's commit relaxed
    assert sum("pg_current_xact_id" in s for s in statements) == 1  # one flush for the batch
    # take, flag, the outcomes (one pipeline), the empty take, the flag, the queue's length, and
    # one release for the failed ticket: not a round trip per order
    assert counts["redis"] <= 8

    bought = _orders(app, shop, sale_id)
    assert len(bought) == 6 and people[3][2] not in {c for c, _o in bought}
    polled = [_poll(client, shop, t, p[0]).get_json() for t, p in zip(tickets, people[:7], strict=True)]
    assert [p["status"] for p in polled] == ["ordered"] * 3 + ["failed"] + ["ordered"] * 3
    assert polled[3]["error"] == "validation_failed" and polled[3]["fields"]["address_id"]["code"] == "invalid"
    assert polled[3]["fields"]["address_id"]["message"] == "请选择收货地址。"  # the shopper's own words
    assert sale_item(app, shop, sale_id, sku)["remaining"] == 1  # the failed ticket's unit is not sold
    # its unit is back in the gate: the eighth shopper gets it, and exactly 7 are sold
    last = buy(client, shop, sale_id, people[7][0], people[7][1], sku)
    assert last.status_code == 202
    assert _drain(app, shop) == 1
    assert len(_orders(app, shop, sale_id)) == 7
    assert sale_item(app, shop, sale_id, sku)["remaining"] == 0


def test_without_redis_the_route_places_the_order_as_before(fs_app):
    shop = enabled_store(fs_app, OPEN_LIMITS)
    sku = product(fs_app, shop)
    sale = create_sale(fs_app, shop, [{"sku_id": sku, "sale_price": 100, "quota": 2}])
    ((token, address, _c),) = make_shoppers(fs_app, shop, 1)
    placed = buy(fs_app.test_client(), shop, sale["id"], token, address, sku)
    assert placed.status_code == 201 and placed.get_json()["order"]["status"] == "pending_payment"


def test_the_sweep_does_not_re_seed_the_gate_while_admitted_tickets_wait(door):
    """The periodic re-seed reads the database, which does not hold the units of tickets still
    queued: re-seeding then would admit as many shoppers again (they would wait for an order
    that fails). It waits until the drain has made their orders."""
    from mallow_flashsale import sweep, timing

    app = door.app
    shop, sku, sale_id, people = _sale(app, 3, 6)
    first = [buy(app.test_client(), shop, sale_id, t, a, sku) for t, a, _c in people[:3]]
    assert [r.status_code for r in first] == [202, 202, 202]

    swept = in_store(app, shop, lambda: sweep.run(shop.store_id, timing.now()))
    assert swept.get("seeding_deferred") is True and swept["seeded"] == 0
    late = [buy(app.test_client(), shop, sale_id, t, a, sku) for t, a, _c in people[3:]]
    assert {r.status_code for r in late} == {409}  # sold out at the door: nothing admitted twice

    assert _drain(app, shop) == 3
    swept = in_store(app, shop, lambda: sweep.run(shop.store_id, timing.now()))
    assert "seeding_deferred" not in swept and swept["seeded"] == 1
    assert len(_orders(app, shop, sale_id)) == 3
    assert sale_item(app, shop, sale_id, sku)["remaining"] == 0


def test_a_late_seed_leaves_a_gate_with_admitted_tickets_alone(door):
    """An attempt that found the gate unseeded seeds it on the spot; when another process seeded
    it meanwhile and tickets were admitted since, that late seed must not write the database's
    figures (which do not hold the admitted units yet) over the gate: that would admit as many
    shoppers again, each told "queued" for an order that then fails. The sweep's periodic
    re-seed (``refresh``) still writes, and waits while tickets are in flight."""
    from mallow_flashsale import gate

    app = door.app
    shop, sku, sale_id, people = _sale(app, 3, 6)
    admitted = [buy(app.test_client(), shop, sale_id, t, a, sku).status_code for t, a, _c in people[:3]]
    assert admitted == [202, 202, 202]
    _seed(app, shop, sale_id)  # late, from an attempt that found it unseeded: nothing changes
    late = [buy(app.test_client(), shop, sale_id, t, a, sku) for t, a, _c in people[3:]]
    assert [(r.status_code, r.get_json()["error"]) for r in late] == [(409, "sold_out")] * 3
    assert _drain(app, shop) == 3
    assert len(_orders(app, shop, sale_id)) == 3
    assert in_store(app, shop, lambda: gate.seed(shop.store_id, sale_id, refresh=True))  # drained: re-seed
    assert sale_item(app, shop, sale_id, sku)["remaining"] == 0


#: orders the drain places in the statements test below
DRAIN_ORDERS = 8


def _concurrent_buyers(app, shop, sale_id, sku, people):
    threads = [
        threading.Thread(target=lambda t=t, a=a: buy(app.test_client(), shop, sale_id, t, a, sku))
        for t, a, _c in people
    ]
    [t.start() for t in threads]
    [t.join() for t in threads]


def test_the_drain_reads_no_qualification_per_order(door):
    app = door.app
    shop, sku, sale_id, people = _sale(app, 2 * DRAIN_ORDERS, 2 * DRAIN_ORDERS)
    _concurrent_buyers(app, shop, sale_id, sku, people[:2])
    assert _drain(app, shop) == 2  # the process meets the store's kept answers
    _concurrent_buyers(app, shop, sale_id, sku, people[2 : 2 + DRAIN_ORDERS])
    with statements() as seen:
        assert _drain(app, shop) == DRAIN_ORDERS
    assert len(_orders(app, shop, sale_id)) == 2 + DRAIN_ORDERS
    tables = Counter(
        name for s in seen for name in ("qualifications", "qualification_permits", "store_settings") if f" {name}" in s
    )
    assert not tables, (tables, listing(seen))  # before: both qualification tables once per order
    assert len(seen) <= 9 * DRAIN_ORDERS, listing(seen)  # 66 for 8 orders here (82 before)
