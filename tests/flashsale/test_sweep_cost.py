"""The flash-sale sweep (every 30 s, in the worker that also drains the sale's queue) costs the
same whatever number of unpaid orders are still within their payment window: once a sale sells
out every one of its orders is unpaid for a while, and reading them one by one (two queries each)
held the drain up for seconds at every sweep. It still closes the orders past their window and
settles the purchases whose order was paid or cancelled while the plugin was disabled."""

from __future__ import annotations

from datetime import timedelta

from mallow.testing import bearer, disable_plugin, enable_plugin
from mallow.testing.sql import listing, statements

from .conftest import OPEN_LIMITS, buy, create_sale, enabled_store, make_shoppers, now, product, sale_item


def _sweep(app, shop, minutes: int = 0) -> tuple[dict, list[str]]:
    from mallow.jobs.registry import execute

    with statements() as seen:
        found = execute(
            app,
            "flashsale.sweep_store",
            {"store_id": shop.store_id, "now": (now() + timedelta(minutes=minutes)).isoformat()},
        )
    return found, seen


def _orders(app, shop, sale_id: int, sku: int, people) -> list[int]:
    client = app.test_client()
    placed = [buy(client, shop, sale_id, token, address, sku) for token, address, _c in people]
    assert all(r.status_code == 201 for r in placed), [r.get_json() for r in placed]
    return [r.get_json()["order"]["id"] for r in placed]


def test_the_sweep_reads_no_more_for_more_unpaid_orders_and_still_closes_the_late_ones(fs_app):
    shop = enabled_store(fs_app, OPEN_LIMITS)
    sku = product(fs_app, shop, stock=50)
    sale = create_sale(fs_app, shop, [{"sku_id": sku, "sale_price": 100, "quota": 20}])
    people = make_shoppers(fs_app, shop, 12)
    _orders(fs_app, shop, sale["id"], sku, people[:2])
    found, few = _sweep(fs_app, shop)
    assert found["closed"] == 0
    _orders(fs_app, shop, sale["id"], sku, people[2:])
    found, many = _sweep(fs_app, shop)
    assert found["closed"] == 0
    assert len(many) == len(few), listing(many)  # not two queries more per unpaid order (20 more before)
    found, _seen = _sweep(fs_app, shop, minutes=6)  # past the five-minute window: all twelve close
    assert found["closed"] == 12
    assert sale_item(fs_app, shop, sale["id"], sku)["remaining"] == 20


def test_the_sweep_settles_an_order_cancelled_while_the_plugin_was_disabled(fs_app):
    shop = enabled_store(fs_app, OPEN_LIMITS)
    sku = product(fs_app, shop, stock=50)
    sale = create_sale(fs_app, shop, [{"sku_id": sku, "sale_price": 100, "quota": 5}])
    people = make_shoppers(fs_app, shop, 2)
    cancelled, _unpaid = _orders(fs_app, shop, sale["id"], sku, people)
    disable_plugin(fs_app, shop, "flashsale")
    client = fs_app.test_client()
    answer = client.post(f"{shop.prefix}/api/orders/{cancelled}/cancel", headers=bearer(people[0][0]))
    assert answer.status_code == 200, answer.get_json()
    enable_plugin(fs_app, shop, "flashsale", OPEN_LIMITS)
    assert sale_item(fs_app, shop, sale["id"], sku)["remaining"] == 3  # the plugin did not hear of it
    found, _seen = _sweep(fs_app, shop)
    assert (found["closed"], found["settled"]) == (0, 1)
    assert sale_item(fs_app, shop, sale["id"], sku)["remaining"] == 4  # the unit is back; the unpaid one waits
    assert _sweep(fs_app, shop)[0]["settled"] == 0  # once
