"""The cart on a phone (real headless Chromium at 375×812, zh_CN, the demo store; ``journey_kit``:
no console error, no unexpected HTTP error, no sideways scroll at any step): a cart with two
products and one taken off the shelf since.

Each line shows its picture (the demo product's photo; a placeholder for a product without one);
the stepper's + and − change the quantity and 合计 follows; the off-shelf line sits under 失效商品
with its reason and is not counted; the bottom bar sits above the tab bar; 去结算(N) leads to
checkout with the buyable lines only.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).parent))  # journey_kit.py, beside this file (pytest's importlib mode)
from journey_kit import Journey, new_shopper, translated  # noqa: E402

pytestmark = pytest.mark.browser


def _yuan(fen: int) -> str:
    return f"¥{fen // 100}.{fen % 100:02d}"


def _setup(demo, shopper) -> dict:
    """Two buyable products (the demo's, with its photo, and one without a photo) and a third
    one in the shopper's cart, then taken off the shelf."""
    from mallow.catalog.models import Product, Sku
    from mallow.db import db
    from mallow.testing import bearer, make_product
    from mallow.tenants.context import store_context

    shop = SimpleNamespace(store_id=demo.ids["store"])
    [plain] = make_product(demo.app, shop, title="手工红糖", price=1250, stock=50)
    [gone] = make_product(demo.app, shop, title="明前龙井", price=8800, stock=50)
    with store_context(demo.ids["store"], app=demo.app):
        pictured = db.session.scalars(
            sa.select(Sku).where(Sku.product_id == demo.ids["product_id"], Sku.active, Sku.stock >= 5).order_by(Sku.id)
        ).first()
        pictured_id, pictured_price = pictured.id, pictured.price
        title = db.session.get(Product, demo.ids["product_id"]).title
    client = demo.client()
    for sku in (pictured_id, plain, gone):
        added = client.post(
            f"{demo.prefix}/api/cart/items", headers=bearer(shopper.token), json={"sku_id": sku, "quantity": 1}
        )
        assert added.status_code == 201, added.get_json()
    with store_context(demo.ids["store"], app=demo.app):
        db.session.get(Product, db.session.get(Sku, gone).product_id).status = "off_shelf"
        db.session.commit()
    return {"pictured": pictured_id, "price": pictured_price, "title": title, "plain": plain, "gone": gone}


def test_the_cart_on_a_phone(demo, browser):
    with Journey(demo, browser, "cart") as journey:
        page = journey.page
        shopper = new_shopper(demo, journey)
        made = _setup(demo, shopper)
        journey.goto("/cart")
        journey.check("cart")

        def line(sku):
            return page.locator(f'.cart-line[data-sku-id="{sku}"]')

        def subtotal():
            return page.locator("#subtotal").inner_text()

        # the pictures: the demo product's photo (loaded), a placeholder for the one without
        photo = line(made["pictured"]).locator(".cart-thumb img")
        assert photo.get_attribute("loading") == "lazy"
        page.wait_for_function("(img) => img.complete && img.naturalWidth > 0", arg=photo.element_handle())
        box = photo.bounding_box()
        assert 72 <= box["width"] <= 80 and 72 <= box["height"] <= 80
        assert line(made["plain"]).locator(".cart-thumb svg").count() == 1
        assert line(made["plain"]).locator(".cart-thumb img").count() == 0

        # the off-shelf line: under 失效商品 with its reason, not counted
        assert page.locator("#cart-buyable .cart-line").count() == 2
        gone = page.locator(f'#cart-unavailable .cart-line[data-sku-id="{made["gone"]}"]')
        assert gone.count() == 1 and translated(demo, "Off shelf") in gone.inner_text()
        assert page.locator("#cart-unavailable-title").inner_text().startswith(translated(demo, "Unavailable items"))
        both = made["price"] + 1250
        assert subtotal() == _yuan(both)
        check_out = translated(demo, "Check out")
        assert page.locator("#checkout").inner_text() == f"{check_out}(2)"

        # the stepper: 44 px tap targets, a 16 px field; the bar above the tab bar
        plus = line(made["plain"]).locator('button[value="inc"]')
        minus = line(made["plain"]).locator('button[value="dec"]')
        for button in (plus, minus):
            assert button.bounding_box()["height"] >= 44 and button.bounding_box()["width"] >= 44
        field = line(made["plain"]).locator('input[name="quantity"]')
        assert field.evaluate("(el) => parseFloat(getComputedStyle(el).fontSize)") >= 16
        assert minus.is_disabled()  # 1 is the least
        bar, tabbar = page.locator("#cart-bar").bounding_box(), page.locator("#tabbar").bounding_box()
        assert bar["y"] + bar["height"] <= tabbar["y"] + 1 and bar["y"] > 650

        with page.expect_navigation():
            plus.tap()
        assert line(made["plain"]).locator('input[name="quantity"]').input_value() == "2"
        assert subtotal() == _yuan(both + 1250)
        assert page.locator("#checkout").inner_text() == f"{check_out}(3)"
        journey.check("cart-more")
        with page.expect_navigation():
            line(made["plain"]).locator('button[value="dec"]').tap()
        assert line(made["plain"]).locator('input[name="quantity"]').input_value() == "1"
        assert subtotal() == _yuan(both)

        # a quantity typed in the field and Enter: that quantity (the form's hidden 更新, not a step)
        with page.expect_navigation():
            line(made["plain"]).locator('input[name="quantity"]').fill("3")
            line(made["plain"]).locator('input[name="quantity"]').press("Enter")
        assert line(made["plain"]).locator('input[name="quantity"]').input_value() == "3"
        assert subtotal() == _yuan(made["price"] + 3 * 1250)

        # 去结算 → checkout with the buyable lines only
        with page.expect_navigation():
            page.locator("#checkout").tap()
        page.wait_for_url(re.compile(r"/checkout$"))
        text = journey.check("checkout", screenshot=False)
        assert made["title"] in text and "手工红糖" in text and "明前龙井" not in text
