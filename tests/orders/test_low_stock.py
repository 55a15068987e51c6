"""Taking stock below the store's threshold raises one notice for the merchant (via a job)."""

from mallow.testing import bearer, login_merchant, make_product, make_shopper, make_store, merchant_token


def test_low_stock_notice_after_an_order(app):
    shop = make_store(app)
    [sku] = make_product(app, shop, title="临安山核桃仁", stock=52)
    client = app.test_client()
    token, address = make_shopper(client, shop)
    runner = app.extensions["mallow.jobs"]
    for _ in range(2):  # 51, then 50: still at the threshold (50), no notice
        client.post(
            f"{shop.prefix}/api/orders",
            headers=bearer(token),
            json={"items": [{"sku_id": sku, "quantity": 1}], "address_id": address},
        )
    runner.run_pending()
    merchant = app.test_client()
    login_merchant(merchant, shop)
    assert 'data-kind="low_stock"' not in merchant.get(f"{shop.prefix}/console/").get_data(as_text=True)
    for _ in range(2):  # 49, 48: below → one notice, updated, not duplicated
        client.post(
            f"{shop.prefix}/api/orders",
            headers=bearer(token),
            json={"items": [{"sku_id": sku, "quantity": 1}], "address_id": address},
        )
        runner.run_pending()
    page = merchant.get(f"{shop.prefix}/console/").get_data(as_text=True)
    assert page.count('data-kind="low_stock"') == 1
    assert "临安山核桃仁" in page and "48" in page


def _closed_port() -> int:
    import socket

    with socket.socket() as probe:  # a port nobody listens on once this socket is closed
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _low_stock_notices(merchant, shop) -> int:
    return merchant.get(f"{shop.prefix}/console/").get_data(as_text=True).count('data-kind="low_stock"')


def test_redis_down_after_the_commit_keeps_the_order_and_the_sweep_raises_the_notice(app, caplog):
    from mallow.jobs.registry import execute
    from mallow.jobs.runners import RqRunner
    from mallow.orders.checkout import sku_stock
    from mallow.tenants.context import store_context

    shop = make_store(app)
    [sku] = make_product(app, shop, title="碧根果", stock=51)
    client = app.test_client()
    token, address = make_shopper(client, shop)
    merchant = app.test_client()
    login_merchant(merchant, shop)
    embedded = app.extensions["mallow.jobs"]
    app.extensions["mallow.jobs"] = RqRunner(app, f"redis://127.0.0.1:{_closed_port()}/0")  # REDIS_URL, Redis down
    try:
        placed = client.post(
            f"{shop.prefix}/api/orders",
            headers=bearer(token),
            json={"items": [{"sku_id": sku, "quantity": 2}], "address_id": address},
        )
    finally:
        app.extensions["mallow.jobs"].close()
        app.extensions["mallow.jobs"] = embedded
    assert placed.status_code == 201, placed.get_data(as_text=True)[:300]
    order = client.get(f"{shop.prefix}/api/orders/{placed.get_json()['id']}", headers=bearer(token)).get_json()
    assert order["status"] == "pending_payment" and order["lines"][0]["quantity"] == 2
    with store_context(shop.store_id, app=app):
        assert sku_stock(sku) == 49
    assert "could not enqueue job inventory.low_stock" in caplog.text
    assert _low_stock_notices(merchant, shop) == 0  # the job was lost with Redis

    assert execute(app, "inventory.sweep_store", {"store_id": shop.store_id}) == {"low": 1}
    page = merchant.get(f"{shop.prefix}/console/").get_data(as_text=True)
    assert page.count('data-kind="low_stock"') == 1 and "碧根果" in page and "49" in page
    execute(app, "inventory.sweep", {})  # again, over every store: still one notice
    assert _low_stock_notices(merchant, shop) == 1

    # Restocked: the next sweep resolves it.
    mtoken = merchant_token(client, shop)
    restocked = client.post(
        f"{shop.prefix}/api/console/skus/bulk", headers=bearer(mtoken), json={"items": [{"sku_id": sku, "stock": 200}]}
    )
    assert restocked.status_code == 200
    execute(app, "inventory.sweep_store", {"store_id": shop.store_id})
    assert _low_stock_notices(merchant, shop) == 0
