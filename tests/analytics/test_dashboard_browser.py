"""The 概况 page in real headless Chromium at 375 px: the merchant sees the SVG charts (no
script) within the screen, in Chinese; a shopper's phone counts a product view through the
beacon (the page's own script). Screenshot: docs/screenshots/analytics/dashboard.png."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from mallow.testing import serving  # noqa: E402
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).parents[1] / "browser"))  # demo_store.py (pytest's importlib mode)
from demo_store import CHROMIUM, CHROMIUM_ARGS, chromium_or_skip, small_png  # noqa: E402

from mallow.testing import make_store  # noqa: E402
from mallow.testing.apps import build_app  # noqa: E402

from .conftest import AS_OF, seed  # noqa: E402

pytestmark = pytest.mark.browser
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots" / "analytics"


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    chromium_or_skip()

    app = build_app(tmp_path_factory, "sqlite")
    shop = make_store(app)
    ids = seed(app, shop)
    with serving(app) as base:
        yield app, shop, ids, base


@pytest.fixture(scope="module")
def browser(served):
    sync_playwright = chromium_or_skip()
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            yield launched
        finally:
            launched.close()


def phone(browser, base):
    context = browser.new_context(
        viewport={"width": 375, "height": 812}, device_scale_factor=1, is_mobile=True, has_touch=True, locale="zh-CN"
    )
    context.add_cookies([{"name": "lang", "value": "zh_CN", "url": base}])
    return context


def test_the_dashboard_draws_svg_charts_at_375px(served, browser):
    app, shop, _ids, base = served
    context = phone(browser, base)
    try:
        page = context.new_page()
        errors = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(f"{base}/merchant/login")
        page.fill('input[name="email"]', shop.email)
        page.fill('input[name="password"]', shop.password)
        page.click('form button[type="submit"]')
        page.goto(f"{base}{shop.prefix}/console/analytics?date={AS_OF.isoformat()}")
        assert page.locator("h1").first.inner_text().startswith("概况")
        for chart in ("#chart-gmv", "#chart-visitors", "#chart-funnel"):
            box = page.locator(chart).bounding_box()
            assert box and box["width"] > 200 and box["x"] >= 0 and box["x"] + box["width"] <= 375, (chart, box)
        assert page.locator("#chart-funnel text").first.text_content()  # labels drawn as SVG text
        assert page.evaluate("document.documentElement.scrollWidth") <= 375 + 1
        assert page.locator('#analytics-segments tr[data-segment="valuable"] td.num').inner_text() == "1"
        assert not errors, errors
        small_png(SCREENSHOTS / "dashboard.png", page.screenshot(full_page=True))
    finally:
        context.close()


def test_a_phone_counts_a_product_view_through_the_beacon(served, browser):
    app, shop, ids, base = served
    from mallow.analytics.buffer import buffer_of
    from mallow.analytics.models import PRODUCT_VIEW, AnalyticsEvent
    from mallow.db import db
    from mallow.tenants.context import store_context

    product = ids["products"]["P1"]
    context = phone(browser, base)
    try:
        page = context.new_page()
        with page.expect_request(lambda r: "/a/b?" in r.url):
            page.goto(f"{base}{shop.prefix}/products/{product}")
        visitor = next(c["value"] for c in context.cookies() if c["name"] == "mallow_v")
    finally:
        context.close()
    seen = []
    deadline = time.monotonic() + 10  # the server thread records the beacon after the browser sent it
    while not seen and time.monotonic() < deadline:
        buffer_of(app).flush()
        with store_context(shop.store_id, app=app):
            seen = (
                db.session.execute(
                    sa.select(AnalyticsEvent.product_id).where(
                        AnalyticsEvent.kind == PRODUCT_VIEW, AnalyticsEvent.visitor == visitor
                    )
                )
                .scalars()
                .all()
            )
        time.sleep(0.05)
    assert seen == [product]
