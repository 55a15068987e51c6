"""The demo store's home page (``mallow demo``: the showcase document with the bundled plugins'
blocks) rendered with every page cache off is byte for byte what it was before its cold render
was made cheaper: the whole document, the storefront's chrome around the page included (header,
language switch, tab bar), for a visitor in Chinese, a visitor in English and a signed-in shopper
with a cart. Stored renderings: ``golden/cold_demo_home*.html``, made by the code before the
change. Only what differs from one seeding to the next is normalised: random file names, the
flash sale's times (seeded from the clock), the CSRF token and the static files' versions."""

from __future__ import annotations

import os
import re
from pathlib import Path


from mallow.testing.http import post_form

GOLDEN = Path(__file__).parent / "golden"


def normalised(html: str) -> str:
    html = re.sub(r"[0-9a-f]{32}", "NAME", html)
    html = re.sub(r'(data-fs-(?:starts|ends)=")\d+"', r'\1T"', html)
    html = re.sub(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}", "DATE", html)
    html = re.sub(r"\?v=[0-9a-f]{10}\b", "?v=V", html)
    return re.sub(r'(name="csrf_token" value=")[^"]+"', r'\1CSRF"', html)


def _cold_home(client) -> str:
    client.get("/s/demo/")  # the store and the version met by this process
    response = client.get("/s/demo/")
    assert response.status_code == 200
    assert "X-Mallow-Cache" not in response.headers
    return normalised(response.get_data(as_text=True))


def _compare(html: str, name: str) -> None:
    path = GOLDEN / name
    if os.environ.get("MALLOW_WRITE_GOLDEN"):  # only to make the stored rendering
        path.write_text(html, encoding="utf-8")
    assert html == path.read_text(encoding="utf-8")


def test_the_demo_home_renders_as_before(demo_app):
    html = _cold_home(demo_app.test_client())
    assert html.count('data-block-id="') == 7
    _compare(html, "cold_demo_home.html")


def test_the_demo_home_in_english_renders_as_before(demo_app):
    client = demo_app.test_client()
    assert client.get("/s/demo/?lang=en").status_code in (200, 302, 303)
    _compare(_cold_home(client), "cold_demo_home_en.html")


def test_the_demo_home_for_a_signed_in_shopper_with_a_cart_renders_as_before(demo_app):
    from mallow.demo import PASSWORD, SHOPPER_LOGIN

    client = demo_app.test_client()
    signed_in = post_form(client, "/s/demo/login", {"login": SHOPPER_LOGIN, "password": PASSWORD})
    assert signed_in.status_code == 303, signed_in.get_data(as_text=True)[:300]
    product = client.get("/s/demo/products/1").get_data(as_text=True)
    sku = re.search(r'name="sku_id" value="(\d+)"', product) or re.search(r'name="sku_id"[^>]*value="(\d+)"', product)
    assert sku, "no add-to-cart form on the product page"
    added = post_form(client, "/s/demo/cart/items", {"sku_id": sku.group(1), "quantity": "2"}, "/s/demo/products/1")
    assert added.status_code == 303
    client.get("/s/demo/cart")  # the flashed message shown (and gone)
    html = _cold_home(client)
    assert "tabbar-cart-count" in html
    _compare(html, "cold_demo_home_shopper.html")
