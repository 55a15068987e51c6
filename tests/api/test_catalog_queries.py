"""The catalogue API's product list and product cost a fixed number of SQL statements, whatever
the page size or the number of SKUs and pictures (issue 13: no lazy loads on hot paths).

Transaction control (SQLite's explicit ``BEGIN``) is left out, so both backends count the same;
requests are counted warm, the store coming from the resolver's per-process cache. The list: one statement for the
page with its total (a window count) and one for the covers of its products. The product: the
product, its pictures, its SKUs.

These count the view itself: the requests carry a guest cart cookie, so the front door never
answers them from an answer it kept for anonymous callers (that costs no statement at all:
tests/edge/test_kept_api.py).
"""

from __future__ import annotations

import uuid

import pytest

from mallow.testing.sql import listing, statements
from mallow.testing import make_product, make_store

LIST_STATEMENTS = 2
PRODUCT_STATEMENTS = 3


def _pictures(app, shop, product_id: int, count: int) -> list[str]:
    """``count`` pictures on a product, stored with falling ``sort`` so that the last is the
    cover; returns their names in the order the product shows them."""
    from mallow.catalog.models import ProductImage
    from mallow.db import db
    from mallow.tenants.context import store_context

    names = [f"media/{uuid.uuid4().hex}.jpg" for _ in range(count)]
    with store_context(shop.store_id, app=app):
        for n, name in enumerate(names):
            path = f"uploads/stores/{shop.store_id}/{name}"
            db.session.add(
                ProductImage(product_id=product_id, path=path, thumb_path=path, width=800, height=600, sort=count - n)
            )
        db.session.commit()
    return names[::-1]


def _product_of(app, shop, sku_id: int) -> int:
    from mallow.catalog.models import Sku
    from mallow.db import db
    from mallow.tenants.context import store_context

    with store_context(shop.store_id, app=app):
        return db.session.get(Sku, sku_id).product_id


@pytest.fixture
def shop(app):
    return make_store(app)


def _get(client, path, shop):
    """The answer and the statements of a warm request (the store was met before), as the view
    answers it (a personal request: never a kept answer)."""
    client.set_cookie(f"mallow_cart_{shop.store_id}", "g" * 43)
    client.get(path)
    with statements() as seen:
        response = client.get(path)
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    assert "X-Mallow-Cache" not in response.headers  # the view's own answer
    return response.get_json(), seen


def test_the_product_list_costs_two_statements_whatever_the_page_size(app, shop):
    client = app.test_client()
    covers = {}
    for n in range(5):
        product = _product_of(app, shop, make_product(app, shop, title=f"商品 {n}", price=500 + n)[0])
        covers[product] = _pictures(app, shop, product, 3)[0]

    for per_page in (1, 5):
        page, seen = _get(client, f"{shop.prefix}/api/products?per_page={per_page}", shop)
        assert len(seen) == LIST_STATEMENTS, listing(seen)
        assert (page["total"], page["per_page"], page["pages"]) == (5, per_page, -(-5 // per_page))
        assert len(page["items"]) == per_page

    for item in page["items"]:  # the cover is the picture the product shows first
        assert item["cover"]["url"].endswith(f"/s/{shop.slug}/media/{covers[item['id']]}")
        assert item["cover"]["url"].startswith("http")
        assert (item["cover"]["width"], item["cover"]["height"]) == (800, 600)
    assert sorted(item["min_price"] for item in page["items"]) == [500, 501, 502, 503, 504]
    assert "status" not in page["items"][0]


def test_a_page_past_the_last_still_tells_the_total(app, shop):
    make_product(app, shop, title="唯一")
    page, _seen = _get(app.test_client(), f"{shop.prefix}/api/products?page=3", shop)
    assert (page["items"], page["total"], page["pages"]) == ([], 1, 1)
    empty = make_store(app)
    page, _seen = _get(app.test_client(), f"{empty.prefix}/api/products", empty)
    assert (page["items"], page["total"]) == ([], 0)


@pytest.mark.parametrize("options", [1, 4])
def test_a_product_costs_three_statements_whatever_its_skus_and_pictures(app, shop, options):
    skus = make_product(
        app,
        shop,
        title="龙井茶",
        skus=[
            {"spec_key": f"规格:{n}", "spec_values": {"规格": str(n)}, "price": 1000 + n, "stock": 5}
            for n in range(options)
        ],
    )
    product = _product_of(app, shop, skus[0])
    names = _pictures(app, shop, product, options + 1)

    data, seen = _get(app.test_client(), f"{shop.prefix}/api/products/{product}", shop)

    assert len(seen) == PRODUCT_STATEMENTS, listing(seen)
    assert [image["url"].rsplit("/media/", 1)[1] for image in data["images"]] == [n.split("/", 1)[1] for n in names]
    assert [sku["id"] for sku in data["skus"]] == skus
    assert data["min_price"] == 1000 and data["cover"]["url"] == data["images"][0]["url"]
