"""The Redis gate sheds load and never decides alone: it is seeded from the database, corrected
by it, re-seeded by the sweep, and when Redis is unreachable the database still sells."""

from __future__ import annotations

import pytest
import redis as redis_lib

from mallow.testing import bearer

from .conftest import buy, create_sale, enabled_store, make_shoppers, product, sale_item

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


def _gate(app, prefix):
    client = redis_lib.Redis.from_url(app.config["FLASHSALE_REDIS_URL"])
    [key] = list(client.scan_iter(match=f"{prefix}:*:rem"))
    return client, key


def _left(client, key):
    return {k.decode(): int(v) for k, v in client.hgetall(key).items() if not k.startswith(b"_")}


def _sweep(app, shop):
    from mallow.jobs.registry import execute

    return execute(app, "flashsale.sweep_store", {"store_id": shop.store_id})


def test_the_gate_follows_the_database(fs_redis_app, redis_prefix):
    app = fs_redis_app
    shop = enabled_store(app)
    sku = product(app, shop)
    sale = create_sale(app, shop, [{"sku_id": sku, "sale_price": 100, "quota": 2}])
    (token, address, _c), (other, other_address, _o), (third, third_address, _t) = make_shoppers(app, shop, 3)
    client = app.test_client()
    first = buy(client, shop, sale["id"], token, address, sku)
    assert first.status_code == 201
    gate, key = _gate(app, redis_prefix)
    [item_id] = _left(gate, key)
    assert _left(gate, key) == {item_id: 1}
    # the unpaid order is cancelled: the unit is back in the database, then in the gate
    assert (
        client.post(
            f"{shop.prefix}/api/orders/{first.get_json()['order']['id']}/cancel", headers=bearer(token)
        ).status_code
        == 200
    )
    assert _left(gate, key) == {item_id: 2} and sale_item(app, shop, sale["id"], sku)["remaining"] == 2

    # a gate that says less than the truth turns buyers away until the sweep re-seeds it
    gate.hset(key, item_id, 0)
    assert buy(client, shop, sale["id"], other, other_address, sku).get_json()["error"] == "sold_out"
    from mallow_flashsale import flags

    with app.app_context():
        flags.reset()
    assert _sweep(app, shop)["seeded"] == 1
    assert _left(gate, key) == {item_id: 2}
    assert buy(client, shop, sale["id"], other, other_address, sku).status_code == 201

    # a gate that says more than the truth lets an attempt through to the database, which refuses
    # it and corrects the gate
    gate.hset(key, item_id, 50)
    assert buy(client, shop, sale["id"], token, address, sku).status_code == 201  # the last real unit
    refused = buy(client, shop, sale["id"], third, third_address, sku)
    assert refused.status_code == 409 and refused.get_json()["error"] == "sold_out"
    assert sale_item(app, shop, sale["id"], sku)["remaining"] == 0
    assert _left(gate, key) == {item_id: 0}


def test_without_a_reachable_redis_the_database_still_sells_exactly_the_quota(fs_redis_app, redis_prefix):
    app = fs_redis_app
    shop = enabled_store(app)
    sku = product(app, shop)
    sale = create_sale(app, shop, [{"sku_id": sku, "sale_price": 100, "quota": 1}])
    shoppers = make_shoppers(app, shop, 2)
    url = app.config["FLASHSALE_REDIS_URL"]
    app.config["FLASHSALE_REDIS_URL"] = "redis://127.0.0.1:1/0"  # nothing listens there
    try:
        client = app.test_client()
        answers = [buy(client, shop, sale["id"], t, a, sku) for t, a, _c in shoppers]
    finally:
        app.config["FLASHSALE_REDIS_URL"] = url
    assert [r.status_code for r in answers] == [201, 409]
    assert answers[1].get_json()["error"] == "sold_out"
    assert sale_item(app, shop, sale["id"], sku)["remaining"] == 0
