"""The cart write on a lane (``mallow.edge.lanes``, ``mallow.api.cart_lane``): the front door
answers the happy path of ``PUT /s/<store>/api/cart/items/<sku_id>`` before Flask, with the very
status, body and headers Flask's route sends, and hands everything else to Flask unchanged. The
same requests, sent with the lanes on and off, get byte-identical answers; the happy path pushes
no request context and sends one statement on PostgreSQL (two on SQLite), in the store's own
schema."""

from __future__ import annotations

import re

import pytest

from mallow.db.session import TenantSession
from mallow.testing import bearer, make_product, make_shopper, make_store
from mallow.testing.sql import listing, statements
from tests.edge.lane_kit import flask_requests, in_store, round_trips, send, sent


def _set_status(app, shop, model, row_id: int, status: str) -> None:
    from mallow.db import db

    def change():
        db.session.get(model, row_id).status = status
        db.session.commit()

    in_store(app, shop, change)


def _product_of(app, shop, sku_id: int) -> int:
    from mallow.catalog.models import Sku
    from mallow.db import db

    return in_store(app, shop, lambda: db.session.get(Sku, sku_id).product_id)


def _revoke(app, shop, token: str) -> None:
    from mallow.accounts import sessions
    from mallow.db import db

    def revoke():
        sessions.revoke("shopper", token)
        db.session.commit()

    in_store(app, shop, revoke)


def _shopper_with_cart(client, shop, skus) -> dict:
    token, _address = make_shopper(client, shop)
    for sku in skus:  # through Flask: the token is looked up once and remembered
        added = client.post(f"{shop.prefix}/api/cart/items", headers=bearer(token), json={"sku_id": sku, "quantity": 1})
        assert added.status_code == 201, added.get_json()
    return bearer(token)


def test_the_same_cart_writes_get_the_same_answers_with_the_lane_and_without(app):
    """Shopper A writes with the lanes on, shopper B (the same cart) with them off: every answer
    is the same bytes; only the happy paths stay out of Flask."""
    from mallow.catalog.models import Product
    from mallow.tenants.models import Store

    shop = make_store(app)
    [walnut] = make_product(app, shop, title="临安山核桃仁", price=3900, stock=50)
    [tea] = make_product(app, shop, title="西湖龙井", price=12800, stock=50)
    [honey] = make_product(app, shop, title="槐花蜜", price=4500, stock=50)
    other = make_store(app)
    make_product(app, other)
    client = app.test_client()
    a, b = (_shopper_with_cart(client, shop, [walnut, tea, honey]) for _ in range(2))
    stranger = bearer(make_shopper(client, other)[0])
    item = f"{shop.prefix}/api/cart/items"

    def same(method, path, expect_status, answered_early, headers_a=None, headers_b=None, **kwargs):
        with_lane = send(app, client, True, method, path, headers=a if headers_a is None else headers_a, **kwargs)
        without = send(app, client, False, method, path, headers=b if headers_b is None else headers_b, **kwargs)
        assert with_lane[:3] == without[:3], (with_lane, without)
        assert with_lane[0] == expect_status, with_lane
        assert without[3], "with the lanes off, Flask answers"
        assert with_lane[3] is not answered_early, f"{method} {path}: on the lane: {answered_early}"
        return with_lane[1]

    happy = same("PUT", f"{item}/{walnut}", "200 OK", True, json={"quantity": 3})
    assert b'"quantity":3' in happy and b"unavailable" not in happy
    same("PUT", f"{item}/{walnut}", "200 OK", True, json={"quantity": 3})  # the same again
    same("PUT", f"{item}/{walnut}", "200 OK", True, json={"quantity": 2}, headers_a={**a, "Accept-Language": "en"})
    same("PUT", f"{item}/{walnut}", "200 OK", False, json={"quantity": 2}, query_string={"lang": "en"})
    same("PUT", f"{item}/{walnut}", "400 BAD REQUEST", False, data=b'{"quantity": ', content_type="application/json")
    same("PUT", f"{item}/{walnut}", "400 BAD REQUEST", False, data=b'{"quantity": 2}', content_type="text/plain")
    same("PUT", f"{item}/{walnut}", "400 BAD REQUEST", False, json=None)
    for bad in (
        {"quantity": "2"},
        {"quantity": 1000},
        {"quantity": -1},
        {"quantity": True},
        {},
        {"quantity": 2, "x": 1},
    ):
        same("PUT", f"{item}/{walnut}", "422 UNPROCESSABLE ENTITY", False, json=bad)
    same("PUT", f"{item}/{walnut}", "200 OK", True, json={"quantity": 4.0})  # an integer to JSON Schema
    same("PUT", f"{item}/2147483647", "422 UNPROCESSABLE ENTITY", False, json={"quantity": 1})  # not in the cart
    same("PUT", f"{item}/0", "404 NOT FOUND", False, json={"quantity": 1})  # not an id
    same("PUT", f"{item}/{walnut}/", "404 NOT FOUND", False, json={"quantity": 1})

    removed = same("PUT", f"{item}/{tea}", "200 OK", True, json={"quantity": 0})  # removes the line
    assert f'"sku_id":{tea}'.encode() not in removed
    same("PUT", f"{item}/{tea}", "422 UNPROCESSABLE ENTITY", False, json={"quantity": 0})  # gone already

    _set_status(app, shop, Product, _product_of(app, shop, honey), "off_shelf")  # a line not for sale now
    unavailable = same("PUT", f"{item}/{walnut}", "200 OK", False, json={"quantity": 5})
    assert f'"unavailable":[{honey}]'.encode() in unavailable
    same("PUT", f"{item}/{honey}", "200 OK", True, json={"quantity": 0})  # removing it leaves a cart to price

    same("PUT", f"{item}/{walnut}", "401 UNAUTHORIZED", False, headers_a={}, headers_b={}, json={"quantity": 1})
    same(
        "PUT",
        f"{item}/{walnut}",
        "401 UNAUTHORIZED",
        False,
        headers_a=stranger,
        headers_b=stranger,
        json={"quantity": 1},
    )
    for token in (a, b):
        _revoke(app, shop, token["Authorization"].split()[1])
    same("PUT", f"{item}/{walnut}", "401 UNAUTHORIZED", False, json={"quantity": 1})

    _set_status(app, shop, Store, shop.store_id, "closed")
    same(
        "PUT", f"{item}/{walnut}", "404 NOT FOUND", False, headers_a=stranger, headers_b=stranger, json={"quantity": 1}
    )


def test_a_rate_limit_on_the_route_is_counted_and_answered_by_flask(app):
    """While a limit applies before every view, the lane gives way: the limit counts every
    write and answers 429 as it does without the lane."""
    from flask_limiter import ApplicationLimit

    from mallow.extensions import limiter

    shop = make_store(app)
    [sku] = make_product(app, shop, stock=50)
    client = app.test_client()
    a, b = (_shopper_with_cart(client, shop, [sku]) for _ in range(2))
    path = f"{shop.prefix}/api/cart/items/{sku}"
    saved = limiter.limit_manager._application_limits
    limiter.limit_manager.set_application_limits([ApplicationLimit("3 per minute").bind(limiter)])
    try:
        answers = {}
        for lanes, token in ((True, a), (False, b)):
            limiter.reset()
            answers[lanes] = [
                send(app, client, lanes, "PUT", path, headers=token, json={"quantity": n}) for n in (1, 2, 3, 4)
            ]
    finally:
        limiter.limit_manager.set_application_limits(saved)
        limiter.reset()
    assert [answer[:3] for answer in answers[True]] == [answer[:3] for answer in answers[False]]
    assert [answer[0] for answer in answers[True]] == ["200 OK"] * 3 + ["429 TOO MANY REQUESTS"]
    assert all(answer[3] for answer in answers[True])  # every one counted by Flask


def test_the_happy_path_pushes_no_request_context_and_sends_one_statement_in_the_stores_schema(app, monkeypatch):
    shop = make_store(app)
    [sku] = make_product(app, shop, title="临安山核桃仁", price=3900, stock=50)
    client = app.test_client()
    token = _shopper_with_cart(client, shop, [sku])
    path = f"{shop.prefix}/api/cart/items/{sku}"
    client.put(path, headers=token, json={"quantity": 2})  # the store met on this connection
    sessions, made = [], TenantSession.__init__

    def making(session, *args, **kwargs):
        sessions.append(session)
        made(session, *args, **kwargs)

    monkeypatch.setattr(TenantSession, "__init__", making)
    with flask_requests(app) as reached, statements() as seen:
        answered = client.put(path, headers=token, json={"quantity": 3})
    monkeypatch.undo()
    assert answered.status_code == 200 and answered.get_json()["quote"]["total"] == 3 * 3900
    assert reached == []
    # no ORM session either: the store's settings the pricing reads (shipping, membership) come
    # from the process's memory under the store's stamp, and the statements go on a connection
    assert sessions == []
    postgres = app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql")
    assert len(seen) == (1 if postgres else 2), listing(seen)
    schema = f"store_{shop.store_id}" if postgres else "store"
    named = re.findall(r"\b(?:FROM|JOIN|UPDATE)\s+([\w.]+)", " ".join(seen))
    tables = [name for name in named if name not in ("changed", "gone", "relax")]  # (the statement's CTEs)
    assert tables and all(table.startswith(schema + ".") for table in tables), named


def test_the_answer_has_no_translated_text_and_a_shipping_label_speaks_the_shoppers_language(app):
    """A cart without a fee is the same bytes in every language; a fee's label is in the
    language Flask chooses (here: English from Accept-Language), on the lane as without it."""
    from mallow.db import db
    from mallow.shipping.models import ShippingTemplate

    shop = make_store(app)
    [sku] = make_product(app, shop, title="临安山核桃仁", price=3900, stock=50)

    def template():
        row = ShippingTemplate(
            name="默认",
            mode="pieces",
            rules=[{"regions": ["*"], "first": 1, "first_fee": 800, "extra": 1, "extra_fee": 0}],
        )
        db.session.add(row)
        db.session.commit()
        return row.id

    [shipped] = make_product(
        app, shop, title="西湖龙井", price=12800, stock=50, shipping_template_id=in_store(app, shop, template)
    )
    client = app.test_client()
    a, b = (_shopper_with_cart(client, shop, [sku]) for _ in range(2))
    path = f"{shop.prefix}/api/cart/items/{sku}"
    bodies = {}
    for language in ("zh-CN", "en"):
        answer = send(app, client, True, "PUT", path, headers={**a, "Accept-Language": language}, json={"quantity": 2})
        assert answer[0] == "200 OK" and not answer[3]
        bodies[language] = answer[1]
    assert bodies["zh-CN"] == bodies["en"]

    for token in (a, b):
        client.post(f"{shop.prefix}/api/cart/items", headers=token, json={"sku_id": shipped, "quantity": 1})
    english = {**a, "Accept-Language": "en"}
    with_lane = send(app, client, True, "PUT", path, headers=english, json={"quantity": 3})
    without = send(app, client, False, "PUT", path, headers={**b, "Accept-Language": "en"}, json={"quantity": 3})
    assert with_lane[:3] == without[:3] and not with_lane[3]
    assert b'"label":"Shipping"' in with_lane[1]
    chinese = send(app, client, True, "PUT", path, headers=a, json={"quantity": 3})
    assert b'"label":"Shipping"' not in chinese[1] and not chinese[3]


@pytest.mark.parametrize(
    "payload",
    [{"quantity": 0}, {"quantity": 999}, {"quantity": 1000}, {"quantity": -1}, {"quantity": 2.0}, {"quantity": 2.5}]
    + [{"quantity": True}, {"quantity": None}, {"quantity": "1"}, {}, {"quantity": 1, "sku_id": 2}, [], None, 3],
)
def test_the_compiled_body_check_agrees_with_json_schema(payload):
    from jsonschema import Draft202012Validator

    from mallow.api.registry import obj
    from mallow.edge.lanes import body_check

    schema = obj({"quantity": {"type": "integer", "minimum": 0, "maximum": 999}}, ["quantity"])
    assert body_check(schema)(payload) is Draft202012Validator(schema).is_valid(payload)


@pytest.mark.parametrize("app", ["postgresql"], indirect=True)  # round trips to a server
def test_on_postgresql_the_lane_is_one_round_trip_where_the_route_is_three(app):
    """The route: the pool's check with the transaction's BEGIN (one message), the statement,
    COMMIT. The lane: the statement in autocommit, and no check when the connection's last
    holder was a lane (``hygiene.vouch``; the route's request after a lane's skips it too)."""
    shop = make_store(app)
    [sku] = make_product(app, shop, stock=50)
    client = app.test_client()
    a, b = (_shopper_with_cart(client, shop, [sku]) for _ in range(2))
    path = f"{shop.prefix}/api/cart/items/{sku}"
    for n in range(8):  # psycopg prepares what it has run five times; the lane's connection vouched for
        assert (
            send(app, client, n % 2 == 0, "PUT", path, headers=a if n % 2 == 0 else b, json={"quantity": 2})[0]
            == "200 OK"
        )
    for _ in range(10):  # every idle connection of the pool last held by the lane, moments ago
        send(app, client, True, "PUT", path, headers=a, json={"quantity": 2})

    with round_trips() as on_the_lane:
        answer = send(app, client, True, "PUT", path, headers=a, json={"quantity": 3})
    assert answer[0] == "200 OK" and not answer[3]
    assert len(sent(on_the_lane)) == 1, on_the_lane

    for _ in range(6):  # its last holder: Flask
        send(app, client, False, "PUT", path, headers=b, json={"quantity": 2})
    with round_trips() as through_flask:
        answer = send(app, client, False, "PUT", path, headers=b, json={"quantity": 3})
    assert answer[0] == "200 OK" and answer[3]
    flask_sent = sent(through_flask)
    assert len(flask_sent) == 3, through_flask  # BEGIN with the check, the statement, COMMIT
    assert flask_sent[0].startswith('Query "BEGIN; ') and flask_sent[-1] == 'Query "COMMIT"', through_flask
