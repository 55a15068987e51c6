"""A shopper buys on a phone in real headless Chromium (Debian's ``chromium``, driven by
Playwright's Python package — no browser download): home → product → add to cart → sign in →
checkout with a new address → the cashier → the order, pending payment, in Chinese. The order page is saved
as ``docs/screenshots/order.png``.

Without ``/usr/bin/chromium`` the test is skipped with a loud reason; under CI (``CI=true``) it
fails instead. ``scripts/test`` installs ``chromium`` and ``fonts-noto-cjk`` when run as root.
"""

from __future__ import annotations

import os
import re
import sys
import uuid
from pathlib import Path

import pytest

from mallow.testing import serving  # noqa: E402

from mallow.testing import IN_CI, PASSWORD, build_app, make_admin, make_product, make_store

sys.path.insert(0, str(Path(__file__).parent))  # journey_kit.py, beside this file (pytest's importlib mode)
from journey_kit import pick_region  # noqa: E402

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "screenshots" / "order.png"
PHONE = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 1,
    "is_mobile": True,
    "has_touch": True,
    "locale": "zh-CN",
}


def _missing(reason: str):
    message = (
        f"!!! BROWSER TEST NOT RUN: {reason}. Install it: apt-get install -y chromium fonts-noto-cjk "
        f"(scripts/test does this as root) and pip install playwright."
    )
    if IN_CI:
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="module")
def playwright_api():
    if not os.access(CHROMIUM, os.X_OK):
        _missing(f"{CHROMIUM} is missing")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("the playwright Python package is missing")
    with sync_playwright() as api:
        yield api


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """The app (SQLite) behind a real WSGI server on 127.0.0.1, in a thread."""

    app = build_app(tmp_path_factory, "browser-sqlite")
    make_admin(app)
    with serving(app) as base:
        yield app, base


def test_a_shopper_buys_on_a_phone(playwright_api, served):
    app, base = served
    shop = make_store(app)
    make_product(app, shop, title="临安山核桃仁 120g", price=3990, stock=20)
    login = f"buyer-{uuid.uuid4().hex[:8]}@example.com"
    client = app.test_client()  # the shopper's account exists; the browser signs in at checkout
    assert (
        client.post(
            f"{shop.prefix}/api/customers", json={"login": login, "password": PASSWORD, "privacy_consent": True}
        ).status_code
        == 201
    )

    browser = playwright_api.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
    try:
        context = browser.new_context(**PHONE)
        page = context.new_page()
        page.set_default_timeout(15000)
        store = f"{base}{shop.prefix}"

        page.goto(f"{store}/")
        page.locator('a[href*="/products/"]', has_text="临安山核桃仁").first.click()
        page.wait_for_url(re.compile(r"/products/\d+$"))
        # the catalogue's product page posts its SKU picker to storefront.add_to_cart: the buy bar
        # opens the option sheet, whose button submits the form
        page.locator("#buy-bar .pd-add").click()
        page.locator('#add-to-cart input[name="quantity"]').fill("2")
        page.locator("#sku-sheet .pd-add").click()
        page.wait_for_url(re.compile(r"/cart$"))
        assert page.locator(".cart-line").count() == 1
        assert page.locator("#subtotal").inner_text() == "¥79.80"

        page.locator("#checkout").click()  # a guest is asked to sign in, and comes back to checkout
        page.wait_for_url(re.compile(r"/login\?next="))
        page.locator('input[name="login"]').fill(login)
        page.locator('input[name="password"]').fill(PASSWORD)
        page.locator('main button[type="submit"]').click()
        page.wait_for_url(re.compile(r"/checkout$"))

        page.locator("#f-recipient").fill("王小明")
        page.locator("#f-phone").fill("13800138000")
        pick_region(page)
        page.locator("#f-detail").fill("锦城街道衣锦街 100 号")
        page.locator("#f-note").fill("请工作日送货")
        assert page.locator("#receipt #total").inner_text() == "¥79.80"
        page.locator("#place-order").click()

        page.wait_for_url(re.compile(r"/orders/\d+/pay$"))  # placed: the cashier (收银台) first
        assert page.locator("#amount").inner_text() == "¥79.80"
        page.locator("#view-order").click()
        page.wait_for_url(re.compile(r"/orders/\d+$"))
        assert page.locator("#status").inner_text() == "待付款"
        assert page.locator("#order").get_attribute("data-status") == "pending_payment"
        assert page.locator("#receipt #total").inner_text() == "¥79.80"
        assert "王小明" in page.locator("#address").inner_text()
        assert page.locator("#timeline li[data-kind=placed]").count() == 1
        # the page fits the phone: nothing wider than the screen
        assert page.evaluate("document.documentElement.scrollWidth") <= 390

        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOT))
        assert SCREENSHOT.stat().st_size < 400_000
        context.close()
    finally:
        browser.close()
