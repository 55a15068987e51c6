"""Cart → checkout → order: priced by one pipeline, stock reserved atomically, all or nothing."""

from __future__ import annotations

import concurrent.futures
import uuid


from mallow.testing import bearer, make_product, make_shopper, make_store, merchant_token
from datetime import UTC


def _stock(app, shop, sku_id):
    from mallow.catalog.models import Sku
    from mallow.db import db
    from mallow.tenants.context import store_context

    with store_context(shop.store_id, app=app):
        return db.session.get(Sku, sku_id).stock


def _order(client, shop, token, address_id, items, key=None):
    headers = bearer(token) | ({"Idempotency-Key": key} if key else {})
    return client.post(f"{shop.prefix}/api/orders", headers=headers, json={"items": items, "address_id": address_id})


def test_cart_to_order_totals_add_up_in_fen(app):
    shop = make_store(app)
    client = app.test_client()
    [sku] = make_product(app, shop, price=1999, stock=10)
    token, address = make_shopper(client, shop)
    added = client.post(f"{shop.prefix}/api/cart/items", headers=bearer(token), json={"sku_id": sku, "quantity": 2})
    assert added.status_code == 201
    assert added.get_json()["quote"]["total"] == 3998
    again = client.post(f"{shop.prefix}/api/cart/items", headers=bearer(token), json={"sku_id": sku, "quantity": 1})
    assert again.get_json()["items"] == [{"sku_id": sku, "quantity": 3}]
    response = _order(client, shop, token, address, [{"sku_id": sku, "quantity": 3}])
    assert response.status_code == 201, response.get_json()
    order = response.get_json()
    assert order["status"] == "pending_payment"
    assert order["items_total"] == 5997
    assert order["total"] == order["items_total"] + sum(a["amount"] for a in order["adjustments"])
    assert all(isinstance(v, int) for v in (order["total"], order["items_total"], order["lines"][0]["unit_price"]))
    assert order["address"]["phone"] == "139****5678"
    assert [e["kind"] for e in order["timeline"]] == ["placed"]
    assert _stock(app, shop, sku) == 7


def test_shipping_template_fee_is_an_itemised_adjustment(app):
    from mallow.db import db
    from mallow.shipping.models import ShippingTemplate
    from mallow.tenants.context import store_context

    shop = make_store(app)
    with store_context(shop.store_id, app=app):
        template = ShippingTemplate(
            name="默认",
            mode="pieces",
            free_over=10000,
            rules=[
                {"regions": ["浙江省"], "first": 1, "first_fee": 600, "extra": 1, "extra_fee": 100},
                {"regions": ["*"], "first": 1, "first_fee": 1000, "extra": 2, "extra_fee": 500},
            ],
        )
        db.session.add(template)
        db.session.commit()
        template_id = template.id
    [sku] = make_product(app, shop, price=1000, stock=50, shipping_template_id=template_id)
    client = app.test_client()
    token, address = make_shopper(client, shop)  # 浙江省
    order = _order(client, shop, token, address, [{"sku_id": sku, "quantity": 3}]).get_json()
    shipping = [a for a in order["adjustments"] if a["stage"] == "shipping"]
    assert shipping == [
        {
            "line_id": None,
            "stage": "shipping",
            "source": "core",
            "code": "shipping",
            "label": shipping[0]["label"],
            "amount": 800,
        }
    ]
    assert order["total"] == 3000 + 800
    quote = client.post(
        f"{shop.prefix}/api/checkout/quote",
        headers=bearer(token),
        json={"items": [{"sku_id": sku, "quantity": 4}], "province": "新疆维吾尔自治区"},
    ).get_json()
    assert quote["total"] == 4000 + 1000 + 2 * 500  # 3 extra pieces in steps of 2 → 2 steps
    free = client.post(
        f"{shop.prefix}/api/checkout/quote",
        headers=bearer(token),
        json={"items": [{"sku_id": sku, "quantity": 10}], "province": "浙江省"},
    ).get_json()
    assert free["total"] == 10000


def test_invalid_checkout_input_is_a_field_error_and_writes_nothing(app):
    shop = make_store(app)
    client = app.test_client()
    [sku] = make_product(app, shop, stock=5)
    token, address = make_shopper(client, shop)
    for items in (
        [],
        [{"sku_id": sku, "quantity": 0}],
        [{"sku_id": 999999, "quantity": 1}],
        "x",
        [{"sku_id": "1; DROP TABLE orders", "quantity": 1}],
    ):
        response = _order(client, shop, token, address, items)
        assert response.status_code == 422, (items, response.get_json())
    assert _order(client, shop, token, 999999, [{"sku_id": sku, "quantity": 1}]).status_code == 422
    assert client.get(f"{shop.prefix}/api/orders", headers=bearer(token)).get_json()["items"] == []
    assert _stock(app, shop, sku) == 5


def test_sold_out_is_clear_and_leaves_nothing_half_written(app):
    shop = make_store(app)
    client = app.test_client()
    plenty = make_product(app, shop, title="多", stock=10)[0]
    scarce = make_product(app, shop, title="少", stock=1)[0]
    token, address = make_shopper(client, shop)
    response = _order(
        client, shop, token, address, [{"sku_id": plenty, "quantity": 2}, {"sku_id": scarce, "quantity": 2}]
    )
    assert response.status_code == 409 and response.get_json()["error"] == "sold_out"
    assert _stock(app, shop, plenty) == 10 and _stock(app, shop, scarce) == 1
    assert client.get(f"{shop.prefix}/api/orders", headers=bearer(token)).get_json()["items"] == []


def test_idempotency_key_replays_the_first_order(app):
    shop = make_store(app)
    client = app.test_client()
    [sku] = make_product(app, shop, stock=10)
    token, address = make_shopper(client, shop)
    key = uuid.uuid4().hex
    first = _order(client, shop, token, address, [{"sku_id": sku, "quantity": 1}], key)
    second = _order(client, shop, token, address, [{"sku_id": sku, "quantity": 1}], key)
    assert first.status_code == 201 and second.status_code == 200
    assert first.get_json()["id"] == second.get_json()["id"]
    different = _order(client, shop, token, address, [{"sku_id": sku, "quantity": 2}], key)
    assert different.status_code == 422 and different.get_json()["error"] == "idempotency_conflict"
    assert _stock(app, shop, sku) == 9


def test_shoppers_see_only_their_own_orders(app):
    shop = make_store(app)
    client = app.test_client()
    [sku] = make_product(app, shop, stock=10)
    alice, alice_address = make_shopper(client, shop)
    bob, _ = make_shopper(client, shop)
    order = _order(client, shop, alice, alice_address, [{"sku_id": sku, "quantity": 1}]).get_json()
    assert client.get(f"{shop.prefix}/api/orders/{order['id']}", headers=bearer(bob)).status_code == 404
    assert client.post(f"{shop.prefix}/api/orders/{order['id']}/cancel", headers=bearer(bob)).status_code == 404
    other = make_store(app)
    merchant_b = merchant_token(client, other)
    assert client.get(f"{shop.prefix}/api/console/orders/{order['id']}", headers=bearer(merchant_b)).status_code == 403


def test_cancel_returns_stock_once_and_the_timeout_sweep_closes_unpaid_orders(app):
    from datetime import datetime, timedelta

    shop = make_store(app)
    client = app.test_client()
    [sku] = make_product(app, shop, stock=10)
    token, address = make_shopper(client, shop)
    order = _order(client, shop, token, address, [{"sku_id": sku, "quantity": 4}]).get_json()
    assert client.post(f"{shop.prefix}/api/orders/{order['id']}/cancel", headers=bearer(token)).status_code == 200
    assert client.post(f"{shop.prefix}/api/orders/{order['id']}/cancel", headers=bearer(token)).status_code == 409
    assert _stock(app, shop, sku) == 10

    late = _order(client, shop, token, address, [{"sku_id": sku, "quantity": 3}]).get_json()
    runner = app.extensions["mallow.jobs"]
    soon = (datetime.now(UTC) + timedelta(minutes=5)).isoformat()
    runner.enqueue("orders.sweep_store", store_id=shop.store_id, now=soon)
    runner.run_pending()
    assert (
        client.get(f"{shop.prefix}/api/orders/{late['id']}", headers=bearer(token)).get_json()["status"]
        == "pending_payment"
    )
    later = (datetime.now(UTC) + timedelta(minutes=31)).isoformat()
    runner.enqueue("orders.sweep_store", store_id=shop.store_id, now=later)
    runner.enqueue("orders.sweep_store", store_id=shop.store_id, now=later)  # a second run changes nothing
    runner.run_pending()
    closed = client.get(f"{shop.prefix}/api/orders/{late['id']}", headers=bearer(token)).get_json()
    assert closed["status"] == "cancelled"
    assert [e["kind"] for e in closed["timeline"]] == ["placed", "cancelled"]
    assert closed["timeline"][-1]["detail"] == {"reason": "payment_timeout"}
    assert _stock(app, shop, sku) == 10


def test_merchant_ships_only_paid_orders_and_exports_csv(app):
    shop = make_store(app)
    client = app.test_client()
    [sku] = make_product(app, shop, title="龙井", stock=10)
    token, address = make_shopper(client, shop)
    order = _order(client, shop, token, address, [{"sku_id": sku, "quantity": 1}]).get_json()
    merchant = merchant_token(client, shop)
    ship = client.post(
        f"{shop.prefix}/api/console/orders/{order['id']}/ship",
        headers=bearer(merchant),
        json={"carrier": "顺丰", "tracking_number": "SF1"},
    )
    assert ship.status_code == 409  # not paid yet
    missing = client.post(
        f"{shop.prefix}/api/console/orders/{order['id']}/ship",
        headers=bearer(merchant),
        json={"carrier": "", "tracking_number": ""},
    )
    assert missing.status_code == 422 and set(missing.get_json()["fields"]) == {"carrier", "tracking_number"}
    csv = client.get(f"{shop.prefix}/api/console/orders.csv", headers=bearer(merchant))
    assert csv.status_code == 200 and csv.mimetype == "text/csv"
    text = csv.get_data(as_text=True)
    assert order["number"] in text and "龙井" in text


def test_200_concurrent_orders_on_the_last_50_units(app):
    shop = make_store(app)
    [sku] = make_product(app, shop, stock=50)
    client = app.test_client()
    shoppers = [make_shopper(client, shop) for _ in range(40)]

    def buy(i):
        token, address = shoppers[i % len(shoppers)]
        response = app.test_client().post(
            f"{shop.prefix}/api/orders",
            headers=bearer(token),
            json={"items": [{"sku_id": sku, "quantity": 1}], "address_id": address},
        )
        return response.status_code, (response.get_json() or {}).get("error")

    with concurrent.futures.ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(buy, range(200)))
    assert sum(1 for status, _ in results if status == 201) == 50
    assert all(error == "sold_out" for status, error in results if status != 201), set(results)
    assert _stock(app, shop, sku) == 0


def test_the_same_idempotency_key_ten_times_at_once_makes_one_order(app):
    shop = make_store(app)
    [sku] = make_product(app, shop, stock=50)
    client = app.test_client()
    token, address = make_shopper(client, shop)
    key = uuid.uuid4().hex

    def send(_):
        response = _order(app.test_client(), shop, token, address, [{"sku_id": sku, "quantity": 1}], key)
        return response.status_code, response.get_json().get("id")

    with concurrent.futures.ThreadPoolExecutor(max_workers=10) as pool:
        results = list(pool.map(send, range(10)))
    assert {status for status, _ in results} <= {200, 201}
    assert len({order_id for _, order_id in results}) == 1
    assert _stock(app, shop, sku) == 49
