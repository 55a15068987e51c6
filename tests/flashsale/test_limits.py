"""Limits per order, per shopper and per shopper per day, counted across all of a shopper's
orders in the sale; one unpaid order per shopper per sale."""

from __future__ import annotations

from mallow.testing import bearer

from .conftest import buy, create_sale, enabled_store, make_shoppers, product, sale_item


def _pay(app, shop, order_id):
    """Mark the order paid through the core's order service (as a verified payment would)."""
    from mallow.db import db
    from mallow.orders import service
    from mallow.orders.models import Order
    from mallow.tenants.context import store_context

    with store_context(shop.store_id, app=app):
        assert service.mark_paid(db.session.get(Order, order_id), "provider:test", {"test": True})
        db.session.commit()


def test_per_order_limit(fs_app):
    shop = enabled_store(fs_app)
    sku = product(fs_app, shop)
    sale = create_sale(fs_app, shop, [{"sku_id": sku, "sale_price": 100, "quota": 10}], per_order=2, per_shopper=5)
    [(token, address, _c)] = make_shoppers(fs_app, shop, 1)
    response = buy(fs_app.test_client(), shop, sale["id"], token, address, sku, quantity=3)
    assert response.status_code == 409 and response.get_json()["error"] == "limit_reached"
    assert "2" in response.get_json()["message"]
    assert sale_item(fs_app, shop, sale["id"], sku)["remaining"] == 10


def test_one_unpaid_order_per_shopper_per_sale(fs_app):
    shop = enabled_store(fs_app)
    sku = product(fs_app, shop)
    sale = create_sale(fs_app, shop, [{"sku_id": sku, "sale_price": 100, "quota": 10}], per_order=1, per_shopper=5)
    [(token, address, _c)] = make_shoppers(fs_app, shop, 1)
    client = fs_app.test_client()
    first = buy(client, shop, sale["id"], token, address, sku)
    assert first.status_code == 201
    second = buy(client, shop, sale["id"], token, address, sku)
    assert second.status_code == 409 and second.get_json()["error"] == "pending_order"
    # the store API's checkout with the option is held to the same rule
    through_api = client.post(
        f"{shop.prefix}/api/orders",
        headers=bearer(token),
        json={
            "items": [{"sku_id": sku, "quantity": 1}],
            "address_id": address,
            "options": {"flashsale": {"sale_id": sale["id"]}},
        },
    )
    assert through_api.status_code == 422
    assert [p["code"] for p in through_api.get_json()["problems"]] == ["flashsale_pending_order"]
    # paid: the next order may go through
    _pay(fs_app, shop, first.get_json()["order"]["id"])
    assert buy(client, shop, sale["id"], token, address, sku).status_code == 201
    assert sale_item(fs_app, shop, sale["id"], sku)["remaining"] == 8


def test_per_shopper_limit_counts_across_orders(fs_app):
    shop = enabled_store(fs_app)
    sku, other = product(fs_app, shop), product(fs_app, shop)
    sale = create_sale(
        fs_app,
        shop,
        [{"sku_id": sku, "sale_price": 100, "quota": 10}, {"sku_id": other, "sale_price": 100, "quota": 10}],
        per_order=2,
        per_shopper=3,
    )
    [(token, address, _c)] = make_shoppers(fs_app, shop, 1)
    client = fs_app.test_client()
    first = buy(client, shop, sale["id"], token, address, sku, quantity=2)
    assert first.status_code == 201
    _pay(fs_app, shop, first.get_json()["order"]["id"])
    # two more would make four: refused, whichever SKU of the sale
    refused = buy(client, shop, sale["id"], token, address, other, quantity=2)
    assert refused.status_code == 409 and refused.get_json()["error"] == "limit_reached"
    assert buy(client, shop, sale["id"], token, address, other, quantity=1).status_code == 201
    assert sale_item(fs_app, shop, sale["id"], other)["remaining"] == 9


def test_per_day_limit(fs_app):
    shop = enabled_store(fs_app)
    sku = product(fs_app, shop)
    sale = create_sale(
        fs_app, shop, [{"sku_id": sku, "sale_price": 100, "quota": 10}], per_order=1, per_shopper=0, per_day=1
    )
    [(token, address, _c)] = make_shoppers(fs_app, shop, 1)
    client = fs_app.test_client()
    first = buy(client, shop, sale["id"], token, address, sku)
    _pay(fs_app, shop, first.get_json()["order"]["id"])
    again = buy(client, shop, sale["id"], token, address, sku)
    assert again.status_code == 409 and again.get_json()["error"] == "limit_reached"


class PinnedClock:
    """The rate limiter's clock, standing still until moved (the test never races a minute)."""

    def __init__(self, at: float):
        self.at = at

    def __call__(self) -> float:
        return self.at


def test_rate_limits_per_shopper_and_per_ip(fs_app, monkeypatch):
    from mallow_flashsale import limits

    clock = PinnedClock(60 * 31_666_667 + 59.5)  # half a second before a minute ends
    monkeypatch.setattr(limits, "clock", clock)
    shop = enabled_store(fs_app, {"shopper_attempts_per_minute": 3, "ip_attempts_per_minute": 1_000_000})
    sku = product(fs_app, shop)
    sale = create_sale(fs_app, shop, [{"sku_id": sku, "sale_price": 100, "quota": 10}], per_order=1, per_shopper=1)
    shoppers = make_shoppers(fs_app, shop, 2)
    client = fs_app.test_client()
    (token, address, _c), (other, other_address, _o) = shoppers
    codes = [buy(client, shop, sale["id"], token, address, sku).status_code for _ in range(5)]
    assert codes[0] == 201 and codes[1:3] == [409, 409] and codes[3:] == [429, 429]
    assert buy(client, shop, sale["id"], other, other_address, sku).status_code == 201  # someone else is fine
    clock.at += 1  # the next minute: the shopper may try again (and meets the sale's own limits)
    retry = buy(client, shop, sale["id"], token, address, sku)
    assert retry.status_code == 409 and retry.get_json()["error"] == "pending_order"

    ip_shop = enabled_store(fs_app, {"ip_attempts_per_minute": 2})
    ip_sku = product(fs_app, ip_shop)
    ip_sale = create_sale(fs_app, ip_shop, [{"sku_id": ip_sku, "sale_price": 100, "quota": 10}])
    many = make_shoppers(fs_app, ip_shop, 4)
    codes = [buy(client, ip_shop, ip_sale["id"], t, a, ip_sku).status_code for t, a, _c in many[:3]]
    assert codes == [201, 201, 429]
    clock.at += 60
    token, address, _c = many[3]
    assert buy(client, ip_shop, ip_sale["id"], token, address, ip_sku).status_code == 201
