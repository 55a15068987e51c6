"""The sold-out answer before Flask: once an item is gone, a buy attempt is answered by the
plugin's early route (``mallow.plugins.early.early_answer``, which the WSGI front door calls
with the store it resolved) with the same status and JSON as the buy route, without a single
SQL statement and, once the flag is known, without a Redis round trip. Anything else goes on to
the route, with its body intact."""

from __future__ import annotations

import json
from contextlib import contextmanager
from types import SimpleNamespace

import pytest
import sqlalchemy as sa
from werkzeug.test import EnvironBuilder

from mallow.plugins.early import early_answer
from mallow.testing import bearer

from .conftest import buy, create_sale, enabled_store, make_shoppers, product


@pytest.fixture(autouse=True)
def generous_budget(request, monkeypatch):
    """A loaded test machine may take long enough for a fault to be written (SQL): not what
    these tests count."""
    from mallow.plugins import early

    for name in ("fs_app", "fs_redis_app"):
        if name in request.fixturenames:
            app = request.getfixturevalue(name)
            routes = app.extensions.get("mallow.early_routes") or early.install(app)
            monkeypatch.setattr(routes, "budget_ms", 10_000.0)


def _store(shop, *, status="open", enabled=("flashsale",)):
    """What the front door hands over: the store as its per-process cache knows it."""
    return SimpleNamespace(id=shop.store_id, slug=shop.slug, status=status, enabled=frozenset(enabled))


def _environ(shop, sale_id, sku_id, token=None, quantity=1, headers=None, path=None):
    return EnvironBuilder(
        path=path or f"{shop.prefix}/api/x/flashsale/sales/{sale_id}/buy",
        method="POST",
        json={"sku_id": sku_id, "quantity": quantity, "address_id": 1},
        headers={**(bearer(token) if token else {}), **(headers or {})},
    ).get_environ()


@contextmanager
def counted():
    """Counts SQL statements (every engine) and Redis commands sent (every connection)."""
    import redis.connection

    counts = {"sql": 0, "redis": 0}

    def statement(*_args):
        counts["sql"] += 1

    original = redis.connection.Connection.send_packed_command

    def send(self, *args, **kwargs):
        counts["redis"] += 1
        return original(self, *args, **kwargs)

    sa.event.listen(sa.engine.Engine, "before_cursor_execute", statement)
    redis.connection.Connection.send_packed_command = send
    try:
        yield counts
    finally:
        redis.connection.Connection.send_packed_command = original
        sa.event.remove(sa.engine.Engine, "before_cursor_execute", statement)


def _sold_out_sale(app, shop, sku):
    """A one-unit sale, bought by the first shopper and refused to the second (the flag is set)."""
    sale = create_sale(app, shop, [{"sku_id": sku, "sale_price": 100, "quota": 1}])
    (token, address, _c), (other, other_address, _o) = make_shoppers(app, shop, 2)
    client = app.test_client()
    assert buy(client, shop, sale["id"], token, address, sku).status_code == 201
    refused = buy(client, shop, sale["id"], other, other_address, sku)
    assert refused.status_code == 409 and refused.get_json()["error"] == "sold_out"
    return sale, (token, address), (other, other_address), refused


def _flag_ages(app, shop, sale_id, sku):
    """Make the sold-out flag older than its interval (as if FLASHSALE_SOLDOUT_SECONDS passed)."""
    from mallow_flashsale import flags

    with app.app_context():
        memory = flags.memory()
        key = (shop.store_id, sale_id, sku)
        memory.sold_out[key] = (0.0, memory.sold_out[key][1])


def test_a_sold_out_attempt_is_answered_like_the_route_without_a_query(fs_app):
    shop = enabled_store(fs_app)
    sku = product(fs_app, shop)
    sale, _first, (other, _address), refused = _sold_out_sale(fs_app, shop, sku)

    with counted() as counts:
        status, headers, body = early_answer(fs_app, _environ(shop, sale["id"], sku, other), _store(shop))
        anonymous = early_answer(fs_app, _environ(shop, sale["id"], sku), _store(shop))
    assert counts == {"sql": 0, "redis": 0}
    assert status == 409 and json.loads(body) == refused.get_json()
    assert body == refused.get_data()  # byte for byte what the route writes
    assert dict(headers)["Content-Type"] == "application/json"
    assert anonymous is not None and anonymous[0] == 409  # the route says sold out before it asks who

    english = early_answer(
        fs_app, _environ(shop, sale["id"], sku, other, headers={"Accept-Language": "en"}), _store(shop)
    )
    route = buy(fs_app.test_client(), shop, sale["id"], other, 1, sku, **{"Accept-Language": "en"})
    assert json.loads(english[2]) == route.get_json() and route.get_json()["message"] == "Sold out"
    assert json.loads(english[2])["message"] != json.loads(body)["message"]  # Chinese by default


def test_everything_else_goes_on_to_the_route_with_its_body(fs_app):
    shop = enabled_store(fs_app)
    sku, other_sku = product(fs_app, shop), product(fs_app, shop, title="另一件")
    sale, _first, (other, _address), _refused = _sold_out_sale(fs_app, shop, sku)
    selling = create_sale(fs_app, shop, [{"sku_id": other_sku, "sale_price": 100, "quota": 5}])

    environ = _environ(shop, selling["id"], other_sku, other)
    with counted() as counts:
        assert early_answer(fs_app, environ, _store(shop)) is None  # units left: the route sells
    assert counts == {"sql": 0, "redis": 0}
    assert json.loads(environ["wsgi.input"].read())["sku_id"] == other_sku  # the route reads it again

    refused = [
        _environ(shop, sale["id"], sku, other, quantity=0),  # the route answers 422 for this
        _environ(shop, sale["id"], sku, other, path=f"/s/another-shop/api/x/flashsale/sales/{sale['id']}/buy"),
        _environ(shop, sale["id"], sku, other, path=f"{shop.prefix}/api/x/flashsale/sales/{sale['id']}"),
    ]
    for environ in refused:
        assert early_answer(fs_app, environ, _store(shop)) is None
    assert early_answer(fs_app, _environ(shop, sale["id"], sku, other), _store(shop, enabled=())) is None
    assert early_answer(fs_app, _environ(shop, sale["id"], sku, other), _store(shop, status="suspended")) is None


def test_without_redis_an_old_flag_leaves_the_answer_to_the_route(fs_app):
    shop = enabled_store(fs_app)
    sku = product(fs_app, shop)
    sale, _first, (other, address), _refused = _sold_out_sale(fs_app, shop, sku)
    _flag_ages(fs_app, shop, sale["id"], sku)
    assert early_answer(fs_app, _environ(shop, sale["id"], sku, other), _store(shop)) is None
    # the route asks the database, which still says sold out, and flags it again
    assert buy(fs_app.test_client(), shop, sale["id"], other, address, sku).get_json()["error"] == "sold_out"
    assert early_answer(fs_app, _environ(shop, sale["id"], sku, other), _store(shop))[0] == 409


@pytest.mark.postgres
@pytest.mark.redis
def test_with_redis_an_old_flag_is_refreshed_by_one_round_trip_and_units_back_are_sold(fs_redis_app, redis_prefix):
    app = fs_redis_app
    shop = enabled_store(app)
    sku = product(app, shop)
    sale, (token, _address), (other, other_address), _refused = _sold_out_sale(app, shop, sku)
    environ = lambda: _environ(shop, sale["id"], sku, other)  # noqa: E731

    with counted() as counts:
        assert early_answer(app, environ(), _store(shop))[0] == 409
    assert counts == {"sql": 0, "redis": 0}

    _flag_ages(app, shop, sale["id"], sku)
    with counted() as counts:
        assert early_answer(app, environ(), _store(shop))[0] == 409  # the gate still says 0
        assert early_answer(app, environ(), _store(shop))[0] == 409  # trusted again for an interval
    assert counts == {"sql": 0, "redis": 1}

    # the first shopper cancels: the unit is back in the database and the gate; another process
    # whose flag is older than the interval asks the gate and lets the attempt through
    [order_id] = _orders_of(app, shop, token)
    assert (
        app.test_client().post(f"{shop.prefix}/api/orders/{order_id}/cancel", headers=bearer(token)).status_code == 200
    )
    from mallow_flashsale import flags

    with app.app_context():
        flags.memory().mark_sold_out((shop.store_id, sale["id"], sku), _item_id(app, shop, sale["id"]))
    _flag_ages(app, shop, sale["id"], sku)
    assert early_answer(app, environ(), _store(shop)) is None
    assert buy(app.test_client(), shop, sale["id"], other, other_address, sku).status_code == 201


def _orders_of(app, shop, token):
    response = app.test_client().get(f"{shop.prefix}/api/orders", headers=bearer(token))
    return [order["id"] for order in response.get_json()["items"]]


def _item_id(app, shop, sale_id):
    from mallow.db import db
    from mallow.tenants.context import store_context
    from mallow_flashsale.models import SaleItem

    with store_context(shop.store_id, app=app):
        return db.session.execute(sa.select(SaleItem.id).where(SaleItem.sale_id == sale_id)).scalar_one()
