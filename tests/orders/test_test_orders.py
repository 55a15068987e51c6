"""An order paid through the sandbox is a test order, marked as one wherever orders are shown (the
API's order JSON, the console's order list and page, the shopper's order page and list, the CSV
export), and never counted in sales; an order paid with WeChat Pay is a real one."""

from __future__ import annotations

import csv
import io
import re
import uuid

import pytest

from mallow.testing.payments import (
    configure_wechatpay,
    pay_with_sandbox,
    pay_with_wechatpay,
    place_order,
    wechatpay_server,
)
from mallow.testing.wechatpay import make_fake_merchant
from mallow.testing import (
    PASSWORD,
    bearer,
    login_merchant,
    make_product,
    make_shopper,
    make_store,
    merchant_token,
    post_form,
)


@pytest.fixture(scope="module")
def merchant():
    return make_fake_merchant()


def _rows(html: str) -> dict[int, str]:
    """``{order id: the row's HTML}`` of an order table or list."""
    return {
        int(order_id): body
        for order_id, body in re.findall(r'<(?:tr|li)[^>]*data-order-id="(\d+)"[^>]*>(.*?)</(?:tr|li)>', html, re.S)
    }


def test_a_sandbox_order_is_a_test_order_everywhere_and_never_counts_in_sales(app, merchant):
    # given: a store selling walnuts and tea, its shopper
    shop = make_store(app)
    [walnuts] = make_product(app, shop, title="临安山核桃", price=3000, stock=20)
    [tea] = make_product(app, shop, title="西湖龙井", price=5000, stock=20)
    api = app.test_client()
    login = f"buyer-{uuid.uuid4().hex[:10]}@example.com"
    token, address = make_shopper(api, shop, login)

    # when: three packs of tea are paid on the sandbox cashier; then the store sets up WeChat Pay
    # and one bag of walnuts is paid for real
    test = place_order(api, shop, token, address, tea, 3)
    pay_with_sandbox(api, shop, token, test["id"])
    configure_wechatpay(app, shop, merchant)
    real = place_order(api, shop, token, address, walnuts, 1)
    with wechatpay_server(app, merchant) as server:
        pay_with_wechatpay(api, shop, token, real["id"], server)

    # then: the order JSON of the shopper's and the console's API says which is a test order
    mine = api.get(f"{shop.prefix}/api/orders", headers=bearer(token)).get_json()["items"]
    assert {o["id"]: (o["status"], o["test"]) for o in mine} == {
        test["id"]: ("paid", True),
        real["id"]: ("paid", False),
    }
    mtoken = merchant_token(api, shop)
    for order, expected in ((test, True), (real, False)):
        staff_view = api.get(f"{shop.prefix}/api/console/orders/{order['id']}", headers=bearer(mtoken)).get_json()
        assert staff_view["test"] is expected
        paid = next(e for e in staff_view["timeline"] if e["kind"] == "paid")
        assert paid["detail"]["provider"] == ("sandbox" if expected else "wechatpay")

    # the console's order list and order page carry the badge
    console = app.test_client()
    login_merchant(console, shop)
    rows = _rows(console.get(f"{shop.prefix}/console/orders?lang=en").get_data(as_text=True))
    assert "Test order" in rows[test["id"]] and "data-test-order" in rows[test["id"]]
    assert "Test order" not in rows[real["id"]]
    assert 'id="test-order"' in console.get(f"{shop.prefix}/console/orders/{test['id']}").get_data(as_text=True)
    assert 'id="test-order"' not in console.get(f"{shop.prefix}/console/orders/{real['id']}").get_data(as_text=True)

    # so do the shopper's order page and order list
    browser = app.test_client()
    assert post_form(browser, f"{shop.prefix}/login", {"login": login, "password": PASSWORD}).status_code == 303
    assert 'id="test-order"' in browser.get(f"{shop.prefix}/orders/{test['id']}").get_data(as_text=True)
    assert 'id="test-order"' not in browser.get(f"{shop.prefix}/orders/{real['id']}").get_data(as_text=True)
    listed = _rows(browser.get(f"{shop.prefix}/orders?lang=en").get_data(as_text=True))
    assert "Test order" in listed[test["id"]] and "Test order" not in listed[real["id"]]

    # the CSV export has a test column
    exported = api.get(f"{shop.prefix}/api/console/orders.csv", headers=bearer(mtoken)).get_data(as_text=True)
    header, *lines = list(csv.reader(io.StringIO(exported.lstrip("\ufeff"))))
    flags = {line[header.index("number")]: line[header.index("test")] for line in lines}
    assert flags == {test["number"]: "1", real["number"]: "0"}

    # and only the real order counts in sales: the walnuts are the best seller
    best = api.get(f"{shop.prefix}/api/products?sort=sales").get_json()["items"]
    assert [(p["title"], p["sales"]) for p in best] == [("临安山核桃", 1), ("西湖龙井", 0)]
