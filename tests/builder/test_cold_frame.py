"""What a cold home render makes once instead of on every request gives the same text as making it
again: the frame's addresses (``StoreUrls.url_for``, a ``next`` included), the tab bar's
addresses, the storefront's static files (``asset_url``), the product grid's cards (written out
in ``blocks/product_grid.html``, as ``blocks/_product_card.html`` shows one) and the shelf's
cards (:func:`mallow.catalog.search.shelf_cards`: only the columns a card shows)."""

from __future__ import annotations

import itertools

from flask import url_for

from mallow.builder import render
from mallow.builder.themes import theme_set, translating
from mallow.catalog import search
from mallow.storefront import chrome
from mallow.web import assets


def _in_store(app, builder):
    """A request context of the builder's store home, the store found and active (as a request
    to it finds it)."""
    context = app.test_request_context(f"{builder.shop.prefix}/")
    context.push()
    assert app.preprocess_request() is None
    return context


def test_store_urls_keep_next_addresses_apart_and_give_url_fors_text(app, builder):
    context = _in_store(app, builder)
    try:
        urls = render.store_urls()
        kept = urls.url_for("storefront.cart")
        for i in range(urls.KEPT_NEXT * 2 + 3):  # visitors' own addresses: many, and bounded
            nxt = f"{builder.shop.prefix}/search?q={i}&x=<a>"
            made = urls.url_for("home.switch_language", code="en", next=nxt)
            assert made == url_for("home.switch_language", code="en", next=nxt)
            assert urls.url_for("home.switch_language", code="en", next=nxt) == made  # kept: the same
            assert len(urls._nexts) <= urls.KEPT_NEXT
        assert urls._calls[("storefront.cart",)] == kept == url_for("storefront.cart")  # not crowded out
    finally:
        context.pop()


def test_tab_bar_addresses_are_url_fors(app, builder):
    context = _in_store(app, builder)
    try:
        tabs = {tab["key"]: tab["url"] for tab in chrome.tabs()}
        assert tabs == {
            "home": url_for("storefront.home"),
            "category": url_for("storefront.categories"),
            "cart": url_for("storefront.cart"),
            "me": url_for("storefront.account"),
        }
        assert tabs["home"] == f"{builder.shop.prefix}/"
    finally:
        context.pop()


def test_asset_url_follows_the_file(app, tmp_path, monkeypatch):
    monkeypatch.setattr(assets, "STATIC", tmp_path)
    monkeypatch.setattr(assets, "_asset_urls", {})
    (tmp_path / "x.css").write_text("a{}")
    with app.test_request_context("/"):
        first = assets.asset_url("x.css")
        assert assets.asset_url("x.css") == first
        assert first.startswith(url_for("static", filename="storefront/x.css") + "?v=")
        (tmp_path / "x.css").write_text("b{color:red}")
        import os

        stat = os.stat(tmp_path / "x.css")
        os.utime(tmp_path / "x.css", (stat.st_atime, stat.st_mtime + 5))  # a new file: a new address
        second = assets.asset_url("x.css")
        assert second != first and second.startswith(first.split("?v=")[0] + "?v=")
        assert assets.asset_url("missing.css") == url_for("static", filename="storefront/missing.css")
    with app.test_request_context("/", base_url="https://other.example/sub/"):
        moved = assets.asset_url("x.css")  # another address: made for it
        assert moved == url_for("static", filename="storefront/x.css", v=second.split("?v=")[1])


_CARD_GRID = """{% set s = block.settings %}{% set items = block.data.products %}{% if items %}<ul>
{% for p in items %}{% with sizes = "(max-width: 960px) " ~ (100 // s.columns) ~ "vw, 300px", show_price = s.show_price %}{% include "blocks/_product_card.html" %}{% endwith %}{% endfor %}
</ul>{% endif %}"""


def test_the_grid_writes_each_card_as_the_card_template_shows_it(app):
    """``blocks/product_grid.html`` writes its cards out; they must stay what
    ``blocks/_product_card.html`` (kept for themes that include it) renders."""
    products = [
        {"id": 1, "title": "山核桃 <b>&", "subtitle": "", "url": "/s/x/products/1?a=1&b=2", "price": "10.00",
         "image": {"src": "/s/x/media/a.png", "srcset": "/s/x/media/a.png 320w", "width": 320, "height": 240}},
        {"id": 2, "title": "笋干", "subtitle": "x", "url": "/s/x/products/2", "price": None, "image": None},
        {"id": 3, "title": "\"q'", "subtitle": "", "url": "/s/x/products/3", "price": "0.01",
         "image": {"src": 'a"b', "srcset": "", "width": 1, "height": 1}},
    ]  # fmt: skip
    with app.test_request_context("/"):
        themes = theme_set()
        grid = themes.template("default", "blocks/product_grid.html")
        by_include = themes.environment("default").from_string(_CARD_GRID)
        for columns, show_price, items in itertools.product((1, 2, 3), (True, False), (products[:1], products)):
            block = {
                "settings": {"title": "", "columns": columns, "show_price": show_price},
                "data": {"products": items},
            }
            with translating():
                html = grid.render(block=block, editing=False)
                expected = by_include.render(block=block, editing=False)
            cards = html[html.index("<li") : html.rindex("</li>") + 5]
            assert cards == expected[expected.index("<li") : expected.rindex("</li>") + 5]


def test_shelf_cards_are_the_listed_products(app, builder):
    made = [builder.product(f"临安山核桃 {i}", price=1000 + i) for i in range(3)]
    hidden = builder.product("下架的笋干", status="off_shelf")
    context = _in_store(app, builder)
    try:
        picked, listed = search.shelf_cards([made[0]["id"], hidden["id"]], [search.Listing(None, "price_asc", 2)])
        assert list(picked) == [made[0]["id"]]
        card = picked[made[0]["id"]]
        assert isinstance(card, search.Card)
        assert (card.title, card.min_price, card.cover) == ("临安山核桃 0", 1000, None)
        assert [c.id for c in listed[search.Listing(None, "price_asc", 2)]] == [made[0]["id"], made[1]["id"]]
        view = render.product_view(card, card.min_price, render.store_urls())
        assert view["url"] == url_for("storefront.product", product_id=made[0]["id"])
        assert view["price"] == "10.00" and view["image"] is None
    finally:
        context.pop()
