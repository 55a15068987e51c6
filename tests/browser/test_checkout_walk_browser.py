"""A web shopper's whole walk through the demo store in real headless Chromium at 375×812, in
Chinese and then in English, checking what a person sees on the way (``journey_kit``: no console
error, no unexpected HTTP error, no sideways scroll, no raw key on any page):

the address book's form (its phone hint readable) → a product → 立即购买 → checkout with a new
address (a bad phone number first: the field's message, nothing typed lost) → the cashier (its
测试订单 badge a badge, not a bar) → the sandbox → the order (the option as the cart writes it,
not the spec key ``口味:奶油;规格:500g``) → 申请售后 (two choice cards, each radio beside its words)
→ the order with the request's state in words (待审核, never the untranslated "Waiting for the
store") → in English, the order's number whole with its Copy button on one line, and the order
list's card showing the number, not "Order nu…".

Each of those fails on the code before this walk's fixes. The journey runs in the default theme
(the order pages are the theme's templates; ``test_journeys_browser.py`` walks both themes).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # journey_kit.py, beside this file (pytest's importlib mode)
from journey_kit import Journey, new_shopper, pick_region, translated  # noqa: E402

pytestmark = pytest.mark.browser

#: the text of an element lies on one line (a button squeezed to "Cop" / "y" has two line boxes)
ONE_LINE = """(el) => { const range = document.createRange(); range.selectNodeContents(el);
  const tops = new Set([...range.getClientRects()].map((r) => Math.round(r.top)));
  return tops.size === 1; }"""
#: an element shows all of its text (no ellipsis cutting it short)
WHOLE = "(el) => el.scrollWidth <= el.clientWidth + 1"


def test_a_shopper_buys_pays_and_asks_for_a_refund_and_reads_every_step(demo, browser):
    with Journey(demo, browser, "walk") as journey:
        page = journey.page
        new_shopper(demo, journey, address=False)

        # the address book's form: the phone hint is the translated sentence, not `"以`
        journey.goto("/account/addresses/new")
        journey.check("address-new", screenshot=False)
        hint = translated(demo, "11 digits, starting with 1")
        assert page.locator("#f-phone").get_attribute("placeholder") == hint

        # a product → 立即购买 in the option sheet → checkout (no saved address: the form)
        journey.goto(f"/products/{demo.ids['product_id']}")
        page.locator("#buy-bar .pd-buy").tap()
        with page.expect_navigation():
            page.locator("#sku-sheet .pd-buy").tap()
        page.wait_for_url(re.compile(r"/checkout$"))
        journey.check("checkout", screenshot=False)

        # a bad phone number: its own message; what was typed stays
        page.locator("#f-recipient").fill("周小禾")
        page.locator("#f-phone").fill("12345")
        pick_region(page)
        page.locator("#f-detail").fill("锦北街道农林大路 88 号")
        page.locator("#f-note").fill("请周末送达")
        with journey.expect(422, r"/checkout$"), page.expect_navigation():
            page.locator("#place-order").tap()
        # the browser logs the expected 422 as a console error too: that one is expected as well
        journey.problems[:] = [p for p in journey.problems if "status of 422" not in p]
        phone_error = page.locator('[data-field="phone"]')
        assert phone_error.inner_text() == translated(demo, "Enter an 11-digit mainland mobile number.")
        kept = {s: page.locator(s).input_value() for s in ("#f-recipient", "#f-city_code", "#f-detail", "#f-note")}
        assert kept == {
            "#f-recipient": "周小禾",
            "#f-city_code": "330100",
            "#f-detail": "锦北街道农林大路 88 号",
            "#f-note": "请周末送达",
        }
        assert page.locator("#f-province_code").input_value() == "330000"
        journey.check("checkout-bad-phone", screenshot=False)

        page.locator("#f-phone").fill("13900001111")
        option = page.locator("#receipt .receipt-line small.muted").first.inner_text()
        with page.expect_navigation():
            page.locator("#place-order").tap()

        # the cashier: the sandbox's 测试订单 badge is as wide as its words
        page.wait_for_url(re.compile(r"/orders/\d+/pay$"))
        order_id = int(re.search(r"/orders/(\d+)/pay$", page.url).group(1))
        journey.check("cashier", screenshot=False)
        badge = page.locator('.cs-method[data-method="sandbox"] .badge-test').bounding_box()
        name = page.locator('.cs-method[data-method="sandbox"] .cs-name').bounding_box()
        assert badge["width"] < name["width"] / 2, (badge, name)

        page.locator("#confirm-pay").tap()
        page.wait_for_url(re.compile(r"/pay/sandbox/"))
        page.locator("#pay").tap()
        page.wait_for_url(re.compile(rf"/orders/{order_id}/pay/result$"))
        with page.expect_navigation():
            page.locator("#view-order").tap()

        # the order: its line's option in words (values, as the cart shows them), here and in the receipt
        assert page.locator("#status").inner_text() == translated(demo, "Awaiting shipment")  # 待发货
        item_option = page.locator("#items li small.od-muted").first.inner_text()
        receipt_option = page.locator("#receipt .receipt-line small.muted").first.inner_text()
        for shown in (option, item_option, receipt_option):
            assert ":" not in shown and ";" not in shown, shown
            assert re.fullmatch(r"\S+( / \S+)+", shown), shown  # e.g. 奶油 / 500g
        journey.check("order", screenshot=False)

        # 申请售后: two choice cards, each radio beside (left of) its words
        with page.expect_navigation():
            page.locator("#request-aftersale").tap()
        for kind in ("refund_only", "return_refund"):
            card = page.locator(f'fieldset:has(input[name="kind"]) label:has(input[value="{kind}"])')
            radio = card.locator("input").bounding_box()
            box = card.bounding_box()
            assert radio["width"] <= 24, radio  # not stretched across the form
            assert box["height"] < 2 * 44, box  # one row: the radio does not sit above its words
        journey.check("aftersale", screenshot=False)
        page.locator('input[name="kind"][value="refund_only"]').check()
        page.locator('textarea[name="reason"]').fill("拍错了规格，想退款")
        with page.expect_navigation():
            page.locator('form button[type="submit"]').last.tap()
        page.wait_for_url(re.compile(rf"/orders/{order_id}$"))

        # the request's state, in Chinese
        state = page.locator('#aftersales [data-status="requested"] strong').inner_text()
        assert state == translated(demo, "Awaiting approval") != "Awaiting approval", state  # 待审核
        journey.check("requested", screenshot=False)

        # in English: the order's number whole, its Copy button on one line
        journey.context.add_cookies([demo.language_cookie("en")])
        page.reload()
        assert page.locator("#status").inner_text() == "After-sales in progress"
        assert page.locator('#aftersales [data-status="requested"] strong').inner_text() == "Awaiting approval"
        copy = page.locator("#copy-number")
        assert copy.inner_text() == "Copy"
        assert copy.evaluate(ONE_LINE), "the Copy button breaks into two lines"
        assert page.locator("#order-number").evaluate(ONE_LINE), "the order number breaks into two lines"
        journey.check("requested-en", screenshot=False)

        # the order list: the card's number is shown whole beside its badges
        with page.expect_navigation():
            page.locator("#my-orders").tap()
        number = page.locator(f'li[data-order-id="{order_id}"] .od-row-head > span').first
        assert number.evaluate(WHOLE), f"the order number is cut: {number.inner_text()!r}"
        assert "After-sales in progress" in page.locator(f'li[data-order-id="{order_id}"]').inner_text()
        journey.check("orders-en", screenshot=False)
