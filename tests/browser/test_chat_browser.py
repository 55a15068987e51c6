"""客服 in real headless Chromium at 375 px, two pages at once: a shopper opens the chat from an
order and sends a message; the console (already open) shows it without reload; the staff member
opens it and answers; the answer reaches the shopper's page without reload, and the shopper's next
message reaches the open conversation the same way. Screenshots: docs/screenshots/chat/."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from mallow.testing import serving  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))  # demo_store.py, beside this file (pytest's importlib mode)
from demo_store import CHROMIUM, CHROMIUM_ARGS, PHONE_HEIGHT, PHONE_WIDTH, chromium_or_skip, small_png  # noqa: E402
from journey_kit import sideways  # noqa: E402

SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots" / "chat"
LOGIN = "13700001234"
PASSWORD = "chat-pass-123"


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    chromium_or_skip()

    from mallow.testing import bearer, build_app, make_product, make_store
    from mallow.testing.payments import place_order

    app = build_app(tmp_path_factory, "sqlite")
    shop = make_store(app)
    client = app.test_client()
    [sku] = make_product(app, shop, title="临安山核桃仁 500克 礼盒装", price=12850)
    made = client.post(
        f"{shop.prefix}/api/customers", json={"login": LOGIN, "password": PASSWORD, "privacy_consent": True}
    )
    token = made.get_json()["token"]
    address = client.post(
        f"{shop.prefix}/api/addresses",
        headers=bearer(token),
        json={
            "recipient": "周小禾",
            "phone": "13900001111",
            "province": "浙江省",
            "city": "杭州市",
            "district": "临安区",
            "detail": "锦北街道农林大路 88 号",
        },
    ).get_json()["id"]
    order = place_order(client, shop, token, address, sku)
    try:
        with serving(app) as base:
            yield app, shop, order, base
    finally:
        from mallow.testing import dispose_app

        dispose_app(app)


def _shopper_cookie(app, shop, base: str) -> dict:
    from mallow.accounts import customers, sessions
    from mallow.db import db
    from mallow.tenants.context import store_context

    with store_context(shop.store_id, app=app):
        secret = sessions.issue(customers.authenticate(LOGIN, PASSWORD), "cookie")
        db.session.commit()
    value = app.session_interface.get_signing_serializer(app).dumps(
        {sessions.session_key("shopper", shop.store_id): secret, "_permanent": True}
    )
    return {"name": app.config["SESSION_COOKIE_NAME"], "value": value, "url": base}


def _phone(browser, base: str):
    context = browser.new_context(
        viewport={"width": PHONE_WIDTH, "height": PHONE_HEIGHT}, device_scale_factor=1, has_touch=True, locale="zh-CN"
    )
    context.set_default_timeout(15_000)
    context.add_cookies([{"name": "lang", "value": "zh_CN", "url": base}])
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    # failed loads are checked by their answers below (the console's pages have no icon: /favicon.ico)
    page.on(
        "console",
        lambda m: (
            problems.append(f"console: {m.text}")
            if m.type == "error" and not m.text.startswith("Failed to load resource")
            else None
        ),
    )
    page.on(
        "response",
        lambda r: (
            problems.append(f"HTTP {r.status} for {r.url}")
            if r.status >= 400 and not r.url.endswith("/favicon.ico")
            else None
        ),
    )
    return context, page, problems


def _shot(page, name: str) -> None:
    small_png(SHOTS / f"{name}.png", page.screenshot())


def _no_sideways_scroll(page) -> None:
    width, culprits = sideways(page)
    assert width <= PHONE_WIDTH, f"{page.url}: {width} px wide: {culprits}"


def test_shopper_and_staff_talk_without_reloads(served):
    from playwright.sync_api import sync_playwright

    app, shop, order, base = served
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            staff_context, staff, staff_problems = _phone(browser, base)
            staff.goto(f"{base}/merchant/login")
            staff.fill("input[name=email]", shop.email)
            staff.fill("input[name=password]", shop.password)
            staff.locator("form button[type=submit], form input[type=submit]").first.click()
            staff.wait_for_load_state("load")
            staff.goto(f"{base}{shop.prefix}/console/chat")
            staff.wait_for_selector("#cs[data-live]")
            staff.evaluate("() => { window.__notReloaded = true; }")

            shopper_context, shopper, shopper_problems = _phone(browser, base)
            shopper_context.add_cookies([_shopper_cookie(app, shop, base)])
            # the order page's 客服 entry opens the chat with the order's card
            shopper.goto(f"{base}{shop.prefix}/orders/{order['id']}")
            shopper.click("#order-chat")
            shopper.wait_for_selector("#chat[data-live]")
            assert order["number"] in shopper.inner_text("#chat-order-card")
            _no_sideways_scroll(shopper)
            _shot(shopper, "shopper-order-card")
            shopper.evaluate("() => { window.__notReloaded = true; }")

            shopper.click("#chat-send-order")
            shopper.wait_for_selector(".chat-msg.mine .chat-order")
            shopper.fill("#chat-text", "你好，这个订单什么时候发货？")
            shopper.click("#chat-send")
            shopper.wait_for_selector(".chat-msg.mine >> text=这个订单什么时候发货")
            assert shopper.input_value("#chat-text") == ""

            # the console shows it without reload: the list and the nav's unread badge
            staff.wait_for_selector("#cs-list >> text=这个订单什么时候发货")
            assert staff.evaluate("() => window.__notReloaded === true")
            assert staff.inner_text("#nav-chat-unread") == "2"  # the order card and the question
            _no_sideways_scroll(staff)
            _shot(staff, "console-list")

            # the staff member opens it (the shopper's recent orders beside it) and answers
            staff.click("#cs-list a")
            staff.wait_for_selector("#cs-messages >> text=这个订单什么时候发货")
            assert order["number"] in staff.inner_text("#cs-orders")
            staff.evaluate("() => { window.__notReloaded = true; }")
            staff.fill("#cs-text", "您好！今天下午发出，顺丰包邮。<b>不是粗体</b>")
            staff.click("#cs-send")
            staff.wait_for_selector("#cs-messages .cs-msg.mine >> text=今天下午发出")

            # the answer reaches the shopper's page without reload, as text (no HTML)
            shopper.wait_for_selector(".chat-msg.theirs >> text=今天下午发出")
            assert shopper.evaluate("() => window.__notReloaded === true")
            assert "<b>不是粗体</b>" in shopper.inner_text(".chat-msg.theirs .chat-text")
            assert shopper.locator(".chat-msg.theirs b").count() == 0
            _no_sideways_scroll(shopper)
            _shot(shopper, "shopper-reply")

            # and the shopper's next message reaches the open conversation the same way
            shopper.fill("#chat-text", "好的，谢谢！")
            shopper.press("#chat-text", "Enter")
            staff.wait_for_selector("#cs-messages .cs-msg.theirs >> text=好的，谢谢！")
            assert staff.evaluate("() => window.__notReloaded === true")
            _shot(staff, "console-conversation")
            assert not shopper_problems and not staff_problems, shopper_problems + staff_problems
            shopper_context.close()
            staff_context.close()
        finally:
            browser.close()
