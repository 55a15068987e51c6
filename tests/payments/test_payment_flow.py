"""End to end through the HTTP API, on SQLite and PostgreSQL: products → cart → order → pay (the
sandbox cashier; WeChat Pay with a notification signed by test keys) → ship → confirm → after-sales
refund → approved → refunded → order closed. Plus the WeChat Pay settings and web authorisation."""
from __future__ import annotations

import sqlalchemy as sa

from mallow.payments.testing import (configure_wechatpay, pay_with_sandbox, place_order, post_notification,
                                     wechatpay_server, wechatpay_settings)
from mallow.payments.wechatpay.testing import make_fake_merchant, verify_pay_sign
from mallow.testing import (bearer, image_upload, make_product, make_shopper, make_store, merchant_token, png_bytes,
                            post_form, register_shopper)


def _rows(app, shop, model, **filters):
    from mallow.db import db
    from mallow.tenants.context import store_context

    with store_context(shop.store_id, app=app):
        query = sa.select(model).filter_by(**filters).order_by(model.id if hasattr(model, "id") else sa.true())
        rows = db.session.execute(query).scalars().all()
        for row in rows:
            db.session.expunge(row)
        return rows


def _check_money(order: dict) -> None:
    """Integer fen everywhere; the total is the items plus every itemised adjustment."""
    for key in ("total", "items_total", "refunded_total"):
        assert type(order[key]) is int, key
    assert all(type(a["amount"]) is int for a in order["adjustments"])
    assert all(type(line["unit_price"]) is int and type(line["total"]) is int for line in order["lines"])
    assert order["total"] == order["items_total"] + sum(a["amount"] for a in order["adjustments"])


def _ship_and_confirm(client, shop, token, mtoken, order_id) -> dict:
    shipped = client.post(f"{shop.prefix}/api/console/orders/{order_id}/ship", headers=bearer(mtoken),
                          json={"carrier": "顺丰速运", "tracking_number": "SF1234567890"})
    assert shipped.status_code == 200, shipped.get_json()
    assert shipped.get_json()["status"] == "shipped"
    confirmed = client.post(f"{shop.prefix}/api/orders/{order_id}/confirm", headers=bearer(token))
    assert confirmed.status_code == 200, confirmed.get_json()
    assert confirmed.get_json()["status"] == "delivered"
    return confirmed.get_json()


def test_sandbox_end_to_end(app):
    from mallow.payments.models import PaymentNotification, Refund

    shop = make_store(app)
    client = app.test_client()
    [sku] = make_product(app, shop, title="临安山核桃仁 500g", price=5990, stock=20)
    token, address = make_shopper(client, shop)
    added = client.post(f"{shop.prefix}/api/cart/items", headers=bearer(token), json={"sku_id": sku, "quantity": 2})
    assert added.status_code == 201
    order = place_order(client, shop, token, address, sku, 2)
    _check_money(order)
    assert order["status"] == "pending_payment"

    started = client.post(f"{shop.prefix}/api/orders/{order['id']}/pay", headers=bearer(token),
                          json={"provider": "sandbox"})
    assert started.status_code == 200, started.get_json()
    body = started.get_json()
    assert body["pay"]["kind"] == "redirect" and body["payment"]["amount"] == order["total"]
    cashier = body["pay"]["url"]
    page = client.get(cashier)
    assert page.status_code == 200 and 'id="pay"' in page.get_data(as_text=True)
    # Opening the cashier, or a POST without the page's CSRF token, pays nothing.
    assert client.post(cashier, data={"action": "pay"}).status_code == 400
    assert client.get(cashier.split("?")[0]).status_code == 404  # no capability token, no cashier
    assert client.get(f"{shop.prefix}/api/orders/{order['id']}", headers=bearer(token)).get_json()["status"] == \
        "pending_payment"

    pressed = post_form(client, cashier, {"action": "pay", "token": cashier.split("token=")[1]})
    assert pressed.status_code == 303
    paid = client.get(f"{shop.prefix}/api/orders/{order['id']}", headers=bearer(token)).get_json()
    assert paid["status"] == "paid"
    paid_event = next(e for e in paid["timeline"] if e["kind"] == "paid")
    assert paid_event["detail"]["provider"] == "sandbox" and paid_event["detail"]["amount"] == order["total"]
    [log] = _rows(app, shop, PaymentNotification)
    assert log.accepted and log.provider == "sandbox" and log.out_trade_no == body["payment"]["out_trade_no"]
    # Pressing Pay again is a replay: nothing more happens.
    assert 'id="pay"' not in client.get(cashier).get_data(as_text=True)

    mtoken = merchant_token(client, shop)
    _ship_and_confirm(client, shop, token, mtoken, order["id"])

    requested = client.post(f"{shop.prefix}/api/orders/{order['id']}/aftersales", headers=bearer(token),
                            data={"kind": "refund_only", "reason": "核桃有哈喇味", "photos": [image_upload(png_bytes())]},
                            content_type="multipart/form-data")
    assert requested.status_code == 201, requested.get_json()
    aftersale = requested.get_json()
    assert aftersale["status"] == "requested" and aftersale["amount"] == order["total"] and aftersale["photos"] == 1

    decided = client.post(f"{shop.prefix}/api/console/aftersales/{aftersale['id']}/decision", headers=bearer(mtoken),
                          json={"approve": True})
    assert decided.status_code == 200, decided.get_json()
    assert decided.get_json()["status"] == "refunded"  # the sandbox refunds at once

    closed = client.get(f"{shop.prefix}/api/orders/{order['id']}", headers=bearer(token)).get_json()
    _check_money(closed)
    assert closed["status"] == "closed" and closed["refunded_total"] == closed["total"]
    kinds = [e["kind"] for e in closed["timeline"]]
    for kind in ("placed", "payment_started", "paid", "shipped", "delivered", "aftersale_requested",
                 "aftersale_approved", "refund_requested", "refunded", "closed", "aftersale_refunded"):
        assert kind in kinds, (kind, kinds)
    [refund] = _rows(app, shop, Refund)
    assert refund.status == "succeeded" and refund.amount == order["total"] and type(refund.amount) is int
    payments = client.get(f"{shop.prefix}/api/console/orders/{order['id']}/payments", headers=bearer(mtoken)).get_json()
    assert [p["status"] for p in payments["payments"]] == ["paid"]
    assert sum(r["amount"] for r in payments["refunds"] if r["status"] == "succeeded") == payments["refunded_total"]


def test_wechatpay_end_to_end(app, rsa_keys):
    from mallow.payments.models import Payment, PaymentNotification

    shop = make_store(app)
    client = app.test_client()
    merchant = make_fake_merchant(merchant_key=rsa_keys[0], platform_key=rsa_keys[1])
    mtoken = merchant_token(client, shop)
    saved = client.put(f"{shop.prefix}/api/console/payments/wechatpay", headers=bearer(mtoken),
                       json=wechatpay_settings(merchant))
    assert saved.status_code == 200, saved.get_json()
    assert saved.get_json()["configured"] and saved.get_json()["notify_url"].startswith("https://")
    [sku] = make_product(app, shop, title="纸皮山核桃", price=3850, stock=10)
    token, address = make_shopper(client, shop)

    with wechatpay_server(app, merchant) as server:
        order = place_order(client, shop, token, address, sku, 3)
        started = client.post(f"{shop.prefix}/api/orders/{order['id']}/pay", headers=bearer(token),
                              json={"provider": "wechatpay"})
        assert started.status_code == 200, started.get_json()
        pay = started.get_json()
        assert pay["pay"]["kind"] == "h5" and pay["pay"]["url"].startswith("https://wx.tenpay.com/")
        out_trade_no = pay["payment"]["out_trade_no"]
        remote = server.order(out_trade_no)
        assert remote.total_fen == order["total"]
        assert remote.notify_url.endswith(f"/s/{shop.slug}/api/payments/wechatpay/notify")
        # Asking again reuses the attempt and its out_trade_no.
        again = client.post(f"{shop.prefix}/api/orders/{order['id']}/pay", headers=bearer(token),
                            json={"provider": "wechatpay"}).get_json()
        assert again["payment"]["out_trade_no"] == out_trade_no

        server.mark_paid(out_trade_no)
        note = server.payment_notification(out_trade_no)
        answer = post_notification(client, shop, "wechatpay", note)
        assert answer.status_code == 204 and answer.get_data() == b""
        paid = client.get(f"{shop.prefix}/api/orders/{order['id']}", headers=bearer(token)).get_json()
        assert paid["status"] == "paid"
        replay = post_notification(client, shop, "wechatpay", note)
        assert replay.status_code == 204
        again = client.get(f"{shop.prefix}/api/orders/{order['id']}", headers=bearer(token)).get_json()
        assert again["timeline"] == paid["timeline"]
        logs = _rows(app, shop, PaymentNotification)
        assert [(n.accepted, n.reason) for n in logs] == [(True, ""), (True, "duplicate")]
        [payment] = _rows(app, shop, Payment)
        assert payment.status == "paid" and payment.transaction_id == server.order(out_trade_no).transaction_id

        _ship_and_confirm(client, shop, token, mtoken, order["id"])
        requested = client.post(f"{shop.prefix}/api/orders/{order['id']}/aftersales", headers=bearer(token),
                                json={"kind": "refund_only", "reason": "不想要了"})
        assert requested.status_code == 201, requested.get_json()
        decided = client.post(f"{shop.prefix}/api/console/aftersales/{requested.get_json()['id']}/decision",
                              headers=bearer(mtoken), json={"approve": True}).get_json()
        assert decided["status"] == "approved"
        [refund] = decided["refunds"]
        assert refund["status"] == "processing" and refund["amount"] == order["total"]
        assert server.refund_record(refund["out_refund_no"]).refund_fen == order["total"]

        server.complete_refund(refund["out_refund_no"])
        answer = post_notification(client, shop, "wechatpay", server.refund_notification(refund["out_refund_no"]))
        assert answer.status_code == 204
        closed = client.get(f"{shop.prefix}/api/orders/{order['id']}", headers=bearer(token)).get_json()
        _check_money(closed)
        assert closed["status"] == "closed" and closed["refunded_total"] == closed["total"] == 3 * 3850
        aftersale = client.get(f"{shop.prefix}/api/aftersales/{decided['id']}", headers=bearer(token)).get_json()
        assert aftersale["status"] == "refunded" and aftersale["refunds"][0]["status"] == "succeeded"


def test_wechatpay_settings_are_owner_only_and_secrets_never_come_back(app, rsa_keys):
    shop = make_store(app)
    client = app.test_client()
    merchant = make_fake_merchant(merchant_key=rsa_keys[0], platform_key=rsa_keys[1])
    mtoken = merchant_token(client, shop)
    url = f"{shop.prefix}/api/console/payments/wechatpay"
    assert client.get(url, headers=bearer(mtoken)).get_json()["configured"] is False

    bad = client.put(url, headers=bearer(mtoken), json=wechatpay_settings(merchant) | {"apiv3_key": "short"})
    assert bad.status_code == 422 and "apiv3_key" in bad.get_json()["fields"]
    broken_pem = client.put(url, headers=bearer(mtoken),
                            json=wechatpay_settings(merchant) | {"merchant_private_key": "-----BEGIN PRIVATE KEY-----x"})
    assert broken_pem.status_code == 422 and "merchant_private_key" in broken_pem.get_json()["fields"]

    saved = client.put(url, headers=bearer(mtoken), json=wechatpay_settings(merchant))
    assert saved.status_code == 200
    text = client.get(url, headers=bearer(mtoken)).get_data(as_text=True)
    assert merchant.keys.apiv3_key not in text and "PRIVATE KEY" not in text
    assert '"has_apiv3_key":true' in text.replace(" ", "") and merchant.keys.mchid in text
    # A change of the mchid alone keeps the stored secrets.
    kept = client.put(url, headers=bearer(mtoken), json={"mchid": "1900000999"}).get_json()
    assert kept["mchid"] == "1900000999" and kept["has_merchant_private_key"] and kept["has_apiv3_key"]

    from mallow.db import db
    from mallow.payments.models import PaymentConfig
    from mallow.tenants.context import store_context

    with store_context(shop.store_id, app=app):
        row = db.session.get(PaymentConfig, "wechatpay")
        assert merchant.keys.apiv3_key not in row.secrets_cipher and "PRIVATE" not in row.secrets_cipher

    # The console page: the owner sees it without secrets; another store's merchant cannot.
    from mallow.testing import login_merchant

    browser = app.test_client()
    login_merchant(browser, shop)
    page = browser.get(f"{shop.prefix}/console/payments/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "1900000999" in html and merchant.keys.apiv3_key not in html and "PRIVATE KEY" not in html
    other = make_store(app)
    assert client.get(f"{other.prefix}/api/console/payments/wechatpay", headers=bearer(mtoken)).status_code in (401, 403)
    outsider = app.test_client()
    login_merchant(outsider, other)
    assert outsider.get(f"{shop.prefix}/console/payments/").status_code == 403


def test_console_form_saves_keys_and_turns_the_sandbox_off(app, rsa_keys):
    from mallow.testing import login_merchant

    shop = make_store(app)
    merchant = make_fake_merchant(merchant_key=rsa_keys[0], platform_key=rsa_keys[1])
    browser = app.test_client()
    login_merchant(browser, shop)
    page = f"{shop.prefix}/console/payments/"
    [(serial, pem)] = merchant.keys.platform_public_keys.items()
    form = {"mchid": merchant.keys.mchid, "appid": merchant.keys.appid,
            "merchant_certificate_serial": merchant.keys.merchant_certificate_serial,
            "merchant_private_key": merchant.keys.merchant_private_key_pem, "apiv3_key": "too-short",
            "platform_serial": serial, "platform_public_key": pem, "enabled": "1"}
    refused = post_form(browser, page, form)
    assert refused.status_code == 422 and "has-error" in refused.get_data(as_text=True)
    assert merchant.keys.merchant_private_key_pem not in refused.get_data(as_text=True)
    assert post_form(browser, page, form | {"apiv3_key": merchant.keys.apiv3_key}).status_code == 303
    assert "WeChat Pay is set up" in browser.get(page + "?lang=en").get_data(as_text=True)

    client = app.test_client()
    [sku] = make_product(app, shop, price=100, stock=5)
    token, address = make_shopper(client, shop)
    order = place_order(client, shop, token, address, sku)
    assert post_form(browser, f"{shop.prefix}/console/payments/sandbox", {"enabled": "0"}, form_path=page).status_code == 303
    refused = client.post(f"{shop.prefix}/api/orders/{order['id']}/pay", headers=bearer(token), json={"provider": "sandbox"})
    assert refused.status_code == 422 and refused.get_json()["error"] == "provider_unavailable"


def test_wechat_web_authorisation_links_the_openid_and_jsapi_payments_carry_it(app, rsa_keys):
    from mallow.accounts.models import Customer
    from mallow.payments.wechat_oauth import FakeWeChatOAuth

    shop = make_store(app)
    merchant = make_fake_merchant(merchant_key=rsa_keys[0], platform_key=rsa_keys[1])
    configure_wechatpay(app, shop, merchant)
    [sku] = make_product(app, shop, price=1288, stock=5)
    fake = FakeWeChatOAuth(appid=merchant.keys.appid)
    app.config["WECHAT_OAUTH"] = fake
    try:
        browser = app.test_client()
        login = register_shopper(browser, shop)
        assert browser.get(f"{shop.prefix}/wechat/callback?code=x&state=forged").status_code == 400
        fake.openid_for_next = "o-jsapi-payer-0001"
        to_wechat = browser.get(f"{shop.prefix}/wechat/authorize")
        assert to_wechat.status_code == 302
        callback = to_wechat.headers["Location"]
        assert "/wechat/callback?" in callback and "code=" in callback and "state=" in callback
        back = browser.get(callback)
        assert back.status_code == 303
        assert browser.get(callback).status_code == 400  # a state is good once
        [customer] = _rows(app, shop, Customer, wechat_openid="o-jsapi-payer-0001")

        # The same WeChat account cannot be linked to a second shopper.
        other = app.test_client()
        register_shopper(other, shop)
        fake.openid_for_next = "o-jsapi-payer-0001"
        assert other.get(other.get(f"{shop.prefix}/wechat/authorize").headers["Location"]).status_code == 409
    finally:
        app.config.pop("WECHAT_OAUTH", None)

    client = app.test_client()
    token = client.post(f"{shop.prefix}/api/tokens", json={"login": login, "password": "test-pass-123"}).get_json()["token"]
    address = client.post(f"{shop.prefix}/api/addresses", headers=bearer(token), json={
        "recipient": "王五", "phone": "13700001111", "province": "浙江省", "city": "杭州市", "detail": "天目山路 1 号"}
    ).get_json()["id"]
    with wechatpay_server(app, merchant) as server:
        order = place_order(client, shop, token, address, sku)
        pay = client.post(f"{shop.prefix}/api/orders/{order['id']}/pay", headers=bearer(token),
                          json={"provider": "wechatpay"}).get_json()
        assert pay["pay"]["kind"] == "jsapi"
        params = pay["pay"]["params"]
        assert params["package"].startswith("prepay_id=") and params["appId"] == merchant.keys.appid
        assert verify_pay_sign(params, merchant.merchant_public_key)
        assert server.order(pay["payment"]["out_trade_no"]).payer_openid == "o-jsapi-payer-0001"
        # The browser's "ok" from wx.requestPayment proves nothing: the order waits for WeChat Pay.
        status = client.get(f"{shop.prefix}/api/orders/{order['id']}", headers=bearer(token)).get_json()["status"]
        assert status == "pending_payment"
        # Switching to H5 closes the JSAPI attempt and opens another, with a new out_trade_no.
        h5 = client.post(f"{shop.prefix}/api/orders/{order['id']}/pay", headers=bearer(token),
                         json={"provider": "wechatpay", "scene": "h5"}).get_json()
        assert h5["pay"]["kind"] == "h5" and h5["payment"]["out_trade_no"] != pay["payment"]["out_trade_no"]
        assert server.order(pay["payment"]["out_trade_no"]).trade_state == "CLOSED"


def test_pay_order_refuses_what_cannot_be_paid(app):
    shop = make_store(app)
    client = app.test_client()
    [sku] = make_product(app, shop, price=500, stock=5)
    token, address = make_shopper(client, shop)
    order = place_order(client, shop, token, address, sku)
    url = f"{shop.prefix}/api/orders/{order['id']}/pay"
    not_configured = client.post(url, headers=bearer(token), json={"provider": "wechatpay"})
    assert not_configured.status_code == 422 and not_configured.get_json()["error"] == "provider_unavailable"
    assert client.post(url, headers=bearer(token), json={"provider": "cash"}).status_code == 422
    assert client.post(url, json={"provider": "sandbox"}).status_code == 401
    other_token, _ = make_shopper(client, shop)
    assert client.post(url, headers=bearer(other_token), json={"provider": "sandbox"}).status_code == 404
    pay_with_sandbox(client, shop, token, order["id"])
    again = client.post(url, headers=bearer(token), json={"provider": "sandbox"})
    assert again.status_code == 409 and again.get_json()["error"] == "not_payable"


def test_a_zero_total_order_needs_no_provider(app):
    shop = make_store(app)
    client = app.test_client()
    [sku] = make_product(app, shop, title="试吃装", price=0, stock=5)
    token, address = make_shopper(client, shop)
    order = place_order(client, shop, token, address, sku)
    assert order["total"] == 0
    paid = client.post(f"{shop.prefix}/api/orders/{order['id']}/pay", headers=bearer(token),
                       json={"provider": "sandbox"}).get_json()
    assert paid["pay"] == {"kind": "paid"} and paid["payment"] is None and paid["order"]["status"] == "paid"
    # Nothing was paid, so nothing can be refunded.
    refused = client.post(f"{shop.prefix}/api/orders/{order['id']}/aftersales", headers=bearer(token),
                          json={"kind": "refund_only", "reason": "不要了"})
    assert refused.status_code == 409 and refused.get_json()["error"] == "nothing_to_refund"
