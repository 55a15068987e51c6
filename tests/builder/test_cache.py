"""The render cache: warm requests reuse the render; publishing, rollback, theme changes and
catalogue changes that a page shows are never served stale."""

from __future__ import annotations

from mallow.builder.cache import RenderCache


def _cache(app):
    return app.extensions["mallow.page_cache"]


def _hits(app):
    return _cache(app).hits, _cache(app).misses


def _personal(builder):
    """Requests of a visitor with a guest cart: the front door never answers them from its kept
    pages (tests/web/test_edge_pages.py), so the render cache below it is what these count."""
    builder.client.set_cookie(f"mallow_cart_{builder.shop.store_id}", "x" * 43)


def test_warm_requests_are_served_from_the_cache(app, builder):
    _personal(builder)
    builder.save_and_publish(builder.doc(("n", "notice_bar", {"text": "缓存"})))
    hits, misses = _hits(app)
    first = builder.home_html()
    assert _hits(app) == (hits, misses + 1)
    assert builder.home_html() == first
    assert _hits(app) == (hits + 1, misses + 1)


def test_publish_and_rollback_invalidate(app, builder):
    v1 = builder.save_and_publish(builder.doc(("n", "notice_bar", {"text": "版本一"})))
    assert "版本一" in builder.home_html() and "版本一" in builder.home_html()
    builder.save_and_publish(builder.doc(("n", "notice_bar", {"text": "版本二"})))
    assert "版本二" in builder.home_html()
    builder.client.post(f"{builder.api}/pages/home/rollback", json={"version_id": v1["id"]}, headers=builder.headers)
    assert "版本一" in builder.home_html()


def test_catalogue_changes_reach_pages_that_show_products(app, builder):
    product = builder.product("旧名字")
    builder.save_and_publish(builder.doc(("g", "product_grid", {"source": "newest"})))
    assert "旧名字" in builder.home_html() and "旧名字" in builder.home_html()  # cached
    renamed = builder.client.patch(
        f"{builder.api}/products/{product['id']}", json={"title": "新名字"}, headers=builder.headers
    )
    assert renamed.status_code == 200
    html = builder.home_html()
    assert "新名字" in html and "旧名字" not in html
    builder.client.patch(
        f"{builder.api}/products/{product['id']}", json={"status": "off_shelf"}, headers=builder.headers
    )
    assert "新名字" not in builder.home_html()


def test_pages_without_catalogue_blocks_keep_their_render(app, builder):
    _personal(builder)
    builder.save_and_publish(builder.doc(("n", "notice_bar", {"text": "只有公告"})))
    builder.home_html()
    hits, misses = _hits(app)
    builder.product("新商品")  # bumps the catalogue version
    assert "只有公告" in builder.home_html()
    assert _hits(app) == (hits + 1, misses)


def test_catalogue_version_is_bumped_by_catalogue_writes_only(app, builder):
    from mallow.builder.invalidation import catalogue_version
    from mallow.tenants.context import store_context

    def version():
        with store_context(builder.shop.store_id, app=app):
            return catalogue_version()

    start = version()
    product = builder.product("茶")
    after_create = version()
    assert after_create > start
    builder.save(builder.doc(("n", "spacer", {})))
    assert version() == after_create  # pages are not the catalogue
    builder.client.patch(f"{builder.api}/products/{product['id']}", json={"subtitle": "明前"}, headers=builder.headers)
    assert version() > after_create


def test_theme_changes_invalidate(app, builder):
    builder.save_and_publish(builder.doc(("n", "notice_bar", {"text": "换主题"})))
    assert "mp-theme-default" in builder.home_html()
    saved = builder.client.put(
        f"{builder.api}/theme", json={"theme": "promo", "settings": {"primary": "#123456"}}, headers=builder.headers
    )
    assert saved.status_code == 200
    html = builder.home_html()
    assert "mp-theme-promo" in html and "--mp-primary:#123456" in html and "/theme/promo/theme.css" in html
    builder.client.put(
        f"{builder.api}/theme", json={"theme": "promo", "settings": {"primary": "#654321"}}, headers=builder.headers
    )
    assert "--mp-primary:#654321" in builder.home_html()


def test_stores_never_share_renders(app, builder, other_builder):
    builder.save_and_publish(builder.doc(("n", "notice_bar", {"text": "甲店"})))
    other_builder.save_and_publish(builder.doc(("n", "notice_bar", {"text": "乙店"})))
    assert "甲店" in builder.home_html() and "乙店" in other_builder.home_html()
    assert "乙店" not in builder.home_html() and "甲店" not in other_builder.home_html()


def test_cache_bounds_and_expiry():
    cache = RenderCache(max_entries=2, seconds=60)
    cache.put((1, "a"), "A", None)
    cache.put((1, "b"), "B", 5)
    assert cache.get((1, "a"), 1) == "A"  # a is now the most recent
    cache.put((2, "c"), "C", None)
    assert cache.get((1, "b"), 5) is None and len(cache) == 2  # b was least recently used
    cache.put((1, "d"), "D", 5)
    assert cache.get((1, "d"), 6) is None  # the catalogue moved on
    cache.drop_store(2)
    assert cache.get((2, "c"), 1) is None
    expired = RenderCache(seconds=-1)
    expired.put((1, "x"), "X", None)
    assert expired.get((1, "x"), 1) is None
