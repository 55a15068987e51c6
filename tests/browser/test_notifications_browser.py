"""站内信 in real headless Chromium at 375 px: after a shopper pays, the merchant's console shows
the unread count in its nav; the staff member opens the message (the order's number in it) and the
count goes. Screenshots: docs/screenshots/notifications/."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from mallow.testing import serving  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))  # demo_store.py, beside this file (pytest's importlib mode)
from demo_store import CHROMIUM, CHROMIUM_ARGS, PHONE_HEIGHT, PHONE_WIDTH, chromium_or_skip, small_png  # noqa: E402
from journey_kit import sideways  # noqa: E402

SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots" / "notifications"


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    chromium_or_skip()

    from mallow.testing import build_app, make_product, make_shopper, make_store
    from mallow.testing.payments import place_order

    app = build_app(tmp_path_factory, "sqlite")
    shop = make_store(app)
    client = app.test_client()
    [sku] = make_product(app, shop, title="临安山核桃仁 500克 礼盒装", price=12850)
    token, address = make_shopper(client, shop)
    order = place_order(client, shop, token, address, sku)
    try:
        with serving(app) as base:
            yield app, shop, client, token, order, base
    finally:
        from mallow.testing import dispose_app

        dispose_app(app)


def _no_sideways_scroll(page) -> None:
    width, culprits = sideways(page)
    assert width <= PHONE_WIDTH, f"{page.url}: {width} px wide: {culprits}"


def test_the_console_shows_the_unread_message_after_a_shopper_pays_and_opens_it(served):
    from playwright.sync_api import sync_playwright

    from mallow.testing.payments import pay_with_sandbox

    app, shop, client, token, order, base = served
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            context = browser.new_context(
                viewport={"width": PHONE_WIDTH, "height": PHONE_HEIGHT},
                device_scale_factor=1,
                has_touch=True,
                locale="zh-CN",
            )
            context.set_default_timeout(15_000)
            context.add_cookies([{"name": "lang", "value": "zh_CN", "url": base}])
            page = context.new_page()
            problems: list[str] = []
            page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
            page.on(
                "response",
                lambda r: (
                    problems.append(f"HTTP {r.status} for {r.url}")
                    if r.status >= 400 and not r.url.endswith("/favicon.ico")
                    else None
                ),
            )
            page.goto(f"{base}/merchant/login")
            page.fill("input[name=email]", shop.email)
            page.fill("input[name=password]", shop.password)
            page.locator("form button[type=submit], form input[type=submit]").first.click()
            page.wait_for_load_state("load")
            page.goto(f"{base}{shop.prefix}/console/")
            assert page.locator("#nav-messages").count() == 1 and page.locator("#nav-unread").count() == 0

            pay_with_sandbox(client, shop, token, order["id"])  # the shopper pays at the sandbox cashier

            page.reload()
            assert page.inner_text("#nav-unread") == "1"
            _no_sideways_scroll(page)
            small_png(SHOTS / "console-unread.png", page.screenshot())

            page.goto(base + page.get_attribute("#nav-messages", "href"))  # the nav's 消息 entry
            item = page.locator("#notifications li.unread")
            assert item.count() == 1 and "新订单已付款" in item.inner_text()
            assert "1 条未读" in page.inner_text("#unread-total")
            _no_sideways_scroll(page)
            small_png(SHOTS / "console-inbox.png", page.screenshot())

            item.locator("a").click()
            page.wait_for_selector("#notification-body")
            assert order["number"] in page.inner_text("#notification-body")
            assert page.locator("#nav-unread").count() == 0  # opened: read
            _no_sideways_scroll(page)
            small_png(SHOTS / "console-message.png", page.screenshot())
            page.click("#notification-link")
            page.wait_for_load_state("load")
            assert page.url.endswith(f"/console/orders/{order['id']}")
            assert not problems, problems
            context.close()
        finally:
            browser.close()
