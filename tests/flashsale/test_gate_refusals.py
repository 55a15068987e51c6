"""Units the Redis gate reserved for an attempt the database then refused come back to the gate,
whatever the refusal: after each one the gate holds exactly the database's ``remaining``. And
units that come back after every process flagged the item sold out are sold again within
``FLASHSALE_SOLDOUT_SECONDS``: the sale ends with exactly its quota sold, not one less."""

from __future__ import annotations

import threading
import time

import pytest
import redis as redis_lib

from .conftest import buy, create_sale, enabled_store, in_store, make_shoppers, product, sale_item
from .test_limits import _pay

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


def _gate(app, prefix):
    return redis_lib.Redis.from_url(app.config["FLASHSALE_REDIS_URL"]), f"{prefix}:"


def _key(client, prefix, suffix):
    [key] = list(client.scan_iter(match=f"{prefix}:*:{suffix}"))
    return key


def _gate_left(client, prefix) -> int:
    rem = client.hgetall(_key(client, prefix, "rem"))
    [left] = [int(v) for k, v in rem.items() if not k.startswith(b"_")]
    return left


def _selling(app, *, quota=5, per_shopper=1, shoppers=2):
    shop = enabled_store(app)
    sku = product(app, shop)
    sale = create_sale(app, shop, [{"sku_id": sku, "sale_price": 100, "quota": quota}], per_shopper=per_shopper)
    return shop, sku, sale, make_shoppers(app, shop, shoppers), app.test_client()


def test_pending_order_the_gate_forgot_gives_the_units_back(fs_redis_app, redis_prefix):
    app = fs_redis_app
    shop, sku, sale, [(token, address, customer)], client = _selling(app, per_shopper=2, shoppers=1)
    assert buy(client, shop, sale["id"], token, address, sku).status_code == 201
    gate, _p = _gate(app, redis_prefix)
    gate.hdel(_key(gate, redis_prefix, "pend"), str(customer))  # the gate lost the unpaid marker
    refused = buy(client, shop, sale["id"], token, address, sku)
    assert refused.status_code == 409 and refused.get_json()["error"] == "pending_order"
    assert _gate_left(gate, redis_prefix) == sale_item(app, shop, sale["id"], sku)["remaining"] == 4


def test_limit_the_gate_forgot_gives_the_units_back(fs_redis_app, redis_prefix):
    app = fs_redis_app
    shop, sku, sale, [(token, address, _customer)], client = _selling(app, per_shopper=1, shoppers=1)
    first = buy(client, shop, sale["id"], token, address, sku)
    assert first.status_code == 201
    _pay(app, shop, first.get_json()["order"]["id"])
    gate, _p = _gate(app, redis_prefix)
    for suffix in ("buy", "day:*", "pend"):  # the gate lost the shoppers' counts
        for key in gate.scan_iter(match=f"{redis_prefix}:*:{suffix}"):
            gate.delete(key)
    refused = buy(client, shop, sale["id"], token, address, sku)
    assert refused.status_code == 409 and refused.get_json()["error"] == "limit_reached"
    assert _gate_left(gate, redis_prefix) == sale_item(app, shop, sale["id"], sku)["remaining"] == 4


def test_a_refusal_of_the_core_gives_the_units_back(fs_redis_app, redis_prefix):
    app = fs_redis_app
    shop, sku, sale, [(token, _address, _c), (_other, other_address, _o)], client = _selling(app)
    refused = buy(client, shop, sale["id"], token, other_address, sku)  # someone else's address
    assert refused.status_code == 422 and "address_id" in refused.get_json()["fields"]
    gate, _p = _gate(app, redis_prefix)
    assert _gate_left(gate, redis_prefix) == sale_item(app, shop, sale["id"], sku)["remaining"] == 5
    assert list(gate.scan_iter(match=f"{redis_prefix}:*:pend")) == []  # no unpaid marker left behind
    # and the shopper is not held to a unit they never got
    assert buy(client, shop, sale["id"], token, _address, sku).status_code == 201
    assert _gate_left(gate, redis_prefix) == sale_item(app, shop, sale["id"], sku)["remaining"] == 4


def test_a_refusal_inside_the_order_gives_the_units_back(fs_redis_app, redis_prefix, monkeypatch):
    """The core refuses after the sale took its units (a later step of the order fails): the
    order rolls back, and the gate's units with it."""
    from mallow_flashsale import quota

    app = fs_redis_app
    shop, sku, sale, [(token, address, _c)], client = _selling(app, shoppers=1)
    real_take = quota.take

    def take_then_fail(*args, **kwargs):
        real_take(*args, **kwargs)
        raise RuntimeError("a later step of the order failed")

    monkeypatch.setattr(quota, "take", take_then_fail)
    refused = buy(client, shop, sale["id"], token, address, sku)
    monkeypatch.undo()
    assert refused.status_code == 422
    gate, _p = _gate(app, redis_prefix)
    assert _gate_left(gate, redis_prefix) == sale_item(app, shop, sale["id"], sku)["remaining"] == 5
    assert buy(client, shop, sale["id"], token, address, sku).status_code == 201


def test_the_last_unit_whose_order_failed_is_sold_again(fs_redis_app, redis_prefix, monkeypatch):
    """The last unit is reserved, every other attempt is told "sold out" (the flag), then the
    reservation's order fails: within FLASHSALE_SOLDOUT_SECONDS the unit is sold after all."""
    from mallow_flashsale import buying

    app = fs_redis_app
    monkeypatch.setitem(app.config, "FLASHSALE_SOLDOUT_SECONDS", 0.3)
    shop, sku, sale, shoppers, client = _selling(app, quota=1, shoppers=3)
    (first, first_address, first_id), (second, second_address, _s), (third, third_address, _t) = shoppers
    in_flight, go_on = threading.Event(), threading.Event()
    real_place_order = buying.place_order

    def place_order(customer, *args, **kwargs):
        if customer.id == first_id:  # the last unit is reserved: hold its order a moment
            in_flight.set()
            assert go_on.wait(10)
        return real_place_order(customer, *args, **kwargs)

    monkeypatch.setattr(buying, "place_order", place_order)
    answers = {}

    def first_attempt():  # with another shopper's address: the core refuses the order
        answers["first"] = buy(app.test_client(), shop, sale["id"], first, second_address, sku)

    thread = threading.Thread(target=first_attempt)
    thread.start()
    try:
        assert in_flight.wait(10)
        late = buy(client, shop, sale["id"], second, second_address, sku)
        assert late.status_code == 409 and late.get_json()["error"] == "sold_out"
    finally:
        go_on.set()
        thread.join(10)
    assert answers["first"].status_code == 422
    gate, _p = _gate(app, redis_prefix)
    assert _gate_left(gate, redis_prefix) == sale_item(app, shop, sale["id"], sku)["remaining"] == 1

    deadline = time.monotonic() + 0.3 + 2.0  # the flag's interval, and a loaded machine's slack
    while True:
        answer = buy(client, shop, sale["id"], third, third_address, sku)
        if answer.status_code == 201 or time.monotonic() > deadline:
            break
        assert answer.get_json()["error"] == "sold_out"
        time.sleep(0.05)
    assert answer.status_code == 201
    assert sale_item(app, shop, sale["id"], sku)["remaining"] == 0 == _gate_left(gate, redis_prefix)


def test_units_back_through_another_process_are_sold_again(fs_redis_app, redis_prefix, monkeypatch):
    """Another process made the last reservation and gave it back (its order failed there): this
    process flagged the item sold out meanwhile, and sells the unit once its flag is older than
    FLASHSALE_SOLDOUT_SECONDS."""
    from mallow_flashsale import gate as gate_module

    app = fs_redis_app
    monkeypatch.setitem(app.config, "FLASHSALE_SOLDOUT_SECONDS", 0.3)
    shop, sku, sale, shoppers, client = _selling(app, quota=1, shoppers=2)
    (first, first_address, first_id), (second, second_address, _s) = shoppers
    assert buy(client, shop, sale["id"], first, second_address, sku).status_code == 422  # seeds the gate

    def reserve_elsewhere():
        from mallow.sdk import db
        from mallow_flashsale.models import SaleItem

        item = db.session.execute(db_select(SaleItem, sale["id"])).scalar_one()
        outcome, left, _epoch = gate_module.reserve(
            shop.store_id, sale["id"], item.id, first_id, 1, limit=1, day_limit=0, day="-", token="elsewhere"
        )
        assert (outcome, left) == ("ok", 0)
        return gate_module.Reservation(shop.store_id, sale["id"], item.id, first_id, 1, "-", "elsewhere")

    reservation = in_store(app, shop, reserve_elsewhere)
    late = buy(client, shop, sale["id"], second, second_address, sku)
    assert late.status_code == 409 and late.get_json()["error"] == "sold_out"
    in_store(app, shop, reservation.release)
    time.sleep(0.35)
    assert buy(client, shop, sale["id"], second, second_address, sku).status_code == 201
    gate, _p = _gate(app, redis_prefix)
    assert sale_item(app, shop, sale["id"], sku)["remaining"] == 0 == _gate_left(gate, redis_prefix)


def db_select(model, sale_id):
    import sqlalchemy as sa

    return sa.select(model).where(model.sale_id == sale_id)


def test_a_return_during_a_seed_is_not_lost(fs_redis_app, redis_prefix, monkeypatch):
    """The seed reads the database, an unpaid order is cancelled (its unit back in the database,
    then in the gate), then the seed writes what it read: the gate must not lose that unit."""
    from mallow.testing import bearer
    from mallow_flashsale import gate as gate_module

    app = fs_redis_app
    shop, sku, sale, [(token, address, _c)], client = _selling(app, quota=2, shoppers=1)
    first = buy(client, shop, sale["id"], token, address, sku)
    assert first.status_code == 201
    real_state, cancelled = gate_module._seed_state, []

    def state_then_cancel(*args):
        found = real_state(*args)
        if not cancelled:  # in another "process": its own request, session and commit
            url = f"{shop.prefix}/api/orders/{first.get_json()['order']['id']}/cancel"
            cancelled.append(app.test_client().post(url, headers=bearer(token)).status_code)
        return found

    monkeypatch.setattr(gate_module, "_seed_state", state_then_cancel)
    assert in_store(app, shop, lambda: gate_module.seed(shop.store_id, sale["id"], refresh=True))
    assert cancelled == [200]
    gate, _p = _gate(app, redis_prefix)
    assert _gate_left(gate, redis_prefix) == sale_item(app, shop, sale["id"], sku)["remaining"] == 2
