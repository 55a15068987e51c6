"""The merchant's side: sale CRUD in the console pages and the console API, live sold/remaining,
validation against the SKU's price and stock, staff of the store only."""

from __future__ import annotations

from datetime import timedelta

from mallow.testing import bearer, login_merchant, make_store, merchant_token, post_form

from .conftest import buy, create_sale, enabled_store, make_shoppers, now, product, sale_item


def _local(moment):
    from zoneinfo import ZoneInfo

    return moment.astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%dT%H:%M")


def test_create_a_sale_in_the_console_and_watch_it_sell(fs_app):
    shop = enabled_store(fs_app)
    sku = product(fs_app, shop, price=1990, stock=30)
    client = fs_app.test_client()
    login_merchant(client, shop)
    base = f"{shop.prefix}/console/x/flashsale"
    assert client.get(f"{base}/").status_code == 200

    form = {
        "title": "限时秒杀",
        "starts_at": _local(now() - timedelta(minutes=5)),
        "ends_at": _local(now() + timedelta(hours=2)),
        "per_order_limit": "1",
        "per_shopper_limit": "1",
        "per_day_limit": "0",
        "published": "1",
        "items-0-sku_id": str(sku),
        "items-0-price": "9.90",
        "items-0-quota": "20",
    }
    created = post_form(client, f"{base}/new", form)
    assert created.status_code == 303, created.get_data(as_text=True)[:2000]
    page = client.get(created.headers["Location"])
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "限时秒杀" in html and 'data-fs="remaining">20<' in html
    sale_id = int(created.headers["Location"].rstrip("/").rsplit("/", 1)[1])

    [(token, address, _c)] = make_shoppers(fs_app, shop, 1)
    assert buy(fs_app.test_client(), shop, sale_id, token, address, sku).status_code == 201
    stats = client.get(f"{base}/{sale_id}/stats").get_json()
    assert stats["items"][0]["sold"] == 1 and stats["items"][0]["remaining"] == 19 and stats["items"][0]["paid"] == 0
    assert stats["items"][0]["sale_price"] == 990
    listing = client.get(f"{base}/").get_data(as_text=True)
    assert 'data-fs="sold">1<' in listing and 'data-fs="remaining">19<' in listing
    assert client.get(f"{base}/static/console.js").status_code == 200


def test_console_form_refuses_a_price_above_regular_and_a_quota_above_stock(fs_app):
    shop = enabled_store(fs_app)
    sku = product(fs_app, shop, price=1000, stock=5)
    client = fs_app.test_client()
    login_merchant(client, shop)
    base = f"{shop.prefix}/console/x/flashsale"
    form = {
        "title": "错误的秒杀",
        "starts_at": _local(now()),
        "ends_at": _local(now() + timedelta(hours=1)),
        "items-0-sku_id": str(sku),
        "items-0-price": "10.00",
        "items-0-quota": "6",
    }
    refused = post_form(client, f"{base}/new", form)
    assert refused.status_code == 422
    assert 'data-field="items.0"' in refused.get_data(as_text=True)
    money = post_form(client, f"{base}/new", dict(form, **{"items-0-price": "abc", "items-0-quota": "5"}))
    assert money.status_code == 422


def test_console_api_crud_and_its_rules(fs_app):
    shop = enabled_store(fs_app)
    sku = product(fs_app, shop, price=1000, stock=10)
    client = fs_app.test_client()
    token = merchant_token(client, shop)
    base = f"{shop.prefix}/api/console/x/flashsale/sales"
    body = {
        "title": "API 秒杀",
        "starts_at": now().isoformat(),
        "ends_at": (now() + timedelta(hours=1)).isoformat(),
        "published": True,
        "items": [{"sku_id": sku, "sale_price": 500, "quota": 11}],
    }
    too_many = client.post(base, headers=bearer(token), json=body)
    assert too_many.status_code == 422 and "items.0" in too_many.get_json()["fields"]
    backwards = client.post(
        base, headers=bearer(token), json=dict(body, ends_at=(now() - timedelta(hours=1)).isoformat())
    )
    assert "ends_at" in backwards.get_json()["fields"]
    body["items"][0]["quota"] = 4
    created = client.post(base, headers=bearer(token), json=body)
    assert created.status_code == 201
    sale = created.get_json()
    assert sale["state"] == "live" and sale["items"][0]["remaining"] == 4

    [(shopper, address, _c)] = make_shoppers(fs_app, shop, 1)
    assert buy(fs_app.test_client(), shop, sale["id"], shopper, address, sku).status_code == 201
    # the quota can grow, or shrink down to what has sold, never below
    below = client.put(
        f"{base}/{sale['id']}",
        headers=bearer(token),
        json=dict(body, items=[{"sku_id": sku, "sale_price": 500, "quota": 0}]),
    )
    assert below.status_code == 422
    grown = client.put(
        f"{base}/{sale['id']}",
        headers=bearer(token),
        json=dict(body, items=[{"sku_id": sku, "sale_price": 450, "quota": 6}]),
    )
    assert grown.status_code == 200, grown.get_json()
    assert grown.get_json()["items"][0]["sale_price"] == 450
    assert sale_item(fs_app, shop, sale["id"], sku) == {"quota": 6, "remaining": 5}
    # a sale with orders is ended, not deleted
    assert client.delete(f"{base}/{sale['id']}", headers=bearer(token)).status_code == 409
    ended = client.post(f"{base}/{sale['id']}/end", headers=bearer(token))
    assert ended.get_json()["state"] == "ended"
    late = buy(fs_app.test_client(), shop, sale["id"], shopper, address, sku)
    assert late.status_code == 409 and late.get_json()["error"] == "ended"
    # a sale without orders can go
    spare = create_sale(fs_app, shop, [{"sku_id": sku, "sale_price": 500, "quota": 1}], published=False)
    assert client.delete(f"{base}/{spare['id']}", headers=bearer(token)).status_code == 204
    assert client.get(f"{base}/{spare['id']}", headers=bearer(token)).status_code == 404
    assert [s["id"] for s in client.get(base, headers=bearer(token)).get_json()["items"]] == [sale["id"]]


def test_only_the_stores_staff(fs_app):
    shop = enabled_store(fs_app)
    sku = product(fs_app, shop)
    sale = create_sale(fs_app, shop, [{"sku_id": sku, "sale_price": 500, "quota": 1}])
    other = make_store(fs_app)
    client = fs_app.test_client()
    stranger = merchant_token(client, other)
    assert (
        client.get(f"{shop.prefix}/api/console/x/flashsale/sales/{sale['id']}", headers=bearer(stranger)).status_code
        == 403
    )
    assert client.get(f"{shop.prefix}/api/console/x/flashsale/sales").status_code == 401
    [(shopper, _a, _c)] = make_shoppers(fs_app, shop, 1)
    assert client.get(f"{shop.prefix}/api/console/x/flashsale/sales", headers=bearer(shopper)).status_code == 401
    login_merchant(client, other)
    assert client.get(f"{shop.prefix}/console/x/flashsale/").status_code == 403


def test_console_pages_end_edit_and_delete(fs_app):
    shop = enabled_store(fs_app)
    sku = product(fs_app, shop, price=1000, stock=10)
    sale = create_sale(fs_app, shop, [{"sku_id": sku, "sale_price": 500, "quota": 3}])
    [(token, address, _c)] = make_shoppers(fs_app, shop, 1)
    assert buy(fs_app.test_client(), shop, sale["id"], token, address, sku).status_code == 201
    client = fs_app.test_client()
    login_merchant(client, shop)
    base = f"{shop.prefix}/console/x/flashsale/{sale['id']}"
    edit = client.get(f"{base}/edit").get_data(as_text=True)
    assert 'value="5.00"' in edit and 'name="items-0-quota" value="3"' in edit
    refused = post_form(client, f"{base}/delete", {}, form_path=base)
    assert refused.status_code == 409 and 'role="alert"' in refused.get_data(as_text=True)
    assert post_form(client, f"{base}/end", {}, form_path=base).status_code == 303
    assert 'data-fs="state">' in client.get(base).get_data(as_text=True)
    assert client.get(f"{shop.prefix}/api/x/flashsale/sales/{sale['id']}").get_json()["state"] == "ended"
