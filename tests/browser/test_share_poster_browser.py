"""The product page's 分享 in real headless Chromium at 375 px: tapping it opens the share sheet
with the poster (the signed-in shopper's code in its QR code) and 复制链接, which copies the share
link. Screenshot: docs/screenshots/journeys/share-poster.png."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # demo_store.py, beside this file (pytest's importlib mode)
from demo_store import CHROMIUM, CHROMIUM_ARGS, chromium_or_skip, serve  # noqa: E402
from test_navigation_browser import Phone  # noqa: E402

pytestmark = pytest.mark.browser


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


def test_share_opens_the_poster_sheet_and_copies_the_link(demo, browser):
    import zxingcpp
    from PIL import Image

    phone = Phone(browser, demo, shopper=True)
    try:
        phone.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=demo.base)
        product_id = demo.ids["product_id"]
        page = phone.go(f"/products/{product_id}")
        page.locator("#share").tap()
        sheet = page.locator("#share-sheet")
        sheet.wait_for(state="visible")
        poster = page.locator("#share-poster")
        page.wait_for_function(
            "() => { const i = document.getElementById('share-poster'); return i && i.complete && i.naturalWidth > 0; }"
        )
        assert page.evaluate("document.getElementById('share-poster').naturalWidth") == 750
        box = poster.bounding_box()
        assert box["width"] > 200 and box["x"] >= 0 and box["x"] + box["width"] <= 375
        phone.check("share sheet")
        phone.shot("share-poster.png")

        src = page.evaluate("document.getElementById('share-poster').src")  # absolute
        png = phone.context.request.get(src).body()  # the same cookies: the shopper's poster
        found = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))
        link = found[0].text if found else ""
        # the demo shopper is an approved distributor: their distributor code, landing on the product
        assert "/x/distribution/r/" in link and link.endswith(f"next=/s/demo/products/{product_id}"), link

        page.locator("#share-copy").tap()
        page.wait_for_function("() => document.querySelector('#share-sheet .sh-status').textContent.length > 0")
        assert page.evaluate("navigator.clipboard.readText()") == link
        page.locator("#share-sheet .sh-close").tap()
        assert sheet.is_hidden()
        assert not phone.errors, phone.errors
    finally:
        phone.close()
