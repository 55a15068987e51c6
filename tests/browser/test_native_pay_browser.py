"""WeChat Pay Native (微信扫码支付) at the cashier in real headless Chromium (Debian's), with a desktop
browser's user agent, at a desktop window (1280×800) and on a 375×812 screen (a phone user on a
desktop user agent), in both themes: the demo store takes WeChat Pay (the fake WeChat Pay on
127.0.0.1), the shopper opens the cashier of an unpaid order, 微信扫码支付 is the method, 确认支付
shows the QR code (an ``<svg>`` whose modules are the QR code of the order's ``code_url``), the amount,
the countdown and 我已支付 (tapped before paying, it says nothing has arrived yet); the test pays the
code at the fake WeChat Pay (a payer scanning it: WeChat Pay's signed notification reaches the
store) and the page moves to 支付成功 by itself. No console error, no sideways scroll, no raw key,
tap targets of 44 px at least; the pages are saved as
``docs/screenshots/journeys/native-pay-<step>-<theme>.png`` (``-desktop`` at 1280 px)."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # journey_kit.py, beside this file (pytest's importlib mode)
sys.path.insert(0, str(Path(__file__).parents[1] / "payments"))  # native_kit.py
from journey_kit import THEMES, Journey, new_shopper, raw_keys, sideways, translated, visible_text  # noqa: E402
from native_kit import DESKTOP_UA, qr_modules, svg_modules  # noqa: E402

pytestmark = pytest.mark.browser
SIZES = {"desktop": (1280, 800), "phone": (375, 812)}


@pytest.fixture(scope="module")
def takes_wechat_pay(demo):
    """The demo store takes WeChat Pay from here on (a fake server on 127.0.0.1)."""
    from mallow.testing.payments import configure_wechatpay, wechatpay_server
    from mallow.testing.wechatpay import make_fake_merchant

    merchant = make_fake_merchant()
    with wechatpay_server(demo.app, merchant) as server:
        configure_wechatpay(demo.app, SimpleNamespace(store_id=demo.ids["store"]), merchant)
        yield server


def _unpaid_order(demo, shopper) -> int:
    from mallow.testing import bearer

    client = demo.client()
    product = client.get(f"{demo.prefix}/api/products/{demo.ids['product_id']}").get_json()
    sku = next(s["id"] for s in product["skus"] if s["stock"] > 5)
    placed = client.post(
        f"{demo.prefix}/api/orders",
        headers=bearer(shopper.token),
        json={"items": [{"sku_id": sku, "quantity": 1}], "address_id": shopper.address_id},
    )
    assert placed.status_code == 201, placed.get_json()
    return placed.get_json()["id"]


def _settled(journey: Journey, step: str, width: int) -> str:
    """Nothing went wrong so far, nothing scrolls sideways at ``width``, no raw key; a screenshot."""
    page = journey.page
    scroll, culprits = sideways(page, width)
    text = visible_text(page)
    assert scroll <= width, f"[{journey.theme}] {step}: {scroll} px wide at {width} px: {culprits}"
    assert not raw_keys(text), raw_keys(text)
    journey.screenshot(step)
    assert not journey.problems, "\n".join(journey.problems)
    return text


def _tap_target(page, selector: str) -> None:
    box = page.locator(selector).bounding_box()
    assert box and box["height"] >= 44 and box["width"] >= 44, (selector, box)


@pytest.mark.parametrize("size", list(SIZES))
@pytest.mark.parametrize("theme", THEMES, indirect=True)
def test_a_desktop_shopper_scans_the_qr_code_and_the_cashier_moves_on_by_itself(
    demo, browser, theme, size, takes_wechat_pay
):
    from mallow.testing.payments import post_notification

    width, height = SIZES[size]
    suffix = "-desktop" if size == "desktop" else ""
    with Journey(demo, browser, "native-pay", theme=theme, user_agent=DESKTOP_UA) as journey:
        page = journey.page
        page.set_viewport_size({"width": width, "height": height})
        shopper = new_shopper(demo, journey)
        order_id = _unpaid_order(demo, shopper)
        journey.goto(f"/orders/{order_id}/pay")
        method = page.locator('.cs-method[data-method="wechatpay"]')
        assert method.get_attribute("data-scene") == "native"
        assert method.locator("input").is_checked()
        assert translated(demo, "WeChat Pay (scan QR code)") in method.inner_text()
        _settled(journey, f"cashier{suffix}", width)

        page.locator("#confirm-pay").click()
        page.wait_for_selector("#native-qr svg")
        code_url = page.locator("#native-qr").get_attribute("data-code-url")
        assert takes_wechat_pay.order_by_code_url(code_url).trade_type == "NATIVE"
        svg = page.locator("#native-qr svg").evaluate("svg => svg.outerHTML")
        assert svg_modules(svg) == qr_modules(code_url)  # the drawn code is the order's code_url
        box = page.locator("#native-qr svg").bounding_box()
        assert 160 <= box["width"] <= width and abs(box["width"] - box["height"]) < 1, box
        text = _settled(journey, f"qr{suffix}", width)
        assert translated(demo, "Scan with WeChat to pay") in text and "¥" in text
        assert page.locator("#countdown b[data-countdown]").count() == 1
        for target in ("#paid-already", "#other-method", "#view-order"):
            _tap_target(page, target)

        # 我已支付 before paying: one check, and the shopper stays on the code
        page.locator("#paid-already").click()
        page.wait_for_selector("#native-status:not([hidden])")
        assert "/pay/status" not in page.url and page.locator("#native-qr svg").count() == 1

        # the payer scans and pays: WeChat Pay notifies the store; the page moves on by itself
        takes_wechat_pay.scan_and_pay(
            code_url,
            deliver=lambda note: post_notification(
                demo.client(), SimpleNamespace(prefix=demo.prefix), "wechatpay", note
            ),
        )
        page.wait_for_url(re.compile(rf"/orders/{order_id}/pay/result$"), timeout=15_000)
        page.wait_for_selector('#pay-result[data-outcome="paid"]')
        _settled(journey, f"paid{suffix}", width)
