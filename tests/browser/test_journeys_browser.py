"""Shoppers' journeys through the demo store in real headless Chromium (Debian's) at 375×812 with a
touch screen, in both themes (the store's active theme switched through the console API), in
Chinese. Every page on the way fails the test on a console error, an HTTP answer ≥ 400 the journey
did not expect, a sideways scroll or a raw key in its text (:mod:`journey_kit`), and is saved as
``docs/screenshots/journeys/<journey>-<step>-<theme>.png``:

* ``buy``: a new shopper opens a product, taps 立即购买, signs up by SMS code on the way, gives an
  address at checkout, lands on the cashier (收银台), pays with the sandbox, sees 支付成功, the order
  (待发货) and it in 我的订单 under 待发货;
* ``flashsale``: a shopper buys the live flash-sale item, taps 立即付款, pays in the same cashier;
* ``refund``: a shopper asks for a refund on a paid order (申请售后), sees 售后中, and after the
  merchant approves (console API) sees the refund and the closed order.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # journey_kit.py, beside this file (pytest's importlib mode)
from journey_kit import THEMES, Journey, new_shopper, pick_region, sign_up_by_sms, translated  # noqa: E402

pytestmark = pytest.mark.browser


def _pay_in_the_cashier(journey: Journey) -> int:
    """On the cashier: the sandbox (the demo store's only method) → 确认支付 → Pay on the sandbox
    cashier → 支付成功 → 查看订单. Returns the order id."""
    page = journey.page
    page.wait_for_url(re.compile(r"/orders/\d+/pay$"))
    order_id = int(re.search(r"/orders/(\d+)/pay$", page.url).group(1))
    text = journey.check("cashier")
    assert page.locator("#countdown b[data-countdown]").count() == 1  # the countdown to auto-close
    assert page.locator('.cs-method[data-method="sandbox"] input').is_checked()
    assert "测试" in text or "Test" in text
    page.locator("#confirm-pay").tap()
    page.wait_for_url(re.compile(r"/pay/sandbox/"))
    journey.check("sandbox")
    page.locator("#pay").tap()
    page.wait_for_url(re.compile(rf"/orders/{order_id}/pay/result$"))
    assert page.locator("#pay-result").get_attribute("data-outcome") == "paid"
    journey.check("paid")
    page.locator("#view-order").tap()
    page.wait_for_url(re.compile(rf"/orders/{order_id}$"))
    assert page.locator("#status").inner_text() == "待发货"
    assert page.locator("#pay").count() == 0 and page.locator("#request-aftersale").count() == 1
    journey.check("order", full_page=True)
    return order_id


@pytest.mark.parametrize("theme", THEMES, indirect=True)
def test_a_new_shopper_buys_now_signs_up_and_pays_in_the_cashier(demo, browser, theme):
    with Journey(demo, browser, "buy", theme=theme) as journey:
        page = journey.goto(f"/products/{demo.ids['product_id']}")
        journey.check("product")
        page.locator("#buy-bar .pd-buy").tap()
        page.locator("#sku-sheet .pd-buy").tap()  # 立即购买: a guest signs in first, then checkout
        page.wait_for_url(re.compile(r"/login\?next="))
        page.locator("#to-register").tap()
        page.wait_for_url(re.compile(r"/register\?next="))
        journey.check("signup", screenshot=False)
        sign_up_by_sms(journey, nickname="新来的")
        page.wait_for_url(re.compile(r"/checkout$"))
        journey.check("checkout")
        page.locator("#f-recipient").fill("周小禾")
        page.locator("#f-phone").fill("13900001111")
        pick_region(page)
        page.locator("#f-detail").fill("锦北街道农林大路 88 号")
        page.locator("#place-order").tap()
        order_id = _pay_in_the_cashier(journey)

        page.locator("#my-orders").tap()
        page.wait_for_url(re.compile(r"/orders$"))
        card = page.locator(f'li[data-order-id="{order_id}"]')
        assert "待发货" in card.inner_text()
        journey.check("orders")
        page.locator('.od-tabs a[data-tab="to_ship"]').tap()
        page.wait_for_url(re.compile(r"/orders\?tab=to_ship$"))
        assert page.locator(f'li[data-order-id="{order_id}"]').count() == 1
        journey.check("orders-to-ship", screenshot=False)


@pytest.mark.parametrize("theme", THEMES, indirect=True)
def test_a_shopper_buys_and_pays_a_flash_sale_item(demo, browser, theme):
    with Journey(demo, browser, "flashsale", theme=theme) as journey:
        new_shopper(demo, journey)
        page = journey.goto(f"/x/flashsale/{demo.ids['sale_id']}")
        journey.check("sale")
        with journey.expect(201, r"/x/flashsale/\d+/buy$"):  # the placed page answers 201 Created
            page.locator("#fs-buy-now").tap()
            page.wait_for_selector("#fs-placed")
            journey.check("placed")
        page.locator("#fs-pay").tap()  # 立即付款 → the cashier
        order_id = _pay_in_the_cashier(journey)
        assert order_id == int(re.search(r"/orders/(\d+)$", page.url).group(1))


@pytest.mark.parametrize("theme", THEMES, indirect=True)
def test_a_shopper_asks_for_a_refund_and_sees_the_outcome(demo, browser, theme):
    from mallow.testing.payments import pay_with_sandbox
    from mallow.testing import bearer

    client = demo.client()
    with Journey(demo, browser, "refund", theme=theme) as journey:
        shopper = new_shopper(demo, journey)
        sku = _any_sku(demo)
        order = client.post(
            f"{demo.prefix}/api/orders",
            headers=bearer(shopper.token),
            json={"items": [{"sku_id": sku, "quantity": 1}], "address_id": shopper.address_id},
        )
        assert order.status_code == 201, order.get_json()
        order = order.get_json()
        pay_with_sandbox(client, SimpleNamespace(prefix=demo.prefix), shopper.token, order["id"])

        page = journey.goto(f"/orders/{order['id']}")
        assert page.locator("#status").inner_text() == "待发货"
        journey.check("paid-order")
        page.locator("#request-aftersale").tap()
        page.wait_for_url(re.compile(rf"/orders/{order['id']}/aftersale$"))
        page.locator('textarea[name="reason"]').fill("拍错了规格，想退款")
        journey.check("request")
        page.locator('form button[type="submit"]').last.tap()
        page.wait_for_url(re.compile(rf"/orders/{order['id']}$"))
        assert page.locator("#status").inner_text() == translated(demo, "After-sales in progress")  # 售后中
        assert page.locator('#aftersales [data-status="requested"]').count() == 1
        journey.check("requested", full_page=True)

        requests = client.get(
            f"{demo.prefix}/api/console/aftersales?status=requested", headers=bearer(demo.merchant_token)
        ).get_json()["items"]
        mine = next(r for r in requests if r["order_id"] == order["id"])
        decided = client.post(
            f"{demo.prefix}/api/console/aftersales/{mine['id']}/decision",
            headers=bearer(demo.merchant_token),
            json={"approve": True},
        )
        assert decided.status_code == 200 and decided.get_json()["status"] == "refunded", decided.get_json()

        page.reload()
        assert page.locator("#status").inner_text() == "已关闭"
        assert page.locator('#aftersales [data-status="refunded"]').count() == 1
        assert page.locator("#refunded").count() == 1
        text = journey.check("refunded", full_page=True)
        assert "已退款" in text


def _any_sku(demo) -> int:
    """An SKU of the demo product with stock to spare."""
    import sqlalchemy as sa

    from mallow.catalog.models import Sku
    from mallow.db import db
    from mallow.tenants.context import store_context

    with store_context(demo.ids["store"], app=demo.app):
        return (
            db.session.execute(
                sa.select(Sku.id).where(Sku.product_id == demo.ids["product_id"], Sku.stock > 5).order_by(Sku.id)
            )
            .scalars()
            .first()
        )
