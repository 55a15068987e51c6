"""Share posters (分享海报) and share links: the PNG's QR code decodes to the share link with the
sharer's code (a distributor's code for a distributor), the Chinese title is drawn with the CJK
font, a visit through a referral link and a first order record the sharer, bad ids are 404."""

from __future__ import annotations

import io
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
import zxingcpp
from PIL import Image

from mallow.testing import bearer, make_product, make_shopper, make_store, merchant_token

from .conftest import TITLE, product_with_photo


def decode(png: bytes) -> str:
    image = Image.open(io.BytesIO(png))
    found = zxingcpp.read_barcodes(image)
    assert found, "no QR code found on the poster"
    return found[0].text


def poster(client, shop, product_id, token=None):
    headers = bearer(token) if token else {}
    response = client.get(f"{shop.prefix}/api/share/poster?kind=product&id={product_id}", headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    assert response.mimetype == "image/png"
    return response


def _pixels(image):
    data = image.tobytes()
    return [tuple(data[i : i + 3]) for i in range(0, len(data), 3)]


def path_of(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def test_a_visitors_poster_decodes_to_the_products_address(client, shop, share_app):
    product_id = product_with_photo(share_app, shop)
    response = client.get(f"{shop.prefix}/share/poster/product/{product_id}.png")
    assert response.status_code == 200 and response.mimetype == "image/png"
    image = Image.open(io.BytesIO(response.data))
    assert image.size[0] == 750
    assert decode(response.data) == f"http://localhost{shop.prefix}/products/{product_id}"
    assert image.convert("RGB").getpixel((375, 375)) == pytest.approx((20, 90, 200), abs=12)  # the product's photo


def test_a_shoppers_poster_carries_their_own_stable_code(client, shop, share_app):
    product_id = product_with_photo(share_app, shop)
    token, _address = make_shopper(client, shop)
    first = poster(client, shop, product_id, token)
    link = decode(first.data)
    assert link == first.headers["X-Mallow-Share-Url"]
    prefix = f"http://localhost{shop.prefix}/share/r/"
    assert link.startswith(prefix) and link.endswith(f"/product/{product_id}")
    code = link[len(prefix) :].split("/")[0]
    assert len(code) == 10
    again = poster(client, shop, product_id, token)
    assert decode(again.data) == link  # the same code every time
    assert again.headers["X-Mallow-Poster"] == "kept"  # from the disk, under the same stamp
    other, _ = make_shopper(client, shop)
    assert decode(poster(client, shop, product_id, other).data) != link  # everyone their own


def test_the_chinese_title_and_the_price_are_drawn_with_the_cjk_font(client, shop, share_app):
    product_id = product_with_photo(share_app, shop, price=12850)
    response = poster(client, shop, product_id)
    assert response.headers["X-Mallow-Poster-Font"] == "cjk"
    image = Image.open(io.BytesIO(response.data)).convert("RGB")
    title_band = image.crop((40, 750 + 104, 710, 750 + 200))
    dark = sum(1 for pixel in _pixels(title_band) if sum(pixel) < 200)
    assert dark > 2000, dark  # two lines of characters, not a blank band
    price_band = image.crop((40, 750 + 28, 400, 750 + 100))
    red = sum(1 for r, g, b in _pixels(price_band) if r > 180 and g < 120 and b < 120)
    assert red > 300, red

    from mallow.sharing import posters

    with share_app.app_context():
        face = posters.font(34)
        lines = posters.wrap(TITLE + " " + TITLE, face, 670, 2)
        short = posters.wrap("山核桃", face, 670, 2)
    assert len(lines) == 2 and lines[1].endswith("…") and lines[0].startswith("临安山核桃仁")
    assert short == ["山核桃"]
    assert all(face.getlength(line) <= 670 for line in lines)


def test_a_distributors_poster_carries_the_distributor_code(client, shop, share_app):
    product_id = product_with_photo(share_app, shop)
    token, _address = make_shopper(client, shop)
    api = f"{shop.prefix}/api/x/distribution"
    applied = client.post(f"{api}/apply", headers=bearer(token), json={"agree": True}).get_json()
    if applied["status"] != "approved":
        decided = client.post(
            f"{shop.prefix}/api/console/x/distribution/distributors/{applied['id']}/decision",
            headers=bearer(merchant_token(client, shop)),
            json={"approve": True},
        )
        assert decided.status_code == 200
    link = decode(poster(client, shop, product_id, token).data)
    assert link == (
        f"http://localhost{shop.prefix}/x/distribution/r/{applied['code']}?next=/s/{shop.slug}/products/{product_id}"
    )
    visitor = share_app.test_client()  # the link lands on the product
    landed = visitor.get(path_of(link))
    assert landed.status_code in (302, 303) and landed.headers["Location"].endswith(f"/products/{product_id}")


def _referral(app, shop, order_id):
    from mallow.db import db
    from mallow.sharing.models import ShareReferral
    from mallow.tenants.context import store_context

    with store_context(shop.store_id, app=app):
        row = db.session.execute(
            sa.select(ShareReferral).where(ShareReferral.order_id == order_id)
        ).scalar_one_or_none()
        return None if row is None else (row.sharer_id, row.buyer_id, row.code, row.completed_at)


def _me(client, shop, token) -> int:
    return client.get(f"{shop.prefix}/api/me", headers=bearer(token)).get_json()["id"]


def _order(client, shop, token, address, sku_id, options=None):
    body = {"items": [{"sku_id": sku_id, "quantity": 1}], "address_id": address}
    if options:
        body["options"] = options
    placed = client.post(f"{shop.prefix}/api/orders", headers=bearer(token), json=body)
    assert placed.status_code == 201, placed.get_json()
    return placed.get_json()["id"]


def test_a_visit_through_a_referral_link_then_a_first_order_records_the_sharer(client, shop, share_app):
    [sku_id] = make_product(share_app, shop, title="分享测试", price=5000)
    from mallow.catalog.models import Sku
    from mallow.db import db
    from mallow.tenants.context import store_context

    with store_context(shop.store_id, app=share_app):
        product_id = db.session.execute(sa.select(Sku.product_id).where(Sku.id == sku_id)).scalar_one()
    sharer_token, sharer_address = make_shopper(client, shop)
    link = poster(client, shop, product_id, sharer_token).headers["X-Mallow-Share-Url"]
    code = link.split("/share/r/")[1].split("/")[0]

    friend = share_app.test_client()
    landed = friend.get(path_of(link))
    assert landed.status_code == 303 and landed.headers["Location"] == f"{shop.prefix}/products/{product_id}"
    token, address = make_shopper(friend, shop)  # signs up after looking around
    first = _order(friend, shop, token, address, sku_id)
    sharer_id, buyer_id, kept_code, completed = _referral(share_app, shop, first)
    assert (sharer_id, kept_code, completed) == (_me(client, shop, sharer_token), code, None)
    assert buyer_id == _me(friend, shop, token)
    second = _order(friend, shop, token, address, sku_id)  # only the first order keeps a referrer
    assert _referral(share_app, shop, second) is None

    # the sharer's own visit through their own link, then their order: no referral to themselves
    client.get(path_of(link))
    own = _order(client, shop, sharer_token, sharer_address, sku_id)
    assert _referral(share_app, shop, own) is None

    # an API client sends the code with the order; a shopper who ordered before is not new
    late = share_app.test_client()
    late_token, late_address = make_shopper(late, shop)
    by_api = _order(late, shop, late_token, late_address, sku_id, {"share_ref": code})
    assert _referral(share_app, shop, by_api)[2] == code

    # the order completes: the sharer's reward is due (granted by the merchant's rule later)
    from mallow.orders.models import Order
    from mallow.sharing import referrals

    with store_context(shop.store_id, app=share_app):
        referrals.mallow_order_completed(db.session.get(Order, first))
        db.session.commit()
    assert _referral(share_app, shop, first)[3] is not None


def test_bad_ids_and_another_stores_product_are_404(client, shop, share_app):
    other = make_store(share_app)
    [sku_id] = make_product(share_app, other, title="别家的商品")
    from mallow.catalog.models import Sku
    from mallow.db import db
    from mallow.tenants.context import store_context

    with store_context(other.store_id, app=share_app):
        foreign = db.session.execute(sa.select(Sku.product_id).where(Sku.id == sku_id)).scalar_one()
    mine = product_with_photo(share_app, shop)
    assert foreign != mine or True
    for path in (
        f"/share/poster/product/{foreign + 1000}.png",
        "/share/poster/product/99999999999.png",
        "/share/poster/product/abc.png",
        "/share/poster/page/no-such-page.png",
        "/share/poster/page/Bad_Slug.png",
        f"/share/link/product/{foreign + 1000}",
    ):
        assert client.get(f"{shop.prefix}{path}").status_code == 404, path
    # the other store's product is not on show here, by its id
    with store_context(shop.store_id, app=share_app):
        taken = db.session.execute(sa.select(Sku.product_id)).scalars().all()
    if foreign not in taken:
        assert client.get(f"{shop.prefix}/share/poster/product/{foreign}.png").status_code == 404
    assert client.get(f"{other.prefix}/share/poster/product/{foreign}.png").status_code == 200
    api = f"{shop.prefix}/api/share/poster"
    assert client.get(f"{api}?kind=product&id=99999999999").status_code == 404
    assert client.get(f"{api}?kind=page&id=nope").status_code == 404
    bad = client.get(f"{api}?kind=video&id=abc")
    assert bad.status_code == 400 and set(bad.get_json()["fields"]) == {"kind"}
    bad = client.get(f"{api}?kind=product&id=abc")
    assert bad.status_code == 400 and set(bad.get_json()["fields"]) == {"id"}


def test_the_poster_is_drawn_again_when_the_product_changes(client, shop, share_app):
    product_id = product_with_photo(share_app, shop)
    assert poster(client, shop, product_id).headers["X-Mallow-Poster"] == "drawn"
    assert poster(client, shop, product_id).headers["X-Mallow-Poster"] == "kept"
    from mallow.catalog.models import Product
    from mallow.db import db
    from mallow.tenants.context import store_context

    with store_context(shop.store_id, app=share_app):
        db.session.get(Product, product_id).title = "新标题 山核桃"
        db.session.commit()  # moves the store's stamp
    assert poster(client, shop, product_id).headers["X-Mallow-Poster"] == "drawn"


def test_the_poster_cache_is_bounded(share_app, tmp_path):
    import os
    import time

    from mallow.sharing import posters

    for index in range(7):
        (tmp_path / f"{index}.png").write_bytes(b"x")
        os.utime(tmp_path / f"{index}.png", (time.time() - 100 + index, time.time() - 100 + index))
    with share_app.app_context():
        posters._bound(tmp_path, limit=4)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["3.png", "4.png", "5.png", "6.png"]


def test_the_merchant_sets_the_share_reward_rule(client, shop):
    path = f"{shop.prefix}/api/console/share/reward"
    token = merchant_token(client, shop)
    assert client.get(path, headers=bearer(token)).get_json() == {"enabled": False, "kind": "coupon", "amount": 0}
    bad = client.put(path, headers=bearer(token), json={"enabled": True, "kind": "coupon", "amount": 0})
    assert bad.status_code == 422 and set(bad.get_json()["fields"]) == {"amount"}
    good = client.put(path, headers=bearer(token), json={"enabled": True, "kind": "points", "amount": 200})
    assert good.status_code == 200
    assert client.get(path, headers=bearer(token)).get_json() == {"enabled": True, "kind": "points", "amount": 200}
    shopper, _ = make_shopper(client, shop)
    assert client.get(path, headers=bearer(shopper)).status_code in (401, 403)


def test_drawing_posters_is_rate_limited_per_address(client, shop, share_app, monkeypatch):
    """A poster costs tens of milliseconds of CPU: one address gets a 429 past the limit, on the
    storefront's route and the API alike (one count for both); another address still gets its
    poster."""
    product_id = product_with_photo(share_app, shop)
    monkeypatch.setitem(share_app.config, "POSTER_RATE_LIMIT_IP", "2 per minute")
    crowd = {"REMOTE_ADDR": "198.51.100.23"}
    page = f"{shop.prefix}/share/poster/product/{product_id}.png"
    api = f"{shop.prefix}/api/share/poster?kind=product&id={product_id}"
    assert client.get(page, environ_base=crowd).status_code == 200
    assert client.get(api, environ_base=crowd).status_code == 200
    assert client.get(page, environ_base=crowd).status_code == 429
    refused = client.get(api, environ_base=crowd)
    assert refused.status_code == 429 and refused.is_json
    assert client.get(page, environ_base={"REMOTE_ADDR": "198.51.100.24"}).status_code == 200
