"""End to end through the HTTP API, by operationId, on SQLite and PostgreSQL: the merchant lists a
product (createShippingTemplate, createCategory, createProduct) → the shopper finds it by a
Chinese keyword (listProducts, getProduct) → cart (addToCart, getCart) → order (createOrder) → pay
(payOrder: the sandbox cashier; WeChat Pay with a notification signed by test keys, paymentNotify)
→ shipOrder → confirmDelivery → requestAfterSale → decideAfterSale → refunded, order closed, with
getOrder and listOrders showing every state and every answer matching the OpenAPI document. Plus
the WeChat Pay settings and web authorisation."""

from __future__ import annotations

import uuid
from io import BytesIO

import sqlalchemy as sa

from mallow.testing.payments import (
    configure_wechatpay,
    pay_with_sandbox,
    place_order,
    through_wechat,
    wechat_oauth_server,
    wechatpay_server,
    wechatpay_settings,
)
from mallow.testing.wechatpay import make_fake_merchant, verify_pay_sign
from mallow.testing import (
    PASSWORD,
    bearer,
    make_product,
    make_shopper,
    make_store,
    merchant_token,
    png_bytes,
    post_form,
    register_shopper,
)
from tests.api.caller import Api

SHIPPING_FIRST_FEN, SHIPPING_EXTRA_FEN = 800, 200  # the first piece, each further piece


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
    assert order["items_total"] == sum(line["unit_price"] * line["quantity"] for line in order["lines"])
    assert order["total"] == order["items_total"] + sum(a["amount"] for a in order["adjustments"])


def _merchant_lists(api, shop, mtoken, title: str, price: int, stock: int) -> int:
    """The merchant sets up shipping, a category and a product through the console API; returns the product id."""
    template = api(
        "createShippingTemplate",
        store=shop.slug,
        token=mtoken,
        expect=201,
        json={
            "name": "全国包邮除外",
            "mode": "pieces",
            "is_default": True,
            "rules": [
                {
                    "regions": ["*"],
                    "first": 1,
                    "first_fee": SHIPPING_FIRST_FEN,
                    "extra": 1,
                    "extra_fee": SHIPPING_EXTRA_FEN,
                }
            ],
        },
    ).get_json()
    assert template["is_default"]
    category = api("createCategory", store=shop.slug, token=mtoken, expect=201, json={"name": "坚果炒货"}).get_json()
    product = api(
        "createProduct",
        store=shop.slug,
        token=mtoken,
        expect=201,
        json={
            "title": title,
            "subtitle": "当季新货",
            "category_id": category["id"],
            "status": "on_shelf",
            "skus": [{"spec_values": {}, "price": price, "stock": stock, "weight_g": 500}],
        },
    ).get_json()
    assert product["status"] == "on_shelf" and product["category_id"] == category["id"]
    assert [(s["price"], s["stock"]) for s in product["skus"]] == [(price, stock)]
    return product["id"]


def _shopper_orders(api, shop, keyword: str, product_id: int, quantity: int) -> tuple[str, dict]:
    """A new shopper finds the product by ``keyword``, puts it in the cart and orders the cart."""
    login = f"139{uuid.uuid4().int % 10**8:08d}"
    registered = api(
        "registerCustomer",
        store=shop.slug,
        expect=201,
        json={"login": login, "password": PASSWORD, "privacy_consent": True},
    )
    assert registered.get_json()["customer"]["login"] != login  # masked
    token = api("loginCustomer", store=shop.slug, expect=201, json={"login": login, "password": PASSWORD}).get_json()[
        "token"
    ]
    address = api(
        "createAddress",
        store=shop.slug,
        token=token,
        expect=201,
        json={
            "recipient": "李四",
            "phone": "13912345678",
            "province": "浙江省",
            "city": "杭州市",
            "district": "西湖区",
            "detail": "文三路 100 号",
        },
    ).get_json()["id"]

    found = api("listProducts", store=shop.slug, query={"q": keyword}, expect=200).get_json()
    assert [item["id"] for item in found["items"]] == [product_id] and found["total"] == 1
    assert api("listProducts", store=shop.slug, query={"q": "巧克力"}, expect=200).get_json()["items"] == []
    product = api("getProduct", store=shop.slug, product_id=product_id, expect=200).get_json()
    [sku] = product["skus"]

    assert api("getCart", store=shop.slug, token=token, expect=200).get_json() == {"items": [], "quote": None}
    api("addToCart", store=shop.slug, token=token, expect=201, json={"sku_id": sku["id"], "quantity": 1})
    api("addToCart", store=shop.slug, token=token, expect=201, json={"sku_id": sku["id"], "quantity": quantity - 1})
    cart = api("getCart", store=shop.slug, token=token, expect=200).get_json()
    assert cart["items"] == [{"sku_id": sku["id"], "quantity": quantity}]  # quantities add up
    quote = cart["quote"]
    assert quote["items_total"] == sku["price"] * quantity and not quote["problems"]
    [shipping] = quote["adjustments"]
    assert shipping["amount"] == SHIPPING_FIRST_FEN + (quantity - 1) * SHIPPING_EXTRA_FEN

    key = {"Idempotency-Key": uuid.uuid4().hex}
    body = {"items": cart["items"], "address_id": address, "note": "请尽快发货"}
    order = api("createOrder", store=shop.slug, token=token, headers=key, json=body, expect=201).get_json()
    assert (
        api("createOrder", store=shop.slug, token=token, headers=key, json=body, expect=200).get_json()["id"]
        == order["id"]
    )  # a repeat of the same request is the same order
    assert order["status"] == "pending_payment" and order["total"] == quote["total"]
    assert [(line["sku_id"], line["quantity"]) for line in order["lines"]] == [(sku["id"], quantity)]
    _check_money(order)
    return token, order


def _shows(api, shop, token, order_id: int, status: str) -> dict:
    """getOrder and listOrders (all, and filtered by the status) agree on the order's state."""
    order = api("getOrder", store=shop.slug, token=token, order_id=order_id, expect=200).get_json()
    assert order["status"] == status
    _check_money(order)
    listed = {
        o["id"]: o["status"] for o in api("listOrders", store=shop.slug, token=token, expect=200).get_json()["items"]
    }
    assert listed == {order_id: status}
    filtered = api("listOrders", store=shop.slug, token=token, query={"status": status}, expect=200).get_json()
    assert [o["id"] for o in filtered["items"]] == [order_id]
    return order


def _ship_and_confirm(api, shop, token, mtoken, order_id) -> dict:
    shipped = api(
        "shipOrder",
        store=shop.slug,
        token=mtoken,
        order_id=order_id,
        expect=200,
        json={"carrier": "顺丰速运", "tracking_number": "SF1234567890"},
    ).get_json()
    assert shipped["status"] == "shipped" and shipped["tracking_number"] == "SF1234567890"
    assert shipped["timeline"][-1]["by"] == "staff"
    _shows(api, shop, token, order_id, "shipped")
    confirmed = api("confirmDelivery", store=shop.slug, token=token, order_id=order_id, expect=200).get_json()
    assert confirmed["timeline"][-1] | {"at": None} == {"at": None, "kind": "delivered", "by": "shopper", "detail": {}}
    return _shows(api, shop, token, order_id, "delivered")


def test_sandbox_end_to_end(app):
    from mallow.payments.models import PaymentNotification, Refund

    shop = make_store(app)
    client = app.test_client()
    api = Api(client)
    mtoken = merchant_token(client, shop)
    product_id = _merchant_lists(api, shop, mtoken, "临安山核桃仁 500g", price=5990, stock=20)
    token, order = _shopper_orders(api, shop, "山核桃", product_id, 2)
    assert order["total"] == 2 * 5990 + SHIPPING_FIRST_FEN + SHIPPING_EXTRA_FEN
    _shows(api, shop, token, order["id"], "pending_payment")

    body = api(
        "payOrder", store=shop.slug, token=token, order_id=order["id"], expect=200, json={"provider": "sandbox"}
    ).get_json()
    assert body["pay"]["kind"] == "redirect" and body["payment"]["amount"] == order["total"]
    cashier = body["pay"]["url"]
    page = client.get(cashier)
    assert page.status_code == 200 and 'id="pay"' in page.get_data(as_text=True)
    # Opening the cashier, or a POST without the page's CSRF token, pays nothing.
    assert client.post(cashier, data={"action": "pay"}).status_code == 400
    assert client.get(cashier.split("?")[0]).status_code == 404  # no capability token, no cashier
    _shows(api, shop, token, order["id"], "pending_payment")

    pressed = post_form(client, cashier, {"action": "pay", "token": cashier.split("token=")[1]})
    assert pressed.status_code == 303
    paid = _shows(api, shop, token, order["id"], "paid")
    paid_event = next(e for e in paid["timeline"] if e["kind"] == "paid")
    assert paid_event["by"] == "provider"
    assert paid_event["detail"]["provider"] == "sandbox" and paid_event["detail"]["amount"] == order["total"]
    [log] = _rows(app, shop, PaymentNotification)
    assert log.accepted and log.provider == "sandbox" and log.out_trade_no == body["payment"]["out_trade_no"]
    # Pressing Pay again is a replay: nothing more happens.
    assert 'id="pay"' not in client.get(cashier).get_data(as_text=True)

    _ship_and_confirm(api, shop, token, mtoken, order["id"])

    requested = api(
        "requestAfterSale",
        store=shop.slug,
        token=token,
        order_id=order["id"],
        expect=201,
        data={
            "kind": "refund_only",
            "reason": "核桃有哈喇味",
            "photos": [(BytesIO(png_bytes()), "photo.png", "image/png")],
        },
        content_type="multipart/form-data",
    )
    aftersale = requested.get_json()
    assert aftersale["status"] == "requested" and aftersale["amount"] == order["total"] and aftersale["photos"] == 1
    _shows(api, shop, token, order["id"], "delivered")

    decided = api(
        "decideAfterSale",
        store=shop.slug,
        token=mtoken,
        aftersale_id=aftersale["id"],
        expect=200,
        json={"approve": True},
    ).get_json()
    assert decided["status"] == "refunded"  # the sandbox refunds at once
    assert [(r["amount"], r["status"]) for r in decided["refunds"]] == [(order["total"], "succeeded")]

    closed = _shows(api, shop, token, order["id"], "closed")
    assert closed["refunded_total"] == closed["total"] == order["total"]
    kinds = [e["kind"] for e in closed["timeline"]]
    assert kinds == [
        "placed",
        "payment_started",
        "paid",
        "shipped",
        "delivered",
        "aftersale_requested",
        "aftersale_approved",
        "refund_requested",
        "refunded",
        "closed",
        "aftersale_refunded",
    ]
    [refund] = _rows(app, shop, Refund)
    assert refund.status == "succeeded" and refund.amount == order["total"] and type(refund.amount) is int
    payments = client.get(f"{shop.prefix}/api/console/orders/{order['id']}/payments", headers=bearer(mtoken)).get_json()
    assert [p["status"] for p in payments["payments"]] == ["paid"]
    assert sum(r["amount"] for r in payments["refunds"] if r["status"] == "succeeded") == payments["refunded_total"]


def test_wechatpay_end_to_end(app, rsa_keys):
    from mallow.payments.models import Payment, PaymentNotification

    shop = make_store(app)
    client = app.test_client()
    api = Api(client)
    merchant = make_fake_merchant(merchant_key=rsa_keys[0], platform_key=rsa_keys[1])
    mtoken = merchant_token(client, shop)
    saved = client.put(
        f"{shop.prefix}/api/console/payments/wechatpay", headers=bearer(mtoken), json=wechatpay_settings(merchant)
    )
    assert saved.status_code == 200, saved.get_json()
    assert saved.get_json()["configured"] and saved.get_json()["notify_url"].startswith("https://")
    product_id = _merchant_lists(api, shop, mtoken, "纸皮山核桃 新货", price=3850, stock=10)

    with wechatpay_server(app, merchant) as server:
        token, order = _shopper_orders(api, shop, "纸皮", product_id, 3)
        assert order["total"] == 3 * 3850 + SHIPPING_FIRST_FEN + 2 * SHIPPING_EXTRA_FEN
        pay = api(
            "payOrder", store=shop.slug, token=token, order_id=order["id"], expect=200, json={"provider": "wechatpay"}
        ).get_json()
        assert pay["pay"]["kind"] == "h5" and pay["pay"]["url"].startswith("https://wx.tenpay.com/")
        out_trade_no = pay["payment"]["out_trade_no"]
        remote = server.order(out_trade_no)
        assert remote.total_fen == order["total"]
        assert remote.notify_url.endswith(f"/s/{shop.slug}/api/payments/wechatpay/notify")
        # Asking again reuses the attempt and its out_trade_no.
        again = api(
            "payOrder", store=shop.slug, token=token, order_id=order["id"], expect=200, json={"provider": "wechatpay"}
        ).get_json()
        assert again["payment"]["out_trade_no"] == out_trade_no
        _shows(api, shop, token, order["id"], "pending_payment")

        server.mark_paid(out_trade_no)
        note = server.payment_notification(out_trade_no)
        answer = api(
            "paymentNotify",
            store=shop.slug,
            provider="wechatpay",
            data=note.body,
            headers=note.headers,
            content_type="application/json",
            expect=204,
        )
        assert answer.get_data() == b""
        paid = _shows(api, shop, token, order["id"], "paid")
        api(
            "paymentNotify",
            store=shop.slug,
            provider="wechatpay",
            data=note.body,
            headers=note.headers,
            content_type="application/json",
            expect=204,
        )  # a replay: success, nothing more
        assert _shows(api, shop, token, order["id"], "paid")["timeline"] == paid["timeline"]
        logs = _rows(app, shop, PaymentNotification)
        assert [(n.accepted, n.reason) for n in logs] == [(True, ""), (True, "duplicate")]
        [payment] = _rows(app, shop, Payment)
        assert payment.status == "paid" and payment.transaction_id == server.order(out_trade_no).transaction_id
        assert payment.amount == order["total"]

        _ship_and_confirm(api, shop, token, mtoken, order["id"])
        requested = api(
            "requestAfterSale",
            store=shop.slug,
            token=token,
            order_id=order["id"],
            expect=201,
            json={"kind": "refund_only", "reason": "不想要了"},
        ).get_json()
        decided = api(
            "decideAfterSale",
            store=shop.slug,
            token=mtoken,
            aftersale_id=requested["id"],
            expect=200,
            json={"approve": True},
        ).get_json()
        assert decided["status"] == "approved"
        [refund] = decided["refunds"]
        assert refund["status"] == "processing" and refund["amount"] == order["total"]
        assert server.refund_record(refund["out_refund_no"]).refund_fen == order["total"]
        _shows(api, shop, token, order["id"], "delivered")  # the money is not back yet

        server.complete_refund(refund["out_refund_no"])
        note = server.refund_notification(refund["out_refund_no"])
        api(
            "paymentNotify",
            store=shop.slug,
            provider="wechatpay",
            data=note.body,
            headers=note.headers,
            content_type="application/json",
            expect=204,
        )
        closed = _shows(api, shop, token, order["id"], "closed")
        assert closed["refunded_total"] == closed["total"] == order["total"]
        aftersale = client.get(f"{shop.prefix}/api/aftersales/{decided['id']}", headers=bearer(token)).get_json()
        assert aftersale["status"] == "refunded" and aftersale["refunds"][0]["status"] == "succeeded"
    assert {
        "createCategory",
        "createProduct",
        "listProducts",
        "getProduct",
        "addToCart",
        "getCart",
        "createOrder",
        "payOrder",
        "paymentNotify",
        "getOrder",
        "listOrders",
        "shipOrder",
        "requestAfterSale",
        "decideAfterSale",
    } <= set(api.called)


def test_wechatpay_settings_are_owner_only_and_secrets_never_come_back(app, rsa_keys):
    shop = make_store(app)
    client = app.test_client()
    merchant = make_fake_merchant(merchant_key=rsa_keys[0], platform_key=rsa_keys[1])
    mtoken = merchant_token(client, shop)
    url = f"{shop.prefix}/api/console/payments/wechatpay"
    assert client.get(url, headers=bearer(mtoken)).get_json()["configured"] is False

    bad = client.put(url, headers=bearer(mtoken), json=wechatpay_settings(merchant) | {"apiv3_key": "short"})
    assert bad.status_code == 422 and "apiv3_key" in bad.get_json()["fields"]
    broken_pem = client.put(
        url,
        headers=bearer(mtoken),
        json=wechatpay_settings(merchant) | {"merchant_private_key": "-----BEGIN PRIVATE KEY-----x"},
    )
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
    assert client.get(f"{other.prefix}/api/console/payments/wechatpay", headers=bearer(mtoken)).status_code in (
        401,
        403,
    )
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
    form = {
        "mchid": merchant.keys.mchid,
        "appid": merchant.keys.appid,
        "merchant_certificate_serial": merchant.keys.merchant_certificate_serial,
        "merchant_private_key": merchant.keys.merchant_private_key_pem,
        "apiv3_key": "too-short",
        "platform_serial": serial,
        "platform_public_key": pem,
        "enabled": "1",
    }
    refused = post_form(browser, page, form)
    assert refused.status_code == 422 and "has-error" in refused.get_data(as_text=True)
    assert merchant.keys.merchant_private_key_pem not in refused.get_data(as_text=True)
    assert post_form(browser, page, form | {"apiv3_key": merchant.keys.apiv3_key}).status_code == 303
    assert "WeChat Pay is set up" in browser.get(page + "?lang=en").get_data(as_text=True)

    client = app.test_client()
    [sku] = make_product(app, shop, price=100, stock=5)
    token, address = make_shopper(client, shop)
    order = place_order(client, shop, token, address, sku)
    assert (
        post_form(browser, f"{shop.prefix}/console/payments/sandbox", {"enabled": "0"}, form_path=page).status_code
        == 303
    )
    refused = client.post(
        f"{shop.prefix}/api/orders/{order['id']}/pay", headers=bearer(token), json={"provider": "sandbox"}
    )
    assert refused.status_code == 422 and refused.get_json()["error"] == "provider_unavailable"


def test_wechat_web_authorisation_links_the_openid_and_jsapi_payments_carry_it(app, rsa_keys):
    from mallow.accounts.models import Customer

    shop = make_store(app)
    merchant = make_fake_merchant(merchant_key=rsa_keys[0], platform_key=rsa_keys[1])
    configure_wechatpay(app, shop, merchant, oauth_appsecret="oauth-secret-of-the-official-acct")
    [sku] = make_product(app, shop, price=1288, stock=5)
    with wechat_oauth_server(app, merchant.keys.appid, "oauth-secret-of-the-official-acct") as wechat:
        browser = app.test_client()
        login = register_shopper(browser, shop)
        assert browser.get(f"{shop.prefix}/wechat/callback?code=x&state=forged").status_code == 400
        wechat.openid_for_next = "o-jsapi-payer-0001"
        callback = through_wechat(browser, shop)
        assert "/wechat/callback?" in callback and "code=" in callback and "state=" in callback
        back = browser.get(callback)
        assert back.status_code == 303
        assert browser.get(callback).status_code == 400  # a state is good once
        [customer] = _rows(app, shop, Customer, wechat_openid="o-jsapi-payer-0001")

        # The same WeChat account cannot be linked to a second shopper.
        other = app.test_client()
        register_shopper(other, shop)
        assert other.get(through_wechat(other, shop)).status_code == 409

    client = app.test_client()
    token = client.post(f"{shop.prefix}/api/tokens", json={"login": login, "password": "test-pass-123"}).get_json()[
        "token"
    ]
    address = client.post(
        f"{shop.prefix}/api/addresses",
        headers=bearer(token),
        json={
            "recipient": "王五",
            "phone": "13700001111",
            "province": "浙江省",
            "city": "杭州市",
            "detail": "天目山路 1 号",
        },
    ).get_json()["id"]
    with wechatpay_server(app, merchant) as server:
        order = place_order(client, shop, token, address, sku)
        pay = client.post(
            f"{shop.prefix}/api/orders/{order['id']}/pay", headers=bearer(token), json={"provider": "wechatpay"}
        ).get_json()
        assert pay["pay"]["kind"] == "jsapi"
        params = pay["pay"]["params"]
        assert params["package"].startswith("prepay_id=") and params["appId"] == merchant.keys.appid
        assert verify_pay_sign(params, merchant.merchant_public_key)
        assert server.order(pay["payment"]["out_trade_no"]).payer_openid == "o-jsapi-payer-0001"
        # The browser's "ok" from wx.requestPayment proves nothing: the order waits for WeChat Pay.
        status = client.get(f"{shop.prefix}/api/orders/{order['id']}", headers=bearer(token)).get_json()["status"]
        assert status == "pending_payment"
        # Switching to H5 closes the JSAPI attempt and opens another, with a new out_trade_no.
        h5 = client.post(
            f"{shop.prefix}/api/orders/{order['id']}/pay",
            headers=bearer(token),
            json={"provider": "wechatpay", "scene": "h5"},
        ).get_json()
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
    paid = client.post(
        f"{shop.prefix}/api/orders/{order['id']}/pay", headers=bearer(token), json={"provider": "sandbox"}
    ).get_json()
    assert paid["pay"] == {"kind": "paid"} and paid["payment"] is None and paid["order"]["status"] == "paid"
    # Nothing was paid, so nothing can be refunded.
    refused = client.post(
        f"{shop.prefix}/api/orders/{order['id']}/aftersales",
        headers=bearer(token),
        json={"kind": "refund_only", "reason": "不要了"},
    )
    assert refused.status_code == 409 and refused.get_json()["error"] == "nothing_to_refund"
