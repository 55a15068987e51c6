"""The shopper's 我的 → 消息 and the console's 站内信 pages, and bad input answered with 4xx."""

from __future__ import annotations

from mallow.testing import bearer, csrf_token, login_merchant, make_product, make_shopper, make_store, merchant_token
from mallow.testing.payments import pay_with_sandbox, place_order


def _shipped(app):
    shop = make_store(app)
    [sku] = make_product(app, shop, title="临安山核桃", price=1500)
    client = app.test_client()
    token, address = make_shopper(client, shop)
    order = place_order(client, shop, token, address, sku)
    pay_with_sandbox(client, shop, token, order["id"])
    client.post(
        f"{shop.prefix}/api/console/orders/{order['id']}/ship",
        headers=bearer(merchant_token(client, shop)),
        json={"carrier": "中通快递", "tracking_number": "ZT778899"},
    )
    return shop, client, token, order


def _signed_in_shopper(app, shop, order):
    """A browser session for the shopper of ``order`` (the cookie sessions of mallow.accounts)."""
    from mallow.accounts import sessions
    from mallow.accounts.models import Customer
    from mallow.db import db
    from mallow.orders.models import Order
    from mallow.tenants.context import store_context

    with store_context(shop.store_id, app=app):
        customer = db.session.get(Customer, db.session.get(Order, order["id"]).customer_id)
        secret = sessions.issue(customer, "cookie")
        db.session.commit()
    browser = app.test_client()
    with browser.session_transaction() as session:
        session[sessions.session_key("shopper", shop.store_id)] = secret
    return browser


def test_the_shoppers_messages_page_lists_opens_and_saves_settings(app):
    shop, client, token, order = _shipped(app)
    browser = _signed_in_shopper(app, shop, order)
    page = browser.get(f"{shop.prefix}/account/messages")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "订单已发货" in html and "ZT778899" in html and 'class="unread"' in html
    listed = client.get(f"{shop.prefix}/api/me/notifications", headers=bearer(token)).get_json()
    [item] = listed["items"]
    opened = browser.get(f"{shop.prefix}/account/messages/{item['id']}")
    assert opened.status_code == 200 and f"/orders/{order['id']}" in opened.get_data(as_text=True)
    assert client.get(f"{shop.prefix}/api/me/notifications", headers=bearer(token)).get_json()["unread"] == 0

    settings = f"{shop.prefix}/account/messages/settings"
    saved = browser.post(
        settings,
        data={"csrf_token": csrf_token(browser, settings), "language": "en", "channels.order_shipped": ["in_app"]},
    )
    assert saved.status_code == 303
    prefs = client.get(f"{shop.prefix}/api/me/notification-preferences", headers=bearer(token)).get_json()
    assert prefs["language"] == "en"
    assert next(e for e in prefs["events"] if e["event"] == "order_shipped")["channels"] == ["in_app"]
    refused = browser.post(
        settings, data={"csrf_token": csrf_token(browser, settings), "channels.order_shipped": ["fax"]}
    )
    assert refused.status_code == 422


def test_the_console_inbox_and_bad_input(app):
    shop, client, token, order = _shipped(app)
    merchant = app.test_client()
    login_merchant(merchant, shop)
    html = merchant.get(f"{shop.prefix}/console/notifications").get_data(as_text=True)
    assert "新订单已付款" in html and 'id="nav-unread">1<' in html
    prefs_page = f"{shop.prefix}/console/notifications/preferences"
    assert merchant.get(prefs_page).status_code == 200
    saved = merchant.post(
        prefs_page,
        data={
            "csrf_token": csrf_token(merchant, prefs_page),
            "language": "zh_CN",
            "channels.low_stock": ["in_app", "email"],
        },
    )
    assert saved.status_code == 303
    read_all = merchant.post(
        f"{shop.prefix}/console/notifications/read-all",
        data={"csrf_token": csrf_token(merchant, f"{shop.prefix}/console/notifications")},
    )
    assert read_all.status_code == 303
    assert 'id="nav-unread"' not in merchant.get(f"{shop.prefix}/console/notifications").get_data(as_text=True)

    # bad input: 4xx with the field, never a 500
    mtoken = merchant_token(client, shop)
    bad = client.get(f"{shop.prefix}/api/console/notifications?before=abc", headers=bearer(mtoken))
    assert bad.status_code == 400 and "before" in bad.get_json()["fields"]
    staff_item = client.get(f"{shop.prefix}/api/console/notifications", headers=bearer(mtoken)).get_json()["items"][0]
    # another recipient's message is not found (the shopper cannot read the staff's 站内信)
    assert (
        client.post(f"{shop.prefix}/api/me/notifications/{staff_item['id']}/read", headers=bearer(token)).status_code
        == 404
    )
    assert merchant.get(f"{shop.prefix}/console/notifications/999999").status_code == 404
    assert (
        client.put(
            f"{shop.prefix}/api/me/notification-preferences",
            headers=bearer(token),
            json={"events": {"order_paid": ["sms"]}},
        ).status_code
        == 422
    )
    assert (
        client.put(f"{shop.prefix}/api/me/notification-preferences", headers=bearer(token), data="x").status_code == 400
    )
    assert client.get(f"{shop.prefix}/api/me/notifications", headers=bearer(mtoken)).status_code in (401, 403)
