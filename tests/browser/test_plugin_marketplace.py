"""The merchant's plugin marketplace in real headless Chromium (Debian's) on a 375×812 touch
screen, in Chinese: a store's owner signs in, opens the console's plugin listing, opens a plugin's
page (its screenshot shown, what it may touch in words, its versions, how many stores use it)
and turns it on there. Every page fails the test on a console error, an HTTP answer ≥ 400, a
sideways scroll or a raw key in its text (:mod:`journey_kit`), and is saved as
``docs/screenshots/journeys/plugin-marketplace-<step>-default.png``.

The plugin is built in the test (:func:`mallow.testing.builders.build_plugin`) with a PNG
screenshot in its package, listed in its manifest.
"""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from mallow.testing import serving  # noqa: E402
from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).parent))  # journey_kit.py, beside this file (pytest's importlib mode)
from demo_store import chromium_or_skip  # noqa: E402
from journey_kit import Journey, launch, translated  # noqa: E402

pytestmark = pytest.mark.browser

CODE = """
from mallow.sdk import hookimpl


@hookimpl
def mallow_template_slot(slot, context):
    return None
"""


def _plural(served, singular: str, plural: str, n: int) -> str:
    from flask_babel import force_locale, ngettext

    with served.app.test_request_context("/"), force_locale("zh_CN"):
        return ngettext(singular, plural, n)


def _screenshot_png() -> bytes:
    """A phone-shaped picture of a cart with a promotion bar (what a developer would ship)."""
    image = Image.new("RGB", (360, 720), "#f5f6f7")
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, 360, 56), fill="#ffffff")
    for row in range(4):
        top = 76 + row * 110
        draw.rounded_rectangle((12, top, 348, top + 96), radius=10, fill="#ffffff")
        draw.rounded_rectangle(
            (24, top + 12, 96, top + 84), radius=8, fill=("#f4a261", "#2a9d8f", "#e76f51", "#8ab17d")[row]
        )
        draw.rectangle((110, top + 20, 300, top + 34), fill="#d0d3d9")
        draw.rectangle((110, top + 58, 170, top + 72), fill="#e4393c")
    draw.rounded_rectangle((12, 530, 348, 580), radius=10, fill="#fff1e8")
    draw.rectangle((0, 660, 360, 720), fill="#ffffff")
    draw.rounded_rectangle((230, 670, 348, 710), radius=20, fill="#e4393c")
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    from mallow.testing import dispose_app, enable_plugin, make_store, plugin_app
    from mallow.testing.builders import build_plugin

    chromium_or_skip()
    with build_plugin(tmp_path_factory) as plugins:
        folder = plugins.add(
            "cart_nudge",
            CODE,
            version="1.1.0",
            title={"zh_CN": "满减凑单提示", "en": "Spend-more nudge"},
            hooks=["mallow_template_slot"],
            permissions=["pricing", "storefront"],
        )
        (folder / "screenshots").mkdir()
        (folder / "screenshots" / "cart.png").write_bytes(_screenshot_png())
        manifest = json.loads((folder / "plugin.json").read_text(encoding="utf-8"))
        manifest.update(
            author="山核桃工作室",
            description={
                "zh_CN": "满 200 减 20：在购物车里告诉顾客“再买 ¥X 可减 ¥20”，结账时自动减价。",
                "en": "Spend 200, save 20: the cart tells shoppers how much more to add.",
            },
            screenshots=["screenshots/cart.png"],
        )
        (folder / "plugin.json").write_text(json.dumps(manifest, ensure_ascii=False), encoding="utf-8")
        app = plugin_app(tmp_path_factory, "sqlite", ["cart_nudge"])
        for _ in range(3):  # three other stores use it already
            enable_plugin(app, make_store(app), "cart_nudge")
        shop = make_store(app)
        try:
            with serving(app) as base:
                yield SimpleNamespace(
                    app=app,
                    shop=shop,
                    base=base,
                    store=base + shop.prefix,
                    language_cookie=lambda language: {"name": "lang", "value": language, "url": base},
                )
        finally:
            dispose_app(app)


def test_a_merchant_on_a_phone_reads_a_plugins_page_and_turns_it_on(served):
    shop, prefix = served.shop, served.shop.prefix
    with launch() as chromium, Journey(served, chromium, "plugin-marketplace") as journey:
        journey.page.route("**/favicon.ico", lambda route: route.fulfill(status=204))  # Mallow has none
        page = journey.goto(served.base + "/merchant/login")
        page.locator("#f-email").fill(shop.email)
        page.locator("#f-password").fill(shop.password)
        page.locator('form button[type="submit"]').click()
        page.wait_for_load_state("load")

        journey.goto(f"{prefix}/console/plugins")
        card = page.locator("#plugin-cart_nudge")
        text = journey.check("listing", full_page=True)
        assert "满减凑单提示" in text and "山核桃工作室" in text and "1.1.0" in text
        assert translated(served, "Change prices in checkout") in card.inner_text()
        assert _plural(served, "%(num)d store uses it", "%(num)d stores use it", 3) in card.inner_text()
        assert card.get_attribute("data-enabled") == "no"

        card.locator(f'a[href$="{prefix}/console/plugins/cart_nudge/about"]').first.click()
        page.wait_for_load_state("load")
        picture = page.locator("#plugin-screenshots img").first
        picture.scroll_into_view_if_needed()
        page.wait_for_function("img => img.complete && img.naturalWidth === 360", arg=picture.element_handle())
        text = journey.check("detail", full_page=True)
        assert "满 200 减 20" in text and "1.1.0" in text
        switch = page.locator("#plugin-switch")
        assert translated(served, "Once it is on, it may:") in switch.inner_text()
        assert translated(served, "Add pages and content to the storefront") in switch.inner_text()
        button = switch.locator('button[type="submit"]')
        box = button.bounding_box()
        assert box["height"] >= 44 and box["width"] <= 375  # a thumb-sized button that fits the phone

        button.click()
        page.wait_for_load_state("load")
        assert page.url.endswith(f"{prefix}/console/plugins/cart_nudge/about")
        assert page.locator("#plugin-detail").get_attribute("data-enabled") == "yes"
        text = journey.check("enabled", full_page=True)
        assert translated(served, "%(title)s is on in your store.", title="满减凑单提示") in text
