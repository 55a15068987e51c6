"""One media library per store, shared by the page builder and the catalogue: product images are
library images (uploaded through the library, or picked from it, order kept), the console's
media library page lists, uploads and deletes what nothing uses, and no store ever reaches
another store's images, by id or by file name."""

from __future__ import annotations

import html as htmllib
import io
import re

from mallow.testing import csrf_token, login_merchant, png_bytes, post_form


def _upload(console, size=(300, 200), name="a.png") -> dict:
    response = console.client.post(
        f"{console.api}/media",
        headers=console.headers,
        content_type="multipart/form-data",
        data={"image": (io.BytesIO(png_bytes(size)), name)},
    )
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def _html(response) -> str:
    return response.get_data(as_text=True)


def _media_ids(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'<li data-media-id="(\d+)"', html)]


def test_api_products_use_library_images_in_the_given_order(console):
    a, b, c = (_upload(console, (100 + i, 100)) for i in range(3))
    product = console.product("三张图", media_ids=[c["id"], a["id"]])
    assert [i["media_id"] for i in product["images"]] == [c["id"], a["id"]]
    assert [i["width"] for i in product["images"]] == [102, 100]
    assert product["cover"]["width"] == 102
    # replace: new order, one left out (it stays in the library), one added
    updated = console.patch(f"/products/{product['id']}", {"media_ids": [a["id"], b["id"]]}).get_json()
    assert [i["media_id"] for i in updated["images"]] == [a["id"], b["id"]]
    kept = [i for i in updated["images"] if i["media_id"] == a["id"]][0]
    assert kept["id"] == [i for i in product["images"] if i["media_id"] == a["id"]][0]["id"]  # same row, moved
    uses = {item["id"]: item["uses"] for item in console.get("/media").get_json()["items"]}
    assert uses == {a["id"]: 1, b["id"]: 1, c["id"]: 0}
    # an image the library does not have, twice the same, not an id, too many: refused, nothing changed
    for media_ids, field, code in (
        ([a["id"], 999999], "media_ids", "not_found"),
        ([a["id"], a["id"]], "media_ids", "duplicate"),
        (["x"], "media_ids.0", "type"),
        ([a["id"]] * 10, "media_ids", "maxItems"),
    ):
        response = console.patch(f"/products/{product['id']}", {"media_ids": media_ids})
        assert response.status_code == 422 and response.get_json()["fields"][field]["code"] == code, media_ids
    assert [i["media_id"] for i in console.get(f"/products/{product['id']}").get_json()["images"]] == [a["id"], b["id"]]
    # the storefront shows the library image's thumbnail
    home = console.client.get(f"{console.shop.prefix}/").get_data(as_text=True)
    assert re.search(r'<img src="[^"]+/media/media/[0-9a-f]{32}_320\.png"', home)


def test_product_form_picks_library_images_and_uploads_join_the_library(app, console):
    client = console.client
    login_merchant(client, console.shop)
    older, newer = _upload(console, (200, 100), "older.png"), _upload(console, (100, 200), "newer.png")
    base = f"{console.shop.prefix}/console"
    form_page = _html(client.get(f"{base}/products/new"))
    assert re.findall(r'<figure data-media-id="(\d+)"', form_page) == [str(newer["id"]), str(older["id"])]
    fields = {
        "title": "选图商品",
        "specs_text": "",
        "skus.0.key": "",
        "skus.0.price": "9.90",
        "skus.0.stock": "3",
        "status": "draft",
        "action": "save",
        "media": [str(older["id"]), str(newer["id"])],
        "images": [(io.BytesIO(png_bytes((640, 480))), "new.png")],
    }
    saved = post_form(client, f"{base}/products/new", fields, content_type="multipart/form-data")
    assert saved.status_code == 303, _html(saved)[:1500]
    product_id = int(saved.headers["Location"].rstrip("/").rsplit("/", 1)[1])
    product = console.get(f"/products/{product_id}").get_json()
    assert [i["width"] for i in product["images"]] == [200, 100, 640]  # picked in order, then the upload
    library = console.get("/media").get_json()
    assert library["total"] == 3 and product["images"][2]["media_id"] == library["items"][0]["id"]

    # the edit form: images on the product cannot be picked again; reorder and remove one
    edit_path = f"{base}/products/{product_id}"
    edit = _html(client.get(edit_path))
    assert len(re.findall(r'name="media" value="\d+" disabled', edit)) == 3
    first, second, third = (i["id"] for i in product["images"])
    fields = {
        "title": "选图商品",
        "specs_text": "",
        "skus.0.key": "",
        "skus.0.price": "9.90",
        "skus.0.stock": "3",
        "status": "draft",
        "action": "save",
        f"image.{first}.sort": "2",
        f"image.{second}.sort": "0",
        f"image.{third}.sort": "1",
        "remove_image": str(third),
    }
    assert post_form(client, edit_path, fields).status_code == 303
    after = console.get(f"/products/{product_id}").get_json()
    assert [i["id"] for i in after["images"]] == [second, first]
    assert console.get("/media").get_json()["total"] == 3  # removed from the product, kept in the library

    # a bad upload saves nothing: no product change, no library image
    fields.update(
        {
            "remove_image": [],
            "media": [str(product["images"][2]["media_id"])],
            "images": [(io.BytesIO(b"not an image"), "x.png")],
        }
    )
    refused = post_form(client, edit_path, fields, content_type="multipart/form-data")
    assert refused.status_code == 422 and 'data-field="images"' in _html(refused)
    assert [i["id"] for i in console.get(f"/products/{product_id}").get_json()["images"]] == [second, first]
    assert console.get("/media").get_json()["total"] == 3


def test_product_form_picker_pages_keep_the_form_and_the_choices(app, console, monkeypatch):
    from mallow.console import catalogue

    monkeypatch.setattr(catalogue, "PICKER_PAGE", 2)
    client = console.client
    login_merchant(client, console.shop)
    ids = [_upload(console, (50 + i, 50))["id"] for i in range(3)]  # newest first: ids[2], ids[1] | ids[0]
    base = f"{console.shop.prefix}/console"
    fields = {
        "title": "翻页选图",
        "specs_text": "",
        "skus.0.key": "",
        "skus.0.price": "1",
        "skus.0.stock": "1",
        "status": "draft",
        "media": [str(ids[2])],
        "action": "library:2",
    }
    page_two = post_form(client, f"{base}/products/new", fields)
    html = _html(page_two)
    assert page_two.status_code == 200 and console.get("/products").get_json()["total"] == 0  # nothing saved
    assert re.findall(r'<figure data-media-id="(\d+)"', html) == [str(ids[0])]
    assert f'<input type="hidden" name="media" value="{ids[2]}">' in html and 'value="翻页选图"' in html
    fields.update({"media": [str(ids[2]), str(ids[0])], "action": "save"})
    assert post_form(client, f"{base}/products/new", fields, form_path=f"{base}/products/new").status_code == 303
    created = console.get("/products").get_json()["items"][0]
    assert [i["width"] for i in console.get(f"/products/{created['id']}").get_json()["images"]] == [52, 50]


def test_console_media_library_page(app, console, monkeypatch):
    from mallow.console import media

    monkeypatch.setattr(media, "PER_PAGE", 2)
    client = console.client
    login_merchant(client, console.shop)
    path = f"{console.shop.prefix}/console/library"
    dashboard = _html(client.get(f"{console.shop.prefix}/console/"))
    assert f'href="{path}"' in dashboard  # in the console menu

    # upload through the page (CSRF), three images in one go; a bad file adds none
    assert (
        client.post(
            path, data={"images": [(io.BytesIO(png_bytes()), "a.png")]}, content_type="multipart/form-data"
        ).status_code
        == 400
    )
    bad = post_form(
        client,
        path,
        {"images": [(io.BytesIO(png_bytes()), "ok.png"), (io.BytesIO(b"GIF89a"), "x.gif")]},
        content_type="multipart/form-data",
    )
    assert bad.status_code == 422 and 'data-field="images"' in _html(bad)
    assert console.get("/media").get_json()["total"] == 0
    files = [(io.BytesIO(png_bytes((60 + i, 40))), f"图{i}.png") for i in range(3)]
    assert post_form(client, path, {"images": files}, content_type="multipart/form-data").status_code == 303
    items = console.get("/media").get_json()["items"]
    assert [i["name"] for i in items] == ["图2.png", "图1.png", "图0.png"]
    used_by_product, used_by_page, unused = (i["id"] for i in items)

    # paging, newest first
    first = _html(client.get(path))
    assert _media_ids(first) == [used_by_product, used_by_page] and 'rel="next"' in first
    assert _media_ids(_html(client.get(path, query_string={"page": 2}))) == [unused]

    # where each one is used
    product = console.product("核桃礼盒", media_ids=[used_by_product])
    draft = {
        "sections": {"v": {"type": "video", "settings": {"url": "https://cdn.example/a.mp4", "poster": used_by_page}}},
        "order": ["v"],
    }
    assert (
        client.put(f"{console.api}/pages/home/draft", json={"document": draft}, headers=console.headers).status_code
        == 200
    )
    listing = htmllib.unescape(_html(client.get(path)))
    assert f'href="{console.shop.prefix}/console/products/{product["id"]}"' in listing and "核桃礼盒" in listing
    assert re.search(rf'data-use="page-\d+"><a href="{console.shop.prefix}/console/pages/\d+/edit"', listing)

    # delete: refused with the places while used, done when unused
    for media_id, place in ((used_by_product, "核桃礼盒"), (used_by_page, "")):
        refused = post_form(client, f"{path}/{media_id}/delete", {}, form_path=path, follow_redirects=True)
        message = re.search(r'<p class="flash error" role="status">(.*?)</p>', _html(refused))
        assert message and place in htmllib.unescape(message.group(1))
    deleted = post_form(client, f"{path}/{unused}/delete", {"page": "2"}, form_path=path)
    assert deleted.status_code == 303 and deleted.headers["Location"].endswith("/console/library?page=2")
    remaining = {i["id"] for i in console.get("/media").get_json()["items"]}
    assert remaining == {used_by_product, used_by_page}
    assert client.post(f"{path}/{used_by_page}/delete", data={}).status_code == 400  # no CSRF token
    assert post_form(client, f"{path}/999999/delete", {}, form_path=path).status_code == 404


def test_stores_never_reach_each_others_media(app, console, other_console):
    """Store B's images, by id and by file name, are not there for store A's staff."""
    theirs = [_upload(other_console, (70 + i, 70)) for i in range(2)]  # B: ids from 1 in B's own table
    browser = app.test_client()
    login_merchant(browser, console.shop)
    assert console.get("/media").get_json() == {"items": [], "total": 0, "page": 1}
    for asset in theirs:
        assert console.client.delete(f"{console.api}/media/{asset['id']}", headers=console.headers).status_code == 404
        refused = console.post(
            "/products", {"title": "盗图", "skus": [{"spec_values": {}, "price": 1}], "media_ids": [asset["id"]]}
        )
        assert refused.status_code == 422 and refused.get_json()["fields"]["media_ids"]["code"] == "not_found"
        name = asset["url"].rsplit("/", 1)[1]
        assert other_console.client.get(f"{other_console.shop.prefix}/library/{name}").status_code == 200
        for path in (f"/library/{name}", f"/media/media/{name}", f"/console/media/media/{name}"):
            assert browser.get(console.shop.prefix + path).status_code == 404, path
    # B's staff, with B's token, cannot use A's API
    assert other_console.client.get(f"{console.api}/media", headers=other_console.headers).status_code == 403

    # A's own first image may have the same id as B's: it is A's own file
    mine = _upload(console, (90, 90))
    product = console.product("自己的图", media_ids=[mine["id"]])
    assert product["images"][0]["width"] == 90 and mine["url"].startswith(console.shop.prefix)
    assert mine["url"] not in {a["url"] for a in theirs}

    # through the console pages too: B's library page, and picking B's ids in A's product form
    assert browser.get(f"{other_console.shop.prefix}/console/library").status_code == 403
    token = csrf_token(browser, f"{console.shop.prefix}/console/library")
    assert (
        browser.post(
            f"{other_console.shop.prefix}/console/library/{theirs[0]['id']}/delete", data={"csrf_token": token}
        ).status_code
        == 403
    )
    own_list = _html(browser.get(f"{console.shop.prefix}/console/library"))
    assert _media_ids(own_list) == [mine["id"]]
    picked = post_form(
        browser,
        f"{console.shop.prefix}/console/products/{product['id']}",
        {
            "title": "自己的图",
            "specs_text": "",
            "skus.0.key": "",
            "skus.0.price": "1",
            "skus.0.stock": "0",
            "status": "on_shelf",
            "action": "save",
            "media": [str(a["id"]) for a in theirs if a["id"] != mine["id"]],
        },
    )
    assert picked.status_code == 422 and 'data-field="images"' in _html(picked)
    # B's images are all still there and served
    assert {i["id"] for i in other_console.get("/media").get_json()["items"]} == {a["id"] for a in theirs}
    assert all(other_console.client.get(a["url"]).status_code == 200 for a in theirs)


def test_product_images_uploaded_before_the_library_keep_working(app, console):
    from pathlib import Path

    from werkzeug.datastructures import FileStorage

    from mallow.catalog.models import Product, ProductImage
    from mallow.db import db
    from mallow.media.images import store_image
    from mallow.tenants.context import store_context

    product = console.product("老商品")
    with store_context(console.shop.store_id, app):
        stored = store_image(
            FileStorage(io.BytesIO(png_bytes((400, 300))), filename="old.png"),
            f"stores/{console.shop.store_id}/products",
            thumbnails=(320,),
        )
        row = db.session.get(Product, product["id"])
        row.images.append(ProductImage(path=stored.path, thumb_path=stored.thumbnails[320], width=400, height=300))
        db.session.commit()
    image = console.get(f"/products/{product['id']}").get_json()["images"][0]
    assert image["media_id"] is None and console.get("/media").get_json()["total"] == 0
    assert console.client.get(image["thumb_url"].replace("http://localhost", "")).status_code == 200
    assert (
        console.client.delete(
            f"{console.api}/products/{product['id']}/images/{image['id']}", headers=console.headers
        ).status_code
        == 204
    )
    data_dir = Path(app.config["MALLOW_DATA_DIR"])
    assert not (data_dir / stored.path).exists() and not (data_dir / stored.thumbnails[320]).exists()
