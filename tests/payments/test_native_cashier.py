"""The cashier picks WeChat Pay's scene from the browser, on SQLite and PostgreSQL: a desktop browser
gets 微信扫码支付 (Native) and, after 确认支付, the QR code of WeChat Pay's code_url (server-drawn SVG)
with the amount, the countdown and 我已支付; a phone browser gets H5; WeChat's browser gets JSAPI. The
QR page's status endpoint answers the shopper's own order only (404 for anyone else's), says
``paid`` once WeChat Pay's notification arrived (or, with ``check=1``, once an active query finds
the payment), and ``expired`` / ``closed`` when the order stopped waiting."""

from __future__ import annotations

import html as htmllib
import re
import sys
from datetime import datetime, timedelta, UTC
from pathlib import Path

import pytest

from mallow.payments.native_qr import qr_svg
from mallow.testing.payments import configure_wechatpay, place_order, post_notification, wechatpay_server
from mallow.testing import PASSWORD, bearer, make_product, make_store, post_form, register_shopper

sys.path.insert(0, str(Path(__file__).parent))  # native_kit.py, beside this file (pytest's importlib mode)
from native_kit import DESKTOP_UA, PHONE_UA, WECHAT_UA, qr_modules, svg_modules  # noqa: E402


def _html(response) -> str:
    return response.get_data(as_text=True)


class Browser:
    """A signed-in shopper's browser with a user agent, and an unpaid order of theirs."""

    def __init__(self, app, shop, sku, user_agent: str):
        self.shop, self.client = shop, app.test_client()
        self.client.environ_base["HTTP_USER_AGENT"] = user_agent
        login = register_shopper(self.client, shop)
        token = self.client.post(f"{shop.prefix}/api/tokens", json={"login": login, "password": PASSWORD})
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
        ).get_json()
        self.order = place_order(self.client, shop, self.token, address["id"], sku)
        self.cashier = f"{shop.prefix}/orders/{self.order['id']}/pay"

    def status(self, check: bool = False):
        return self.client.get(self.cashier + "/status" + ("?check=1" if check else ""))

    def confirm(self):
        return post_form(self.client, self.cashier, {"method": "wechatpay"})


@pytest.fixture
def shop(app, merchant):
    shop = make_store(app)
    [sku] = make_product(app, shop, title="临安山核桃仁", price=3990)
    configure_wechatpay(app, shop, merchant, oauth_appsecret="s" * 32)
    shop.sku = sku
    return shop


def _code_url(page: str) -> str:
    return htmllib.unescape(re.search(r'id="native-qr" data-code-url="([^"]+)"', page).group(1))


def test_a_desktop_browser_is_offered_wechat_pay_by_qr_code_and_sees_the_code(app, merchant, shop):
    with wechatpay_server(app, merchant) as server:
        desktop = Browser(app, shop, shop.sku, DESKTOP_UA)
        offered = _html(desktop.client.get(desktop.cashier + "?lang=en"))
        assert 'data-method="wechatpay" data-scene="native"' in offered
        assert "WeChat Pay (scan QR code)" in offered and 'id="native-pay"' not in offered

        shown = desktop.confirm()
        assert shown.status_code == 200, _html(shown)[:500]
        page = _html(shown)
        code_url = _code_url(page)
        out_trade_no = desktop.client.get(
            f"{shop.prefix}/api/orders/{desktop.order['id']}", headers=bearer(desktop.token)
        ).get_json()["timeline"][-1]["detail"]["out_trade_no"]
        assert server.order(out_trade_no).code_url == code_url and server.order(out_trade_no).trade_type == "NATIVE"
        # the QR code is drawn on the server from the code_url: its modules are that code's
        svg = re.search(r"<svg .*?</svg>", page, re.S).group(0)
        title = htmllib.unescape(re.search(r"<title>(.*?)</title>", svg).group(1))
        assert svg == str(qr_svg(code_url, title=title)) and svg_modules(svg) == qr_modules(code_url)
        # the amount, the countdown (no reload of this POST page), 我已支付 to the result, the poll's address
        assert "¥39.90" in page and re.search(r'data-countdown="\d+">', page) and "data-reload" not in page
        assert re.search(rf'id="native-pay" data-status="[^"]*/orders/{desktop.order["id"]}/pay/status"', page)
        assert re.search(r'id="paid-already">', page) and "native_pay.js" in page and "<script>" not in page
        assert 'id="pay-form"' not in page and 'id="handoff"' not in page  # no H5 handoff, no second 确认支付

        # 确认支付 again while the attempt is open: the same code
        assert _code_url(_html(desktop.confirm())) == code_url
        assert desktop.status().get_json() == {
            "paid": False,
            "state": "waiting",
            "next": f"{shop.prefix}/orders/{desktop.order['id']}/pay/result",
        }
        assert desktop.status().headers["Cache-Control"] == "no-store"

        # the payer scans and pays; WeChat Pay notifies the store; the poll says paid, the result page 支付成功
        server.scan_and_pay(code_url, deliver=lambda n: post_notification(app.test_client(), shop, "wechatpay", n))
        answer = desktop.status().get_json()
        assert answer["paid"] is True and answer["state"] == "paid"
        landed = desktop.client.get(answer["next"])
        assert 'data-outcome="paid"' in _html(landed) and 'id="test-order"' not in _html(landed)


def test_i_have_paid_asks_wechat_pay_when_the_notification_is_late(app, merchant, shop):
    with wechatpay_server(app, merchant) as server:
        desktop = Browser(app, shop, shop.sku, DESKTOP_UA)
        code_url = _code_url(_html(desktop.confirm()))
        server.scan_and_pay(code_url)  # paid at WeChat Pay, the notification never came
        assert desktop.status().get_json()["paid"] is False  # the poll reads the database only
        checked = desktop.status(check=True).get_json()  # 我已支付: one active query
        assert checked["paid"] is True and checked["state"] == "paid"
        assert desktop.client.get(desktop.cashier).location.endswith("/pay/result")


def test_a_phone_browser_keeps_h5_and_wechat_keeps_jsapi(app, merchant, shop):
    with wechatpay_server(app, merchant):
        phone = Browser(app, shop, shop.sku, PHONE_UA)
        assert 'data-method="wechatpay" data-scene="h5"' in _html(phone.client.get(phone.cashier))
        handoff = _html(phone.confirm())
        assert 'id="handoff" data-handoff="url"' in handoff and 'id="native-pay"' not in handoff
        assert "https://wx.tenpay.com/" in handoff and "<svg" not in handoff

        wechat = Browser(app, shop, shop.sku, WECHAT_UA)
        assert 'data-method="wechatpay" data-scene="jsapi"' in _html(wechat.client.get(wechat.cashier))
        # no openid yet: WeChat web authorisation first (JSAPI), never a QR code inside WeChat
        first = wechat.confirm()
        assert first.status_code == 303 and "/wechat/authorize" in first.location


def test_the_status_is_the_shoppers_own_and_says_when_the_order_stopped_waiting(app, merchant, shop):
    from mallow.db import db
    from mallow.orders.models import Order
    from mallow.tenants.context import store_context

    with wechatpay_server(app, merchant):
        desktop = Browser(app, shop, shop.sku, DESKTOP_UA)
        desktop.confirm()
        stranger = Browser(app, shop, shop.sku, DESKTOP_UA)
        assert stranger.client.get(desktop.cashier + "/status").status_code == 404
        assert stranger.client.get(desktop.cashier + "/status?check=1").status_code == 404
        assert stranger.client.get(f"{shop.prefix}/orders/999999/pay/status").status_code == 404
        signed_out = app.test_client().get(desktop.cashier + "/status")
        assert signed_out.status_code in (302, 303, 401) and not signed_out.is_json
        other_shop = make_store(app)
        assert desktop.client.get(f"{other_shop.prefix}/orders/{desktop.order['id']}/pay/status").status_code in (
            302,
            303,
            401,
            404,
        )

        # past the deadline: the poll sends the page to the cashier, which shows the expired state
        with store_context(shop.store_id, app=app):
            db.session.get(Order, desktop.order["id"]).pay_deadline = datetime.now(UTC) - timedelta(seconds=1)
            db.session.commit()
        expired = desktop.status().get_json()
        assert expired == {"paid": False, "state": "expired", "next": desktop.cashier}
        page = _html(desktop.client.get(expired["next"]))
        assert 'id="expired"' in page and re.search(r'id="confirm-pay" disabled', page)
        refused = desktop.confirm()
        assert refused.status_code == 409 and 'id="native-pay"' not in _html(refused)

        # cancelled: closed, and the cashier sends the shopper to the order
        post_form(
            desktop.client,
            f"{shop.prefix}/orders/{desktop.order['id']}/cancel",
            {},
            form_path=f"{shop.prefix}/orders/{desktop.order['id']}",
        )
        closed = desktop.status().get_json()
        assert closed["paid"] is False and closed["state"] == "closed"
        assert desktop.client.get(closed["next"]).location.endswith(f"/orders/{desktop.order['id']}")
