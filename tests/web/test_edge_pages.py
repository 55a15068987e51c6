"""Whole anonymous pages kept in memory and served by the front door (mallow.edge): a second
visitor gets the page without a query, with a CSRF token of their own that works; anyone with
something personal (a cart, a sign-in) gets their own render; a change anywhere is never served
stale, in this process or another one."""

from __future__ import annotations

import re
import time

import pytest
import sqlalchemy as sa

from mallow.testing.sql import statements
from mallow.testing import make_product, make_store, register_shopper, restart_app


def _warm(app, path: str):
    """Two visits: the first meeting of the store, then the render the door keeps."""
    for _ in range(2):
        assert app.test_client().get(path).status_code == 200


@pytest.fixture
def shop(app):
    shop = make_store(app)
    [sku] = make_product(app, shop, title="临安山核桃仁", price=3900, stock=5)
    shop.sku = sku
    return shop


def _product_path(app, shop) -> str:
    from mallow.catalog.models import Sku
    from mallow.db import db
    from mallow.tenants.context import store_context

    with store_context(shop.store_id, app=app):
        return f"{shop.prefix}/products/{db.session.get(Sku, shop.sku).product_id}"


def test_a_second_visitor_gets_the_home_page_from_memory_without_a_query(app, shop):
    _warm(app, f"{shop.prefix}/")
    with statements() as seen:
        page = app.test_client().get(f"{shop.prefix}/")
    assert page.status_code == 200 and page.headers["X-Mallow-Cache"] == "hit"
    assert "临安山核桃仁" in page.get_data(as_text=True)
    assert seen == []


def test_a_kept_product_page_gives_each_visitor_a_csrf_token_that_adds_to_the_cart(app, shop):
    path = _product_path(app, shop)
    _warm(app, path)
    tokens = []
    for _ in range(2):
        visitor = app.test_client()
        page = visitor.get(path)
        assert page.headers["X-Mallow-Cache"] == "hit"
        html = page.get_data(as_text=True)
        assert "\x00" not in html
        token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
        tokens.append(token)
        added = visitor.post(f"{shop.prefix}/cart/items", data={"csrf_token": token, "sku_id": shop.sku, "quantity": 2})
        assert added.status_code == 303
        # with a cart, the visitor's pages are their own again: the tab bar counts their items
        home = visitor.get(f"{shop.prefix}/")
        assert "X-Mallow-Cache" not in home.headers
        assert re.search(r'id="tabbar-cart-count"[^>]*>2<', home.get_data(as_text=True))
    assert tokens[0] != tokens[1]
    # and a token from a kept page is no good in another visitor's session
    stranger = app.test_client()
    stranger.get(path)
    refused = stranger.post(f"{shop.prefix}/cart/items", data={"csrf_token": tokens[0], "sku_id": shop.sku})
    assert refused.status_code == 400


def test_signed_in_shoppers_never_get_a_kept_page(app, shop):
    _warm(app, f"{shop.prefix}/")
    shopper = app.test_client()
    register_shopper(shopper, shop)
    page = shopper.get(f"{shop.prefix}/")
    assert "X-Mallow-Cache" not in page.headers
    assert "/account" in page.get_data(as_text=True) and "/login" not in page.get_data(as_text=True)


def test_each_language_and_wechat_get_their_own_page(app, shop):
    _warm(app, f"{shop.prefix}/")
    english = app.test_client().get(f"{shop.prefix}/", headers={"Accept-Language": "en"})
    assert english.get_data(as_text=True).count('lang="en"') >= 1
    assert "X-Mallow-Cache" not in english.headers  # not the Chinese page kept before
    chinese = app.test_client().get(f"{shop.prefix}/")
    assert chinese.headers["X-Mallow-Cache"] == "hit" and 'lang="zh-CN"' in chinese.get_data(as_text=True)
    wechat = app.test_client().get(f"{shop.prefix}/", headers={"User-Agent": "Mozilla/5.0 MicroMessenger/8.0"})
    assert "X-Mallow-Cache" not in wechat.headers


def test_changes_are_never_served_stale(app, shop):
    from mallow.catalog.models import Product
    from mallow.db import db
    from mallow.tenants.context import store_context
    from mallow.tenants.models import Store

    home = f"{shop.prefix}/"
    _warm(app, home)
    with store_context(shop.store_id, app=app):
        product = db.session.execute(sa.select(Product)).scalar_one()
        product.title = "新名字山核桃"
        db.session.commit()
    page = app.test_client().get(home).get_data(as_text=True)
    assert "新名字山核桃" in page and "临安山核桃仁" not in page

    _warm(app, home)
    with app.app_context():
        store = db.session.get(Store, shop.store_id)
        store.status = "suspended"
        db.session.commit()
    assert app.test_client().get(home).status_code == 503
    with app.app_context():
        db.session.get(Store, shop.store_id).status = "open"
        db.session.commit()


def test_a_page_one_worker_rendered_is_served_by_the_others(app, shop):
    """Another app on the same host (another gunicorn worker): it renders nothing, it reads the
    page the first one kept on disk, and it meets the stores without a query per store."""
    _warm(app, f"{shop.prefix}/")
    worker = restart_app(app)
    assert worker.test_client().get("/s/no-such-store/").status_code == 404  # its first request: it loads the stores
    with statements() as seen:
        page = worker.test_client().get(f"{shop.prefix}/")
    assert page.headers["X-Mallow-Cache"] == "hit" and seen == []
    assert "临安山核桃仁" in page.get_data(as_text=True)


def test_another_process_sees_a_change_at_once(app, shop, redis_url):
    """Two app instances (two processes' worth of memory) on one database and one Redis."""
    from mallow.catalog.models import Product
    from mallow.db import db
    from mallow.tenants.context import store_context

    one = restart_app(app, REDIS_URL=redis_url)
    other = restart_app(app, REDIS_URL=redis_url)
    home = f"{shop.prefix}/"
    _warm(other, home)
    assert other.test_client().get(home).headers["X-Mallow-Cache"] == "hit"
    with store_context(shop.store_id, app=one):
        db.session.execute(sa.select(Product)).scalar_one().title = "另一个进程改的名字"
        db.session.commit()
    deadline = time.monotonic() + 5
    while "另一个进程改的名字" not in other.test_client().get(home).get_data(as_text=True):
        assert time.monotonic() < deadline, "the other process kept serving the old page"
        time.sleep(0.05)
