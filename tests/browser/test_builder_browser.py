"""The page editor in real headless Chromium (Debian's ``/usr/bin/chromium``, driven by
Playwright's Python package; never a downloaded browser build).

A merchant signs in, drags a product grid and a carousel onto the home page, reorders them by
drag and by keyboard, edits settings (uploading a slide image through the media library),
publishes, and the storefront shows the blocks in that order; then the store switches to the
promo theme (same page, other look) and rolls back to the first version, and the storefront
shows the old page again. Screenshots land in docs/screenshots/ (linked from the README).

Without Chromium the test is skipped loudly (a banner at the end of the run); with ``CI=true``
it fails instead.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from mallow.testing import serving  # noqa: E402
from mallow.testing import (
    IN_CI,
    MISSING_SERVERS,
    bearer,
    build_app,
    make_store,
    merchant_token,
    png_bytes,
)
from PIL import Image

CHROMIUM = Path("/usr/bin/chromium")
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
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
PHONE = {"width": 390, "height": 844}
LAPTOP = {"width": 1366, "height": 900}

pytestmark = pytest.mark.browser


def _chromium_or_skip():
    problem = None
    if not CHROMIUM.exists():
        problem = f"{CHROMIUM} is missing (apt-get install chromium fonts-noto-cjk)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            problem = "Playwright's Python package is missing (pip install -e '.[test]')"
    if problem:
        if IN_CI:
            pytest.fail(f"CI must run the browser test: {problem}")
        MISSING_SERVERS.setdefault("Chromium (browser tests)", problem)  # the end-of-run banner
        pytest.skip(f"!!! BROWSER TEST SKIPPED: {problem}")


def _small_png(path: Path, raw: bytes) -> None:
    """Save a screenshot as a small palette PNG (a few dozen KB)."""
    with Image.open(io.BytesIO(raw)) as image:
        image.convert("RGB").quantize(colors=96, method=Image.Quantize.MEDIANCUT).save(path, "PNG", optimize=True)


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    _chromium_or_skip()
    app = build_app(tmp_path_factory, "sqlite")
    shop = make_store(app)
    client = app.test_client()
    console = f"{shop.prefix}/api/console"
    headers = bearer(merchant_token(client, shop))
    colours = ["#f4a261", "#2a9d8f", "#e76f51", "#8ab17d"]
    for i, (title, price) in enumerate(
        [("临安山核桃仁 250g", 6990), ("西湖龙井明前茶", 12800), ("手工桂花糕", 2590), ("金华火腿切片", 8800)]
    ):
        made = client.post(
            f"{console}/products",
            headers=headers,
            json={"title": title, "status": "on_shelf", "skus": [{"spec_values": {}, "price": price, "stock": 50}]},
        )
        assert made.status_code == 201, made.get_json()
        client.post(
            f"{console}/products/{made.get_json()['id']}/images",
            headers=headers,
            data={"image": [(io.BytesIO(png_bytes((480, 480), colours[i])), "p.png")]},
            content_type="multipart/form-data",
        )
    # version 1, published through the API: the "old page" the test rolls back to
    old = {
        "sections": {"hello": {"type": "notice_bar", "settings": {"text": "旧版首页：欢迎光临"}}},
        "order": ["hello"],
    }
    assert client.put(f"{console}/pages/home/draft", headers=headers, json={"document": old}).status_code == 200
    assert client.post(f"{console}/pages/home/publish", headers=headers).status_code == 201

    with serving(app) as base:
        yield base, shop


def _block_order(page) -> list[str]:
    return page.eval_on_selector_all("#pe-preview > .pe-block", "nodes => nodes.map(n => n.dataset.type)")


def _storefront_order(page) -> list[str]:
    return page.eval_on_selector_all(".mp section[data-block-type]", "nodes => nodes.map(n => n.dataset.blockType)")


def _save_theme(page) -> None:
    """Save the theme and wait for the server's answer (the status may already read "saved")."""
    with page.expect_response(lambda r: r.url.endswith("/theme") and r.request.method == "PUT") as answer:
        page.click("#pe-theme-save")
    assert answer.value.status == 200
    _wait_saved(page)


def _wait_saved(page) -> None:
    page.wait_for_selector('#pe-status[data-state="saved"]')


def test_merchant_builds_publishes_and_rolls_back_the_home_page(served, tmp_path):
    from playwright.sync_api import sync_playwright

    base, shop = served
    problems: list[str] = []
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            context = browser.new_context(locale="zh-CN", viewport=LAPTOP)
            context.set_default_timeout(15_000)
            editor = context.new_page()
            editor.on("pageerror", lambda error: problems.append(f"page error: {error}"))
            # a refused draft answers 422 on purpose below; anything else >= 400 is a problem
            editor.on(
                "console",
                lambda m: (
                    problems.append(f"console: {m.text}")
                    if m.type == "error" and "Failed to load resource" not in m.text
                    else None
                ),
            )
            context.on(
                "response",
                lambda r: (
                    problems.append(f"{r.status} {r.url}")
                    if r.status >= 400 and r.status != 422 and not r.url.endswith("/favicon.ico")
                    else None
                ),
            )
            editor.on("dialog", lambda dialog: dialog.accept())

            # given: a signed-in merchant in the editor of the home page (version 1 is live)
            editor.goto(f"{base}/merchant/login")
            editor.fill('input[name="email"]', shop.email)
            editor.fill('input[name="password"]', shop.password)
            editor.click('form button[type="submit"]')
            editor.goto(f"{base}{shop.prefix}/console/pages/")
            editor.click('#pages tr[data-kind="home"] a.button')
            editor.wait_for_selector('body[data-editor-ready="true"]')
            assert _block_order(editor) == ["notice_bar"]

            # when: a product grid and a carousel are dragged from the palette onto the phone
            screen = editor.locator(".pe-screen")
            editor.drag_and_drop(
                '.pe-palette-item[data-type="product_grid"]', ".pe-screen", target_position={"x": 180, "y": 700}
            )
            editor.wait_for_selector('#pe-preview .pe-block[data-type="product_grid"] .mp-product')
            editor.drag_and_drop(
                '.pe-palette-item[data-type="carousel"]', ".pe-screen", target_position={"x": 180, "y": 720}
            )
            editor.wait_for_selector('#pe-preview .pe-block[data-type="carousel"]')
            assert _block_order(editor) == ["notice_bar", "product_grid", "carousel"]
            assert screen.is_visible()

            # and: reordered, by drag (carousel to the top) and by keyboard (notice bar down)
            editor.drag_and_drop(
                '#pe-preview .pe-block[data-type="carousel"]',
                '#pe-preview .pe-block[data-type="notice_bar"]',
                target_position={"x": 60, "y": 4},
            )
            assert _block_order(editor) == ["carousel", "notice_bar", "product_grid"]
            notice = editor.locator('#pe-preview .pe-block[data-type="notice_bar"]')
            notice.focus()
            notice.locator('[data-action="down"]').focus()
            editor.keyboard.press("Enter")
            assert _block_order(editor) == ["carousel", "product_grid", "notice_bar"]
            # undo and redo the keyboard move
            editor.click("#pe-undo")
            assert _block_order(editor) == ["carousel", "notice_bar", "product_grid"]
            editor.click("#pe-redo")
            assert _block_order(editor) == ["carousel", "product_grid", "notice_bar"]

            # and: settings edited: the grid's title and columns, a carousel slide with an uploaded image
            editor.click('#pe-preview .pe-block[data-type="product_grid"]')
            grid_id = editor.get_attribute('#pe-preview .pe-block[data-type="product_grid"]', "data-id")
            editor.fill(f'[data-path="/sections/{grid_id}/settings/title"]', "今日爆款")
            editor.fill(f'[data-path="/sections/{grid_id}/settings/count"]', "4")
            editor.wait_for_selector('#pe-preview .pe-block[data-type="product_grid"] h2:has-text("今日爆款")')
            editor.click('#pe-preview .pe-block[data-type="carousel"]')
            editor.click("#pe-add-child")
            editor.click(".pe-child .pe-choose-image")
            slide = tmp_path / "slide.png"
            slide.write_bytes(png_bytes((1200, 600), "#e63946"))
            editor.set_input_files("#pe-upload", str(slide))
            editor.click("#pe-media-grid li .pe-media-choose")
            editor.wait_for_selector('#pe-preview .pe-block[data-type="carousel"] .mp-slide img')
            # a javascript: link is refused at the field, and never saved
            link_path = editor.get_attribute('.pe-child [data-path$="/settings/link"]', "data-path")
            editor.fill(f'[data-path="{link_path}"]', "javascript:alert(1)")
            editor.wait_for_selector(f'[data-error-for="{link_path}"]')
            editor.wait_for_selector('#pe-status[data-state="error"]')
            editor.fill(f'[data-path="{link_path}"]', "/search")
            _wait_saved(editor)
            editor.click('#pe-preview .pe-block[data-type="product_grid"]')
            _small_png(SCREENSHOTS / "editor.png", editor.screenshot())

            # and: published
            editor.click("#pe-publish")
            editor.wait_for_selector('#pe-status[data-state="published"]')

            # then: the storefront shows the blocks in that order
            shopper = context.new_page()
            shopper.set_viewport_size(PHONE)
            shopper.on("pageerror", lambda error: problems.append(f"storefront error: {error}"))
            shopper.goto(f"{base}{shop.prefix}/")
            assert _storefront_order(shopper) == ["carousel", "product_grid", "notice_bar"]
            assert shopper.locator(".mb-product-grid h2").inner_text() == "今日爆款"
            assert shopper.locator(".mb-product-grid .mp-product").count() == 4
            assert shopper.locator(".mp-slide a").get_attribute("href") == f"{shop.prefix}/search"
            assert shopper.locator(".mp.mp-theme-default").count() == 1
            _small_png(SCREENSHOTS / "home-default.png", shopper.screenshot(full_page=True))

            # when: the merchant switches to the promo theme (the same page, another look)
            editor.select_option("#pe-theme", "promo")
            editor.wait_for_selector('#pe-preview[data-theme="promo"]')
            _save_theme(editor)
            shopper.goto(f"{base}{shop.prefix}/")
            assert shopper.locator(".mp.mp-theme-promo").count() == 1
            assert _storefront_order(shopper) == ["carousel", "product_grid", "notice_bar"]
            assert shopper.locator(".pr-product").count() == 4  # promo's own grid template
            assert shopper.locator(".mb-notice-bar .pr-notice").count() == 1
            _small_png(SCREENSHOTS / "home-promo.png", shopper.screenshot(full_page=True))

            # when: rolled back to version 1
            editor.click("#pe-versions-button")
            editor.wait_for_selector('#pe-version-list li[data-version="1"] .pe-rollback')
            editor.click('#pe-version-list li[data-version="1"] .pe-rollback')
            editor.wait_for_selector('#pe-status[data-state="published"]')
            assert _block_order(editor) == ["notice_bar"]

            # then: the storefront shows the old page again
            shopper.goto(f"{base}{shop.prefix}/")
            assert _storefront_order(shopper) == ["notice_bar"]
            assert "旧版首页" in shopper.locator(".mb-notice-bar").inner_text()
        finally:
            browser.close()
    assert not problems, problems


def test_merchant_designs_the_product_page_and_each_theme_keeps_its_settings(served):
    """The product-detail template in the editor (its own palette, a real sample product), the
    theme dropdown starting from each theme's saved settings, a refused theme setting shown at its
    field, and the published template selling on the storefront."""
    from playwright.sync_api import sync_playwright

    base, shop = served
    problems: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            context = browser.new_context(locale="zh-CN", viewport=LAPTOP)
            context.set_default_timeout(15_000)
            editor = context.new_page()
            editor.on("pageerror", lambda error: problems.append(f"page error: {error}"))
            context.on(
                "response",
                lambda r: (
                    problems.append(f"{r.status} {r.url}")
                    if r.status >= 400 and r.status != 422 and not r.url.endswith("/favicon.ico")
                    else None
                ),
            )
            editor.goto(f"{base}/merchant/login")
            editor.fill('input[name="email"]', shop.email)
            editor.fill('input[name="password"]', shop.password)
            editor.click('form button[type="submit"]')

            # given: the product-detail template in the editor, previewed with a product of the store
            editor.goto(f"{base}{shop.prefix}/console/pages/")
            editor.click('#pages tr[data-kind="product"] a.button')
            editor.wait_for_selector('body[data-editor-ready="true"]')
            assert _block_order(editor) == ["product_detail"]
            editor.wait_for_selector('#pe-preview .pe-block[data-type="product_detail"] input[name="sku_id"]')
            assert "金华火腿切片" in editor.inner_text("#pe-sample")
            assert editor.locator('.pe-palette-item[data-type="category_products"]').count() == 0

            # when: a notice bar is added under the product and the template is published
            editor.click('#pe-preview .pe-block[data-type="product_detail"]')
            editor.click('.pe-palette-item[data-type="notice_bar"] button')
            editor.wait_for_selector('#pe-preview .pe-block[data-type="notice_bar"] .mp-notice')
            _wait_saved(editor)
            editor.click("#pe-publish")
            editor.wait_for_selector('#pe-status[data-state="published"]')

            # and: promo gets a colour (live in the preview) and is applied, then default is applied
            editor.select_option("#pe-theme", "default")  # whichever theme the first test left on
            editor.select_option("#pe-theme", "promo")
            editor.wait_for_selector('#pe-preview[data-theme="promo"]')
            editor.fill("#pe-theme-primary", "#123456")
            editor.wait_for_selector('#pe-preview[style*="--mp-primary:#123456"]')
            _save_theme(editor)
            editor.select_option("#pe-theme", "default")
            editor.wait_for_selector('#pe-preview[data-theme="default"]')
            editor.fill("#pe-theme-radius", "99")  # out of range: refused at the field
            editor.wait_for_selector('#pe-theme-fields [data-error-for="radius"]')
            editor.fill("#pe-theme-radius", "12")
            editor.wait_for_selector('#pe-theme-fields [data-error-for="radius"]', state="detached")
            _save_theme(editor)

            # then: after a reload, switching to promo (not the store's theme now) shows its saved colour
            editor.reload()
            editor.wait_for_selector('body[data-editor-ready="true"]')
            assert editor.input_value("#pe-theme") == "default"
            editor.select_option("#pe-theme", "promo")
            assert editor.input_value("#pe-theme-primary") == "#123456"

            # and: the storefront's product page is the template, and its add-to-cart form works
            shopper = context.new_page()
            shopper.set_viewport_size(PHONE)
            shopper.on("pageerror", lambda error: problems.append(f"storefront error: {error}"))
            shopper.goto(f"{base}{shop.prefix}/search?q=金华火腿")
            shopper.click("#product-grid a")
            shopper.wait_for_selector(
                ".mp section[data-block-type] ~ section[data-block-type]"
            )  # the product page, loaded
            assert _storefront_order(shopper) == ["product_detail", "notice_bar"]
            assert shopper.locator(".mb-product-detail h1").inner_text() == "金华火腿切片"
            _small_png(SCREENSHOTS / "product-template.png", shopper.screenshot(full_page=True))
            shopper.locator("#buy-bar .pd-add").click()  # opens the option sheet, whose button submits the form
            shopper.locator("#sku-sheet .pd-add").click()
            shopper.wait_for_url("**/cart")
            assert "金华火腿切片" in shopper.inner_text("main")
        finally:
            browser.close()
    assert not problems, problems
