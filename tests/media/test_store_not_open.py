"""A store that is not open (signed up a second ago and not reviewed, or suspended) uploads only
its qualification documents: every way into the media library (media API, product image API,
the page editor's picker, the library page, the product form) answers 409 with the reason and
stores nothing, while its licence upload goes through."""

from __future__ import annotations

import html
import io
from pathlib import Path

import pytest

from mallow.testing import MerchantClient, bearer, csrf_token, make_admin, png_bytes, post_form, qualification_form


def _media_folder(app, shop) -> Path:
    return Path(app.config["MALLOW_DATA_DIR"]) / "uploads" / "stores" / str(shop.store_id) / "media"


def _suspend(app, shop) -> None:
    from mallow.accounts.models import PlatformAdmin
    from mallow.db import db
    from mallow.stores.lifecycle import suspend
    from mallow.tenants.models import Store

    admin_id = make_admin(app)[0]
    with app.app_context():
        suspend(db.session.get(Store, shop.store_id), db.session.get(PlatformAdmin, admin_id), "证照过期")


@pytest.fixture(params=["pending", "suspended"])
def closed(request, app) -> MerchantClient:
    console = MerchantClient.new_store(app, signed_in=True, approved=request.param == "suspended")
    if request.param == "suspended":
        _suspend(app, console.shop)
    return console


def test_every_media_upload_route_refuses_a_store_that_is_not_open(app, closed):
    client, api, headers, prefix = closed.client, closed.api, closed.headers, closed.shop.prefix
    image = lambda: (io.BytesIO(png_bytes((300, 200))), "a.png")  # noqa: E731

    media = client.post(f"{api}/media", headers=headers, content_type="multipart/form-data", data={"image": image()})
    assert media.status_code == 409, media.get_data(as_text=True)[:300]
    body = media.get_json()
    assert body["error"] == "store_not_open" and body["message"]
    message = html.escape(body["message"])

    product = client.post(
        f"{api}/products",
        headers=headers,
        json={"title": "未开店商品", "status": "draft", "skus": [{"spec_values": {}, "price": 100, "stock": 1}]},
    )
    assert product.status_code == 201, product.get_json()
    product_id = product.get_json()["id"]
    images = client.post(
        f"{api}/products/{product_id}/images",
        headers=headers,
        content_type="multipart/form-data",
        data={"image": [image()]},
    )
    assert images.status_code == 409 and images.get_json() == body

    token = csrf_token(client, f"{prefix}/console/pages/")
    picker = client.post(
        f"{api}/media",
        content_type="multipart/form-data",
        data={"image": image()},
        headers={"X-CSRFToken": token, "Accept": "application/json"},
    )
    assert picker.status_code == 409 and picker.get_json() == body

    page = post_form(client, f"{prefix}/console/library", {"images": [image()]}, content_type="multipart/form-data")
    assert page.status_code == 409 and message in page.get_data(as_text=True)

    form = post_form(
        client,
        f"{prefix}/console/products/new",
        {
            "title": "表单商品",
            "specs_text": "",
            "skus.0.key": "",
            "skus.0.price": "9.90",
            "skus.0.stock": "3",
            "status": "draft",
            "action": "save",
            "images": [image()],
        },
        form_path=f"{prefix}/console/products/new",
        content_type="multipart/form-data",
    )
    assert form.status_code == 409 and message in form.get_data(as_text=True)

    # nothing was stored, and the product form's product was not created either
    assert not _media_folder(app, closed.shop).exists()
    assert client.get(f"{api}/media", headers=headers).get_json()["total"] == 0
    titles = [p["title"] for p in client.get(f"{api}/products", headers=headers).get_json()["items"]]
    assert titles == ["未开店商品"]
    assert client.get(f"{api}/products/{product_id}", headers=headers).get_json()["images"] == []


def test_a_store_that_is_not_open_still_uploads_its_qualification_documents(app):
    pending = MerchantClient.new_store(app, approved=False)
    data = dict(qualification_form())
    data["licence_image"] = (io.BytesIO(png_bytes((1200, 900))), "licence.png")
    submitted = pending.client.post(
        f"{pending.api}/qualifications", data=data, headers=pending.headers, content_type="multipart/form-data"
    )
    assert submitted.status_code == 201, submitted.get_json()
    folder = Path(app.config["MALLOW_DATA_DIR"]) / "uploads" / str(pending.shop.store_id) / "qualifications"
    assert len(list(folder.iterdir())) == 1
    # and once open, the library takes images
    from mallow.accounts.models import PlatformAdmin
    from mallow.db import db
    from mallow.qualifications import service
    from mallow.qualifications.models import Qualification

    admin_id = make_admin(app)[0]
    with app.test_request_context():
        service.approve(
            db.session.get(Qualification, submitted.get_json()["id"]), db.session.get(PlatformAdmin, admin_id)
        )
    opened = pending.client.post(
        f"{pending.api}/media",
        headers=bearer(pending.token),
        content_type="multipart/form-data",
        data={"image": (io.BytesIO(png_bytes()), "a.png")},
    )
    assert opened.status_code == 201, opened.get_json()
