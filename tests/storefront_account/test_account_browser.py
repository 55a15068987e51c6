"""A new shopper on a phone, in real headless Chromium (Debian's ``chromium`` driven by Playwright's
Python package) at 375×812: signs up by SMS code (read from the logging SMS provider, as the demo
does), opens 我的, adds an address with the 省/市/区 cascade and finds it in the address book.

Screenshots go to ``docs/screenshots/journeys/account-*.png``. The test fails on a horizontal
scroll (``scrollWidth`` > 375), a console error, an HTTP answer ≥ 400, a tap target under 44 px or
an input under 16 px. Without ``/usr/bin/chromium`` it is skipped with a loud reason (under CI it
fails instead).
"""

from __future__ import annotations

import os
import random
import re
from pathlib import Path

import pytest

from mallow.testing import serving  # noqa: E402

from mallow.testing import IN_CI, build_app, make_admin, make_store

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
SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots" / "journeys"
WIDTH = 375
PHONE = {
    "viewport": {"width": WIDTH, "height": 812},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
    "locale": "zh-CN",
}
#: what a thumb must be able to hit, and what iOS does not zoom into
TARGETS = "main a.acc-btn, main button:not(.offscreen), main .acc-grid a, main .acc-link"
INPUTS = "main input:not([type=hidden]):not([type=checkbox]), main select, main textarea"


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
    """The app (SQLite) behind a real WSGI server on 127.0.0.1, in a thread of this process (so
    the test reads the logging SMS provider's last code)."""

    app = build_app(tmp_path_factory, "browser-account-sqlite")
    make_admin(app)
    with serving(app) as base:
        yield app, base


def check_page(page, name: str, problems: list[str]) -> None:
    """The phone rules on the page as it is now, then a screenshot."""
    page.wait_for_load_state("networkidle")
    width = page.evaluate("document.documentElement.scrollWidth")
    if width > WIDTH:
        problems.append(f"{name}: {width} px wide at {WIDTH} px")
    small = page.evaluate(
        """([targets, inputs]) => {
        const out = [];
        for (const el of document.querySelectorAll(targets)) {
            const box = el.getBoundingClientRect();
            if (box.width && box.height && box.height < 44) out.push(`${el.id || el.className || el.tagName}: ${Math.round(box.height)} px high`);
        }
        for (const el of document.querySelectorAll(inputs)) {
            const size = parseFloat(getComputedStyle(el).fontSize);
            const box = el.getBoundingClientRect();
            if (box.width && size < 16) out.push(`${el.id || el.name}: font ${size} px`);
            if (box.width && box.height < 44) out.push(`${el.id || el.name}: ${Math.round(box.height)} px high`);
        }
        return out;
    }""",
        [TARGETS, INPUTS],
    )
    problems.extend(f"{name}: {s}" for s in small)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"account-{name}.png"), full_page=True)


def test_a_new_shopper_signs_up_by_sms_and_keeps_an_address(playwright_api, served):
    from mallow.accounts import sms

    app, base = served
    shop = make_store(app)
    phone = f"13{random.randrange(10**9):09d}"
    problems: list[str] = []

    browser = playwright_api.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
    try:
        context = browser.new_context(**PHONE)
        page = context.new_page()
        page.set_default_timeout(15000)
        page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
        page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
        page.on("response", lambda r: problems.append(f"HTTP {r.status} {r.url}") if r.status >= 400 else None)
        store = f"{base}{shop.prefix}"

        # 我的 asks a guest to sign in, and the sign-in page leads to sign-up with the same next
        page.goto(f"{store}/account")
        page.wait_for_url(re.compile(r"/login\?next="))
        check_page(page, "login", problems)
        page.locator("#to-register").click()
        page.wait_for_url(re.compile(r"/register\?next="))

        page.locator("#f-phone").fill(phone)
        page.locator("#send-code").click()
        page.wait_for_selector("#sms-sent")
        page.wait_for_load_state("load")  # the countdown starts once the page's script has run
        assert page.locator("#send-code").is_disabled()  # the resend countdown
        code = sms.provider(app).last_code(phone, shop.store_id)
        assert code and code not in page.content()  # the code reaches the shopper by SMS only
        page.locator("#f-code").fill(code)
        page.locator("#f-sms-nickname").fill("山核桃爱好者")
        page.locator("#f-consent-sms").check()  # a new account: the privacy notice is agreed to
        check_page(page, "sms-signup", problems)
        page.locator("#sms-login").click()
        page.wait_for_url(re.compile(r"/account$"))
        assert page.locator("#nickname").inner_text() == "山核桃爱好者"
        assert page.locator("#my-orders [data-tab]").count() == 4
        check_page(page, "me", problems)

        page.locator("#entry-addresses").click()
        page.wait_for_url(re.compile(r"/account/addresses$"))
        assert page.locator("#no-addresses").count() == 1
        page.locator("#add-address").click()
        page.wait_for_url(re.compile(r"/account/addresses/new"))
        page.wait_for_load_state("load")
        assert not page.locator("#region-step").is_visible()  # the script fills the selects in place
        page.locator("#f-recipient").fill("王小明")
        page.locator("#f-phone").fill("13800138000")
        page.locator("#f-province_code").select_option("330000")  # 浙江省
        page.wait_for_selector('#f-city_code option[value="330100"]', state="attached")
        page.locator("#f-city_code").select_option("330100")  # 杭州市
        page.wait_for_selector('#f-district_code option[value="330112"]', state="attached")
        page.locator("#f-district_code").select_option("330112")  # 临安区
        page.locator("#f-detail").fill("锦城街道衣锦街 100 号")
        check_page(page, "address-form", problems)
        page.locator("#save-address").click()
        page.wait_for_url(re.compile(r"/account/addresses$"))
        card = page.locator(".acc-address").first
        assert "浙江省 杭州市 临安区 锦城街道衣锦街 100 号" in card.inner_text()
        assert card.get_attribute("data-default") == "1"
        check_page(page, "address-book", problems)

        # a municipality: 北京市 has its districts right under the city level
        page.locator("#add-address").click()
        page.wait_for_url(re.compile(r"/account/addresses/new"))
        page.wait_for_load_state("load")  # account.js listens to the selects before one is chosen
        page.locator("#f-province_code").select_option("110000")
        page.wait_for_selector('#f-city_code option[value="110100"]', state="attached")
        assert page.locator("#f-city_code option").all_inner_texts()[1:] == ["北京市"]
        page.locator("#f-city_code").select_option("110100")
        page.wait_for_selector('#f-district_code option[value="110105"]', state="attached")  # 朝阳区
        context.close()
    finally:
        browser.close()
    assert not problems, "\n".join(problems)
