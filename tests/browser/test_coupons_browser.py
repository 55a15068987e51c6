"""A coupon's whole life on a phone, in real headless Chromium (Debian's) at 375×812, in Chinese:
a shopper claims a coupon in the claim centre (领券中心: coupons.js claims in place), sees it on
the product page's 领券 row, buys now; at checkout the coupon is pre-selected and the total shows
the saving; the list of coupons opens; the shopper pays in the sandbox cashier, the order's receipt
shows the coupon by name; the shopper asks for a refund, the merchant approves it (console API),
and 我的 → 优惠券 shows the coupon usable again (a full refund gives it back).

Every page fails the test on a console error, an unexpected HTTP error, a sideways scroll or a
raw key (:mod:`journey_kit`); screenshots go to ``docs/screenshots/coupons/<step>.png``.
"""

from __future__ import annotations

import re
import sys
from datetime import datetime, timedelta, UTC
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # journey_kit.py, beside this file (pytest's importlib mode)
from journey_kit import Journey, new_shopper, translated  # noqa: E402
from demo_store import small_png  # noqa: E402

pytestmark = pytest.mark.browser

SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots" / "coupons"
NAME = "山核桃尝鲜券"


def _shot(journey: Journey, step: str, full_page: bool = False) -> str:
    text = journey.check(step, screenshot=False)
    small_png(SHOTS / f"{step}.png", journey.page.screenshot(full_page=full_page))
    return text


def _coupon(demo) -> dict:
    """An active ¥8-off coupon of the demo store, made through the console API."""
    from mallow.testing import bearer

    now = datetime.now(UTC)
    made = demo.client().post(
        f"{demo.prefix}/api/console/coupons",
        headers=bearer(demo.merchant_token),
        json={
            "name": NAME,
            "description": "全店通用",
            "kind": "no_threshold",
            "amount_fen": 800,
            "total_quantity": 500,
            "starts_at": (now - timedelta(days=1)).isoformat(),
            "ends_at": (now + timedelta(days=30)).isoformat(),
            "status": "active",
        },
    )
    assert made.status_code == 201, made.get_json()
    return made.get_json()


def test_claim_use_refund_and_the_coupon_comes_back(demo, browser):
    from mallow.testing import bearer

    coupon = _coupon(demo)
    client = demo.client()
    with Journey(demo, browser, "coupons") as journey:
        new_shopper(demo, journey)
        page = journey.goto("/coupons")
        card = page.locator(f'#offers [data-coupon-id="{coupon["id"]}"]')
        assert "无门槛减¥8.00" in card.inner_text()
        _shot(journey, "claim-centre")
        card.locator("button[type=submit]").tap()  # coupons.js: claimed in place
        page.wait_for_selector(f'#offers [data-coupon-id="{coupon["id"]}"][data-state="claimed"]')
        assert card.locator("button").inner_text() == "已领取"
        assert page.locator("#claim-status").inner_text() == f"领取成功：{NAME}"
        _shot(journey, "claimed")

        page = journey.goto(f"/products/{demo.ids['product_id']}")
        row = page.locator("#coupon-row")
        assert "无门槛减¥8.00" in row.inner_text()
        row.locator("summary").tap()
        assert row.locator(f'[data-coupon-id="{coupon["id"]}"][data-state="claimed"]').count() == 1
        _shot(journey, "product")
        page.locator("#buy-bar .pd-buy").tap()
        page.locator("#sku-sheet .pd-buy").tap()  # 立即购买 → checkout
        page.wait_for_url(re.compile(r"/checkout"))

        # the coupon is pre-selected, its line in the receipt, the saving beside the total
        assert NAME in page.locator("#coupon-current").inner_text()
        line = page.locator('#receipt tr[data-source="coupon"]')
        assert (
            line.inner_text().startswith(f"优惠券：{NAME}")
            and line.locator("[data-amount]").get_attribute("data-amount") == "-800"
        )
        assert page.locator("#coupon-saving").inner_text() == "优惠券已省¥8.00"
        total = int(page.locator("#receipt").get_attribute("data-total"))
        _shot(journey, "checkout")
        page.locator("#coupon-pick summary").tap()
        assert page.locator('#coupon-options .cp-choice[aria-pressed="true"]').count() == 1
        _shot(journey, "checkout-coupons")
        with page.expect_navigation():
            page.locator("#no-coupon").tap()  # 不使用优惠券: priced again without it
        assert int(page.locator("#receipt").get_attribute("data-total")) == total + 800
        assert page.locator("#coupon-pick").get_attribute("open") is not None  # the list stays open
        _shot(journey, "checkout-none")
        with page.expect_navigation():
            page.locator("#coupon-options button.cp-choice").first.tap()  # and back to the coupon
        assert int(page.locator("#receipt").get_attribute("data-total")) == total
        page.locator("#place-order").tap()

        # the sandbox cashier
        page.wait_for_url(re.compile(r"/orders/\d+/pay$"))
        order_id = int(re.search(r"/orders/(\d+)/pay$", page.url).group(1))
        page.locator("#confirm-pay").tap()
        page.wait_for_url(re.compile(r"/pay/sandbox/"))
        page.locator("#pay").tap()
        page.wait_for_url(re.compile(rf"/orders/{order_id}/pay/result$"))
        page.locator("#view-order").tap()
        page.wait_for_url(re.compile(rf"/orders/{order_id}$"))
        assert f"优惠券：{NAME}" in page.locator("#receipt").inner_text()
        _shot(journey, "order", full_page=True)

        page = journey.goto("/account/coupons?tab=used")
        assert page.locator("#holdings .cp-card").count() == 1
        _shot(journey, "used")

        # a refund, approved by the merchant: the coupon is usable again
        page = journey.goto(f"/orders/{order_id}")
        page.locator("#request-aftersale").tap()
        page.wait_for_url(re.compile(rf"/orders/{order_id}/aftersale$"))
        page.locator('textarea[name="reason"]').fill("不想要了")
        page.locator('form button[type="submit"]').last.tap()
        page.wait_for_url(re.compile(rf"/orders/{order_id}$"))
        requests = client.get(
            f"{demo.prefix}/api/console/aftersales?status=requested", headers=bearer(demo.merchant_token)
        ).get_json()["items"]
        mine = next(r for r in requests if r["order_id"] == order_id)
        decided = client.post(
            f"{demo.prefix}/api/console/aftersales/{mine['id']}/decision",
            headers=bearer(demo.merchant_token),
            json={"approve": True},
        )
        assert decided.status_code == 200 and decided.get_json()["status"] == "refunded", decided.get_json()

        page = journey.goto("/account")
        page.locator("#entry-coupons").tap()
        page.wait_for_url(re.compile(r"/account/coupons$"))
        usable = page.locator("#holdings .cp-card")
        assert usable.count() == 1 and NAME in usable.inner_text()
        assert usable.locator("[data-use]").inner_text() == translated(demo, "Use now")  # 去使用
        _shot(journey, "usable-again")
