"""The sale price goes through the core's pricing pipeline as a labelled line adjustment; the
sale is opted into per checkout; its window decides."""

from __future__ import annotations

from datetime import datetime, timedelta, UTC

from mallow.testing import bearer

from .conftest import buy, create_sale, enabled_store, make_shoppers, now, product, sale_item


def test_sale_price_is_a_labelled_line_adjustment_through_the_pipeline(fs_app):
    # given a SKU at ¥10.00 in a live sale at ¥6.66
    shop = enabled_store(fs_app)
    sku = product(fs_app, shop, price=1000, stock=50)
    sale = create_sale(
        fs_app, shop, [{"sku_id": sku, "sale_price": 666, "quota": 10}], title="周末秒杀", per_order=2, per_shopper=2
    )
    [(token, address, _customer)] = make_shoppers(fs_app, shop, 1)
    client = fs_app.test_client()

    # when the shopper buys two through the buy endpoint
    response = buy(client, shop, sale["id"], token, address, sku, quantity=2)

    # then the order keeps the regular price as items total and the sale price as an adjustment
    assert response.status_code == 201, response.get_json()
    order_id = response.get_json()["order"]["id"]
    order = client.get(f"{shop.prefix}/api/orders/{order_id}", headers=bearer(token)).get_json()
    assert order["items_total"] == 2000
    [line_adjustment] = [a for a in order["adjustments"] if a["stage"] == "line"]
    assert line_adjustment["source"] == "flashsale"
    assert line_adjustment["amount"] == -(1000 - 666) * 2
    assert line_adjustment["label"] == "秒杀：周末秒杀"
    # the source marks a campaign line: the distribution plugin pays no commission on it by default
    assert line_adjustment["code"] == f"sale-{sale['id']}"
    assert order["lines"][0]["total"] == 1332
    assert order["total"] == order["items_total"] + sum(a["amount"] for a in order["adjustments"])
    assert sale_item(fs_app, shop, sale["id"], sku) == {"quota": 10, "remaining": 8}


def test_the_store_api_checkout_takes_the_same_option(fs_app):
    shop = enabled_store(fs_app)
    sku = product(fs_app, shop, price=1000, stock=50)
    sale = create_sale(fs_app, shop, [{"sku_id": sku, "sale_price": 500, "quota": 10}])
    [(token, address, _c)] = make_shoppers(fs_app, shop, 1)
    client = fs_app.test_client()
    response = client.post(
        f"{shop.prefix}/api/orders",
        headers=bearer(token),
        json={
            "items": [{"sku_id": sku, "quantity": 1}],
            "address_id": address,
            "options": {"flashsale": {"sale_id": sale["id"]}},
        },
    )
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["total"] == 500
    assert sale_item(fs_app, shop, sale["id"], sku)["remaining"] == 9
    # the short payment window of the sale is the order's
    deadline = datetime.fromisoformat(response.get_json()["pay_deadline"])
    deadline = deadline if deadline.tzinfo else deadline.replace(tzinfo=UTC)
    assert now() + timedelta(minutes=4) < deadline <= now() + timedelta(minutes=5, seconds=5)


def test_without_the_option_the_regular_price_applies_and_the_sale_is_untouched(fs_app):
    shop = enabled_store(fs_app)
    sku = product(fs_app, shop, price=1000, stock=50)
    sale = create_sale(fs_app, shop, [{"sku_id": sku, "sale_price": 500, "quota": 10}])
    [(token, address, _c)] = make_shoppers(fs_app, shop, 1)
    response = fs_app.test_client().post(
        f"{shop.prefix}/api/orders",
        headers=bearer(token),
        json={"items": [{"sku_id": sku, "quantity": 3}], "address_id": address},
    )
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["total"] == 3000
    assert not [a for a in response.get_json()["adjustments"] if a["source"] == "flashsale"]
    assert sale_item(fs_app, shop, sale["id"], sku)["remaining"] == 10


def test_the_window_decides_preheat_and_ended_sales_sell_nothing(fs_app):
    shop = enabled_store(fs_app)
    sku = product(fs_app, shop, price=1000)
    soon = create_sale(
        fs_app,
        shop,
        [{"sku_id": sku, "sale_price": 500, "quota": 5}],
        starts=now() + timedelta(minutes=10),
        ends=now() + timedelta(hours=1),
        preheat=now() - timedelta(minutes=1),
    )
    [(token, address, _c)] = make_shoppers(fs_app, shop, 1)
    client = fs_app.test_client()
    early = buy(client, shop, soon["id"], token, address, sku)
    assert early.status_code == 409 and early.get_json()["error"] == "not_started"
    assert 590 <= early.get_json()["seconds_left"] <= 600
    through_api = client.post(
        f"{shop.prefix}/api/orders",
        headers=bearer(token),
        json={
            "items": [{"sku_id": sku, "quantity": 1}],
            "address_id": address,
            "options": {"flashsale": {"sale_id": soon["id"]}},
        },
    )
    assert through_api.status_code == 422
    assert [p["code"] for p in through_api.get_json()["problems"]] == ["flashsale_not_started"]

    sku2 = product(fs_app, shop, price=1000)
    over = create_sale(
        fs_app,
        shop,
        [{"sku_id": sku2, "sale_price": 500, "quota": 5}],
        starts=now() - timedelta(hours=2),
        ends=now() - timedelta(hours=1),
    )
    late = buy(client, shop, over["id"], token, address, sku2)
    assert late.status_code == 409 and late.get_json()["error"] == "ended"
    assert sale_item(fs_app, shop, over["id"], sku2)["remaining"] == 5
