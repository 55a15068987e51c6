"""Taking stock below the store's threshold raises one notice for the merchant (via a job)."""
from mallow.testing import bearer, login_merchant, make_product, make_shopper, make_store


def test_low_stock_notice_after_an_order(app):
    shop = make_store(app)
    [sku] = make_product(app, shop, title="临安山核桃仁", stock=52)
    client = app.test_client()
    token, address = make_shopper(client, shop)
    runner = app.extensions["mallow.jobs"]
    for _ in range(2):  # 51, then 50: still at the threshold (50), no notice
        client.post(f"{shop.prefix}/api/orders", headers=bearer(token),
                    json={"items": [{"sku_id": sku, "quantity": 1}], "address_id": address})
    runner.run_pending()
    merchant = app.test_client()
    login_merchant(merchant, shop)
    assert 'data-kind="low_stock"' not in merchant.get(f"{shop.prefix}/console/").get_data(as_text=True)
    for _ in range(2):  # 49, 48: below → one notice, updated, not duplicated
        client.post(f"{shop.prefix}/api/orders", headers=bearer(token),
                    json={"items": [{"sku_id": sku, "quantity": 1}], "address_id": address})
        runner.run_pending()
    page = merchant.get(f"{shop.prefix}/console/").get_data(as_text=True)
    assert page.count('data-kind="low_stock"') == 1
    assert "临安山核桃仁" in page and "48" in page
