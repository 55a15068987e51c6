"""Enabled in store A, not in store B: B's prices, checkout, pages, API, menu, slots and jobs
show no trace of the flash sale; disabling it in A makes A the same."""

from __future__ import annotations

from mallow.testing import bearer, disable_plugin, login_merchant, make_product, make_shopper, make_store

from .conftest import buy, create_sale, enabled_store, in_request, in_store, make_shoppers, product


def _hooks(app, shop, name, **kwargs):
    from mallow.plugins.manager import hooks

    return in_request(app, shop, lambda: getattr(hooks(), name)(**kwargs))


def test_a_store_without_the_plugin_shows_no_trace(fs_app):
    a = enabled_store(fs_app)
    a_sku = product(fs_app, a)
    sale = create_sale(fs_app, a, [{"sku_id": a_sku, "sale_price": 100, "quota": 5}])
    b = make_store(fs_app)
    [b_sku] = make_product(fs_app, b, price=1000)
    client = fs_app.test_client()
    b_token, b_address = make_shopper(client, b)

    for path in (
        "/x/flashsale/",
        f"/x/flashsale/{sale['id']}",
        "/x/flashsale/static/countdown.js",
        "/api/x/flashsale/sales",
        f"/api/x/flashsale/sales/{sale['id']}",
    ):
        assert client.get(b.prefix + path).status_code == 404, path
    assert buy(client, b, sale["id"], b_token, b_address, b_sku).status_code == 404
    login_merchant(client, b)
    assert client.get(f"{b.prefix}/console/x/flashsale/").status_code == 404

    # the option means nothing in B: the regular price, no problem, no adjustment
    order = client.post(
        f"{b.prefix}/api/orders",
        headers=bearer(b_token),
        json={
            "items": [{"sku_id": b_sku, "quantity": 1}],
            "address_id": b_address,
            "options": {"flashsale": {"sale_id": sale["id"]}},
        },
    )
    assert order.status_code == 201 and order.get_json()["total"] == 1000
    assert [a["source"] for a in order.get_json()["adjustments"]] == []

    assert _hooks(fs_app, b, "mallow_console_menu", store=None) == []
    assert _hooks(fs_app, b, "mallow_template_slot", slot="product.after_price", context={"product": {"id": 1}}) == []
    from mallow.jobs.registry import execute

    assert execute(fs_app, "flashsale.sweep_store", {"store_id": b.store_id}) is None

    # in A all of it is there
    assert client.get(f"{a.prefix}/x/flashsale/{sale['id']}").status_code == 200
    [menu] = _hooks(fs_app, a, "mallow_console_menu", store=None)
    assert [entry["endpoint"] for entry in menu] == ["manage.index"]
    from mallow.catalog.models import Sku
    from mallow.db import db

    product_id = in_store(fs_app, a, lambda: db.session.get(Sku, a_sku).product_id)
    [slot] = _hooks(
        fs_app, a, "mallow_template_slot", slot="product.after_price", context={"product": {"id": product_id}}
    )
    assert f"/x/flashsale/{sale['id']}" in slot and "¥1.00" in slot


def test_disabling_the_plugin_removes_it_from_the_store(fs_app):
    shop = enabled_store(fs_app)
    sku = product(fs_app, shop, price=1000)
    sale = create_sale(fs_app, shop, [{"sku_id": sku, "sale_price": 100, "quota": 5}])
    [(token, address, _c)] = make_shoppers(fs_app, shop, 1)
    disable_plugin(fs_app, shop, "flashsale")
    client = fs_app.test_client()
    assert client.get(f"{shop.prefix}/x/flashsale/{sale['id']}").status_code == 404
    assert buy(client, shop, sale["id"], token, address, sku).status_code == 404
    order = client.post(
        f"{shop.prefix}/api/orders",
        headers=bearer(token),
        json={
            "items": [{"sku_id": sku, "quantity": 1}],
            "address_id": address,
            "options": {"flashsale": {"sale_id": sale["id"]}},
        },
    )
    assert order.status_code == 201 and order.get_json()["total"] == 1000
