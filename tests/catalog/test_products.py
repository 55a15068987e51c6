"""Products through the console API: field errors, SKUs from specs, in-place updates, images,
shelf status, bulk edits (all or nothing), low stock, and store isolation."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image

from mallow.testing import bearer, png_bytes

COLOUR_SIZE = [{"name": "颜色", "values": ["红", "蓝"]}, {"name": "尺码", "values": ["M", "L", "XL"]}]


def _skus_for(specs, price=1000, stock=10):
    import itertools

    names = [axis["name"] for axis in specs]
    return [
        {"spec_values": dict(zip(names, combo, strict=False)), "price": price, "stock": stock}
        for combo in itertools.product(*(axis["values"] for axis in specs))
    ]


def test_create_product_with_specs_makes_the_cartesian_product(console):
    category = console.category("坚果")
    created = console.product(
        "临安山核桃仁",
        category_id=category,
        specs=COLOUR_SIZE,
        skus=_skus_for(COLOUR_SIZE),
        subtitle="手剥",
        description_html="<p>香<script>x()</script></p>",
        video_url="https://video.example/a.mp4",
    )
    assert created["status"] == "on_shelf" and created["category_id"] == category
    assert len(created["skus"]) == 6
    assert {s["spec_key"] for s in created["skus"]} == {
        f"尺码:{size};颜色:{colour}" for colour in ("红", "蓝") for size in ("M", "L", "XL")
    }
    assert created["description_html"] == "<p>香</p>"
    assert created["min_price"] == 1000 and all(isinstance(s["price"], int) for s in created["skus"])


def test_field_errors(console):
    response = console.post(
        "/products",
        {
            "title": "",
            "skus": [{"spec_values": {}, "price": -1}],
            "video_url": "http://video.example/a.mp4",
            "category_id": 99999,
        },
    )
    assert response.status_code == 422
    fields = response.get_json()["fields"]
    assert "title" in fields and "skus.0.price" in fields
    response = console.post(
        "/products",
        {
            "title": "x",
            "skus": [{"spec_values": {}, "price": 100}],
            "video_url": "http://video.example/a.mp4",
            "category_id": 99999,
        },
    )
    fields = response.get_json()["fields"]
    assert fields["video_url"]["code"] == "not_https" and fields["category_id"]["code"] == "not_found"
    for url in ("javascript:alert(1)", "https://", "https://user:pw@host/x", "ftp://x/y"):
        bad = console.post("/products", {"title": "x", "skus": [{"spec_values": {}, "price": 100}], "video_url": url})
        assert bad.status_code == 422 and "video_url" in bad.get_json()["fields"], url


def test_sku_errors_name_the_entry(console):
    skus = _skus_for(COLOUR_SIZE)
    skus[2]["stock"] = -5  # the JSON Schema refuses it before the service runs
    response = console.post("/products", {"title": "T恤", "specs": COLOUR_SIZE, "skus": skus})
    assert response.status_code == 422 and "skus.2.stock" in response.get_json()["fields"]
    skus = _skus_for(COLOUR_SIZE)
    skus[3]["market_price"] = 1
    response = console.post("/products", {"title": "T恤", "specs": COLOUR_SIZE, "skus": skus})
    assert response.status_code == 422
    assert response.get_json()["fields"]["skus.3.market_price"]["code"] == "below_price"

    missing = console.post("/products", {"title": "T恤", "specs": COLOUR_SIZE, "skus": _skus_for(COLOUR_SIZE)[:4]})
    assert missing.get_json()["fields"]["skus"]["code"] == "missing"
    extra = _skus_for(COLOUR_SIZE) + [{"spec_values": {"颜色": "绿", "尺码": "M"}, "price": 1}]
    unknown = console.post("/products", {"title": "T恤", "specs": COLOUR_SIZE, "skus": extra})
    assert unknown.get_json()["fields"]["skus.6.spec_values"]["code"] == "unknown"
    twice = console.post(
        "/products", {"title": "T恤", "specs": COLOUR_SIZE, "skus": _skus_for(COLOUR_SIZE) + _skus_for(COLOUR_SIZE)[:1]}
    )
    assert twice.get_json()["fields"]["skus.6.spec_values"]["code"] == "duplicate"


def test_float_prices_are_refused(console):
    response = console.post("/products", {"title": "x", "skus": [{"spec_values": {}, "price": 12.5}]})
    assert response.status_code == 422 and "skus.0.price" in response.get_json()["fields"]
    response = console.post("/products", {"title": "x", "skus": [{"spec_values": {}, "price": 12.0}]})
    assert response.status_code == 422 and response.get_json()["fields"]["skus.0.price"]["code"] == "invalid"


def test_spec_validation(console):
    bad_specs = [
        ([{"name": "颜色", "values": ["红", "红"]}], "duplicate_value"),
        ([{"name": "颜色", "values": ["红"]}, {"name": "颜色", "values": ["蓝"]}], "duplicate"),
        ([{"name": "a:b", "values": ["红"]}], "invalid_name"),
        ([{"name": "颜色", "values": ["红;蓝"]}], "invalid_value"),
        ([{"name": n, "values": ["1"]} for n in "abcd"], "maxItems"),  # the JSON Schema says so first
        ([{"name": n, "values": [str(i) for i in range(10)]} for n in "abc"], "too_many_skus"),
    ]
    for specs, code in bad_specs:
        response = console.post("/products", {"title": "x", "specs": specs, "skus": []})
        fields = response.get_json()["fields"]
        assert response.status_code == 422 and any(
            v["code"] == code for k, v in fields.items() if k.startswith("specs")
        ), (specs, fields)


def test_update_keeps_sku_ids_and_deactivates_vanished_combinations(console):
    created = console.product("T恤", specs=COLOUR_SIZE, skus=_skus_for(COLOUR_SIZE))
    ids = {s["spec_key"]: s["id"] for s in created["skus"]}
    # drop XL, add 绿: existing SKUs keep their ids, new ones need a price
    specs = [{"name": "颜色", "values": ["红", "蓝", "绿"]}, {"name": "尺码", "values": ["M", "L"]}]
    response = console.patch(f"/products/{created['id']}", {"specs": specs})
    assert response.status_code == 422 and response.get_json()["fields"]["skus"]["code"] == "missing"
    new = [{"spec_values": {"颜色": "绿", "尺码": size}, "price": 1500, "stock": 3} for size in ("M", "L")]
    changed = [{"spec_values": {"颜色": "红", "尺码": "M"}, "price": 1111}]
    response = console.patch(f"/products/{created['id']}", {"specs": specs, "skus": new + changed})
    assert response.status_code == 200, response.get_json()
    product = console.get(f"/products/{created['id']}").get_json()
    by_key = {s["spec_key"]: s for s in product["skus"]}
    assert by_key["尺码:M;颜色:红"]["id"] == ids["尺码:M;颜色:红"] and by_key["尺码:M;颜色:红"]["price"] == 1111
    assert by_key["尺码:M;颜色:红"]["stock"] == 10  # not given: kept
    assert by_key["尺码:L;颜色:蓝"]["id"] == ids["尺码:L;颜色:蓝"]
    assert by_key["尺码:XL;颜色:红"]["active"] is False and by_key["尺码:XL;颜色:红"]["id"] == ids["尺码:XL;颜色:红"]
    assert by_key["尺码:M;颜色:绿"]["active"] is True and by_key["尺码:M;颜色:绿"]["price"] == 1500
    # the shopper sees only the active ones
    public = console.client.get(f"{console.shop.prefix}/api/products/{created['id']}").get_json()
    assert len(public["skus"]) == 6 and "code" not in public["skus"][0]
    # putting XL back revives the same row
    response = console.patch(f"/products/{created['id']}", {"specs": COLOUR_SIZE + [], "skus": []})
    revived = {s["spec_key"]: s for s in response.get_json()["skus"]}
    assert response.status_code == 200 and revived["尺码:XL;颜色:红"]["active"] is True
    assert revived["尺码:XL;颜色:红"]["id"] == ids["尺码:XL;颜色:红"]


def test_spec_axis_order_does_not_change_keys(console):
    created = console.product("T恤", specs=COLOUR_SIZE, skus=_skus_for(COLOUR_SIZE))
    swapped = list(reversed(COLOUR_SIZE))
    response = console.patch(f"/products/{created['id']}", {"specs": swapped})
    assert response.status_code == 200
    assert {s["id"] for s in response.get_json()["skus"] if s["active"]} == {s["id"] for s in created["skus"]}


def test_partial_update_and_shelf_transitions(console):
    created = console.product("龙井茶", status="draft")
    product_id = created["id"]
    assert console.patch(f"/products/{product_id}", {"subtitle": "明前"}).get_json()["title"] == "龙井茶"
    assert console.patch(f"/products/{product_id}", {"status": "on_shelf"}).get_json()["status"] == "on_shelf"
    assert console.patch(f"/products/{product_id}", {"status": "off_shelf"}).get_json()["status"] == "off_shelf"
    back = console.patch(f"/products/{product_id}", {"status": "draft"})
    assert back.status_code == 422 and back.get_json()["fields"]["status"]["code"] == "not_allowed"
    assert console.patch(f"/products/{product_id}", {"sort": 5}).get_json()["sort"] == 5
    assert console.get("/products/999999").status_code == 404


def test_images_upload_reencode_thumbnail_and_limit(app, console):
    created = console.product("纸皮山核桃")
    wide = io.BytesIO()
    Image.new("RGB", (1000, 500), "#a52").save(wide, "JPEG")
    files = {
        "image": [(io.BytesIO(wide.getvalue()), "../../evil.php.jpg"), (io.BytesIO(png_bytes((200, 100))), "b.png")]
    }
    response = console.client.post(
        f"{console.api}/products/{created['id']}/images",
        data=files,
        headers=console.headers,
        content_type="multipart/form-data",
    )
    assert response.status_code == 201, response.get_json()
    images = response.get_json()["images"]
    assert [(i["width"], i["height"]) for i in images] == [(1000, 500), (200, 100)]
    data_dir = Path(app.config["MALLOW_DATA_DIR"])
    from mallow.catalog.models import ProductImage
    from mallow.db import db
    from mallow.tenants.context import store_context

    with store_context(console.shop.store_id, app):
        rows = list(db.session.execute(db.select(ProductImage).order_by(ProductImage.sort)).scalars())
        assert all(r.path.startswith(f"uploads/stores/{console.shop.store_id}/media/") for r in rows)
        assert "evil" not in rows[0].path and rows[0].path.endswith(".jpg")
        with Image.open(data_dir / rows[0].thumb_path) as thumb:
            assert thumb.size == (320, 160) and thumb.format == "JPEG"
        with Image.open(data_dir / rows[1].thumb_path) as thumb:
            assert thumb.size == (200, 100)  # narrower than 320: not enlarged
    # the uploads are the store's library images, shown as used by the product
    library = console.get("/media").get_json()
    assert library["total"] == 2 and all(item["uses"] == 1 for item in library["items"])
    assert {i["media_id"] for i in images} == {item["id"] for item in library["items"]}
    # served by the storefront, cached for good
    served = console.client.get(images[0]["thumb_url"].replace("http://localhost", ""))
    assert (
        served.status_code == 200 and served.mimetype == "image/jpeg" and "immutable" in served.headers["Cache-Control"]
    )
    # not an image, and more than 9 images: nothing joins the library
    bad = console.client.post(
        f"{console.api}/products/{created['id']}/images",
        data={"image": [(io.BytesIO(png_bytes()), "ok.png"), (io.BytesIO(b"<?php echo 1; ?>"), "x.png")]},
        headers=console.headers,
        content_type="multipart/form-data",
    )
    assert bad.status_code == 422 and bad.get_json()["fields"]["image"]["code"] == "not_image"
    many = {"image": [(io.BytesIO(png_bytes()), f"{i}.png") for i in range(8)]}
    too_many = console.client.post(
        f"{console.api}/products/{created['id']}/images",
        data=many,
        headers=console.headers,
        content_type="multipart/form-data",
    )
    assert too_many.status_code == 422 and too_many.get_json()["fields"]["image"]["code"] == "too_many"
    assert console.get("/media").get_json()["total"] == 2
    assert len(list((data_dir / f"uploads/stores/{console.shop.store_id}/media").iterdir())) == 2 * 3
    # remove one from the product: it stays in the library, unused, and can then be deleted there
    assert (
        console.client.delete(
            f"{console.api}/products/{created['id']}/images/{images[0]['id']}", headers=console.headers
        ).status_code
        == 204
    )
    assert len(console.get(f"/products/{created['id']}").get_json()["images"]) == 1
    uses = {item["id"]: item["uses"] for item in console.get("/media").get_json()["items"]}
    assert uses == {images[0]["media_id"]: 0, images[1]["media_id"]: 1}
    assert (data_dir / rows[0].path).exists()
    assert (
        console.client.delete(f"{console.api}/media/{images[1]['media_id']}", headers=console.headers).status_code
        == 409
    )
    assert (
        console.client.delete(f"{console.api}/media/{images[0]['media_id']}", headers=console.headers).status_code
        == 204
    )
    assert not (data_dir / rows[0].path).exists() and not (data_dir / rows[0].thumb_path).exists()


def test_media_route_refuses_traversal_and_other_names(console):
    for path in (
        "/media/../../platform.db",
        "/media/products/..%2F..%2Fsecret_key",
        "/media/qualifications/x.png",
        "/media/products/" + "0" * 32 + ".svg",
        "/media/products/" + "0" * 32 + ".jpg",
    ):
        assert console.client.get(console.shop.prefix + path).status_code == 404, path


def test_bulk_update_is_all_or_nothing(console):
    a = console.product("A", price=1000, stock=5)["skus"][0]
    b = console.product("B", price=2000, stock=5)["skus"][0]
    bad = console.post(
        "/skus/bulk", {"items": [{"sku_id": a["id"], "price": 1200, "stock": 50}, {"sku_id": b["id"], "stock": -1}]}
    )
    assert bad.status_code == 422 and "items.1.stock" in bad.get_json()["fields"]
    missing = console.post(
        "/skus/bulk", {"items": [{"sku_id": a["id"], "price": 1200}, {"sku_id": 987654, "price": 1}]}
    )
    assert missing.status_code == 422 and missing.get_json()["fields"]["items.1.sku_id"]["code"] == "not_found"
    unchanged = console.get(f"/products/{console_product_id(console, a['id'])}").get_json()["skus"][0]
    assert unchanged["price"] == 1000 and unchanged["stock"] == 5
    good = console.post(
        "/skus/bulk", {"items": [{"sku_id": a["id"], "price": 1200, "stock": 50}, {"sku_id": b["id"], "stock": 0}]}
    )
    assert good.status_code == 200, good.get_json()
    assert {(i["id"], i["price"], i["stock"]) for i in good.get_json()["items"]} == {
        (a["id"], 1200, 50),
        (b["id"], 2000, 0),
    }


def console_product_id(console, sku_id):
    for item in console.get("/products?per_page=50").get_json()["items"]:
        product = console.get(f"/products/{item['id']}").get_json()
        if any(s["id"] == sku_id for s in product["skus"]):
            return product["id"]
    raise AssertionError(sku_id)


def test_bulk_update_database_failure_rolls_back_everything(app, console, monkeypatch):
    """A failure in the database itself (the stock CHECK constraint), after the first item was
    applied, leaves nothing half-written."""
    import pytest
    from sqlalchemy.exc import IntegrityError

    from mallow.catalog import sku_bulk_edit
    from mallow.tenants.context import store_context

    a = console.product("A", price=1000, stock=5)["skus"][0]
    b = console.product("B", price=2000, stock=5)["skus"][0]
    monkeypatch.setattr(sku_bulk_edit, "whole", lambda value, minimum, maximum: (value, None))  # skip the checks
    with store_context(console.shop.store_id, app), pytest.raises(IntegrityError):
        sku_bulk_edit.bulk_update_skus([{"sku_id": a["id"], "price": 1}, {"sku_id": b["id"], "stock": -3}])
    monkeypatch.undo()
    assert console.get(f"/products/{console_product_id(console, a['id'])}").get_json()["skus"][0]["price"] == 1000
    assert console.get(f"/products/{console_product_id(console, b['id'])}").get_json()["skus"][0]["stock"] == 5


def test_low_stock_list_uses_the_store_threshold(app, console):
    low = console.product("少", stock=3)["skus"][0]
    console.product("多", stock=500)
    console.product("草稿", stock=1, status="draft")
    listing = console.get("/skus/low-stock").get_json()
    assert listing["threshold"] == 50
    assert [i["id"] for i in listing["items"]] == [low["id"]] and listing["items"][0]["product_title"] == "少"
    from mallow import settings
    from mallow.db import db
    from mallow.tenants.context import store_context

    with store_context(console.shop.store_id, app):
        settings.put("low_stock_threshold", 2)
        db.session.commit()
    assert console.get("/skus/low-stock").get_json()["items"] == []


def test_other_stores_staff_cannot_touch_products(console, other_console):
    mine = console.product("A 的商品")
    theirs_token = other_console.token
    for method, path, body in (
        ("patch", f"/products/{mine['id']}", {"title": "hacked"}),
        ("get", f"/products/{mine['id']}", None),
        ("post", "/products", {"title": "x", "skus": [{"spec_values": {}, "price": 1}]}),
        ("post", "/skus/bulk", {"items": [{"sku_id": mine["skus"][0]["id"], "price": 1}]}),
        ("get", "/skus/low-stock", None),
        ("post", "/categories", {"name": "x"}),
    ):
        call = getattr(console.client, method)
        kwargs = {"json": body} if body is not None else {}
        response = call(f"{console.api}{path}", headers=bearer(theirs_token), **kwargs)
        assert response.status_code == 403, (method, path, response.status_code)
    assert console.get(f"/products/{mine['id']}").get_json()["title"] == "A 的商品"
    # and anonymous callers are asked to sign in
    assert console.client.patch(f"{console.api}/products/{mine['id']}", json={"title": "x"}).status_code == 401


def test_search_text_is_maintained(app, console):
    created = console.product(
        "Ｔｅａ　龙井",
        specs=[{"name": "规格", "values": ["250G礼盒"]}],
        skus=[{"spec_values": {"规格": "250G礼盒"}, "price": 100, "code": "LJ-250"}],
        subtitle="明前",
        description_html="<p>西湖<b>产区</b></p>",
    )
    from mallow.catalog.models import Product
    from mallow.db import db
    from mallow.tenants.context import store_context

    with store_context(console.shop.store_id, app):
        text = db.session.get(Product, created["id"]).search_text
    assert text == "tea 龙井 明前 西湖产区 250g礼盒 lj-250"
