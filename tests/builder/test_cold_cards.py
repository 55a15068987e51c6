"""A cold home render (no render cache, no kept page) reads its products afresh on every request,
as product cards (:class:`mallow.catalog.search.Card`: only what a card shows): what the page
shows follows the catalogue at once, a publish naming other products shows them on the next
request, and a store never sees another's products."""

from __future__ import annotations

import pytest

from mallow.testing import backend_params, build_app, dispose_app
from mallow.testing.sql import listing, statements

from .conftest import new_builder

COLD = {"MALLOW_PAGE_CACHE_ENTRIES": 0, "MALLOW_EDGE_CACHE_ENTRIES": 0}


@pytest.fixture(scope="module", params=backend_params())
def cold_app(request, tmp_path_factory):
    app = build_app(tmp_path_factory, request.param, **COLD)
    yield app
    dispose_app(app)


def _grids(picked: list[int]) -> dict:
    return {
        "sections": {
            "hot": {"type": "product_grid", "settings": {"title": "热销榜", "source": "best_sellers", "count": 3}},
            "picked": {"type": "product_grid", "settings": {"title": "推荐", "source": "picked", "products": picked}},
        },
        "order": ["hot", "picked"],
    }


def _ids(html: str, section: str) -> list[int]:
    part = html.split(f'data-block-id="{section}"')[1].split("</section>")[0]
    return [int(x.split('"')[0]) for x in part.split('data-product-id="')[1:]]


def _cold_home(builder) -> str:
    """The home, rendered cold in its fixed statements (after a request that reads the store's
    row again when a write moved its stamp): the page row with its images, the products."""
    path = f"{builder.shop.prefix}/"
    assert builder.client.get(path).status_code == 200
    with statements() as seen:
        response = builder.client.get(path)
    assert response.status_code == 200
    assert len(seen) == 2, listing(seen)
    return response.get_data(as_text=True)


def test_the_products_read_with_the_page_row_follow_the_catalogue(cold_app):
    from mallow.catalog.models import Sku
    from mallow.db import db
    from mallow.tenants.context import store_context

    builder = new_builder(cold_app)
    made = [builder.product(f"山核桃 {i}", price=1000 + i) for i in range(4)]
    builder.save_and_publish(_grids([made[0]["id"], made[1]["id"]]))
    builder.home_html()  # the process renders this version once: then its images come with the row
    html = _cold_home(builder)
    assert _ids(html, "picked") == [made[0]["id"], made[1]["id"]] and len(_ids(html, "hot")) == 3

    off = builder.client.patch(
        f"{builder.api}/products/{made[1]['id']}", json={"status": "off_shelf"}, headers=builder.headers
    )
    assert off.status_code == 200, off.get_json()
    html = _cold_home(builder)
    assert _ids(html, "picked") == [made[0]["id"]] and made[1]["id"] not in _ids(html, "hot")

    with store_context(builder.shop.store_id, app=cold_app):
        sku = db.session.query(Sku).filter_by(product_id=made[0]["id"]).one()
        sku.price = 4321
        db.session.commit()
    html = _cold_home(builder)
    assert "¥</small>43.21" in html.split('data-block-id="picked"')[1]


def test_a_publish_naming_other_products_shows_them_at_once(cold_app):
    builder = new_builder(cold_app)
    made = [builder.product(f"笋干 {i}", price=500 + i) for i in range(3)]
    builder.save_and_publish(_grids([made[0]["id"]]))
    builder.home_html()
    assert _ids(_cold_home(builder), "picked") == [made[0]["id"]]
    builder.save_and_publish(_grids([made[2]["id"], made[1]["id"]]))
    assert _ids(builder.home_html(), "picked") == [made[2]["id"], made[1]["id"]]  # the old version's read left
    assert _ids(_cold_home(builder), "picked") == [made[2]["id"], made[1]["id"]]


def test_a_store_never_shows_another_stores_products(cold_app):
    first, second = new_builder(cold_app), new_builder(cold_app)
    mine = [first.product(f"一号店 {i}") for i in range(2)]
    theirs = [second.product(f"二号店 {i}") for i in range(2)]
    first.save_and_publish(_grids([mine[0]["id"]]))
    second.save_and_publish(_grids([theirs[0]["id"]]))
    for builder in (first, second, first, second):
        builder.home_html()
    one, two = _cold_home(first), _cold_home(second)
    assert "一号店" in one and "二号店" not in one
    assert "二号店" in two and "一号店" not in two


def test_a_cached_page_reads_no_products_with_its_row(app):
    """With the render cache on, the page row is read without the products: a hit does not need them."""
    builder = new_builder(app)
    made = [builder.product(f"茶叶 {i}") for i in range(2)]
    builder.save_and_publish(_grids([made[0]["id"]]))
    for _ in range(2):
        builder.home_html()
    with statements() as seen:
        assert "茶叶 0" in builder.home_html()
    assert not [s for s in seen if "skus" in s or "product_images" in s], listing(seen)
