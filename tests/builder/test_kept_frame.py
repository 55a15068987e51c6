"""The storefront frame around a published page (header, language switch, tab bar) is drawn once
per what it shows and kept (:mod:`mallow.storefront.frame`): a page served with the kept frame is
the page drawn afresh, for every kind of visitor, and what differs between visitors (the cart's
count, the language, WeChat, a signed-in shopper, a flashed message) never crosses over."""

from __future__ import annotations

import re

from mallow.builder.storefront import FRAME
from mallow.storefront.frame import EXTENSION
from mallow.testing.http import post_form

from tests.builder.test_cold_demo_html import normalised

WECHAT = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) MicroMessenger/8.0.47 NetType/WIFI Language/zh_CN"


def _kept_and_fresh(app, client, path: str, **kwargs) -> tuple[str, str]:
    """The page with the kept frame (drawn into memory first), then drawn by Flask's
    ``render_template`` with no memory (the frame drawer taken away for the request)."""
    client.get(path, **kwargs)
    kept = client.get(path, **kwargs)
    draw = app.extensions.pop(FRAME)
    try:
        fresh = client.get(path, **kwargs)
    finally:
        app.extensions[FRAME] = draw
    assert kept.status_code == fresh.status_code == 200
    assert kept.headers.get("Vary") == fresh.headers.get("Vary")
    assert kept.headers["Content-Security-Policy"] == fresh.headers["Content-Security-Policy"]
    return normalised(kept.get_data(as_text=True)), normalised(fresh.get_data(as_text=True))


def _frames(app) -> int:
    return len(app.extensions.get(EXTENSION, {}))


def _add_to_cart(client, quantity: int) -> None:
    product = client.get("/s/demo/products/1").get_data(as_text=True)
    sku = re.search(r'name="sku_id"[^>]*value="(\d+)"', product) or re.search(
        r'value="(\d+)"[^>]*name="sku_id"', product
    )
    assert sku, "no add-to-cart form on the product page"
    added = post_form(
        client, "/s/demo/cart/items", {"sku_id": sku.group(1), "quantity": str(quantity)}, "/s/demo/products/1"
    )
    assert added.status_code == 303


def test_an_anonymous_home_with_the_kept_frame_is_the_home_drawn_afresh(demo_app):
    client = demo_app.test_client()
    kept, fresh = _kept_and_fresh(demo_app, client, "/s/demo/")
    assert kept == fresh
    assert 'class="tabbar"' in kept and "data-block-id=" in kept and "tabbar-cart-count" not in kept
    assert _frames(demo_app) >= 1
    english = demo_app.test_client()
    assert english.get("/s/demo/?lang=en").status_code in (200, 302, 303)
    kept_en, fresh_en = _kept_and_fresh(demo_app, english, "/s/demo/")
    assert kept_en == fresh_en and kept_en != kept  # a frame per language
    assert '<html lang="en">' in kept_en and '<html lang="zh-CN">' in kept


def test_a_guests_cart_count_is_theirs_alone(demo_app):
    guest = demo_app.test_client()
    _add_to_cart(guest, 3)
    guest.get("/s/demo/cart")  # the flashed message shown (and gone)
    kept, fresh = _kept_and_fresh(demo_app, guest, "/s/demo/")
    assert kept == fresh
    assert re.search(r'id="tabbar-cart-count"[^>]*>3</b>', kept)
    other = demo_app.test_client()  # a visitor with no cart, after the guest's frame was kept
    page = other.get("/s/demo/").get_data(as_text=True)
    assert "tabbar-cart-count" not in page


def test_inside_wechat_the_frame_and_its_policy_are_wechats(demo_app):
    client = demo_app.test_client()
    kept, fresh = _kept_and_fresh(demo_app, client, "/s/demo/", headers={"User-Agent": WECHAT})
    assert kept == fresh


def test_a_signed_in_shopper_and_a_flashed_message_are_drawn_afresh(demo_app):
    from mallow.demo import PASSWORD, SHOPPER_LOGIN

    client = demo_app.test_client()
    client.get("/s/demo/")
    before = _frames(demo_app)
    _add_to_cart(client, 1)
    flashed = client.get("/s/demo/").get_data(as_text=True)  # the guest's "added" message, shown once
    assert 'class="flash' in flashed
    assert 'class="flash' not in client.get("/s/demo/").get_data(as_text=True)
    signed_in = post_form(client, "/s/demo/login", {"login": SHOPPER_LOGIN, "password": PASSWORD})
    assert signed_in.status_code == 303
    client.get("/s/demo/")  # the sign-in's message
    kept, fresh = _kept_and_fresh(demo_app, client, "/s/demo/")
    assert kept == fresh
    assert "/s/demo/orders" in kept  # 我的订单 in the header: the shopper's own
    assert "/s/demo/orders" not in demo_app.test_client().get("/s/demo/").get_data(as_text=True)
    grown = _frames(demo_app) - before
    assert grown <= 1  # the guest's count of 1 only: neither the flash nor the shopper was kept
