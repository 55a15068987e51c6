"""Drafts, publishing, versions and rollback; landing pages; what the storefront shows."""

from __future__ import annotations

import re

from mallow.testing import login_merchant


def _order(html: str) -> list[str]:
    return re.findall(r'data-block-id="([^"]+)"', html)


def test_home_falls_back_to_the_catalogue_until_a_page_is_published(app, builder):
    builder.product("临安山核桃仁")
    assert 'id="product-grid"' in builder.home_html()  # the catalogue home
    saved = builder.save(builder.doc(("n", "notice_bar", {"text": "草稿里的公告"})))
    assert saved.status_code == 200 and saved.get_json()["published_version_id"] is None
    html = builder.home_html()
    assert "草稿里的公告" not in html and 'id="product-grid"' in html  # drafts never reach shoppers
    builder.publish()
    html = builder.home_html()
    assert "草稿里的公告" in html and 'class="mp mp-theme-default' in html
    # no script of the page's own: only the storefront's view beacon (a static file)
    assert html.count("<script") == 1 and 'src="/static/storefront/analytics.js' in html


def test_versions_preview_and_rollback(app, builder):
    # given: two published versions
    first = builder.save_and_publish(builder.doc(("a", "notice_bar", {"text": "第一版"})))
    second = builder.save_and_publish(builder.doc(("b", "spacer", {}), ("a", "notice_bar", {"text": "第二版"})))
    assert (first["number"], second["number"]) == (1, 2) and second["live"]
    assert "第二版" in builder.home_html() and _order(builder.home_html()) == ["b", "a"]
    versions = builder.client.get(f"{builder.api}/pages/home/versions", headers=builder.headers).get_json()["items"]
    assert [(v["number"], v["live"]) for v in versions] == [(2, True), (1, False)]

    # when: the merchant edits the draft (not published) and previews version 1 in the console
    builder.save(builder.doc(("c", "notice_bar", {"text": "未发布的修改"})))
    console = app.test_client()
    login_merchant(console, builder.shop)
    page_id = builder.client.get(f"{builder.api}/pages/home", headers=builder.headers).get_json()["id"]
    preview = console.get(f"{builder.shop.prefix}/console/pages/{page_id}/versions/{first['id']}")
    assert preview.status_code == 200 and "第一版" in preview.get_data(as_text=True)
    assert 'id="version-preview"' in preview.get_data(as_text=True)
    assert "未发布的修改" not in builder.home_html()

    # and: rolls back to version 1
    rolled = builder.client.post(
        f"{builder.api}/pages/home/rollback", json={"version_id": first["id"]}, headers=builder.headers
    )
    assert rolled.status_code == 200 and rolled.get_json()["number"] == 1

    # then: shoppers see version 1, and it is the draft again
    html = builder.home_html()
    assert "第一版" in html and "第二版" not in html and _order(html) == ["a"]
    page = builder.client.get(f"{builder.api}/pages/home", headers=builder.headers).get_json()
    assert page["document"]["order"] == ["a"] and page["published_version_id"] == first["id"]
    versions = builder.client.get(f"{builder.api}/pages/home/versions", headers=builder.headers).get_json()["items"]
    assert [(v["number"], v["live"]) for v in versions] == [(2, False), (1, True)]


def test_unpublishing_brings_back_the_catalogue_home_and_keeps_the_versions(app, builder):
    # given: a published home page and a published landing page
    builder.save_and_publish(builder.doc(("a", "notice_bar", {"text": "装修后的首页"})))
    created = builder.client.post(
        f"{builder.api}/pages", json={"title": "双十一", "slug": "double-11"}, headers=builder.headers
    )
    assert created.status_code == 201, created.get_json()
    builder.save_and_publish(builder.doc(("n", "notice_bar", {"text": "双十一会场"})), page=created.get_json()["id"])
    assert builder.client.get(f"{builder.shop.prefix}/p/double-11").status_code == 200

    # when: the merchant unpublishes the landing page through the API
    gone = builder.client.post(f"{builder.api}/pages/{created.get_json()['id']}/unpublish", headers=builder.headers)
    assert gone.status_code == 200 and gone.get_json()["published_version_id"] is None
    assert builder.client.get(f"{builder.shop.prefix}/p/double-11").status_code == 404

    # and the home page from the console's page list (a form with its CSRF token)
    console = app.test_client()
    login_merchant(console, builder.shop)
    home = builder.client.get(f"{builder.api}/pages/home", headers=builder.headers).get_json()
    listing = console.get(f"{builder.shop.prefix}/console/pages/").get_data(as_text=True)
    assert f"/console/pages/{home['id']}/unpublish" in listing
    assert console.post(f"{builder.shop.prefix}/console/pages/{home['id']}/unpublish").status_code == 400  # no token
    assert "装修后的首页" in builder.home_html()
    token = re.search(r'name="csrf_token" value="([^"]+)"', listing).group(1)
    answer = console.post(f"{builder.shop.prefix}/console/pages/{home['id']}/unpublish", data={"csrf_token": token})
    assert answer.status_code == 303

    # then: shoppers see the catalogue home again; the draft and the versions are kept
    assert "装修后的首页" not in builder.home_html()
    page = builder.client.get(f"{builder.api}/pages/home", headers=builder.headers).get_json()
    assert page["published_version_id"] is None and page["document"]["order"] == ["a"]
    versions = builder.client.get(f"{builder.api}/pages/home/versions", headers=builder.headers).get_json()["items"]
    assert [(v["number"], v["live"]) for v in versions] == [(1, False)]


def test_refused_document_changes_nothing(app, builder):
    builder.save_and_publish(builder.doc(("a", "notice_bar", {"text": "正常内容"})))
    before = builder.client.get(f"{builder.api}/pages/home", headers=builder.headers).get_json()
    bad = builder.doc(
        ("a", "notice_bar", {"text": "正常内容", "link": "javascript:alert(document.cookie)"}),
        ("x", "rich_text", {"html": "<script>alert(1)</script>"}),
        ("y", "mystery_block", {}),
    )
    response = builder.save(bad)
    assert response.status_code == 422
    assert set(response.get_json()["fields"]) == {
        "/sections/a/settings/link",
        "/sections/x/settings/html",
        "/sections/y/type",
    }
    after = builder.client.get(f"{builder.api}/pages/home", headers=builder.headers).get_json()
    assert after["document"] == before["document"] and after["revision"] == before["revision"]
    builder.publish()
    html = builder.home_html()
    assert "javascript:" not in html and "alert(" not in html and "mystery" not in html


def test_a_stale_revision_is_refused(app, builder):
    page = builder.client.get(f"{builder.api}/pages/home", headers=builder.headers).get_json()
    document = builder.doc(("a", "spacer", {}))
    assert builder.save(document, revision=page["revision"]).status_code == 200
    stale = builder.save(document, revision=page["revision"])
    assert stale.status_code == 409 and stale.get_json()["current_revision"] == page["revision"] + 1


def test_references_must_exist_in_this_store(app, builder, other_builder):
    theirs = other_builder.product("别家的商品")
    response = builder.save(
        builder.doc(("p", "single_product", {"product": theirs["id"] + 1000}), ("i", "video", {"poster": 999}))
    )
    assert response.status_code == 422
    assert {k: v["code"] for k, v in response.get_json()["fields"].items()} == {
        "/sections/p/settings/product": "not_found",
        "/sections/i/settings/poster": "not_found",
    }


def test_landing_pages_have_their_own_address(app, builder):
    created = builder.client.post(
        f"{builder.api}/pages", json={"title": "双十一会场", "slug": "double-11"}, headers=builder.headers
    )
    assert created.status_code == 201
    page = created.get_json()
    assert page["url"] == f"{builder.shop.prefix}/p/double-11"
    assert builder.client.get(page["url"]).status_code == 404  # not published yet
    builder.save_and_publish(builder.doc(("a", "notice_bar", {"text": "全场五折"})), page=page["id"])
    response = builder.client.get(page["url"])
    assert response.status_code == 200 and "全场五折" in response.get_data(as_text=True)
    assert "<title>双十一会场</title>" in response.get_data(as_text=True)
    again = builder.client.post(
        f"{builder.api}/pages", json={"title": "x", "slug": "double-11"}, headers=builder.headers
    )
    assert again.status_code == 422 and "slug" in again.get_json()["fields"]
    bad = builder.client.post(f"{builder.api}/pages", json={"title": "x", "slug": "../admin"}, headers=builder.headers)
    assert bad.status_code == 422
    listed = builder.client.get(f"{builder.api}/pages", headers=builder.headers).get_json()["items"]
    assert [p["kind"] for p in listed] == ["home", "product", "category", "landing"]


def test_the_home_page_and_products_render_for_shoppers(app, builder):
    nuts = builder.product("临安山核桃仁", price=6990)
    tea = builder.product("龙井", price=12800)
    builder.product("下架商品", status="off_shelf")
    builder.save_and_publish(
        builder.doc(
            ("picks", "product_grid", {"title": "精选", "source": "picked", "products": [tea["id"], nuts["id"]]}),
            ("one", "single_product", {"product": nuts["id"], "button_text": "马上买"}),
            ("all", "product_grid", {"title": "最新", "source": "newest", "count": 5}),
            ("info", "store_info", {"intro": "杭州老店"}),
        )
    )
    html = builder.home_html()
    picks = html[html.index('data-block-id="picks"') : html.index('data-block-id="one"')]
    assert re.findall(r'data-product-id="(\d+)"', picks) == [str(tea["id"]), str(nuts["id"])]
    assert "128.00" in picks and "马上买" in html and "杭州老店" in html
    assert "下架商品" not in html
    assert "统一社会信用代码" in html or "Unified Social Credit Code" in html  # the licence of the approved store
