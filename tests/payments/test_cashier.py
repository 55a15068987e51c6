"""The one cashier (收银台) for every order kind, over HTTP as a phone browser uses it, on SQLite
and PostgreSQL: an ordinary order (placed by the web checkout, which lands on the cashier), a
flash-sale order and a group-buy order are each paid from the order page (去支付 → cashier →
确认支付 with the sandbox → the sandbox cashier's Pay → the success page with 查看订单); a store with
WeChat Pay on offers WeChat Pay (H5 outside WeChat, JSAPI inside, WeChat authorisation first when
the openid is missing) and not the sandbox; ``mallow_after_payment_url`` lands a paid order where
a plugin says; the order page and the console never print a raw key for any timeline entry or
actor, and plugins label their own states and entries."""

from __future__ import annotations

import html as htmllib
import json
import re
import uuid
from datetime import datetime, timedelta, UTC
from html.parser import HTMLParser

import pytest

from mallow.testing.payments import configure_wechatpay, wechatpay_server
from mallow.plugins.hookspecs import hookimpl
from mallow.testing import (
    PASSWORD,
    backend_params,
    bearer,
    dispose_app,
    enable_plugin,
    login_merchant,
    make_product,
    make_store,
    merchant_token,
    plugin_app,
    post_form,
    register_shopper,
)

#: what a raw key looks like in text people read: ``groupbuy_opened``, ``provider:sandbox``, ``shopper:1``
RAW_KEY = re.compile(r"\b[a-z]+_[a-z_]+\b|\b(?:provider|shopper|staff|plugin|admin|payer):\S*")
WECHAT_UA = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Mobile/15E148 MicroMessenger/8.0.47(0x18002f2c) NetType/WIFI Language/zh_CN"
)
PHONE_UA = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 "
    "Mobile Safari/537.36"
)  # outside WeChat, a phone gets H5 (a desktop browser: Native, test_native_cashier.py)


@pytest.fixture(scope="module", params=backend_params())
def app(request, tmp_path_factory):
    app = plugin_app(tmp_path_factory, request.param, ["flashsale", "groupbuy"])
    yield app
    dispose_app(app)


# --- helpers ------------------------------------------------------------------------------------


def _html(response) -> str:
    return response.get_data(as_text=True)


class _Text(HTMLParser):
    """The text a person reads on a page (no attributes, no script or style)."""

    def __init__(self):
        super().__init__()
        self.parts, self._skip = [], 0

    def handle_starttag(self, tag, attrs):
        self._skip += tag in ("script", "style")

    def handle_endtag(self, tag):
        self._skip -= tag in ("script", "style") and self._skip > 0

    def handle_data(self, data):
        if not self._skip:
            self.parts.append(data)


def visible_text(page: str) -> str:
    parser = _Text()
    parser.feed(page)
    return " ".join(" ".join(parser.parts).split())


class Shopper:
    """A phone browser signed in as a new shopper, with an API token of the same account and an address."""

    def __init__(self, app, shop, user_agent: str | None = None):
        self.app, self.shop = app, shop
        self.client = app.test_client()
        if user_agent:
            self.client.environ_base["HTTP_USER_AGENT"] = user_agent
        self.login = register_shopper(self.client, shop)
        token = self.client.post(f"{shop.prefix}/api/tokens", json={"login": self.login, "password": PASSWORD})
        assert token.status_code == 201, token.get_json()
        self.token = token.get_json()["token"]
        address = self.client.post(
            f"{shop.prefix}/api/addresses",
            headers=bearer(self.token),
            json={
                "recipient": "林小满",
                "phone": "13800138000",
                "province": "浙江省",
                "city": "杭州市",
                "district": "临安区",
                "detail": "锦城街道衣锦街 100 号",
                "is_default": True,
            },
        )
        assert address.status_code == 201, address.get_json()
        self.address_id = address.get_json()["id"]

    def get(self, path: str, **kwargs):
        return self.client.get(path if path.startswith("/") else f"{self.shop.prefix}/{path}", **kwargs)

    def order(self, order_id: int) -> dict:
        return self.client.get(f"{self.shop.prefix}/api/orders/{order_id}", headers=bearer(self.token)).get_json()

    def pay_from_the_order_page(self, order_id: int) -> str:
        """去支付 on the order page → the cashier → 确认支付 with the sandbox → Pay on the sandbox
        cashier; returns the page the shopper lands on."""
        prefix = self.shop.prefix
        page = _html(self.get(f"orders/{order_id}"))
        assert "待付款" in page and 'id="pay"' in page
        pay_link = htmllib.unescape(re.search(r'id="pay" href="([^"]+)"', page).group(1))
        assert pay_link == f"{prefix}/orders/{order_id}/pay"
        cashier = self.get(pay_link)
        assert cashier.status_code == 200
        text = _html(cashier)
        assert 'id="cashier"' in text and 'data-method="sandbox"' in text and 'data-countdown="' in text
        started = post_form(self.client, pay_link, {"method": "sandbox"})
        assert started.status_code == 303 and "/pay/sandbox/" in started.location, _html(started)[:500]
        sandbox = started.location
        pressed = post_form(self.client, sandbox, {"action": "pay", "token": sandbox.split("token=")[1]})
        assert pressed.status_code == 303
        assert pressed.location.endswith(f"{prefix}/orders/{order_id}/pay/result")
        return pressed.location


def _landed(shopper: Shopper, location: str, order_id: int) -> str:
    """The success page after paying: 支付成功 with 查看订单 back to the order."""
    landed = shopper.get(location)
    assert landed.status_code == 200, landed.status_code
    page = _html(landed)
    assert 'data-outcome="paid"' in page and 'id="view-order"' in page
    assert f'href="{shopper.shop.prefix}/orders/{order_id}"' in page
    return page


def _product_of(app, shop, sku_id: int) -> int:
    from mallow.catalog.models import Sku
    from mallow.db import db
    from mallow.tenants.context import store_context

    with store_context(shop.store_id, app=app):
        return db.session.get(Sku, sku_id).product_id


def _checkout_fields(page: str) -> dict:
    fields = dict(re.findall(r'<input type="hidden" name="([a-z_]+)" value="([^"]*)"', page))
    chosen = re.search(r'name="address_id" value="(\d+)" checked', page)
    if chosen:
        fields["address_id"] = chosen.group(1)
    return {k: htmllib.unescape(v) for k, v in fields.items()}


# --- every order kind, paid from its order page ---------------------------------------------------


def test_an_ordinary_order_goes_from_checkout_to_the_cashier_and_is_paid(app):
    shop = make_store(app)
    [sku] = make_product(app, shop, title="临安山核桃仁", price=3990, stock=10)
    shopper = Shopper(app, shop)
    added = post_form(
        shopper.client,
        f"{shop.prefix}/cart/items",
        {"sku_id": sku, "quantity": 1},
        form_path=f"{shop.prefix}/products/{_product_of(app, shop, sku)}",
    )
    assert added.status_code == 303
    fields = _checkout_fields(_html(shopper.get("checkout")))
    placed = shopper.client.post(f"{shop.prefix}/checkout", data=fields | {"action": "place"})
    assert placed.status_code == 303, _html(placed)[:2000]
    order_id = int(re.search(r"/orders/(\d+)/pay$", placed.location).group(1))  # checkout → the cashier
    cashier = _html(shopper.get(placed.location))
    assert "¥39.90" in cashier and 'id="confirm-pay"' in cashier and 'data-method="wechatpay"' not in cashier
    # the order list offers 去支付 on the unpaid order too
    listing = _html(shopper.get("orders?tab=unpaid"))
    assert f'data-pay="{order_id}"' in listing and f'href="{shop.prefix}/orders/{order_id}/pay"' in listing

    location = shopper.pay_from_the_order_page(order_id)
    page = _landed(shopper, location, order_id)
    assert 'id="test-order"' in page  # the sandbox pays test orders
    assert shopper.order(order_id)["status"] == "paid"
    # paid: the cashier sends the shopper to the result; the order page and the list say 待发货
    assert shopper.get(f"orders/{order_id}/pay").location.endswith(f"/orders/{order_id}/pay/result")
    order_page = _html(shopper.get(f"orders/{order_id}"))
    assert re.search(r'<span id="status">待发货</span>', order_page) and 'id="pay"' not in order_page
    assert 'id="payment-method"' in order_page and 'id="request-aftersale"' in order_page
    assert "待发货" in visible_text(_html(shopper.get("orders?tab=to_ship")))


def test_a_flash_sale_order_is_paid_at_the_cashier(app):
    shop = make_store(app)
    enable_plugin(app, shop, "flashsale")
    [sku] = make_product(app, shop, title="秒杀核桃", price=2000, stock=10)
    token = merchant_token(app.test_client(), shop)
    now = datetime.now(UTC)
    sale = app.test_client().post(
        f"{shop.prefix}/api/console/x/flashsale/sales",
        headers=bearer(token),
        json={
            "title": "限时秒杀",
            "starts_at": (now - timedelta(minutes=1)).isoformat(),
            "ends_at": (now + timedelta(hours=1)).isoformat(),
            "per_order_limit": 1,
            "per_shopper_limit": 1,
            "published": True,
            "items": [{"sku_id": sku, "sale_price": 990, "quota": 5}],
        },
    )
    assert sale.status_code == 201, sale.get_json()
    shopper = Shopper(app, shop)
    sale_page = f"{shop.prefix}/x/flashsale/{sale.get_json()['id']}"
    attempt = re.search(r'name="attempt" value="([0-9a-f]+)"', _html(shopper.get(sale_page))).group(1)
    placed = post_form(
        shopper.client,
        f"{sale_page}/buy",
        {"sku_id": sku, "address_id": shopper.address_id, "attempt": attempt},
        form_path=sale_page,
    )
    assert placed.status_code == 201, _html(placed)[:1000]
    order_id = int(re.search(r'data-order-id="(\d+)"', _html(placed)).group(1))
    assert f'href="{shop.prefix}/orders/{order_id}/pay"' in _html(placed)  # 立即付款 → the cashier

    location = shopper.pay_from_the_order_page(order_id)
    _landed(shopper, location, order_id)
    order = shopper.order(order_id)
    assert order["status"] == "paid" and order["total"] == 990


def test_a_group_buy_order_is_paid_at_the_cashier(app):
    shop = make_store(app)
    enable_plugin(app, shop, "groupbuy")
    [sku] = make_product(app, shop, title="拼团核桃", price=10000, stock=10)
    client = app.test_client()
    token = merchant_token(client, shop)
    product_id = _product_of(app, shop, sku)
    now = datetime.now(UTC)
    campaign = client.post(
        f"{shop.prefix}/api/console/x/groupbuy/campaigns",
        headers=bearer(token),
        json={
            "title": "三人团",
            "product_id": product_id,
            "group_size": 3,
            "tiers": [{"size": 3, "percent": "90"}],
            "starts_at": (now - timedelta(minutes=5)).isoformat(),
            "ends_at": (now + timedelta(days=7)).isoformat(),
            "quota": 10,
        },
    )
    assert campaign.status_code == 201, campaign.get_json()
    campaign_id = campaign.get_json()["id"]
    shopper = Shopper(app, shop)
    campaign_page = f"{shop.prefix}/x/groupbuy/c/{campaign_id}"
    placed = post_form(
        shopper.client,
        f"{campaign_page}/order",
        {"sku_id": sku, "quantity": 1, "address_id": shopper.address_id, "idempotency_key": uuid.uuid4().hex},
        form_path=campaign_page,
    )
    assert placed.status_code == 303 and re.search(r"/orders/\d+/pay$", placed.location), placed.location
    order_id = int(re.search(r"/orders/(\d+)/pay$", placed.location).group(1))

    location = shopper.pay_from_the_order_page(order_id)
    landed = shopper.get(location)
    # the group-buy plugin may land the shopper on the group (mallow_after_payment_url); else the success page
    if landed.status_code == 303:
        assert "/x/groupbuy/g/" in landed.location
    else:
        _landed(shopper, location, order_id)
    assert shopper.order(order_id)["status"] == "paid"
    page = visible_text(_html(shopper.get(f"orders/{order_id}")))
    assert not RAW_KEY.findall(page), RAW_KEY.findall(page)  # groupbuy_opened and plugin:groupbuy, labelled


class LandsOnTheClaim:
    @hookimpl
    def mallow_after_payment_url(self, order):
        return f"/s/somewhere/claims/{order.number}"


class LandsOffSite:
    @hookimpl
    def mallow_after_payment_url(self, order):
        return "https://evil.example/phish"


def test_a_plugin_says_where_a_paid_order_lands_and_only_on_this_site(app):
    shop = make_store(app)
    [sku] = make_product(app, shop, price=500)
    shopper = Shopper(app, shop)
    created = shopper.client.post(
        f"{shop.prefix}/api/orders",
        headers=bearer(shopper.token),
        json={"items": [{"sku_id": sku, "quantity": 1}], "address_id": shopper.address_id},
    )
    order = created.get_json()
    location = shopper.pay_from_the_order_page(order["id"])
    manager = app.extensions["mallow.plugins"]
    for plugin, expected in ((LandsOffSite(), None), (LandsOnTheClaim(), f"/s/somewhere/claims/{order['number']}")):
        manager.register(plugin)
        try:
            landed = shopper.get(location)
        finally:
            manager.unregister(plugin)
        if expected is None:
            assert landed.status_code == 200 and 'data-outcome="paid"' in _html(landed)
        else:
            assert landed.status_code == 303 and landed.location == expected


# --- the methods the store really has -------------------------------------------------------------


def test_a_store_with_wechat_pay_offers_wechat_pay_and_not_the_sandbox(app, merchant):
    shop = make_store(app)
    [sku] = make_product(app, shop, price=1990)
    configure_wechatpay(app, shop, merchant, oauth_appsecret="s" * 32)
    with wechatpay_server(app, merchant) as server:
        shopper = Shopper(app, shop, user_agent=PHONE_UA)
        order = shopper.client.post(
            f"{shop.prefix}/api/orders",
            headers=bearer(shopper.token),
            json={"items": [{"sku_id": sku, "quantity": 1}], "address_id": shopper.address_id},
        ).get_json()
        cashier_path = f"{shop.prefix}/orders/{order['id']}/pay"
        page = _html(shopper.get(cashier_path))
        assert 'data-method="wechatpay"' in page and 'data-method="sandbox"' not in page
        # the sandbox is not taken even when asked for
        refused = post_form(shopper.client, cashier_path, {"method": "sandbox"})
        assert refused.status_code == 422 and 'id="cashier-error"' in _html(refused)

        # a phone browser outside WeChat: H5, opened from the page (the CSP stops a form's off-site redirect)
        started = post_form(shopper.client, cashier_path, {"method": "wechatpay"})
        assert started.status_code == 200, _html(started)[:500]
        handoff = _html(started)
        url = htmllib.unescape(re.search(r'id="handoff" data-handoff="url" data-url="([^"]+)"', handoff).group(1))
        assert url.startswith("https://wx.tenpay.com/") and "redirect_url=" in url
        assert f"orders%2F{order['id']}%2Fpay%2Fresult" in url
        out_trade_no = shopper.client.get(
            f"{shop.prefix}/api/orders/{order['id']}", headers=bearer(shopper.token)
        ).get_json()["timeline"][-1]["detail"]["out_trade_no"]
        # back from WeChat before the notification: the result page asks WeChat Pay itself
        waiting = shopper.get(f"orders/{order['id']}/pay/result")
        assert waiting.status_code == 200 and 'data-outcome="waiting"' in _html(waiting)
        assert 'http-equiv="refresh"' in _html(waiting)
        server.mark_paid(out_trade_no)
        landed = shopper.get(f"orders/{order['id']}/pay/result")
        assert 'data-outcome="paid"' in _html(landed) and 'id="test-order"' not in _html(landed)
        assert shopper.order(order["id"])["status"] == "paid" and shopper.order(order["id"])["test"] is False


def test_inside_wechat_the_cashier_pays_by_jsapi_after_authorisation(app, merchant):
    from mallow.accounts.models import Customer
    from mallow.db import db
    from mallow.tenants.context import store_context

    shop = make_store(app)
    [sku] = make_product(app, shop, price=2990)
    configure_wechatpay(app, shop, merchant, oauth_appsecret="s" * 32)
    with wechatpay_server(app, merchant):
        shopper = Shopper(app, shop, user_agent=WECHAT_UA)
        order = shopper.client.post(
            f"{shop.prefix}/api/orders",
            headers=bearer(shopper.token),
            json={"items": [{"sku_id": sku, "quantity": 1}], "address_id": shopper.address_id},
        ).get_json()
        cashier_path = f"{shop.prefix}/orders/{order['id']}/pay"
        assert "Pay in WeChat." in _html(shopper.get(cashier_path + "?lang=en"))
        # no openid yet: WeChat web authorisation first, then back to this cashier
        first = post_form(shopper.client, cashier_path, {"method": "wechatpay"})
        assert first.status_code == 303 and first.location.endswith(f"/wechat/authorize?next={cashier_path}")
        with store_context(shop.store_id, app=app):
            customer = db.session.execute(db.select(Customer).order_by(Customer.id.desc()).limit(1)).scalar_one()
            customer.wechat_openid = "o" + uuid.uuid4().hex[:27]
            db.session.commit()
        started = post_form(shopper.client, cashier_path, {"method": "wechatpay"})
        assert started.status_code == 200
        page = _html(started)
        params = json.loads(htmllib.unescape(re.search(r'data-params="([^"]+)"', page).group(1)))
        assert params["package"].startswith("prepay_id=") and params["signType"] == "RSA" and params["paySign"]
        assert re.search(rf'data-done="[^"]*/orders/{order["id"]}/pay/result"', page)
        assert "<script>" not in page  # the CSP allows only files: orders.js reads the attributes


def test_nothing_to_offer_and_closed_orders(app):
    from mallow.payments import sandbox
    from mallow.db import db
    from mallow.tenants.context import store_context

    shop = make_store(app)
    [sku] = make_product(app, shop, price=990)
    shopper = Shopper(app, shop)
    order = shopper.client.post(
        f"{shop.prefix}/api/orders",
        headers=bearer(shopper.token),
        json={"items": [{"sku_id": sku, "quantity": 1}], "address_id": shopper.address_id},
    ).get_json()
    with store_context(shop.store_id, app=app):
        sandbox.set_enabled(False, "test")  # the owner turned the sandbox off and has no WeChat Pay
        db.session.commit()
    cashier_path = f"{shop.prefix}/orders/{order['id']}/pay"
    page = _html(shopper.get(cashier_path))
    assert 'id="no-methods"' in page and re.search(r'id="confirm-pay" disabled', page)
    assert post_form(shopper.client, cashier_path, {"method": "sandbox"}).status_code == 422
    # a cancelled order is not payable: the cashier sends the shopper to the order
    assert (
        post_form(
            shopper.client,
            f"{shop.prefix}/orders/{order['id']}/cancel",
            {},
            form_path=f"{shop.prefix}/orders/{order['id']}",
        ).status_code
        == 303
    )
    gone = shopper.get(cashier_path)
    assert gone.status_code == 303 and gone.location.endswith(f"/orders/{order['id']}")
    assert 'data-outcome="closed"' in _html(shopper.get(f"orders/{order['id']}/pay/result"))
    # someone else's order: 404 everywhere
    stranger = Shopper(app, shop)
    assert stranger.get(cashier_path).status_code == 404
    assert stranger.get(f"orders/{order['id']}/pay/result").status_code == 404


# --- no raw keys, plugin labels ------------------------------------------------------------------


class Labels:
    @hookimpl
    def mallow_order_event_label(self, event):
        return "拼团开团成功" if event.kind == "fake_group_opened" else None

    @hookimpl
    def mallow_order_status_label(self, order):
        return "待成团" if order.status == "paid" else None


def _every_event(app, shop, order_id: int) -> None:
    from mallow.db import db
    from mallow.orders import labels
    from mallow.orders.models import OrderEvent
    from mallow.tenants.context import store_context

    actors = [
        "shopper:1",
        "staff:3",
        "system",
        "provider:sandbox",
        "provider:wechatpay",
        "provider:alipay",
        "payer",
        "plugin:groupbuy",
        "plugin:not_installed",
        "admin:2",
        "anonymous",
        "weird_actor:9",
    ]
    with store_context(shop.store_id, app=app):
        kinds = list(labels.event_labels()) + [
            "groupbuy_opened",
            "groupbuy_joined",
            "groupbuy_succeeded",
            "flashsale_reserved",
            "distribution_bound",
            "fake_group_opened",
            "mystery_kind",
        ]
        for index, kind in enumerate(kinds):
            db.session.add(
                OrderEvent(
                    order_id=order_id,
                    kind=kind,
                    actor=actors[index % len(actors)],
                    detail={"reason": "payment_timeout"} if kind == "cancelled" else {},
                )
            )
        for reason in ("shopper", "groupbuy_closed", "some_plugin_reason"):
            db.session.add(
                OrderEvent(order_id=order_id, kind="cancelled", actor="plugin:groupbuy", detail={"reason": reason})
            )
        db.session.commit()


def test_no_raw_key_on_the_order_pages_for_any_event_or_actor(app):
    shop = make_store(app)
    [sku] = make_product(app, shop, price=1200)
    shopper = Shopper(app, shop)
    order = shopper.client.post(
        f"{shop.prefix}/api/orders",
        headers=bearer(shopper.token),
        json={"items": [{"sku_id": sku, "quantity": 1}], "address_id": shopper.address_id},
    ).get_json()
    _every_event(app, shop, order["id"])
    merchant = app.test_client()
    login_merchant(merchant, shop)
    pages = {
        "order": _html(shopper.get(f"orders/{order['id']}")),
        "list": _html(shopper.get("orders")),
        "console": _html(merchant.get(f"{shop.prefix}/console/orders/{order['id']}")),
    }
    for language in ("zh_CN", "en"):
        for name, page in pages.items():
            if language == "en":
                url = {"order": f"orders/{order['id']}", "list": "orders"}.get(name)
                page = (
                    _html(shopper.get(url + "?lang=en"))
                    if url
                    else _html(merchant.get(f"{shop.prefix}/console/orders/{order['id']}?lang=en"))
                )
            found = RAW_KEY.findall(visible_text(page))
            assert not found, f"{name} ({language}) shows raw keys: {sorted(set(found))}"
    order_text = visible_text(pages["order"])
    assert "订单动态" in order_text and order_text.count("Order updated") + order_text.count("订单已更新") >= 1
    console_text = visible_text(pages["console"])
    assert "系统" in console_text or "System" in console_text

    manager = app.extensions["mallow.plugins"]
    plugin = Labels()
    manager.register(plugin)
    try:
        labelled = _html(shopper.get(f"orders/{order['id']}"))
        assert "拼团开团成功" in labelled
        from mallow.testing.payments import pay_with_sandbox

        pay_with_sandbox(shopper.client, shop, shopper.token, order["id"])
        paid = _html(shopper.get(f"orders/{order['id']}"))
        assert '<span id="status">待成团</span>' in paid
        assert "待成团" in visible_text(_html(shopper.get("orders")))
    finally:
        manager.unregister(plugin)
    # an after-sales request in progress comes first: 售后中 (a clean order: the one above has made-up events)
    from mallow.testing.payments import pay_with_sandbox as pay

    other = shopper.client.post(
        f"{shop.prefix}/api/orders",
        headers=bearer(shopper.token),
        json={"items": [{"sku_id": sku, "quantity": 1}], "address_id": shopper.address_id},
    ).get_json()
    pay(shopper.client, shop, shopper.token, other["id"])
    requested = shopper.client.post(
        f"{shop.prefix}/api/orders/{other['id']}/aftersales",
        headers=bearer(shopper.token),
        data={"kind": "refund_only", "reason": "不想要了"},
    )
    assert requested.status_code == 201, requested.get_json()
    page = _html(shopper.get(f"orders/{other['id']}?lang=en"))
    assert '<span id="status">After-sales in progress</span>' in page and 'id="request-aftersale"' not in page
