"""Order placement on a lane (``mallow.edge.lanes``, ``mallow.api.order_lane``): the front door
places the happy path of ``POST /s/<store>/api/orders`` before Flask, through the route's own
``place_order``, and answers with the bytes, status and headers Flask's route sends; everything
else goes to Flask unchanged. An order's answer holds its own id, number and times, so the
lane's answer is compared with what Flask answers for the same order (the same Idempotency-Key:
Flask's replay of it), and its effects with an order Flask placed."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa

from mallow.testing import bearer, make_product, make_shopper, make_store
from mallow.testing.sql import listing, statements
from tests.edge.lane_kit import flask_requests, in_store, round_trips, send


def _stock(app, shop, skus) -> list[int]:
    from mallow.catalog.models import Sku
    from mallow.db import db

    return in_store(app, shop, lambda: [db.session.get(Sku, sku).stock for sku in skus])


def _effects(app, shop, order_id: int) -> dict:
    """What the database holds of an order, without its own ids, number and times."""
    from mallow.db import db
    from mallow.inventory.models import StockMovement
    from mallow.orders.models import Order, OrderAdjustment, OrderEvent, OrderLine

    def read():
        order = db.session.get(Order, order_id)
        lines = db.session.execute(sa.select(OrderLine).where(OrderLine.order_id == order_id)).scalars().all()
        adjustments = (
            db.session.execute(sa.select(OrderAdjustment).where(OrderAdjustment.order_id == order_id)).scalars().all()
        )
        events = db.session.execute(sa.select(OrderEvent).where(OrderEvent.order_id == order_id)).scalars().all()
        moves = db.session.execute(sa.select(StockMovement).where(StockMovement.order_id == order_id)).scalars().all()
        by_line = {line.id: line.sku_id for line in lines}
        return {
            "order": (order.status, order.items_total, order.total, order.province, order.note, order.is_test),
            "lines": sorted((x.sku_id, x.title, x.spec_key, x.unit_price, x.quantity, x.total) for x in lines),
            "adjustments": sorted(
                (by_line.get(a.line_id), a.stage, a.source, a.code, a.label, a.amount) for a in adjustments
            ),
            "events": [(e.kind, e.detail) for e in events],
            "stock": sorted((m.sku_id, m.delta, m.reason) for m in moves),
        }

    return in_store(app, shop, read)


def _template(app, shop) -> int:
    from mallow.db import db
    from mallow.shipping.models import ShippingTemplate

    def make():
        row = ShippingTemplate(
            name="默认",
            mode="pieces",
            rules=[{"regions": ["*"], "first": 1, "first_fee": 800, "extra": 1, "extra_fee": 0}],
        )
        db.session.add(row)
        db.session.commit()
        return row.id

    return in_store(app, shop, make)


def _shopper(client, shop) -> tuple[dict, int]:
    """A shopper's bearer headers and address; the token met once through Flask (remembered)."""
    token, address = make_shopper(client, shop)
    assert client.get(f"{shop.prefix}/api/cart", headers=bearer(token)).status_code == 200
    return bearer(token), address


def _key() -> dict:
    return {"Idempotency-Key": uuid.uuid4().hex}


def test_the_lane_places_the_order_flask_would_and_answers_its_bytes(app):
    """The lane's 201 is byte for byte what Flask answers for the same order (its replay under
    the same key), with the same headers as Flask's own 201; the order it wrote is the order
    Flask writes for the same request (lines, adjustments, timeline, stock and its ledger)."""
    shop = make_store(app)
    [walnut] = make_product(app, shop, title="临安山核桃仁", price=3900, stock=50)
    [tea] = make_product(app, shop, title="西湖龙井", price=12800, stock=50, shipping_template_id=_template(app, shop))
    [honey] = make_product(app, shop, title="槐花蜜", price=4500, stock=50)
    client = app.test_client()
    (a, address_a), (b, address_b) = _shopper(client, shop), _shopper(client, shop)
    path = f"{shop.prefix}/api/orders"
    items = [{"sku_id": honey, "quantity": 2}, {"sku_id": walnut, "quantity": 1}, {"sku_id": tea, "quantity": 1}]

    key = _key()
    body = {"items": items, "address_id": address_a, "note": " 请尽快发货 "}
    placed = send(app, client, True, "POST", path, headers={**a, **key}, json=body)
    assert placed[0] == "201 CREATED" and not placed[3], placed
    replayed = send(app, client, False, "POST", path, headers={**a, **key}, json=body)
    assert replayed[0] == "200 OK" and replayed[3]
    assert placed[1] == replayed[1] and placed[2] == replayed[2]
    again = send(app, client, True, "POST", path, headers={**a, **key}, json=body)  # the replay on the lane
    assert again[:3] == replayed[:3] and not again[3]

    by_flask = send(app, client, False, "POST", path, headers={**b, **_key()}, json={**body, "address_id": address_b})
    assert by_flask[0] == "201 CREATED" and by_flask[3]
    assert [h for h in placed[2] if h[0] != "Content-Length"] == [h for h in by_flask[2] if h[0] != "Content-Length"]
    ours, theirs = client.get(path, headers=a).get_json()["items"], client.get(path, headers=b).get_json()["items"]
    assert len(ours) == len(theirs) == 1
    assert _effects(app, shop, ours[0]["id"]) == _effects(app, shop, theirs[0]["id"])
    assert any(adjustment["source"] for adjustment in ours[0]["adjustments"])  # the shipping fee
    assert _stock(app, shop, [honey, walnut, tea]) == [46, 48, 48]


def test_everything_but_the_happy_path_is_answered_by_flask_with_nothing_written(app):
    """Refusals (sold out, a bad address, a key used for another order, bad bodies, no or a
    stranger's token) get the same bytes with the lanes on and off; the requests the lane does
    not take (options, no Idempotency-Key, cookies, a query string) reach Flask."""
    shop = make_store(app)
    [walnut] = make_product(app, shop, title="临安山核桃仁", price=3900, stock=50)
    [last] = make_product(app, shop, title="西湖龙井", price=12800, stock=1)
    other = make_store(app)
    client = app.test_client()
    (a, address), (_b, address_b) = _shopper(client, shop), _shopper(client, shop)
    stranger, _address = _shopper(client, other)
    path = f"{shop.prefix}/api/orders"
    one = [{"sku_id": walnut, "quantity": 1}]

    def same(expect: str, headers=None, **kwargs):
        """The request with the lanes on, then off (the same shopper, the same key: a refusal
        writes nothing)."""
        headers = {**(a if headers is None else headers), **_key()}
        with_lane = send(app, client, True, "POST", path, headers=headers, **kwargs)
        without = send(app, client, False, "POST", path, headers=headers, **kwargs)
        assert with_lane[:3] == without[:3], (with_lane, without)
        assert with_lane[0] == expect and without[3], with_lane
        return with_lane

    sold_out = same("409 CONFLICT", json={"items": [{"sku_id": last, "quantity": 2}], "address_id": address})
    assert b"sold_out" in sold_out[1]
    same("422 UNPROCESSABLE ENTITY", json={"items": one, "address_id": address_b})  # b's address: not a's
    same("422 UNPROCESSABLE ENTITY", json={"items": one, "address_id": 2147483647})
    for bad in (
        {"items": [], "address_id": address},
        {"items": one},
        {"items": [{"sku_id": walnut, "quantity": 1000}], "address_id": address},
        {"items": [{"sku_id": walnut, "quantity": True}], "address_id": address},
        {"items": one, "address_id": address, "note": "长" * 201},
        {"items": one, "address_id": address, "coupon": 1},
        {"items": one, "address_id": address, "options": []},
    ):
        same("422 UNPROCESSABLE ENTITY", json=bad)
    same("400 BAD REQUEST", data=b'{"items": ', content_type="application/json")
    same("401 UNAUTHORIZED", headers={}, json={"items": one, "address_id": address})
    same("401 UNAUTHORIZED", headers=stranger, json={"items": one, "address_id": address})
    assert _stock(app, shop, [walnut, last]) == [50, 1]
    assert client.get(path, headers=a).get_json()["items"] == []

    key = _key()
    assert (
        send(app, client, True, "POST", path, headers={**a, **key}, json={"items": one, "address_id": address})[0]
        == "201 CREATED"
    )
    conflict = {"items": [{"sku_id": walnut, "quantity": 2}], "address_id": address}
    with_lane = send(app, client, True, "POST", path, headers={**a, **key}, json=conflict)
    without = send(app, client, False, "POST", path, headers={**a, **key}, json=conflict)
    assert with_lane[:3] == without[:3] and with_lane[0] == "422 UNPROCESSABLE ENTITY" and with_lane[3]
    assert b"idempotency_conflict" in with_lane[1]

    body = {"items": one, "address_id": address}
    for headers, kwargs in (
        (a, {"json": body}),  # no Idempotency-Key
        ({**a, **_key()}, {"json": {**body, "options": {"coupon": "none"}}}),
        ({**a, **_key()}, {"json": body, "cookies": {"mallow_v": "v1234567890abcdef"}}),
        ({**a, **_key()}, {"json": body, "query_string": {"lang": "en"}}),
    ):
        answer = send(app, client, True, "POST", path, headers=headers, **kwargs)
        assert answer[0] == "201 CREATED" and answer[3], (headers, kwargs)
    assert _stock(app, shop, [walnut]) == [45]


def test_the_happy_path_pushes_no_request_context_and_sends_the_routes_statements(app):
    """The same statements as the route's ``place_order`` (3 on PostgreSQL: the read, the
    one write; SQLite its separate ones), no token lookup, no request context."""
    shop = make_store(app)
    skus = [make_product(app, shop, title=f"核桃 {n}", price=1000 + n, stock=50)[0] for n in range(3)]
    client = app.test_client()
    a, address = _shopper(client, shop)
    path = f"{shop.prefix}/api/orders"
    body = {"items": [{"sku_id": sku, "quantity": 1} for sku in skus], "address_id": address}
    assert send(app, client, True, "POST", path, headers={**a, **_key()}, json=body)[0] == "201 CREATED"
    with flask_requests(app) as reached, statements() as seen:
        answered = client.post(path, headers={**a, **_key()}, json=body)
    assert answered.status_code == 201 and answered.get_json()["total"] == 3003
    assert reached == []
    postgres = app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql")
    assert len(seen) == (3 if postgres else 7), listing(seen)
    assert not any("customer_sessions" in statement or "SAVEPOINT" in statement for statement in seen), listing(seen)


@pytest.mark.parametrize("app", ["postgresql"], indirect=True)  # round trips to a server
def test_an_order_on_the_lane_costs_four_round_trips_on_postgresql(app):
    """On PostgreSQL a 3-SKU order on the lane is 4 round trips, as the bare ``UPDATE …
    RETURNING`` + ``INSERT`` + ``COMMIT`` (A-flash-pg): ``BEGIN`` with the pool's check in one
    simple query, the one read, the order's write, and the stock's ``UPDATE`` with the ``COMMIT``
    in one batch (one ``Sync``: psycopg's pipeline). No SAVEPOINT for the plugins' hooks that
    write nothing, no ``UPDATE`` after the ``INSERT``, no ``SET``, no reset after the commit."""
    from mallow.testing import enable_plugin

    shop = make_store(app)
    for name in ("groupbuy", "flashsale", "distribution"):
        if name in app.extensions.get("mallow.loaded_plugins", {}):
            enable_plugin(app, shop, name)
    skus = [make_product(app, shop, title=f"核桃 {n}", price=1000 + n, stock=50)[0] for n in range(3)]
    client = app.test_client()
    a, address = _shopper(client, shop)
    path = f"{shop.prefix}/api/orders"
    body = {"items": [{"sku_id": sku, "quantity": 1} for sku in skus], "address_id": address}
    for _ in range(2):  # the shopper's token and the store's caches met
        assert send(app, client, True, "POST", path, headers={**a, **_key()}, json=body)[0] == "201 CREATED"
    with flask_requests(app) as reached, statements() as seen, round_trips() as traced:
        answered = client.post(path, headers={**a, **_key()}, json=body)
    assert answered.status_code == 201 and reached == []
    # psycopg prepares a statement on its fifth execution on a connection: one round trip more,
    # once per connection and statement (then every execution sends no SQL text)
    sent = [entry for entry in traced if not entry.startswith("Prepare")]
    listed = "\n".join(traced)
    assert [entry.split(" ", 1)[0] for entry in sent] == ["Query", "Sync", "Sync", "Sync"], listed
    assert sent[0].startswith('Query "BEGIN; SELECT') and sent[2].startswith('Sync Parse "" "WITH placed AS'), listed
    assert sent[3].startswith('Sync Parse "" "WITH wanted AS') and '+ Parse "" "COMMIT"' in sent[3], listed
    assert len(seen) == 3 and seen[1].startswith("WITH placed AS"), listing(seen)  # the read, the write
    assert seen[2].startswith("WITH wanted AS"), listing(seen)  # the stock, sent with the COMMIT


def test_the_answer_speaks_the_language_flask_would_choose(app):
    """The shipping fee's label is written with the order in the language of the request
    (``Accept-Language``, or the ``lang`` cookie), on the lane as through Flask."""
    shop = make_store(app)
    [tea] = make_product(app, shop, title="西湖龙井", price=12800, stock=50, shipping_template_id=_template(app, shop))
    client = app.test_client()
    a, address = _shopper(client, shop)
    path = f"{shop.prefix}/api/orders"
    body = {"items": [{"sku_id": tea, "quantity": 1}], "address_id": address}
    labels = {}
    for lanes in (True, False):
        for language, extra, cookies in (
            ("en", {"Accept-Language": "en"}, None),
            ("zh", {}, None),
            ("cookie", {}, {"lang": "en"}),
        ):
            answer = send(
                app, client, lanes, "POST", path, headers={**a, **_key(), **extra}, cookies=cookies, json=body
            )
            assert answer[0] == "201 CREATED" and answer[3] is not lanes, (lanes, language, answer)
            labels[lanes, language] = b'"label":"Shipping"' in answer[1]
    assert labels == {
        (lanes, language): language != "zh" for lanes in (True, False) for language in ("en", "zh", "cookie")
    }


def test_the_low_stock_job_is_queued_after_the_commit_as_the_route_queues_it(app, monkeypatch):
    shop = make_store(app)
    [walnut] = make_product(app, shop, title="临安山核桃仁", price=3900, stock=4)
    client = app.test_client()
    a, address = _shopper(client, shop)
    queued: list[tuple] = []
    runner = app.extensions["mallow.jobs"]
    monkeypatch.setattr(runner, "enqueue", lambda name, **kwargs: queued.append((name, kwargs)))
    path = f"{shop.prefix}/api/orders"
    body = {"items": [{"sku_id": walnut, "quantity": 1}], "address_id": address}
    for lanes in (True, False):
        answer = send(app, client, lanes, "POST", path, headers={**a, **_key()}, json=body)
        assert answer[0] == "201 CREATED" and answer[3] is not lanes
    expected = ("inventory.low_stock", {"store_id": shop.store_id, "sku_ids": [walnut]})
    assert queued == [expected, expected]


def test_a_rate_limit_that_applies_sends_the_order_to_flask(app):
    from flask_limiter import ApplicationLimit

    from mallow.extensions import limiter

    shop = make_store(app)
    [sku] = make_product(app, shop, stock=50)
    client = app.test_client()
    a, address = _shopper(client, shop)
    path = f"{shop.prefix}/api/orders"
    body = {"items": [{"sku_id": sku, "quantity": 1}], "address_id": address}
    saved = limiter.limit_manager._application_limits
    limiter.limit_manager.set_application_limits([ApplicationLimit("2 per minute").bind(limiter)])
    try:
        limiter.reset()
        answers = [send(app, client, True, "POST", path, headers={**a, **_key()}, json=body) for _ in range(3)]
    finally:
        limiter.limit_manager.set_application_limits(saved)
        limiter.reset()
    assert [answer[0] for answer in answers] == ["201 CREATED", "201 CREATED", "429 TOO MANY REQUESTS"]
    assert all(answer[3] for answer in answers)
    assert _stock(app, shop, [sku]) == [48]


@pytest.mark.parametrize(
    "payload",
    [
        {"items": [{"sku_id": 1, "quantity": 1}], "address_id": 1},
        {"items": [{"sku_id": 1, "quantity": 1}] * 50, "address_id": 1, "note": "长" * 200, "options": {}},
        {"items": [{"sku_id": 1, "quantity": 1}] * 51, "address_id": 1},
        {"items": [{"sku_id": 1, "quantity": 2.0}], "address_id": 1.0},
        {"items": [{"sku_id": 1, "quantity": 2.5}], "address_id": 1},
        {"items": [{"sku_id": 1, "quantity": 1, "x": 1}], "address_id": 1},
        {"items": [{"sku_id": 1}], "address_id": 1},
        {"items": [{"sku_id": 0, "quantity": 1}], "address_id": 1},
        {"items": [{"sku_id": 2**31, "quantity": 1}], "address_id": 1},
        {"items": [{"sku_id": True, "quantity": 1}], "address_id": 1},
        {"items": [[]], "address_id": 1},
        {"items": [{"sku_id": 1, "quantity": 1}], "address_id": 1, "note": 3},
        {"items": [{"sku_id": 1, "quantity": 1}], "address_id": 1, "note": "长" * 201},
        {"items": [{"sku_id": 1, "quantity": 1}], "address_id": 1, "options": None},
        {"items": [{"sku_id": 1, "quantity": 1}], "address_id": None},
        {"items": {}, "address_id": 1},
        {"address_id": 1},
        [],
        None,
        "x",
    ],
)
def test_the_compiled_order_body_check_agrees_with_json_schema(payload):
    from jsonschema import Draft202012Validator

    from mallow.api.orders import create_order
    from mallow.api.registry import DECLARED
    from mallow.edge.lanes import body_check
    from mallow.validation import _plain

    [declared] = getattr(create_order, DECLARED)
    assert _plain(declared.body) is not None  # plain comparisons, not jsonschema, for the happy path
    assert body_check(declared.body)(payload) is Draft202012Validator(declared.body).is_valid(payload)


def test_the_compiled_check_agrees_with_json_schema_on_many_bodies():
    """Seeded random bodies near the order's schema, valid and not: the same verdict."""
    import random

    from jsonschema import Draft202012Validator

    from mallow.api.orders import create_order
    from mallow.api.registry import DECLARED
    from mallow.validation import schema_check

    [declared] = getattr(create_order, DECLARED)
    check, exact = schema_check(declared.body), Draft202012Validator(declared.body).is_valid
    values = [1, 2, 999, 1000, 0, -1, 2**31 - 1, 2**31, 1.0, 1.5, True, None, "1", "", "长" * 200, "长" * 201, [], {}]
    chance = random.Random(13)

    def pick(good):
        return good if chance.random() < 0.8 else chance.choice(values)

    valid = 0
    for _ in range(3000):
        items = [
            {"sku_id": pick(chance.randint(1, 9)), "quantity": pick(chance.randint(1, 999))}
            for _ in range(chance.choice([0, 1, 3, 50, 51]) if chance.random() < 0.2 else chance.randint(1, 3))
        ]
        body = {"items": pick(items), "address_id": pick(chance.randint(1, 9))}
        for name, good in (("note", "请尽快发货"), ("options", {}), ("coupon", 1)):
            if chance.random() < 0.2:
                body[name] = pick(good)
        if chance.random() < 0.1:
            del body[chance.choice(["items", "address_id"])]
        verdict = exact(body)
        assert check(body) is verdict, body
        valid += verdict
    assert 300 < valid < 2700  # both kinds, plenty of each
