"""The web checkout's new address and its stock-short answer, as a shopper meets them on a phone
(real headless Chromium at 375×812, zh_CN, ``journey_kit``'s checks at every step):

* the new-address form offers the address book's cascading 省 → 市 → 区 picker (no city typed by
  hand): a province alone flags the city *and* the district at once; picking them places the
  order, which keeps the GB/T 2260 codes (330000 → 330100 → 330112 for 浙江省 杭州市 临安区);
* stock running short between the page and 提交订单 (409) says so with a link to the cart that
  works, the bottom bar leads to the cart instead of offering 提交订单 again, and the note and the
  new address typed are all still there.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # journey_kit.py, beside this file (pytest's importlib mode)
from journey_kit import Journey, new_shopper, pick_region, translated  # noqa: E402

pytestmark = pytest.mark.browser

CODES = {"province_code": "330000", "city_code": "330100", "district_code": "330112"}  # 浙江省 杭州市 临安区


def _sku(demo) -> tuple[int, str]:
    """A SKU of the demo product with stock to spare, and the product's title."""
    import sqlalchemy as sa
    from mallow.catalog.models import Product
    from mallow.db import db
    from mallow.tenants.context import store_context

    with store_context(demo.ids["store"], app=demo.app):
        product = db.session.execute(sa.select(Product).filter_by(id=demo.ids["product_id"])).scalar_one()
        return next(s.id for s in sorted(product.skus, key=lambda s: s.id) if s.stock > 20), product.title


def _api(demo, method: str, path: str, token: str, body: dict | None = None) -> dict:
    from mallow.testing import bearer

    response = getattr(demo.client(), method)(f"{demo.prefix}/api{path}", headers=bearer(token), json=body)
    assert response.status_code < 300, (path, response.status_code, response.get_data(as_text=True)[:300])
    return response.get_json() if response.data else {}


def _submit_expecting(journey: Journey, status: int) -> None:
    page = journey.page
    with journey.expect(status, r"/checkout$"), page.expect_navigation():
        page.locator("#place-order").tap()
    # the browser logs the expected answer as a console error too: that one is expected as well
    journey.problems[:] = [p for p in journey.problems if f"status of {status}" not in p]


def test_a_new_address_at_checkout_is_picked_from_the_regions_and_a_short_stock_leads_to_the_cart(demo, browser):
    sku, title = _sku(demo)
    with Journey(demo, browser, "checkout-address") as journey:
        page = journey.page
        shopper = new_shopper(demo, journey, address=False)
        _api(demo, "post", "/cart/items", shopper.token, {"sku_id": sku, "quantity": 1})

        # no saved address: the form, with the picker (no free-text city), its step button hidden
        journey.goto("/checkout")
        assert page.locator('input[name="city"], input[name="district"]').count() == 0
        assert page.locator("#f-city_code").is_disabled()
        assert not page.locator("#region-step").is_visible()
        journey.check("checkout-new-address", screenshot=False)

        # a province only: the city and the district are both flagged on this one submit
        page.locator("#f-recipient").fill("周小禾")
        page.locator("#f-phone").fill("13900001111")
        page.locator("#f-province_code").select_option(label="浙江省")
        page.wait_for_selector('#f-city_code:not([disabled]) option[value="330100"]', state="attached")
        page.locator("#f-detail").fill("锦北街道农林大路 88 号")
        page.locator("#f-note").fill("请周末送达")
        _submit_expecting(journey, 422)
        assert page.locator('[data-field="city_code"]').inner_text() == translated(demo, "Choose the city.")
        assert page.locator('[data-field="district_code"]').inner_text() == translated(demo, "Choose the district.")
        assert page.locator('[data-field="province_code"]').count() == 0
        assert page.locator("#f-province_code").input_value() == "330000"  # kept, its cities offered
        assert page.locator("#f-note").input_value() == "请周末送达"
        journey.check("checkout-missing-levels", screenshot=False)

        # pick the city and the district: the order is placed with the codes
        page.locator("#f-city_code").select_option(label="杭州市")
        page.wait_for_selector('#f-district_code:not([disabled]) option[value="330112"]', state="attached")
        page.locator("#f-district_code").select_option(label="临安区")
        with page.expect_navigation():
            page.locator("#place-order").tap()
        page.wait_for_url(re.compile(r"/orders/\d+/pay$"))
        order_id = int(re.search(r"/orders/(\d+)/pay$", page.url).group(1))
        address = _api(demo, "get", f"/orders/{order_id}", shopper.token)["address"]
        assert {k: address[k] for k in CODES} == CODES, address
        assert (address["province"], address["city"], address["district"]) == ("浙江省", "杭州市", "临安区")
        assert address["detail"] == "锦北街道农林大路 88 号"

        # two in the cart, a second new address and a note; then stock drops to one before 提交订单
        _api(demo, "post", "/cart/items", shopper.token, {"sku_id": sku, "quantity": 2})
        journey.goto("/checkout")
        page.locator('input[name="address_id"][value="new"]').check()
        page.locator("#f-recipient").fill("林小满")
        page.locator("#f-phone").fill("13800000000")
        pick_region(page)
        page.locator("#f-detail").fill("锦城街道衣锦街 100 号")
        page.locator("#f-note").fill("不要放快递柜")
        _api(demo, "post", "/console/skus/bulk", demo.merchant_token, {"items": [{"sku_id": sku, "stock": 1}]})
        try:
            _submit_expecting(journey, 409)
            notice = page.locator("#notice")
            sold_out = translated(demo, "%(title)s has sold out. Change the quantity in your cart.", title=title)
            assert sold_out in notice.inner_text()
            # everything typed is still there: the note and the new address, its region included
            kept = {s: page.locator(s).input_value() for s in ("#f-note", "#f-recipient", "#f-phone", "#f-detail")}
            assert kept == {
                "#f-note": "不要放快递柜",
                "#f-recipient": "林小满",
                "#f-phone": "13800000000",
                "#f-detail": "锦城街道衣锦街 100 号",
            }
            assert {f: page.locator(f"#f-{f}").input_value() for f in CODES} == CODES
            assert page.locator('input[name="address_id"][value="new"]').is_checked()
            # 提交订单 with the old quantity is not offered again; the bar leads to the cart
            assert page.locator("#place-order").count() == 0
            assert page.locator("#to-cart").is_visible()
            journey.check("checkout-stock-short", screenshot=False)

            # the notice's link opens the cart
            with page.expect_navigation():
                notice.locator("a#notice-cart").tap()
            page.wait_for_url(re.compile(r"/cart$"))
            assert title in page.locator("main").inner_text()
            journey.check("cart-after-short", screenshot=False)
        finally:
            _api(demo, "post", "/console/skus/bulk", demo.merchant_token, {"items": [{"sku_id": sku, "stock": 50}]})


def test_without_javascript_the_step_button_shows_each_next_level_and_the_order_is_placed(demo, browser):
    from journey_kit import PHONE_HEIGHT, PHONE_WIDTH, session_cookie

    sku, _title = _sku(demo)
    shopper = new_shopper(demo, address=False)
    _api(demo, "post", "/cart/items", shopper.token, {"sku_id": sku, "quantity": 1})
    context = browser.new_context(
        viewport={"width": PHONE_WIDTH, "height": PHONE_HEIGHT}, locale="zh-CN", java_script_enabled=False
    )
    try:
        context.add_cookies([demo.language_cookie("zh_CN"), session_cookie(demo, shopper.login)])
        page = context.new_page()
        page.goto(demo.store + "/checkout")
        page.locator("#f-recipient").fill("周小禾")
        page.locator("#f-phone").fill("13900001111")
        page.locator("#f-detail").fill("锦北街道农林大路 88 号")
        page.locator("#f-note").fill("请周末送达")
        step = page.locator("#region-step")
        assert step.is_visible()
        page.locator("#f-province_code").select_option(label="浙江省")
        with page.expect_navigation():
            step.click()  # the next level, nothing placed
        page.locator("#f-city_code").select_option(label="杭州市")
        with page.expect_navigation():
            page.locator("#region-step").click()
        page.locator("#f-district_code").select_option(label="临安区")
        assert page.locator("#f-note").input_value() == "请周末送达"
        assert page.locator("#f-recipient").input_value() == "周小禾"
        with page.expect_navigation():
            page.locator("#place-order").click()
        page.wait_for_url(re.compile(r"/orders/\d+/pay$"))
        order_id = int(re.search(r"/orders/(\d+)/pay$", page.url).group(1))
        address = _api(demo, "get", f"/orders/{order_id}", shopper.token)["address"]
        assert {k: address[k] for k in CODES} == CODES, address
    finally:
        context.close()
