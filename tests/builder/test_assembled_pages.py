"""A published version's fixed text is made once per process and key, never per cold render:
the first render of a version cuts the page into text (the page template around the blocks, the
``<section>`` tags, the whole of every block that shows nothing but its settings: notice, search
bar, rich text, spacer, video…) and holes for its live blocks (products, images, plugins'
blocks), which every render still fills from the rows it reads. A publish, a theme switch, a
change of the theme's settings or of the visitor's language is rendered anew, never from the
kept text of the old one; and what the kept text renders is byte for byte the whole render."""

from __future__ import annotations

import pytest

from mallow.builder import render
from mallow.testing import backend_params, build_app, dispose_app

from .conftest import new_builder

COLD = {"MALLOW_PAGE_CACHE_ENTRIES": 0, "MALLOW_EDGE_CACHE_ENTRIES": 0}


@pytest.fixture(scope="module", params=backend_params())
def cold_app(request, tmp_path_factory):
    app = build_app(tmp_path_factory, request.param, **COLD)
    yield app
    dispose_app(app)


@pytest.fixture
def assemblies(monkeypatch):
    """The keys of every :func:`~mallow.builder.render.assemble` call (the per-version work)."""
    made = []
    real = render.assemble

    def counted(document, kind, theme, *args):
        made.append((kind, theme.name))
        return real(document, kind, theme, *args)

    monkeypatch.setattr(render, "assemble", counted)
    return made


def _page(builder, notice: str, product_id: int) -> dict:
    return builder.doc(
        ("notice", "notice_bar", {"text": notice, "link": "/search"}),
        ("search", "search_bar", {}),
        ("text", "rich_text", {"html": "<p>产地直发</p>"}),
        ("gap", "spacer", {"height": 12, "divider": True}),
        ("picked", "product_grid", {"title": "店长推荐", "source": "picked", "products": [product_id]}),
        ("info", "store_info", {"intro": "山货小店"}),
    )


def test_a_second_cold_render_of_the_version_reuses_its_fixed_text(cold_app, assemblies):
    builder = new_builder(cold_app)
    product = builder.product("临安山核桃仁", price=3990)
    builder.save_and_publish(_page(builder, "满 99 包邮", product["id"]))

    first = builder.home_html()
    assert assemblies == [("home", "default")]
    second = builder.home_html()
    assert assemblies == [("home", "default")]  # not made again
    assert first == second
    assert "满 99 包邮" in second and "产地直发" in second and "39.90" in second

    # live blocks are still read on every render: a renamed product shows at once, from the same text
    renamed = builder.client.patch(
        f"{builder.api}/products/{product['id']}", json={"title": "改名的山核桃仁"}, headers=builder.headers
    )
    assert renamed.status_code == 200, renamed.get_json()
    html = builder.home_html()
    assert "改名的山核桃仁" in html and "满 99 包邮" in html
    assert assemblies == [("home", "default")]


def test_a_publish_a_theme_and_a_language_are_rendered_anew(cold_app, assemblies):
    builder = new_builder(cold_app)
    product = builder.product("碧根果", price=2580)
    builder.save_and_publish(_page(builder, "旧公告", product["id"]))
    assert "旧公告" in builder.home_html()
    assert len(assemblies) == 1

    builder.save_and_publish(_page(builder, "新公告", product["id"]))
    html = builder.home_html()
    assert "新公告" in html and "旧公告" not in html
    assert len(assemblies) == 2

    saved = builder.client.put(
        f"{builder.api}/theme", json={"theme": "promo", "settings": {"primary": "#123456"}}, headers=builder.headers
    )
    assert saved.status_code == 200
    html = builder.home_html()
    assert "mp-theme-promo" in html and "--mp-primary:#123456" in html
    assert assemblies[-1] == ("home", "promo") and len(assemblies) == 3
    builder.client.put(
        f"{builder.api}/theme", json={"theme": "promo", "settings": {"primary": "#654321"}}, headers=builder.headers
    )
    html = builder.home_html()
    assert "--mp-primary:#654321" in html and "#123456" not in html
    assert len(assemblies) == 4

    assert ">搜索</button>" in html
    builder.client.get(f"{builder.shop.prefix}/?lang=en")
    english = builder.home_html()
    assert ">Search</button>" in english and ">搜索</button>" not in english
    assert len(assemblies) == 5
    builder.home_html()
    assert len(assemblies) == 5


def test_the_kept_text_renders_what_the_whole_render_does(cold_app, monkeypatch):
    builder = new_builder(cold_app)
    product = builder.product("手剥山核桃", price=3200)
    document = _page(builder, "年货节", product["id"])
    builder.save_and_publish(document)
    assembled = builder.home_html()
    builder.home_html()  # from the kept text

    kept = builder.home_html()
    monkeypatch.setattr(render, "assemble", lambda *args: None)  # a page that cannot be cut: whole renders
    from mallow.builder.cache import version_documents

    with cold_app.app_context():
        version_documents().clear()
    whole = builder.home_html()
    assert assembled == kept == whole
    assert whole.count('data-block-id="') == 6


def test_which_block_types_are_fixed(cold_app):
    from mallow.builder.blocks import types_of

    types = types_of(cold_app)
    fixed = {t.name for t in types.all() if render.is_fixed(t)}
    assert {"notice_bar", "search_bar", "rich_text", "spacer"} <= fixed
    # what names rows read per render, or resolves data, is live
    assert not fixed & {"carousel", "product_grid", "single_product", "store_info", "image_nav", "category_products"}
