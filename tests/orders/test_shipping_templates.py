"""Merchants manage shipping templates; products without one use the store's default."""

from mallow.testing import bearer, make_product, make_shopper, make_store, merchant_token


def test_templates_through_the_api_and_the_store_default(app):
    shop = make_store(app)
    client = app.test_client()
    merchant = merchant_token(client, shop)
    base = f"{shop.prefix}/api/console/shipping-templates"
    bad = client.post(base, headers=bearer(merchant), json={"name": "坏", "rules": [{"first": 0, "first_fee": -1}]})
    assert bad.status_code == 422
    created = client.post(
        base,
        headers=bearer(merchant),
        json={
            "name": "江浙沪包邮",
            "mode": "pieces",
            "free_over": 9900,
            "is_default": True,
            "rules": [
                {"regions": ["浙江省", "上海市"], "first": 1, "first_fee": 0, "extra": 1, "extra_fee": 0},
                {"regions": ["*"], "first": 1, "first_fee": 1200, "extra": 1, "extra_fee": 300},
            ],
        },
    )
    assert created.status_code == 201 and created.get_json()["is_default"] is True
    [sku] = make_product(app, shop, price=1000, stock=50)  # names no template: the default applies
    token, _ = make_shopper(client, shop)

    def quote(province, n):
        return client.post(
            f"{shop.prefix}/api/checkout/quote",
            headers=bearer(token),
            json={"items": [{"sku_id": sku, "quantity": n}], "province": province},
        ).get_json()

    assert quote("浙江省", 2)["total"] == 2000
    assert quote("四川省", 2)["total"] == 2000 + 1200 + 300
    assert quote("四川省", 10)["total"] == 10000  # free at or above ¥99
    template_id = created.get_json()["id"]
    # a product that names another template uses it
    other = client.post(
        base, headers=bearer(merchant), json={"name": "重货", "rules": [{"first": 1, "first_fee": 5000}]}
    )
    product = client.get(f"{shop.prefix}/api/console/products", headers=bearer(merchant)).get_json()
    items = product.get("items") or product.get("products") or []
    product_id = items[0]["id"]
    patched = client.patch(
        f"{shop.prefix}/api/console/products/{product_id}",
        headers=bearer(merchant),
        json={"shipping_template_id": other.get_json()["id"]},
    )
    assert patched.status_code == 200, patched.get_json()
    assert quote("浙江省", 1)["total"] == 1000 + 5000
    wrong = client.patch(
        f"{shop.prefix}/api/console/products/{product_id}",
        headers=bearer(merchant),
        json={"shipping_template_id": 999999},
    )
    assert wrong.status_code == 422
    assert client.delete(f"{base}/{other.get_json()['id']}", headers=bearer(merchant)).status_code == 422  # in use
    assert client.delete(f"{base}/{template_id}", headers=bearer(merchant)).status_code == 204
    client.patch(
        f"{shop.prefix}/api/console/products/{product_id}",
        headers=bearer(merchant),
        json={"shipping_template_id": None},
    )
    assert quote("四川省", 2)["total"] == 2000  # no template and no default any more: free


def test_console_shipping_page_creates_a_template_in_fen(app):
    from mallow.testing import login_merchant, post_form

    shop = make_store(app)
    client = app.test_client()
    login_merchant(client, shop)
    page = f"{shop.prefix}/console/shipping"
    bad = post_form(client, page, {"name": "错", "first": "1", "first_fee": "1.234", "extra": "1", "extra_fee": "0"})
    assert bad.status_code == 422 and 'data-field="first_fee"' in bad.get_data(as_text=True)
    ok = post_form(
        client,
        page,
        {
            "name": "全国",
            "mode": "pieces",
            "first": "1",
            "first_fee": "8.00",
            "extra": "2",
            "extra_fee": "3.50",
            "regions": "新疆维吾尔自治区: 1, 20, 1, 10",
            "free_over": "99",
            "is_default": "1",
        },
    )
    assert ok.status_code == 303
    templates = client.get(
        f"{shop.prefix}/api/console/shipping-templates", headers=bearer(merchant_token(client, shop))
    ).get_json()["items"]
    assert templates[0]["free_over"] == 9900 and templates[0]["is_default"]
    assert templates[0]["rules"][0] == {
        "regions": ["新疆维吾尔自治区"],
        "first": 1,
        "first_fee": 2000,
        "extra": 1,
        "extra_fee": 1000,
    }
    assert templates[0]["rules"][1]["extra_fee"] == 350
