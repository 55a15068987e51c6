"""The public catalogue API (product list, product, category tree) kept like an anonymous page: the
front door answers a repeated anonymous read from memory, with the headers the view gave it and
without a statement; a write is seen by the next read; a caller with a token or a personal
cookie, a bad query and a language of its own are never given someone else's answer."""

from __future__ import annotations

import pytest

from mallow.testing import bearer, make_product, make_shopper, make_store, merchant_token
from mallow.testing.sql import listing, statements


@pytest.fixture
def shop(app):
    shop = make_store(app)
    [sku] = make_product(app, shop, title="临安山核桃仁", price=3900, stock=5)
    make_product(app, shop, title="西湖龙井", price=12800, stock=5)
    shop.product = _product_of(app, shop, sku)
    return shop


def _product_of(app, shop, sku_id: int) -> int:
    from mallow.catalog.models import Sku
    from mallow.db import db
    from mallow.tenants.context import store_context

    with store_context(shop.store_id, app=app):
        return db.session.get(Sku, sku_id).product_id


def _paths(shop) -> list[str]:
    return [
        f"{shop.prefix}/api/products",
        f"{shop.prefix}/api/products?sort=price_desc&per_page=1",
        f"{shop.prefix}/api/products/{shop.product}",
        f"{shop.prefix}/api/categories",
    ]


@pytest.mark.parametrize("which", range(4))
def test_a_second_anonymous_read_is_answered_from_memory_without_a_statement(app, shop, which):
    path = _paths(shop)[which]
    first = app.test_client().get(path)
    assert first.status_code == 200 and "X-Mallow-Cache" not in first.headers
    with statements() as seen:
        again = app.test_client().get(path)
    assert seen == [], listing(seen)
    assert again.status_code == 200 and again.headers["X-Mallow-Cache"] == "hit"
    assert again.get_json() == first.get_json()
    assert again.headers["Content-Type"] == first.headers["Content-Type"] == "application/json"
    assert again.headers["Content-Length"] == str(len(again.get_data()))
    assert again.headers["X-Content-Type-Options"] == "nosniff"
    assert "Set-Cookie" not in again.headers
    assert "Cookie" in again.headers["Vary"]  # as the app says: the answer depends on the cookies sent


def test_the_query_is_part_of_the_key(app, shop):
    cheap_first = f"{shop.prefix}/api/products?sort=price_asc&per_page=1"
    dear_first = f"{shop.prefix}/api/products?per_page=1&sort=price_desc"
    for _ in range(2):
        assert app.test_client().get(cheap_first).get_json()["items"][0]["title"] == "临安山核桃仁"
        assert app.test_client().get(dear_first).get_json()["items"][0]["title"] == "西湖龙井"
    # the same parameters in another order are the same answer...
    reordered = app.test_client().get(f"{shop.prefix}/api/products?per_page=1&sort=price_asc")
    assert reordered.headers["X-Mallow-Cache"] == "hit"
    assert reordered.get_json()["items"][0]["title"] == "临安山核桃仁"
    # ...but a repeated one is read first-come by the view, and so by the key
    both = [
        f"{shop.prefix}/api/products?per_page=1&sort={a}&sort={b}"
        for a, b in (("price_asc", "price_desc"), ("price_desc", "price_asc"))
    ]
    for _ in range(2):
        assert app.test_client().get(both[0]).get_json()["items"][0]["title"] == "临安山核桃仁"
        assert app.test_client().get(both[1]).get_json()["items"][0]["title"] == "西湖龙井"


def test_a_bad_query_always_gets_the_views_field_errors(app, shop):
    good = f"{shop.prefix}/api/products?sort=price_asc"
    for _ in range(2):
        assert app.test_client().get(good).status_code == 200
    for path in (f"{shop.prefix}/api/products?sort=bogus", f"{shop.prefix}/api/products?page=0&per_page=100000"):
        for _ in range(3):
            refused = app.test_client().get(path)
            assert refused.status_code == 400 and "X-Mallow-Cache" not in refused.headers
            assert refused.get_json()["error"] == "bad_request" and refused.get_json()["fields"]
    for _ in range(2):
        missing = app.test_client().get(f"{shop.prefix}/api/products/{shop.product + 1000}")
        assert missing.status_code == 404 and "X-Mallow-Cache" not in missing.headers


def test_a_product_changed_through_the_console_api_is_seen_by_the_next_read(app, shop):
    one, listed = f"{shop.prefix}/api/products/{shop.product}", f"{shop.prefix}/api/products"
    for path in (one, listed, one, listed):
        app.test_client().get(path)
    assert app.test_client().get(one).headers["X-Mallow-Cache"] == "hit"
    client = app.test_client()
    token = merchant_token(client, shop)
    changed = client.patch(
        f"{shop.prefix}/api/console/products/{shop.product}", headers=bearer(token), json={"title": "新名字山核桃"}
    )
    assert changed.status_code == 200, changed.get_json()
    fresh = app.test_client().get(one)
    assert "X-Mallow-Cache" not in fresh.headers and fresh.get_json()["title"] == "新名字山核桃"
    assert "新名字山核桃" in [item["title"] for item in app.test_client().get(listed).get_json()["items"]]
    # taken off the shelf: gone at once, not served from what was kept
    off = client.patch(
        f"{shop.prefix}/api/console/products/{shop.product}", headers=bearer(token), json={"status": "off_shelf"}
    )
    assert off.status_code == 200, off.get_json()
    assert app.test_client().get(one).status_code == 404
    assert [item["title"] for item in app.test_client().get(listed).get_json()["items"]] == ["西湖龙井"]


def test_callers_with_a_token_or_a_cart_get_the_views_own_answer(app, shop):
    path = f"{shop.prefix}/api/products/{shop.product}"
    token, _address = make_shopper(app.test_client(), shop)
    for _ in range(2):
        with_token = app.test_client().get(path, headers=bearer(token))
        assert with_token.status_code == 200 and "X-Mallow-Cache" not in with_token.headers
    # nor was what they got kept for the next anonymous caller
    assert "X-Mallow-Cache" not in app.test_client().get(path).headers
    assert app.test_client().get(path).headers["X-Mallow-Cache"] == "hit"
    assert "X-Mallow-Cache" not in app.test_client().get(path, headers=bearer(token)).headers
    guest = app.test_client()
    guest.set_cookie(f"mallow_cart_{shop.store_id}", "g" * 43)
    assert "X-Mallow-Cache" not in guest.get(path).headers


def test_each_language_is_kept_apart(app, shop):
    path = f"{shop.prefix}/api/categories"
    for _ in range(2):
        app.test_client().get(path)
    english = app.test_client().get(path, headers={"Accept-Language": "en"})
    assert english.status_code == 200 and "X-Mallow-Cache" not in english.headers
    assert app.test_client().get(path, headers={"Accept-Language": "en"}).headers["X-Mallow-Cache"] == "hit"
    cookie = app.test_client()
    cookie.set_cookie("lang", "en")
    assert cookie.get(path).headers["X-Mallow-Cache"] == "hit"  # the same language, however it is asked
    for _ in range(2):  # ?lang= sets a cookie: never kept, never served from memory
        chosen = app.test_client().get(f"{path}?lang=en")
        assert "X-Mallow-Cache" not in chosen.headers and "lang=en" in chosen.headers["Set-Cookie"]
    assert app.test_client().get(path).headers["X-Mallow-Cache"] == "hit"  # Chinese, the default


def test_head_gets_the_headers_of_the_kept_answer(app, shop):
    path = f"{shop.prefix}/api/products"
    for _ in range(2):
        body = app.test_client().get(path).get_data()
    head = app.test_client().head(path)
    assert head.status_code == 200 and head.headers["X-Mallow-Cache"] == "hit"
    assert head.get_data() == b"" and head.headers["Content-Length"] == str(len(body))
