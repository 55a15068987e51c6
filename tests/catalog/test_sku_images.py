"""SKU pictures (规格图) on both backends: the service sets, keeps and clears a SKU's library image
and refuses one the store does not have; the schema backs the library's refusal to delete an
image a SKU shows; the console editor chooses one of the product's images or uploads one per
SKU row, without JavaScript; the product page hands each SKU's picture to the option sheet."""

from __future__ import annotations

import html as htmllib
import io
import json
import re

import pytest
import sqlalchemy as sa

from mallow.testing import image_upload, login_merchant, png_bytes, post_form

COLOURS = [{"name": "颜色", "values": ["红", "蓝"]}]


def _upload(console, colour="#c33", size=(120, 120)) -> int:
    response = console.client.post(
        f"{console.api}/media",
        headers=console.headers,
        content_type="multipart/form-data",
        data={"image": (io.BytesIO(png_bytes(size, colour)), "sku.png")},
    )
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]


def _by_colour(product: dict) -> dict:
    return {sku["spec_values"]["颜色"]: sku for sku in product["skus"]}


def _json_script(html: str, element_id: str):
    found = re.search(rf'<script type="application/json" id="{element_id}">(.*?)</script>', html, re.S)
    return json.loads(found.group(1)) if found else None


def test_the_service_sets_keeps_clears_and_refuses_sku_pictures(app, console):
    from mallow.catalog import products
    from mallow.catalog.models import Sku
    from mallow.db import db
    from mallow.media import library
    from mallow.media.models import MediaAsset
    from mallow.tenants.context import store_context
    from mallow.validation import ValidationFailed

    with store_context(console.shop.store_id, app=app):
        # given: two library images
        red, blue = library.add(image_upload(png_bytes((90, 90), "#c33"))), library.add(image_upload())
        db.session.commit()
        red_id, blue_id = red.id, blue.id
        # when: a product is made with a picture on its red SKU
        product = products.create(
            {
                "title": "双色杯",
                "specs": COLOURS,
                "skus": [
                    {"spec_values": {"颜色": "红"}, "price": 990, "image": red_id},
                    {"spec_values": {"颜色": "蓝"}, "price": 990},
                ],
            }
        )
        pictures = lambda: {s.spec_values["颜色"]: s.media_id for s in product.skus}  # noqa: E731
        assert pictures() == {"红": red_id, "蓝": None}
        # an entry without "image" keeps it; another picture replaces it; None takes it away
        products.update(product, {"skus": [{"spec_values": {"颜色": "红"}, "price": 1090}]})
        assert pictures() == {"红": red_id, "蓝": None}
        products.update(product, {"skus": [{"spec_values": {"颜色": "蓝"}, "image": str(blue_id)}]})
        assert pictures() == {"红": red_id, "蓝": blue_id}
        products.update(product, {"skus": [{"spec_values": {"颜色": "红"}, "image": None}]})
        assert pictures() == {"红": None, "蓝": blue_id}
        # an id this store's library does not have (or not an id at all): a field error, nothing saved
        for bad in (999_999, "x", True, -1):
            with pytest.raises(ValidationFailed) as refused:
                products.update(
                    product,
                    {
                        "skus": [
                            {"spec_values": {"颜色": "红"}, "image": red_id},
                            {"spec_values": {"颜色": "蓝"}, "image": bad},
                        ]
                    },
                )
            assert list(refused.value.errors) == ["skus.1.image"], bad
            assert refused.value.errors["skus.1.image"][0] == "not_found"
        db.session.expire_all()
        assert pictures() == {"红": None, "蓝": blue_id}

        # the library counts the SKU's picture as a use by its product (so deleting it is refused) …
        uses = library.uses([db.session.get(MediaAsset, blue_id)])
        assert [(u.kind, u.id, u.title) for u in uses[blue_id]] == [("product", product.id, "双色杯")]
        # … and the schema refuses to lose the row a SKU points at, on either backend
        with pytest.raises(sa.exc.IntegrityError):
            db.session.execute(sa.delete(MediaAsset).where(MediaAsset.id == blue_id))
            db.session.flush()
        db.session.rollback()
        # a combination that leaves the specs is kept (inactive) but lets its picture go
        product = products.get(product.id)
        products.update(product, {"specs": [{"name": "颜色", "values": ["红"]}]})
        blue_sku = db.session.execute(sa.select(Sku).where(Sku.spec_key == "颜色:蓝")).scalar_one()
        assert blue_sku.active is False and blue_sku.media_id is None
        assert library.uses([db.session.get(MediaAsset, blue_id)]) == {}


def _form_fields(title="双色杯", **extra) -> dict:
    fields = {
        "title": title,
        "specs_text": "颜色: 红, 蓝",
        "status": "draft",
        "action": "save",
        "sort": "0",
        "skus.0.key": "颜色:红",
        "skus.0.price": "9.90",
        "skus.0.stock": "3",
        "skus.1.key": "颜色:蓝",
        "skus.1.price": "9.90",
        "skus.1.stock": "3",
    }
    fields.update(extra)
    return fields


def test_the_console_editor_chooses_or_uploads_a_picture_per_sku(app, console):
    client = console.client
    login_merchant(client, console.shop)
    gallery = _upload(console, "#c33")
    product = console.product(
        "双色杯",
        status="draft",
        specs=COLOURS,
        media_ids=[gallery],
        skus=[{"spec_values": {"颜色": c}, "price": 990, "stock": 3} for c in ("红", "蓝")],
    )
    path = f"{console.shop.prefix}/console/products/{product['id']}"

    # the editor: each SKU row offers "no picture" (checked), the product's images and an upload
    page = htmllib.unescape(client.get(path).get_data(as_text=True))
    for index in (0, 1):
        cell = re.search(rf'<td class="sku-image" data-sku-image="{index}">(.*?)</td>', page, re.S).group(1)
        assert re.search(rf'name="skus.{index}.image" value="" checked', cell)
        assert f'name="skus.{index}.image" value="{gallery}">' in cell
        assert f'name="skus.{index}.image_file"' in cell

    # when: red takes the product's image, blue gets an upload of its own
    saved = post_form(
        client,
        path,
        _form_fields(
            **{
                "skus.0.image": str(gallery),
                "skus.1.image": "",
                "skus.1.image_file": (io.BytesIO(png_bytes((200, 160), "#33c")), "blue.png"),
            }
        ),
        content_type="multipart/form-data",
    )
    assert saved.status_code == 303, saved.get_data(as_text=True)[:2000]
    skus = _by_colour(console.get(f"/products/{product['id']}").get_json())
    assert skus["红"]["image"]["media_id"] == gallery
    assert skus["蓝"]["image"]["width"] == 200 and skus["蓝"]["image"]["media_id"] != gallery
    assert [i["media_id"] for i in console.get(f"/products/{product['id']}").get_json()["images"]] == [gallery]
    # then: the editor shows each row's picture and offers the uploaded one too
    page = client.get(path).get_data(as_text=True)
    blue_id = skus["蓝"]["image"]["media_id"]
    assert re.search(rf'name="skus.0.image" value="{gallery}" checked', page)
    assert re.search(rf'name="skus.1.image" value="{blue_id}" checked', page)

    # a file that is not an image: the row says so, nothing changes
    refused = post_form(
        client,
        path,
        _form_fields(
            **{
                "skus.0.image": str(gallery),
                "skus.1.image": str(blue_id),
                "skus.1.image_file": (io.BytesIO(b"GIF89a not really"), "x.gif"),
            }
        ),
        content_type="multipart/form-data",
    )
    assert refused.status_code == 422 and 'data-field="skus.1.image"' in refused.get_data(as_text=True)
    # a form without the picture fields keeps the pictures; "no picture" takes one away
    assert post_form(client, path, _form_fields()).status_code == 303
    assert _by_colour(console.get(f"/products/{product['id']}").get_json())["红"]["image"]["media_id"] == gallery
    assert (
        post_form(client, path, _form_fields(**{"skus.0.image": "", "skus.1.image": str(blue_id)})).status_code == 303
    )
    skus = _by_colour(console.get(f"/products/{product['id']}").get_json())
    assert skus["红"]["image"] is None and skus["蓝"]["image"]["media_id"] == blue_id
    # an id the library does not have: an error at the row
    wrong = post_form(client, path, _form_fields(**{"skus.0.image": "999999"}))
    assert wrong.status_code == 422 and 'data-field="skus.0.image"' in wrong.get_data(as_text=True)


def test_a_new_product_gets_sku_pictures_from_uploads(app, console):
    client = console.client
    login_merchant(client, console.shop)
    path = f"{console.shop.prefix}/console/products/new"
    saved = post_form(
        client,
        path,
        _form_fields(
            "新品双色杯",
            **{
                "skus.0.image": "",
                "skus.0.image_file": (io.BytesIO(png_bytes((100, 100), "#c33")), "red.png"),
                "skus.1.image": "",
            },
        ),
        content_type="multipart/form-data",
    )
    assert saved.status_code == 303, saved.get_data(as_text=True)[:2000]
    product_id = int(saved.headers["Location"].rstrip("/").rsplit("/", 1)[1])
    skus = _by_colour(console.get(f"/products/{product_id}").get_json())
    assert skus["红"]["image"]["width"] == 100 and skus["蓝"]["image"] is None


def test_the_option_sheet_gets_each_skus_picture(app, console):
    client, prefix = app.test_client(), console.shop.prefix
    cover, red, blue = _upload(console, "#999", (300, 300)), _upload(console, "#c33"), _upload(console, "#33c")
    product = console.product(
        "双色杯",
        specs=COLOURS,
        media_ids=[cover],
        skus=[
            {"spec_values": {"颜色": "红"}, "price": 990, "stock": 0, "image": red},  # sold out: blue is pre-chosen
            {"spec_values": {"颜色": "蓝"}, "price": 1290, "stock": 4, "image": blue},
        ],
    )
    html = client.get(f"{prefix}/products/{product['id']}").get_data(as_text=True)
    picker = _json_script(html, "sku-data")
    read = _by_colour(product)
    thumbs = {colour: read[colour]["image"]["thumb_url"].replace("http://localhost", "") for colour in ("红", "蓝")}
    assert {s["values"][0]: s["image"] for s in picker["skus"]} == thumbs
    assert picker["image"].endswith("_320.png") and picker["image"] not in thumbs.values()  # the product's own
    # the sheet opens on the chosen SKU's picture (blue: the first in stock), 88 px square
    assert re.search(
        rf'<img class="pd-sheet-image" id="sheet-image" src="{re.escape(thumbs["蓝"])}" alt="" '
        r'width="88" height="88">',
        html,
    )
    assert client.get(thumbs["蓝"]).status_code == 200

    # without pictures of its own a SKU shows the product's first image; with no images at all,
    # the sheet has none either
    plain = console.product(
        "单色杯",
        specs=COLOURS,
        media_ids=[cover],
        skus=[{"spec_values": {"颜色": c}, "price": 990, "stock": 2} for c in ("红", "蓝")],
    )
    html = client.get(f"{prefix}/products/{plain['id']}").get_data(as_text=True)
    assert all(s["image"] is None for s in _json_script(html, "sku-data")["skus"])
    assert f'id="sheet-image" src="{_json_script(html, "sku-data")["image"]}"' in html
    # only SKU pictures, no product images: the sheet still has a picture to change
    bare = console.product(
        "无主图",
        specs=COLOURS,
        skus=[
            {"spec_values": {"颜色": "红"}, "price": 990, "stock": 2},
            {"spec_values": {"颜色": "蓝"}, "price": 990, "stock": 2, "image": blue},
        ],
    )
    html = client.get(f"{prefix}/products/{bare['id']}").get_data(as_text=True)
    assert _json_script(html, "sku-data")["image"] is None
    assert f'id="sheet-image" src="{thumbs["蓝"]}"' in html


def test_the_demo_store_shows_a_picture_per_first_spec_value(app):
    from mallow.db import db
    from mallow.demo import seed

    with app.app_context():
        seed()  # idempotent: the demo store may be there already
        db.session.remove()
    client = app.test_client()
    listing = client.get("/s/demo/api/products", query_string={"q": "纸皮山核桃"}).get_json()
    product_id = next(item["id"] for item in listing["items"] if item["title"] == "纸皮山核桃")
    product = client.get(f"/s/demo/api/products/{product_id}").get_json()
    photos = [image["url"] for image in product["images"]]
    shown = {(sku["spec_values"]["规格"], sku["image"]["url"]) for sku in product["skus"]}
    assert shown == {("500g", photos[0]), ("1000g", photos[1])}  # each 口味 of a size: the same picture
