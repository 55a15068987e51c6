"""Shopping by phone in real headless Chromium (Debian's), 375×812 with touch, in both themes: the
bottom tab bar, the category page, the product page's gallery (counter, zoom), option sheet
(chips per spec dimension, greyed combinations, price / stock updating, quantity stepper), buy
bar (加入购物车 with the cart's count, 立即购买 to checkout), share (the share sheet: copy link, also inside WeChat), and
the same product page without JavaScript. Every page must fit the phone (no sideways scroll),
have tap targets of at least 44 px and inputs of at least 16 px, and log no console error.

Screenshots land in docs/screenshots/journeys/ (nav-home-<theme>.png, category.png,
category-list-<theme>.png, product-<theme>.png, sku-sheet-<theme>.png, cart-<theme>.png,
gallery-zoom.png, product-nojs.png, sku-sheet-en.png). The demo store is seeded by demo_store.py; in the promo theme the product and
category pages are the published page-builder templates (the same partials, through the theme).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # demo_store.py, beside this file (pytest's importlib mode)
from demo_store import (
    CHROMIUM,
    CHROMIUM_ARGS,
    JOURNEYS,
    PHONE_HEIGHT,
    PHONE_WIDTH,
    THEMES,  # noqa: E402
    chromium_or_skip,
    serve,
    small_png,
)

pytestmark = pytest.mark.browser

WECHAT_UA = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Mobile/15E148 MicroMessenger/8.0.40(0x1800282a) NetType/WIFI Language/zh_CN"
)

#: what a phone page must not have: elements that stick out, small tap targets, small inputs
AUDIT = """() => {
  const problems = [];
  const limit = window.innerWidth;
  if (document.documentElement.scrollWidth > limit) { problems.push('scrolls sideways: ' + document.documentElement.scrollWidth + ' px'); }
  const shown = (el) => { const r = el.getBoundingClientRect(); const s = getComputedStyle(el);
    return r.width > 0 && r.height > 0 && s.visibility !== 'hidden' && s.display !== 'none' && !el.closest('[hidden]'); };
  for (const el of document.querySelectorAll('a[href], button, input:not([type=hidden]), select, textarea, [role=button]')) {
    if (!shown(el) || el.closest('.description, .pswp, .mp-richtext')) { continue; }
    const s = getComputedStyle(el), r = el.getBoundingClientRect(), tag = el.tagName.toLowerCase();
    const name = tag + (el.id ? '#' + el.id : '') + (typeof el.className === 'string' && el.className ? '.' + el.className.trim().split(/\\s+/).join('.') : '')
      + ' ' + JSON.stringify((el.innerText || el.value || el.getAttribute('aria-label') || '').trim().slice(0, 24));
    if (['input', 'select', 'textarea'].includes(tag) && !['radio', 'checkbox'].includes(el.type) && parseFloat(s.fontSize) < 16) {
      problems.push('font ' + s.fontSize + ': ' + name);
    }
    if (['radio', 'checkbox'].includes(el.type)) { continue; }
    // links inside running text are exempt (WCAG 2.5.5 "inline")
    if (s.display === 'inline' && tag === 'a' && el.closest('p, li, span, h1, h2, h3, dd, td, small')) { continue; }
    if (r.width < 43.5 || r.height < 43.5) { problems.push('tap target ' + Math.round(r.width) + '×' + Math.round(r.height) + ': ' + name); }
  }
  return problems;
}"""


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    chromium_or_skip()
    yield from serve(tmp_path_factory)


@pytest.fixture(scope="module")
def browser(demo):
    sync_playwright = chromium_or_skip()
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture(scope="module")
def sold_out_combination(demo):
    """纸皮山核桃 1000g / 椒盐 sold out (the other three combinations in stock), as the merchant would."""
    from mallow.testing import bearer

    client = demo.client()
    product = client.get(f"{demo.prefix}/api/products/{demo.ids['product_id']}").get_json()
    sku = next(s for s in product["skus"] if s["spec_values"] == {"规格": "1000g", "口味": "椒盐"})
    response = client.post(
        f"{demo.prefix}/api/console/skus/bulk",
        headers=bearer(demo.merchant_token),
        json={"items": [{"sku_id": sku["id"], "stock": 0}]},
    )
    assert response.status_code == 200, response.get_json()
    return sku


class Phone:
    """A browser context as a phone, collecting console errors and failed requests."""

    def __init__(self, browser, demo, *, language="zh_CN", shopper=False, javascript=True, user_agent=None):
        options = {
            "viewport": {"width": PHONE_WIDTH, "height": PHONE_HEIGHT},
            "device_scale_factor": 1,
            "is_mobile": True,
            "has_touch": True,
            "locale": "zh-CN" if language == "zh_CN" else "en-US",
            "java_script_enabled": javascript,
        }
        if user_agent:
            options["user_agent"] = user_agent
        self.demo = demo
        self.context = browser.new_context(**options)
        self.context.set_default_timeout(15_000)
        cookies = [demo.language_cookie(language)] + ([demo.shopper_cookie()] if shopper else [])
        self.context.add_cookies(cookies)
        self.errors: list[str] = []
        self.page = self.context.new_page()
        self.page.on(
            "console", lambda m: self.errors.append(f"console {m.type}: {m.text}") if m.type == "error" else None
        )
        self.page.on("pageerror", lambda error: self.errors.append(f"page error: {error}"))
        self.page.on("response", lambda r: self.errors.append(f"HTTP {r.status} {r.url}") if r.status >= 400 else None)

    def go(self, path: str):
        self.page.goto(self.demo.store + path)
        return self.page

    def check(self, what: str) -> None:
        problems = self.page.evaluate(AUDIT)
        assert not problems, f"{what} ({self.page.url}): " + "; ".join(problems)
        assert not self.errors, f"{what}: " + "; ".join(self.errors)

    def shot(self, name: str, full_page: bool = False) -> None:
        small_png(JOURNEYS / name, self.page.screenshot(full_page=full_page))

    def close(self):
        self.context.close()


def _tab(page, key):
    return page.locator(f'#tabbar a[data-tab="{key}"]')


@pytest.mark.parametrize("theme", THEMES)
def test_tab_bar_category_page_and_the_product_page(demo, browser, sold_out_combination, theme):
    demo.use_theme(theme)
    phone = Phone(browser, demo)
    try:
        page = phone.go("/")
        assert [t.get_attribute("data-tab") for t in page.locator("#tabbar .tab").all()] == [
            "home",
            "category",
            "cart",
            "me",
        ]
        assert _tab(page, "home").get_attribute("aria-current") == "page"
        bar = page.locator("#tabbar").bounding_box()
        assert bar["y"] + bar["height"] == PHONE_HEIGHT and bar["width"] == PHONE_WIDTH  # stuck to the bottom
        phone.check("home")
        phone.shot(f"nav-home-{theme}.png")

        _tab(page, "category").tap()
        page.wait_for_url(re.compile(r"/categories$"))
        assert _tab(page, "category").get_attribute("aria-current") == "page"
        assert page.locator(".cat-rail a").count() == 3
        page.locator(".cat-rail a", has_text="茶叶").tap()
        page.wait_for_url(re.compile(r"/categories\?c=\d+$"))
        assert page.locator('.cat-rail a[aria-current="page"]').inner_text() == "茶叶"
        assert page.locator("#product-list li").count() >= 3
        phone.check("category page")
        if theme == "default":
            phone.shot("category.png")
        # 查看全部: the category's own page with filters (in promo: the published category template)
        page.locator(".cat-all").tap()
        page.wait_for_url(re.compile(r"/category/\d+$"))
        assert page.locator("#product-grid li").count() >= 3
        assert _tab(page, "category").get_attribute("aria-current") == "page"
        phone.check("category listing")
        phone.shot(f"category-list-{theme}.png")

        # the product page: no tab bar, the buy bar at the bottom instead
        page = phone.go(f"/products/{demo.ids['product_id']}")
        assert page.locator("#tabbar").count() == 0
        buy_bar = page.locator("#buy-bar").bounding_box()
        assert buy_bar["y"] + buy_bar["height"] == PHONE_HEIGHT
        assert page.locator("#bar-store").is_visible() and page.locator("#bar-service").is_visible()
        assert page.locator("#skus").is_hidden()  # the plain options give way to the sheet
        phone.check("product page")
        phone.shot(f"product-{theme}.png")

        # gallery: the counter follows the swipe, a tap opens the zoomable viewer on that photo
        assert page.locator("#gallery-counter").inner_text() == "1/2"
        page.locator("#gallery-track").evaluate("track => track.scrollTo({left: track.clientWidth})")
        page.wait_for_function("() => document.querySelector('#gallery-counter b').textContent === '2'")
        page.locator(".pd-slide").nth(1).tap()
        page.wait_for_selector(".pswp--open .pswp__img")
        assert page.locator(".pswp__counter").inner_text().replace(" ", "") == "2/2"
        page.wait_for_timeout(400)  # the opening animation
        if theme == "default":
            phone.shot("gallery-zoom.png")
        page.locator(".pswp__button--close").tap()
        page.wait_for_selector(".pswp", state="detached")

        # the option sheet: 加入购物车 opens it with that button only
        page.locator("#buy-bar .pd-add").tap()
        sheet = page.locator("#sku-sheet")
        page.wait_for_function(
            "() => document.querySelector('#sku-sheet .pd-sheet-panel').getBoundingClientRect().bottom <= innerHeight + 1"
        )
        assert page.locator("#sku-sheet .pd-add").is_visible() and page.locator("#sku-sheet .pd-buy").is_hidden()
        chip = lambda dim, value: sheet.locator(f'.pd-dim[data-dim="{dim}"] .pd-chip[data-value="{value}"]')  # noqa: E731
        assert chip(0, "500g").get_attribute("aria-pressed") == "true"  # the first option in stock
        assert chip(1, "奶油").get_attribute("aria-pressed") == "true"
        chip(1, "椒盐").tap()
        assert "is-off" in chip(0, "1000g").get_attribute("class")  # 1000g / 椒盐 is sold out
        assert page.locator("#sheet-price span").inner_text() == "45.00"
        assert page.locator("#sheet-stock").inner_text() == "库存 150 件"
        chip(0, "1000g").tap()  # a greyed value: chosen, and 椒盐 that does not go with it dropped
        assert chip(1, "椒盐").get_attribute("aria-pressed") == "false"
        assert "口味" in page.locator("#sheet-chosen").inner_text()  # "choose 口味"
        assert page.locator("#sheet-stock").inner_text() == ""
        chip(1, "奶油").tap()
        assert page.locator("#sheet-price span").inner_text() == "86.00"
        assert page.locator("#sheet-stock").inner_text() == "库存 90 件"
        assert page.locator("#spec-chosen").inner_text().endswith("1000g / 奶油")
        sheet.locator('[data-step="1"]').tap()
        sheet.locator('[data-step="1"]').tap()
        assert page.locator("#quantity").input_value() == "3"
        phone.check("option sheet")
        phone.shot(f"sku-sheet-{theme}.png")
        sheet.locator(".pd-add").tap()
        page.wait_for_url(re.compile(r"/cart$"))
        assert page.locator(".cart-line").count() == 1 and "1000g" in page.locator(".cart-line").inner_text()
        assert page.locator("#tabbar-cart-count").inner_text() == "3"
        assert _tab(page, "cart").get_attribute("aria-current") == "page"
        phone.check("cart")
        phone.shot(f"cart-{theme}.png")

        # back on the product page the buy bar counts the cart; 立即购买 goes to checkout (sign-in first)
        page = phone.go(f"/products/{demo.ids['product_id']}")
        assert page.locator("#bar-cart-count").inner_text() == "3"
        page.locator("#buy-bar .pd-buy").tap()
        assert page.locator("#sku-sheet .pd-buy").is_visible() and page.locator("#sku-sheet .pd-add").is_hidden()
        page.locator("#sku-sheet .pd-buy").tap()
        page.wait_for_url(re.compile(r"/login\?next=.*checkout"))
        assert not phone.errors, phone.errors
    finally:
        phone.close()
        demo.use_theme("default")


def test_buy_now_takes_a_signed_in_shopper_to_checkout(demo, browser):
    phone = Phone(browser, demo, shopper=True)
    try:
        page = phone.go(f"/products/{demo.ids['product_id']}")
        page.locator("#buy-bar .pd-buy").tap()
        page.locator("#sku-sheet .pd-buy").tap()
        page.wait_for_url(re.compile(r"/checkout$"))
        assert page.locator("#tabbar").count() == 0  # checkout has its own bottom bar
        assert not phone.errors, phone.errors
    finally:
        phone.close()


def test_share_copies_the_link_or_points_at_wechats_menu(demo, browser):
    phone = Phone(browser, demo)
    try:
        phone.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=demo.base)
        page = phone.go(f"/products/{demo.ids['product_id']}")
        data = page.evaluate("JSON.parse(document.getElementById('share-data').textContent)")
        assert data["link"] == f"{demo.store}/products/{demo.ids['product_id']}" and data["imgUrl"].startswith(
            demo.base
        )
        _open_the_share_sheet(page)
        page.locator("#share-copy").tap()
        page.wait_for_function("() => document.querySelector('#share-sheet .sh-status').textContent.length > 0")
        assert page.evaluate("navigator.clipboard.readText()") == data["link"]  # a guest shares the page itself
        assert not phone.errors, phone.errors
    finally:
        phone.close()
    wechat = Phone(browser, demo, user_agent=WECHAT_UA)
    try:
        page = wechat.go(f"/products/{demo.ids['product_id']}")
        assert "wechat" in page.evaluate("document.documentElement.className")
        _open_the_share_sheet(page)  # the same sheet inside WeChat (the poster to long-press)
        assert page.locator("#sf-wechat-hint").count() == 0 or page.locator("#sf-wechat-hint").is_hidden()
        page.locator("#share-sheet .sh-close").tap()
        assert page.locator("#share-sheet").is_hidden()
        assert not wechat.errors, wechat.errors
    finally:
        wechat.close()


def _open_the_share_sheet(page) -> None:
    """Tap 分享: the share sheet opens and, once the share link is known, shows the poster."""
    page.locator("#share").tap()
    page.locator("#share-sheet").wait_for(state="visible")
    page.wait_for_function("() => !!document.getElementById('share-poster').getAttribute('src')")


def test_without_javascript_the_product_page_still_sells(demo, browser):
    phone = Phone(browser, demo, javascript=False, language="en")
    try:
        page = phone.go(f"/products/{demo.ids['product_id']}")
        assert page.locator("#skus").is_visible() and page.locator("#sku-sheet .pd-dim").first.is_hidden()
        assert page.locator("#share").is_hidden() and page.locator("#gallery-counter").is_hidden()
        page.locator("#skus label", has_text="1000g / 奶油").locator("input").check()
        page.locator("#quantity").fill("2")
        phone.check("product page without JavaScript")
        page.locator("#skus").scroll_into_view_if_needed()
        phone.shot("product-nojs.png")
        page.locator("#buy-bar .pd-add").tap()  # the bar's button submits the plain form
        page.wait_for_url(re.compile(r"/cart$"))
        assert page.locator(".cart-line").count() == 1 and "1000g" in page.locator(".cart-line").inner_text()
        assert page.locator("#tabbar-cart-count").inner_text() == "2"
        # a photo opens as itself
        page = phone.go(f"/products/{demo.ids['product_id']}")
        href = page.locator(".pd-slide").first.get_attribute("href")
        page.locator(".pd-slide").first.tap()
        page.wait_for_url(re.compile(re.escape(href) + "$"))
    finally:
        phone.close()


def test_english_pages_fit_the_phone_too(demo, browser):
    phone = Phone(browser, demo, language="en", shopper=True)
    try:
        for path in (
            "/",
            "/categories",
            f"/category/{demo.ids['category_id']}",
            "/search?q=tea",
            "/cart",
            "/about",
            f"/products/{demo.ids['product_id']}",
        ):
            phone.go(path)
            phone.check(path)
        page = phone.page
        page.locator("#buy-bar .pd-add").tap()
        page.wait_for_timeout(300)
        phone.check("option sheet (en)")
        phone.shot("sku-sheet-en.png")
    finally:
        phone.close()
