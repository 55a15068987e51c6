"""A SKU's own picture (规格图) through the API, called by operationId so every answer is held to the
OpenAPI document: ``image`` on each SKU (a library image id on write, an object or null on read),
field errors naming ``skus.<i>.image``, and an image a SKU shows is not deleted from the library."""

from __future__ import annotations

import io

from mallow.testing import merchant_token, make_store, png_bytes
from tests.api.caller import Api

COLOURS = [{"name": "颜色", "values": ["红", "蓝"]}]


def _upload(api, shop, token, colour) -> int:
    response = api(
        "uploadMedia",
        store=shop.slug,
        token=token,
        expect=201,
        content_type="multipart/form-data",
        data={"image": (io.BytesIO(png_bytes((120, 120), colour)), "sku.png")},
    )
    return response.get_json()["id"]


def _skus(body) -> dict:
    return {sku["spec_values"]["颜色"]: sku for sku in body["skus"]}


def test_skus_read_and_write_their_own_picture(app):
    shop, client = make_store(app), app.test_client()
    api, token = Api(client), merchant_token(client, shop)
    red, blue = _upload(api, shop, token, "#c33"), _upload(api, shop, token, "#33c")

    # given: a product whose red SKU has a picture and whose blue one has none
    created = api(
        "createProduct",
        store=shop.slug,
        token=token,
        expect=201,
        json={
            "title": "双色保温杯",
            "status": "on_shelf",
            "specs": COLOURS,
            "skus": [
                {"spec_values": {"颜色": "红"}, "price": 5900, "stock": 5, "image": red},
                {"spec_values": {"颜色": "蓝"}, "price": 5900, "stock": 5},
            ],
        },
    ).get_json()
    skus = _skus(created)
    assert skus["红"]["image"]["media_id"] == red and skus["红"]["image"]["width"] == 120
    assert skus["红"]["image"]["thumb_url"].endswith("_320.png") and skus["蓝"]["image"] is None

    # then: shoppers read it too, at an address that serves the picture
    public = api("getProduct", store=shop.slug, product_id=created["id"], expect=200).get_json()
    url = _skus(public)["红"]["image"]["url"]
    assert client.get(url[url.index("/s/") :]).status_code == 200

    # when: blue gets one, red's is left out of the entry (kept), then taken away with null
    product_id = created["id"]
    updated = api(
        "updateProduct",
        store=shop.slug,
        token=token,
        product_id=product_id,
        expect=200,
        json={"skus": [{"spec_values": {"颜色": "蓝"}, "image": blue}]},
    ).get_json()
    assert {colour: sku["image"]["media_id"] for colour, sku in _skus(updated).items()} == {"红": red, "蓝": blue}
    assert [sku["id"] for sku in updated["skus"]] == [sku["id"] for sku in created["skus"]]  # same SKUs
    cleared = api(
        "updateProduct",
        store=shop.slug,
        token=token,
        product_id=product_id,
        expect=200,
        json={"skus": [{"spec_values": {"颜色": "红"}, "image": None}]},
    ).get_json()
    assert _skus(cleared)["红"]["image"] is None and _skus(cleared)["蓝"]["image"]["media_id"] == blue

    # the SKU lists carry it as well
    rows = api(
        "bulkUpdateSkus",
        store=shop.slug,
        token=token,
        expect=200,
        json={"items": [{"sku_id": _skus(cleared)["蓝"]["id"], "stock": 3}]},
    ).get_json()["items"]
    assert rows[0]["image"]["media_id"] == blue


def test_a_picture_that_is_not_this_stores_is_a_field_error(app):
    shop, other, client = make_store(app), make_store(app), app.test_client()
    api, token = Api(client), merchant_token(client, shop)
    other_token = merchant_token(client, other)
    theirs = [_upload(api, other, other_token, colour) for colour in ("#3c3", "#cc3")][-1]  # ids are per store:
    mine = _upload(api, shop, token, "#c33")  # this store has no image with that id
    product = api(
        "createProduct",
        store=shop.slug,
        token=token,
        expect=201,
        json={
            "title": "双色保温杯",
            "specs": COLOURS,
            "skus": [{"spec_values": {"颜色": c}, "price": 5900, "stock": 5} for c in ("红", "蓝")],
        },
    ).get_json()

    for image, field, code in (
        (theirs, "skus.1.image", "not_found"),
        (999_999, "skus.1.image", "not_found"),
        ("红", "skus.1.image", "type"),
        (0, "skus.1.image", "minimum"),
    ):
        response = api(
            "updateProduct",
            store=shop.slug,
            token=token,
            product_id=product["id"],
            expect=422,
            json={
                "skus": [
                    {"spec_values": {"颜色": "红"}, "image": mine},
                    {"spec_values": {"颜色": "蓝"}, "image": image},
                ]
            },
        )
        fields = response.get_json()["fields"]
        assert list(fields) == [field] and fields[field]["code"] == code, (image, fields)
    # nothing was saved, not even the valid red picture
    unchanged = api("getMerchantProduct", store=shop.slug, token=token, product_id=product["id"], expect=200)
    assert [sku["image"] for sku in unchanged.get_json()["skus"]] == [None, None]
    # creating with another store's picture is refused the same way
    refused = api(
        "createProduct",
        store=shop.slug,
        token=token,
        expect=422,
        json={"title": "别家的图", "skus": [{"spec_values": {}, "price": 100, "image": theirs}]},
    )
    assert refused.get_json()["fields"]["skus.0.image"]["code"] == "not_found"


def test_a_picture_a_sku_shows_is_not_deleted_from_the_library(app):
    shop, client = make_store(app), app.test_client()
    api, token = Api(client), merchant_token(client, shop)
    gallery, own = _upload(api, shop, token, "#c33"), _upload(api, shop, token, "#33c")
    product = api(
        "createProduct",
        store=shop.slug,
        token=token,
        expect=201,
        json={
            "title": "双色保温杯",
            "specs": COLOURS,
            "media_ids": [gallery],
            "skus": [
                {"spec_values": {"颜色": "红"}, "price": 5900, "image": gallery},
                {"spec_values": {"颜色": "蓝"}, "price": 5900, "image": own},
            ],
        },
    ).get_json()

    # the gallery image leaves the product's gallery: the red SKU keeps showing it (a library image)
    updated = api(
        "updateProduct", store=shop.slug, token=token, product_id=product["id"], expect=200, json={"media_ids": []}
    ).get_json()
    assert updated["images"] == [] and _skus(updated)["红"]["image"]["media_id"] == gallery

    # deleting a picture a SKU shows is refused, naming the product (once, however many SKUs show it)
    for media_id in (gallery, own):
        refused = api("deleteMedia", store=shop.slug, token=token, media_id=media_id, expect=409).get_json()
        assert refused["error"] == "in_use" and refused["used_by"] == [
            {"kind": "product", "id": product["id"], "title": "双色保温杯", "state": "draft", "number": None}
        ]
    listed = {
        item["id"]: item["uses"]
        for item in api("listMedia", store=shop.slug, token=token, expect=200).get_json()["items"]
    }
    assert listed == {gallery: 1, own: 1}

    # once no SKU shows it, it can go
    api(
        "updateProduct",
        store=shop.slug,
        token=token,
        product_id=product["id"],
        expect=200,
        json={"skus": [{"spec_values": {"颜色": "蓝"}, "image": None}]},
    )
    api("deleteMedia", store=shop.slug, token=token, media_id=own, expect=204)
    # a combination that leaves the specs lets its picture go too (the SKU is kept, inactive)
    api(
        "updateProduct",
        store=shop.slug,
        token=token,
        product_id=product["id"],
        expect=200,
        json={"specs": [{"name": "颜色", "values": ["蓝"]}]},
    )
    api("deleteMedia", store=shop.slug, token=token, media_id=gallery, expect=204)
