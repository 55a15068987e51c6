"""The published home page rendered with no kept copy ("cache cold": the render cache and the
front door's kept pages both hold nothing) costs a fixed number of SQL statements whatever the
page shows: the page row (with the builder state and its version's stamp) together with the
library images of the version this process rendered last (every slide, in the same statement),
and every product the page shows (hand-picked ones and every grid's listing, with their covers)
in one statement, never one per block, per product or per image. The version's document,
compiled, is kept per process until a publish points the page at another version; the store's
licence is kept under the store's stamp. Every request renders the page afresh (nothing kept
answers), and what it shows follows the catalogue (and the media library) at once.

The categories a category page asks for several times (the category, its path, its subtree, its
subcategories) are read once per transaction, and read again after a write."""

from __future__ import annotations

import io

import pytest
import sqlalchemy as sa

from mallow.testing import backend_params, build_app, dispose_app, png_bytes
from mallow.testing.sql import listing, statements

from .conftest import new_builder

COLD = {"MALLOW_PAGE_CACHE_ENTRIES": 0, "MALLOW_EDGE_CACHE_ENTRIES": 0}


@pytest.fixture(scope="module", params=backend_params())
def cold_app(request, tmp_path_factory):
    app = build_app(tmp_path_factory, request.param, **COLD)
    yield app
    dispose_app(app)


def _home(builder) -> dict:
    """A home page of every built-in data block: two slides, a notice, the best sellers, three
    hand-picked products (one off the shelf), rich text and the store's licence."""
    products = [builder.product(f"临安山核桃 {i}", price=1000 + i) for i in range(8)]
    for product in products[:4]:
        uploaded = builder.client.post(
            f"{builder.api}/products/{product['id']}/images",
            headers=builder.headers,
            data={"image": [(io.BytesIO(png_bytes((640, 480))), "a.png")]},
            content_type="multipart/form-data",
        )
        assert uploaded.status_code in (200, 201), uploaded.get_json()
    hidden = builder.product("下架的笋干", status="off_shelf")
    slides = [builder.upload().get_json()["id"] for _ in range(2)]
    document = {
        "sections": {
            "hero": {
                "type": "carousel",
                "settings": {},
                "blocks": {
                    f"s{i}": {"type": "slide", "settings": {"image": m, "link": "/search"}}
                    for i, m in enumerate(slides)
                },
                "block_order": [f"s{i}" for i in range(len(slides))],
            },
            "notice": {"type": "notice_bar", "settings": {"text": "满 99 包邮", "link": "/search"}},
            "hot": {"type": "product_grid", "settings": {"title": "热销榜", "source": "best_sellers", "count": 6}},
            "picked": {
                "type": "product_grid",
                "settings": {
                    "title": "店长推荐",
                    "source": "picked",
                    "products": [products[0]["id"], products[5]["id"], hidden["id"]],
                },
            },
            "story": {
                "type": "rich_text",
                "settings": {"html": '<p>山里<strong>现采</strong><span style="color:red">好</span></p>'},
            },
            "info": {"type": "store_info", "settings": {"intro": "杭州临安的山货小店", "show_licence": True}},
        },
        "order": ["hero", "notice", "hot", "picked", "story", "info"],
    }
    builder.save_and_publish(document)
    return {"products": products, "hidden": hidden, "slides": slides}


#: the page row with the builder state and the library images, every product shown with its
#: cover (the version's document and the licence are kept after the first render)
COLD_HOME = 2


@pytest.fixture(scope="module")
def shop(cold_app):
    builder = new_builder(cold_app)
    return builder, _home(builder)


def test_every_request_renders_the_page_afresh(shop):
    builder, made = shop
    first = builder.client.get(f"{builder.shop.prefix}/")
    second = builder.client.get(f"{builder.shop.prefix}/")
    assert first.status_code == second.status_code == 200
    assert "X-Mallow-Cache" not in first.headers and "X-Mallow-Cache" not in second.headers
    html = second.get_data(as_text=True)
    assert html.count('data-block-id="') == 6
    assert "热销榜" in html and "店长推荐" in html and "满 99 包邮" in html
    assert "<strong>现采</strong>" in html and "<span>好</span>" in html  # sanitised: style gone
    assert "下架的笋干" not in html  # hand-picked but off the shelf: left out
    assert f'data-product-id="{made["products"][5]["id"]}"' in html
    assert html.count("/library/") >= 2  # both slides


def test_a_cold_home_render_makes_a_fixed_number_of_statements(shop):
    builder, _made = shop
    path = f"{builder.shop.prefix}/"
    assert builder.client.get(path).status_code == 200  # the store met by this process
    with statements() as seen:
        response = builder.client.get(path)
    assert response.status_code == 200
    assert len(seen) == COLD_HOME, listing(seen)
    # and as many again: nothing is kept between renders, nothing grows with use
    with statements() as again:
        builder.client.get(path)
    assert len(again) == COLD_HOME, listing(again)


def test_more_products_and_slides_cost_no_more_statements(cold_app):
    builder = new_builder(cold_app)
    small = _home(builder)
    for i in range(10):
        builder.product(f"笋干 {i}")
    assert small  # the bigger catalogue shows in the same statements
    path = f"{builder.shop.prefix}/"
    builder.client.get(path)
    with statements() as seen:
        assert builder.client.get(path).status_code == 200
    assert len(seen) == COLD_HOME, listing(seen)


def test_the_cold_render_follows_a_catalogue_write_at_once(shop):
    builder, made = shop
    product = made["products"][0]
    renamed = builder.client.patch(
        f"{builder.api}/products/{product['id']}", json={"title": "改名的山核桃"}, headers=builder.headers
    )
    assert renamed.status_code == 200, renamed.get_json()
    assert "改名的山核桃" in builder.home_html()


def test_the_theme_speaks_the_shoppers_language(shop):
    """The sandbox's ``_()`` looks messages up in the request's own language, with variables."""
    builder, _made = shop
    chinese = builder.home_html()
    english = builder.client.get(f"{builder.shop.prefix}/?lang=en").get_data(as_text=True)
    builder.client.delete_cookie("lang")
    assert "统一社会信用代码" in chinese and 'aria-label="精选"' in chinese and "第 2 张" in chinese
    assert "Unified Social Credit Code" in english and 'aria-label="Featured"' in english and "Slide 2" in english
    assert "统一社会信用代码" in builder.home_html()


def test_categories_are_read_once_per_transaction_and_again_after_a_write(cold_app):
    from mallow.catalog import categories
    from mallow.catalog.models import ProductCategory
    from mallow.db import db
    from mallow.tenants.context import activate_store
    from mallow.tenants.models import Store

    builder = new_builder(cold_app)
    for name in ("坚果", "茶叶"):
        made = builder.client.post(f"{builder.api}/categories", json={"name": name}, headers=builder.headers)
        assert made.status_code == 201, made.get_json()
    with cold_app.test_request_context():
        activate_store(db.session.get(Store, builder.shop.store_id))
        with statements() as seen:
            names = [c.name for c in categories.all_categories()]
            shown = categories.tree(active_only=True)
            assert categories.all_categories(active_only=True)
        assert sorted(names) == ["坚果", "茶叶"] and len(shown) == 2
        assert len(seen) == 1, listing(seen)

        first = db.session.execute(sa.select(ProductCategory).filter_by(name="坚果")).scalar_one()
        first.active = False  # not flushed yet: read afresh (the read flushes it)
        assert [c.name for c in categories.all_categories(active_only=True)] == ["茶叶"]
        first.name = "干果"
        db.session.flush()
        assert "干果" in [c.name for c in categories.all_categories()]
        db.session.commit()
        with statements() as after_commit:
            assert "干果" in [c.name for c in categories.all_categories()]
        assert len(after_commit) >= 1  # a new transaction reads them again
        db.session.execute(sa.update(ProductCategory).values(active=True))
        assert len(categories.all_categories(active_only=True)) == 2
        db.session.rollback()


def test_every_grid_of_a_page_is_loaded_in_the_same_statement(cold_app):
    """Best sellers, newest, a category's products and hand-picked ones: one statement for all
    (a category grid reads the category tree once as well)."""
    builder = new_builder(cold_app)
    nuts = builder.client.post(f"{builder.api}/categories", json={"name": "坚果"}, headers=builder.headers)
    assert nuts.status_code == 201, nuts.get_json()
    category_id = nuts.get_json()["id"]
    made = [builder.product(f"山核桃 {i}", price=1000 + i, category_id=category_id) for i in range(3)]
    made += [builder.product(f"笋干 {i}", price=500 + i) for i in range(3)]
    grids = [
        ("hot", {"title": "热销", "source": "best_sellers", "count": 2}),
        ("new", {"title": "新品", "source": "newest", "count": 4}),
        ("nuts", {"title": "坚果专区", "source": "category", "category": category_id, "count": 5}),
        ("picked", {"title": "推荐", "source": "picked", "products": [made[4]["id"], made[0]["id"]]}),
        ("again", {"title": "再看热销", "source": "best_sellers", "count": 2}),
    ]
    builder.save_and_publish(builder.doc(*[(i, "product_grid", s) for i, s in grids]))
    path = f"{builder.shop.prefix}/"
    builder.client.get(path)
    with statements() as seen:
        html = builder.client.get(path).get_data(as_text=True)
    # the page row, the category tree (once: for the grid's category and its listing), the products
    assert len(seen) == COLD_HOME + 1, listing(seen)
    sections = html.split('data-block-id="')[1:]
    shown = [[int(x.split('"')[0]) for x in part.split('data-product-id="')[1:]] for part in sections]
    newest = [p["id"] for p in reversed(made)]
    nuts_ids = sorted((p["id"] for p in made[:3]), reverse=True)  # sort, then newest first
    assert shown[1] == newest[:4]
    assert sorted(shown[2], reverse=True) == nuts_ids and len(shown[2]) == 3
    assert shown[3] == [made[4]["id"], made[0]["id"]]  # in the merchant's order
    assert len(shown[0]) == 2 and shown[4] == shown[0]
    assert "¥</small>5.02" in sections[1] and "¥</small>10.00" in sections[2]


def test_a_publish_and_a_rollback_show_at_once(shop):
    """The compiled document is kept per version: a publish (and a rollback) is seen at once."""
    builder, _made = shop
    path = f"{builder.shop.prefix}/"
    assert "满 99 包邮" in builder.client.get(path).get_data(as_text=True)
    page = builder.client.get(f"{builder.api}/pages/home", headers=builder.headers).get_json()
    old_version = page["published_version_id"]
    document = page["document"]
    document["sections"]["notice"]["settings"]["text"] = "今日上新"
    builder.save_and_publish(document)
    with statements() as seen:
        after = builder.client.get(path).get_data(as_text=True)
    assert "今日上新" in after and "满 99 包邮" not in after
    # the new version's document is read once (the store's row and licence too: its stamp moved),
    # and its images on their own (the page row was read with the old version's)
    assert len([s for s in seen if "page_versions.document" in s]) == 1, listing(seen)
    assert len([s for s in seen if "FROM store" in s and "media_assets" in s]) == 2, listing(seen)
    with statements() as seen:
        assert "今日上新" in builder.client.get(path).get_data(as_text=True)
    assert len(seen) == COLD_HOME, listing(seen)
    rolled = builder.client.post(
        f"{builder.api}/pages/home/rollback", json={"version_id": old_version}, headers=builder.headers
    )
    assert rolled.status_code == 200, rolled.get_json()
    with statements() as seen:
        back = builder.client.get(path).get_data(as_text=True)
    assert "满 99 包邮" in back and "今日上新" not in back
    assert not [s for s in seen if "page_versions.document" in s], listing(seen)  # that version was kept
    with statements() as seen:
        builder.client.get(path)
    assert len(seen) == COLD_HOME, listing(seen)


def test_new_slides_show_at_once_and_then_cost_no_statement_of_their_own(cold_app):
    """The images are read with the page row for the version the process rendered last: a
    publish with other slides shows them on the next request, an image's row changed in place
    shows as it is now, and a row gone is left out at once (nothing of the images is kept)."""
    from mallow.db import db
    from mallow.media.models import MediaAsset
    from mallow.tenants.context import store_context

    builder = new_builder(cold_app)
    first, second, third = (builder.upload().get_json()["id"] for _ in range(3))

    def slides(*ids):
        return {
            "sections": {
                "hero": {
                    "type": "carousel",
                    "settings": {},
                    "blocks": {f"s{i}": {"type": "slide", "settings": {"image": m}} for i, m in enumerate(ids)},
                    "block_order": [f"s{i}" for i in range(len(ids))],
                }
            },
            "order": ["hero"],
        }

    def shown(html: str) -> int:
        return html.count('class="mp-slide"')

    path = f"{builder.shop.prefix}/"
    builder.save_and_publish(slides(first, second))
    assert shown(builder.home_html()) == 2
    with statements() as seen:
        html = builder.client.get(path).get_data(as_text=True)
    assert shown(html) == 2 and len(seen) == 1, listing(seen)  # no products: the page row and its images

    builder.save_and_publish(slides(first, second, third))
    with statements() as seen:
        assert shown(builder.client.get(path).get_data(as_text=True)) == 3
    assert len([s for s in seen if "media_assets" in s]) == 2, listing(seen)  # the old version's, then its own
    with statements() as seen:
        assert shown(builder.client.get(path).get_data(as_text=True)) == 3
    assert len(seen) == 1, listing(seen)

    with store_context(builder.shop.store_id, app=cold_app):
        asset = db.session.get(MediaAsset, third)
        asset.thumbnails = {}
        asset.width = 640  # as if made again in place: the page shows the row as it is now
        db.session.commit()
    html = builder.client.get(path).get_data(as_text=True)
    assert shown(html) == 3 and 'width="640"' in html
    with store_context(builder.shop.store_id, app=cold_app):  # (the library refuses while a page shows it)
        db.session.delete(db.session.get(MediaAsset, second))
        db.session.commit()
    assert shown(builder.client.get(path).get_data(as_text=True)) == 2
