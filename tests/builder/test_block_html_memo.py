"""A block template is not run again for inputs exactly equal to a render this process already
did (:mod:`mallow.builder.memo`), and nothing else is kept: every cold render reads its rows and
builds every view afresh, so with every page cache off (render cache, kept pages) a changed price,
title, image, shelf state, store name, language or theme setting shows on the very next render.
The memo off renders every block as before; the page's bytes are the same either way; the memo
stays within its entries and bytes; a template that can vary by itself is never memoised."""

from __future__ import annotations

import io

import pytest
from jinja2 import DictLoader
from markupsafe import Markup

from mallow.builder import memo
from mallow.builder.themes import ThemeEnvironment
from mallow.testing import backend_params, build_app, dispose_app, png_bytes

from .conftest import new_builder

COLD = {"MALLOW_PAGE_CACHE_ENTRIES": 0, "MALLOW_EDGE_CACHE_ENTRIES": 0}


@pytest.fixture(scope="module", params=backend_params())
def cold_app(request, tmp_path_factory):
    app = build_app(tmp_path_factory, request.param, **COLD)
    yield app
    dispose_app(app)


@pytest.fixture(scope="module")
def memo_off_app(tmp_path_factory):
    app = build_app(tmp_path_factory, "sqlite", MALLOW_BLOCK_HTML_ENTRIES=0, **COLD)
    yield app
    dispose_app(app)


def _memo(app) -> memo.BlockMemo:
    with app.app_context():
        return memo.block_memo()


def _grid_page(builder, product_ids, image_id=None) -> dict:
    sections = [
        ("hot", "product_grid", {"title": "热销榜", "source": "best_sellers", "count": 6}),
        ("picked", "product_grid", {"title": "店长推荐", "source": "picked", "products": product_ids}),
        ("one", "single_product", {"product": product_ids[0]}),
        ("info", "store_info", {"intro": "山货小店"}),
    ]
    if image_id is not None:
        sections.insert(0, ("hero", "carousel", {}))
    document = builder.doc(*sections)
    if image_id is not None:
        document["sections"]["hero"]["blocks"] = {"s1": {"type": "slide", "settings": {"image": image_id}}}
        document["sections"]["hero"]["block_order"] = ["s1"]
    return document


def _shop(app):
    builder = new_builder(app)
    first = builder.product("临安山核桃仁", price=3990)
    second = builder.product("天目笋干", price=2590)
    return builder, first, second


def _patch(builder, product_id, body):
    changed = builder.client.patch(f"{builder.api}/products/{product_id}", json=body, headers=builder.headers)
    assert changed.status_code == 200, changed.get_json()


def _sku_body(builder, product_id, price) -> dict:
    current = builder.client.get(f"{builder.api}/products/{product_id}", headers=builder.headers).get_json()
    sku = current["skus"][0]
    return {"skus": [{"spec_values": sku["spec_values"], "price": price, "stock": sku["stock"]}]}


# --- the memo serves repeated renders, and the same bytes -------------------------------------------


def test_a_second_cold_render_takes_its_blocks_from_the_memo_and_gives_the_same_bytes(cold_app):
    builder, first, second = _shop(cold_app)
    builder.save_and_publish(_grid_page(builder, [first["id"], second["id"]]))
    kept = _memo(cold_app)
    one = builder.home_html()
    hits = kept.hits
    two = builder.home_html()
    assert kept.hits - hits == 4  # both grids, the single product and the store's card
    assert one == two
    assert "临安山核桃仁" in two and "39.90" in two


def test_the_memo_off_renders_every_block_and_gives_the_same_page(cold_app, memo_off_app):
    pages = []
    for app in (cold_app, memo_off_app):
        builder, first, second = _shop(app)
        builder.save_and_publish(_grid_page(builder, [first["id"], second["id"]]))
        builder.home_html()
        pages.append(builder.home_html().replace(builder.shop.slug, "SHOP"))
    assert pages[0] == pages[1]
    off = _memo(memo_off_app)
    assert not off.on and len(off) == 0 and off.hits == 0


# --- what a shopper sees changes at once -----------------------------------------------------------


def _new_price(builder, product) -> None:
    _patch(builder, product["id"], _sku_body(builder, product["id"], 2990))


def _new_title(builder, product) -> None:
    _patch(builder, product["id"], {"title": "手剥山核桃"})


def _new_primary_colour(builder, product) -> None:
    changed = builder.client.put(
        f"{builder.api}/theme", json={"theme": "default", "settings": {"primary": "#123456"}}, headers=builder.headers
    )
    assert changed.status_code == 200, changed.get_json()


@pytest.mark.parametrize(
    "change, before, after",
    [
        (_new_price, "39.90", "29.90"),
        (_new_title, "临安山核桃仁", "手剥山核桃"),
        (_new_primary_colour, "#e4393c", "#123456"),
    ],
    ids=["price", "title", "theme setting"],
)
def test_a_change_shows_on_the_next_cold_render(cold_app, change, before, after):
    builder, first, second = _shop(cold_app)
    builder.save_and_publish(_grid_page(builder, [first["id"], second["id"]]))
    builder.home_html()
    assert before in builder.home_html()
    change(builder, first)
    html = builder.home_html()
    assert after in html and before not in html


def test_a_product_taken_off_the_shelf_leaves_the_next_cold_render(cold_app):
    builder, first, second = _shop(cold_app)
    builder.save_and_publish(_grid_page(builder, [first["id"], second["id"]]))
    builder.home_html()
    assert "天目笋干" in builder.home_html()
    _patch(builder, second["id"], {"status": "off_shelf"})
    assert "天目笋干" not in builder.home_html()
    _patch(builder, second["id"], {"status": "on_shelf"})
    assert "天目笋干" in builder.home_html()


def test_a_new_cover_and_a_changed_library_image_show_on_the_next_cold_render(cold_app):
    builder, first, second = _shop(cold_app)
    banner = builder.upload(png_bytes((800, 400))).get_json()
    builder.save_and_publish(_grid_page(builder, [first["id"], second["id"]], banner["id"]))
    builder.home_html()
    before = builder.home_html()
    assert 'class="mp-ph"' in before  # no cover yet
    uploaded = builder.client.post(
        f"{builder.api}/products/{first['id']}/images",
        headers=builder.headers,
        data={"image": [(io.BytesIO(png_bytes((640, 480))), "a.png")]},
        content_type="multipart/form-data",
    )
    assert uploaded.status_code in (200, 201), uploaded.get_json()
    after = builder.home_html()
    assert after != before and after.count('width="320" height="240"') >= 2  # both grids and …
    # a library image the page shows, gone: the next render leaves it out
    deleted = builder.client.delete(f"{builder.api}/media/{banner['id']}", headers=builder.headers)
    if deleted.status_code in (200, 204):
        assert builder.home_html() != after


def test_a_changed_store_name_shows_on_the_next_cold_render(cold_app):
    builder, first, second = _shop(cold_app)
    builder.save_and_publish(_grid_page(builder, [first["id"], second["id"]]))
    builder.home_html()
    html = builder.home_html()
    with cold_app.app_context():
        from mallow.db import db
        from mallow.tenants.models import Store

        store = db.session.get(Store, builder.shop.store_id)
        old = store.name
        store.name = "山里人家"
        db.session.commit()
    changed = builder.home_html()
    assert old in html and '<h2 class="mp-title">山里人家</h2>' in changed


def test_another_language_is_rendered_in_its_own_words(cold_app):
    builder, first, second = _shop(cold_app)
    slides = [builder.upload(png_bytes((800, 400))).get_json()["id"] for _ in range(2)]
    document = builder.doc(("hero", "carousel", {}), ("one", "single_product", {"product": first["id"]}))
    document["sections"]["hero"]["blocks"] = {
        f"s{i}": {"type": "slide", "settings": {"image": m}} for i, m in enumerate(slides)
    }
    document["sections"]["hero"]["block_order"] = ["s0", "s1"]
    builder.save_and_publish(document)
    url = f"{builder.shop.prefix}/"

    def carousel(language: str) -> str:
        html = builder.client.get(url, headers={"Accept-Language": language}).get_data(as_text=True)
        return html[html.index('data-block-id="hero"') : html.index('data-block-id="one"')]

    chinese, english, again = carousel("zh-CN"), carousel("en"), carousel("zh-CN")
    assert 'aria-label="Featured"' in english and 'aria-label="Slide 2"' in english
    assert "Featured" not in chinese and chinese == again


# --- the key: every input a block template can see ------------------------------------------------


def _sandbox(templates: dict) -> ThemeEnvironment:
    env = ThemeEnvironment(loader=DictLoader(templates), autoescape=True, extensions=["jinja2.ext.i18n"])
    env.install_null_translations(newstyle=True)
    return env


def test_the_key_holds_types_order_and_markup_and_refuses_objects():
    key = memo.value_key
    assert key({"n": 1}) != key({"n": 1.0}) != key({"n": True})
    assert key({"n": 1}) != key({"n": "1"})
    assert key({1: "a"}) != key({"1": "a"})
    assert key({"t": "<b>"}) != key({"t": Markup("<b>")})
    assert key({"x": [1, 2]}) != key({"x": (1, 2)})
    assert key({"a": 1, "b": 2}) != key({"b": 2, "a": 1})  # a loop over it shows the order
    assert key({"x": b"ab"}) != key({"x": bytearray(b"ab")})
    assert key({"t": Markup("<b>")}) == key({"t": Markup("<b>")})

    class Thing:
        pass

    class Text(str):
        pass

    assert key({"x": Thing()}) is None
    assert key({"x": Text("a")}) is None
    assert key({"x": __import__("datetime").date(2026, 1, 1)}) is None
    assert key({"x": {"y": [lambda: 1]}}) is None


def test_a_template_that_can_vary_by_itself_is_not_memoised():
    env = _sandbox(
        {
            "plain.html": "{{ block.settings.title|upper }} {% for p in block.data.items %}{{ loop.index }}{% endfor %}",
            "random.html": "{{ block.data.items|random }}",
            "lipsum.html": "{{ lipsum(1) }}",
            "includes_random.html": '{% include "random.html" %}',
            "includes_plain.html": '{% include "plain.html" %}{% import "plain.html" as p %}',
            "computed.html": "{% include block.settings.name %}",
            "extends_random.html": '{% extends "random.html" %}',
            "trans.html": '{{ _("Cart") }} {% trans %}Hello{% endtrans %}',
        }
    )
    env.filters["shuffled"] = lambda items: items  # a filter of its own: not known to be pure
    env.globals["now"] = lambda: 0
    env.loader.mapping.update({"own_filter.html": "{{ block.data.items|shuffled }}", "own_global.html": "{{ now() }}"})
    verdicts = {name: memo.pure(env.get_template(name)) for name in env.loader.mapping}
    assert verdicts == {
        "plain.html": True,
        "random.html": False,
        "lipsum.html": False,
        "includes_random.html": False,
        "includes_plain.html": True,
        "computed.html": False,
        "extends_random.html": False,
        "trans.html": True,
        "own_filter.html": False,
        "own_global.html": False,
    }


def test_every_input_a_block_template_sees_is_in_its_key(cold_app):
    """The same template and view under other common values (theme settings, store, page title,
    editing) or other translations is rendered anew; the same inputs are served from the memo."""
    env = _sandbox(
        {
            "b.html": "{{ theme.settings.primary }}|{{ store.name }}|{{ page.title }}|{{ editing }}|{{ block.settings.t }}"
        }
    )
    template = env.get_template("b.html")
    common = {
        "theme": {"name": "default", "settings": {"primary": "#111111"}},
        "editing": False,
        "store": {"name": "甲", "home_url": "/s/a/", "search_url": "/s/a/search"},
        "page": {"kind": "home", "title": "首页"},
    }
    variants = [
        common,
        {**common, "theme": {"name": "default", "settings": {"primary": "#222222"}}},
        {**common, "store": {**common["store"], "name": "乙"}},
        {**common, "page": {"kind": "home", "title": "新首页"}},
        {**common, "editing": True},
    ]
    with cold_app.test_request_context("/"):
        from mallow.builder.themes import translating

        kept = memo.BlockMemo(100, 1_000_000)
        seen = []
        with translating():
            for values in variants:
                page = memo.PageKey(kept, memo.value_key(values), object())
                seen.append(memo.render_block(template, {"settings": {"t": "x"}}, values, page))
                again = memo.render_block(template, {"settings": {"t": "x"}}, values, page)
                assert again == seen[-1]
            other_words = memo.PageKey(kept, memo.value_key(common), object())
            memo.render_block(template, {"settings": {"t": "x"}}, common, other_words)
        assert len(set(seen)) == len(variants)
        assert len(kept) == len(variants) + 1  # another translations object: another entry
        assert kept.hits == len(variants)


def test_the_memo_stays_within_its_entries_and_bytes():
    kept = memo.BlockMemo(max_entries=3, max_bytes=10_000)
    for i in range(10):
        kept.put(("k", i), "x" * 100, 10)
    assert len(kept) == 3 and kept.get(("k", 9)) is not None and kept.get(("k", 0)) is None
    small = memo.BlockMemo(max_entries=1000, max_bytes=4000)
    for i in range(50):
        small.put(("k", i), "y" * 200, 10)
    assert small.size_bytes <= 4000 and 0 < len(small) < 50
    small.put(("huge",), "z" * 10_000, 10)  # bigger than an eighth of the memory: not kept
    assert small.get(("huge",)) is None
    small.clear()
    assert len(small) == 0 and small.size_bytes == 0


def test_new_block_types_clear_the_memo(cold_app):
    builder, first, second = _shop(cold_app)
    builder.save_and_publish(_grid_page(builder, [first["id"], second["id"]]))
    builder.home_html()
    kept = _memo(cold_app)
    assert len(kept) > 0
    from mallow.builder import blocks

    with cold_app.app_context():
        types = blocks.types_of(cold_app)
        types._changed()  # what registering or replacing a type calls
    assert len(kept) == 0 and kept.pure == {}
    assert builder.home_html() == builder.home_html()
