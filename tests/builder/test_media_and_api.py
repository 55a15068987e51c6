"""The media library (upload, list, delete unused) and the console API, which the editor calls
with the browser session: staff of the store only, CSRF on the cookie-authenticated requests that
change something, JSON escaped in pages."""

from __future__ import annotations

import json
import re

from mallow.testing import csrf_token, login_merchant, png_bytes


BEACON_SCRIPT = "/static/storefront/analytics.js"  # the storefront layout's one script


def test_upload_list_use_and_delete_unused_media(app, builder):
    # given: an uploaded image (re-encoded, with smaller copies)
    uploaded = builder.upload(png_bytes((1600, 800), "#2a9d8f"), name="../../夏季 banner.png")
    assert uploaded.status_code == 201, uploaded.get_json()
    asset = uploaded.get_json()
    assert (asset["width"], asset["height"]) == (1600, 800) and asset["name"] == "夏季 banner.png"
    served = builder.client.get(asset["url"])
    assert served.status_code == 200 and served.mimetype == "image/png"
    assert "immutable" in served.headers["Cache-Control"]
    assert builder.client.get(asset["thumbnail_url"]).status_code == 200
    listed = builder.client.get(f"{builder.api}/media", headers=builder.headers).get_json()
    assert listed["total"] == 1 and listed["items"][0]["uses"] == 0

    # when: a published page uses it
    builder.save_and_publish(builder.doc(("v", "video", {"url": "https://cdn.example/a.mp4", "poster": asset["id"]})))
    html = builder.home_html()
    assert f'poster="{asset["url"].split("?")[0]}"' in html or asset["url"] in html or "library/" in html
    # then: it cannot be deleted, not even once the draft stops using it (the live version does)
    assert builder.client.delete(f"{builder.api}/media/{asset['id']}", headers=builder.headers).status_code == 409
    builder.save(builder.doc(("s", "spacer", {})))
    refused = builder.client.delete(f"{builder.api}/media/{asset['id']}", headers=builder.headers)
    assert refused.status_code == 409 and refused.get_json()["uses"] == 1
    home_id = builder.client.get(f"{builder.api}/pages/home", headers=builder.headers).get_json()["id"]
    assert [(u["kind"], u["id"], u["state"]) for u in refused.get_json()["used_by"]] == [("page", home_id, "live")]
    # a product showing it is a use too, listed with the pages
    product = builder.product("海报同款", media_ids=[asset["id"]])
    listed = builder.client.get(f"{builder.api}/media", headers=builder.headers).get_json()["items"][0]
    assert [(u["kind"], u["id"]) for u in listed["used_by"]] == [("page", home_id), ("product", product["id"])]

    # and: an unused one can
    spare = builder.upload().get_json()
    assert builder.client.delete(f"{builder.api}/media/{spare['id']}", headers=builder.headers).status_code == 204
    assert builder.client.get(spare["url"]).status_code == 404
    assert builder.client.delete(f"{builder.api}/media/{spare['id']}", headers=builder.headers).status_code == 404


def test_uploads_are_checked(app, builder):
    not_image = builder.upload(b"<svg onload=alert(1)>", name="x.png")
    assert not_image.status_code == 422 and not_image.get_json()["fields"]["image"]["code"] == "not_image"
    empty = builder.client.post(
        f"{builder.api}/media", headers=builder.headers, data={}, content_type="multipart/form-data"
    )
    assert empty.status_code == 422
    for name in ("../secret_key", "..%2f..%2fplatform.db", "0" * 32 + ".svg", "x.png"):
        assert builder.client.get(f"{builder.shop.prefix}/library/{name}").status_code == 404


def test_carousel_images_render_with_srcset_and_lazy_loading(app, builder):
    ids = [builder.upload(png_bytes((1200, 600))).get_json()["id"] for _ in range(2)]
    builder.save_and_publish(
        {
            "sections": {
                "c": {
                    "type": "carousel",
                    "settings": {},
                    "blocks": {f"s{i}": {"type": "slide", "settings": {"image": m}} for i, m in enumerate(ids)},
                    "block_order": ["s0", "s1"],
                }
            },
            "order": ["c"],
        }
    )
    html = builder.home_html()
    images = re.findall(r"<img [^>]+>", html)
    assert len(images) == 2 and all("srcset=" in i and "320w" in i and "1200w" in i and "sizes=" in i for i in images)
    assert "loading=" not in images[0] and 'loading="lazy"' in images[1]  # the first slide is above the fold


def test_other_stores_and_strangers_are_refused(app, builder, other_builder):
    asset = builder.upload().get_json()
    builder.save_and_publish(builder.doc(("n", "notice_bar", {"text": "甲"})))
    theirs = other_builder.headers
    for method, path, body in (
        ("GET", "/pages", None),
        ("GET", "/pages/home", None),
        ("PUT", "/pages/home/draft", {"document": {}}),
        ("POST", "/pages/home/publish", None),
        ("GET", "/pages/home/versions", None),
        ("POST", "/pages/home/rollback", {"version_id": 1}),
        ("GET", "/media", None),
        ("DELETE", f"/media/{asset['id']}", None),
        ("PUT", "/theme", {"theme": "promo"}),
    ):
        # valid bodies: the guard decides
        response = builder.client.open(f"{builder.api}{path}", method=method, headers=theirs, json=body)
        assert response.status_code == 403, (method, path)
        assert builder.client.open(f"{builder.api}{path}", method=method, json=body).status_code == 401
    assert builder.client.get(f"{builder.api}/pages/999999", headers=builder.headers).status_code == 404
    assert "甲" in builder.home_html()

    intruder = app.test_client()
    login_merchant(intruder, other_builder.shop)
    assert intruder.get(f"{builder.shop.prefix}/console/pages/").status_code == 403
    assert intruder.get(f"{builder.shop.prefix}/console/pages/1/edit").status_code == 403


def test_the_editor_calls_the_console_api_with_its_session_and_csrf_token(app, builder):
    browser = app.test_client()
    login_merchant(browser, builder.shop)
    base = f"{builder.api}/pages"
    page_id = builder.client.get(f"{base}/home", headers=builder.headers).get_json()["id"]
    body = {"document": builder.doc(("n", "notice_bar", {"text": "编辑器"}))}
    refused = browser.put(f"{base}/{page_id}/draft", json=body)  # no token
    assert refused.status_code == 400 and refused.get_json()["error"] == "csrf_failed"
    assert browser.get(f"{base}/{page_id}").get_json()["document"] != body["document"]
    token = csrf_token(browser, f"{builder.shop.prefix}/console/pages/")
    saved = browser.put(f"{base}/{page_id}/draft", json=body, headers={"X-CSRFToken": token})
    assert saved.status_code == 200
    preview = browser.post(
        f"{base}/{page_id}/preview", json={**body, "theme": "promo"}, headers={"X-CSRFToken": token}
    ).get_json()
    assert preview["theme"] == "promo" and "编辑器" in preview["blocks"][0]["html"]
    published = browser.post(f"{base}/{page_id}/publish", headers={"X-CSRFToken": token})
    assert published.status_code == 201 and "编辑器" in builder.home_html()
    bad = browser.put(
        f"{base}/{page_id}/draft",
        headers={"X-CSRFToken": token},
        json={"document": builder.doc(("n", "notice_bar", {"link": "javascript:x"}))},
    )
    assert bad.status_code == 422 and "/sections/n/settings/link" in bad.get_json()["fields"]
    products = browser.get(f"{builder.api}/products?q=").get_json()
    assert products["items"] == [] and products["total"] == 0


def test_a_browser_session_reaches_only_its_own_stores_console_api(app, builder, other_builder):
    from mallow.audit import AuditEntry
    from mallow.db import db

    # given: the other store's merchant, signed in in their browser with a valid CSRF token
    intruder = app.test_client()
    login_merchant(intruder, other_builder.shop)
    token = csrf_token(intruder, f"{other_builder.shop.prefix}/console/pages/")
    # when: they call this store's console API with that session
    listed = intruder.get(f"{builder.api}/pages")
    saved = intruder.put(
        f"{builder.api}/pages/home/draft",
        headers={"X-CSRFToken": token},
        json={"document": builder.doc(("n", "notice_bar", {"text": "闯入"}))},
    )
    # then: refused and logged, the page unchanged; and no session at all is a 401
    assert (listed.status_code, saved.status_code) == (403, 403)
    assert "闯入" not in json.dumps(
        builder.client.get(f"{builder.api}/pages/home", headers=builder.headers).get_json(), ensure_ascii=False
    )
    with app.app_context():
        denied = db.session.execute(db.select(AuditEntry.target).where(AuditEntry.action == "access.denied")).scalars()
        assert f"{builder.api}/pages/home/draft" in list(denied)
    assert app.test_client().get(f"{builder.api}/pages").status_code == 401


def test_json_in_the_editor_page_cannot_close_its_script(app, builder):
    text = "</title ><b>&'\u2028\u2029</style>"
    assert builder.save(builder.doc(("n", "notice_bar", {"text": text}))).status_code == 200
    category = builder.client.post(f"{builder.api}/categories", json={"name": "</script><i>"}, headers=builder.headers)
    assert category.status_code == 201  # a catalogue name may hold anything: it is escaped where shown
    browser = app.test_client()
    login_merchant(browser, builder.shop)
    page_id = builder.client.get(f"{builder.api}/pages/home", headers=builder.headers).get_json()["id"]
    response = browser.get(f"{builder.shop.prefix}/console/pages/{page_id}/edit")
    assert response.status_code == 200
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    html = response.get_data(as_text=True)
    embedded = re.search(r'<script type="application/json" id="pe-data">(.*?)</script>', html, re.DOTALL).group(1)
    assert not re.search(r"[<>&'\u2028\u2029]", embedded)
    data = json.loads(embedded)
    assert data["page"]["document"]["sections"]["n"]["settings"]["text"] == text
    assert "</script><i>" in [c["name"] for c in data["categories"]]
    assert {t["type"] for t in data["types"]} >= {
        "carousel",
        "image_nav",
        "rich_text",
        "notice_bar",
        "search_bar",
        "product_grid",
        "single_product",
        "marketing_strip",
        "video",
        "spacer",
        "store_info",
    }
    assert re.findall(r"<script[^>]*src=\"([^\"]+)\"", html) == ["/static/builder/editor.js"]


def test_api_operations_are_documented(app, client):
    ids = {
        op["operationId"]
        for item in client.get("/api/openapi.json").get_json()["paths"].values()
        for op in item.values()
    }
    assert {
        "getPage",
        "savePageDraft",
        "publishPage",
        "listPageVersions",
        "rollbackPage",
        "listMedia",
        "uploadMedia",
        "deleteMedia",
    } <= ids


def test_storefront_pages_carry_the_csp_and_no_script(app, builder):
    builder.save_and_publish(builder.doc(("s", "search_bar", {}), ("i", "store_info", {})))
    response = builder.client.get(f"{builder.shop.prefix}/")
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    html = response.get_data(as_text=True)
    # no script of the page's own: only the storefront's view beacon, a static file of the platform
    assert html.count("<script") == 1 and re.findall(r'<script[^>]*src="([^"?]+)', html) == [BEACON_SCRIPT]
    assert f'action="{builder.shop.prefix}/search"' in response.get_data(as_text=True)


def test_the_editor_picker_pages_through_the_library_and_says_where_an_image_is_used(app, builder):
    from mallow.db import db
    from mallow.media import library
    from mallow.media.models import MediaAsset
    from mallow.tenants.context import store_context

    # given: the oldest image shows on a product, and 60 newer ones fill the picker's first page
    oldest = builder.upload(name="核桃主图.png").get_json()
    builder.product("临安山核桃", media_ids=[oldest["id"]])
    with store_context(builder.shop.store_id, app=app):
        db.session.add_all(
            MediaAsset(
                path=f"uploads/{library.folder()}/{n:032x}.png",
                thumbnails={},
                width=8,
                height=8,
                bytes=100,
                name=f"图{n}",
            )
            for n in range(1, 61)
        )
        db.session.commit()
    browser = app.test_client()
    login_merchant(browser, builder.shop)
    media = f"{builder.api}/media"

    first = browser.get(f"{media}?per_page=60").get_json()
    assert (first["total"], first["page"], len(first["items"])) == (61, 1, 60)
    assert oldest["id"] not in [m["id"] for m in first["items"]]
    second = browser.get(f"{media}?per_page=60&page=2").get_json()
    assert second["page"] == 2 and [(m["id"], m["uses"]) for m in second["items"]] == [(oldest["id"], 1)]
    assert browser.get(f"{media}?page=x").get_json()["page"] == 1  # not a page number: the first page
    assert browser.get(f"{media}?per_page=60&page=3").get_json()["items"] == []
    assert len(browser.get(f"{media}?page=2").get_json()["items"]) == 30  # 30 a page unless asked

    # when: the merchant tries to delete the product's image from the picker
    token = csrf_token(browser, f"{builder.shop.prefix}/console/pages/")
    refused = browser.delete(f"{media}/{oldest['id']}", headers={"X-CSRFToken": token})
    # then: refused, naming the product, and the image is still there
    assert refused.status_code == 409
    assert refused.get_json()["error"] == "in_use" and "临安山核桃" in refused.get_json()["message"]
    assert builder.client.get(oldest["url"]).status_code == 200
