"""A group (拼团) is shared like a product, through the plugin SDK (``mallow_share_target`` and
``share_sheet``): its poster's QR code decodes to the group's share link with the sharer's code,
the link lands on the group page and the friend's first order keeps the sharer; the poster shows
the group's real state; unknown groups and kinds are 404."""

from __future__ import annotations

import io
from urllib.parse import urlsplit

import sqlalchemy as sa
from PIL import Image

from mallow.testing import register_shopper
from tests.sharing.test_posters import decode

KIND = "groupbuy_group"


def _open_group(mall, size=3):
    [sku] = mall.product(price=10000, stock=20)
    tiers = (
        [{"size": 2, "percent": "95"}, {"size": 3, "percent": "90"}] if size == 3 else [{"size": 2, "percent": "90"}]
    )
    campaign = mall.campaign([sku], group_size=size, tiers=tiers)
    leader = mall.shopper()
    group_id = mall.group_of(mall.buy(leader, sku, campaign))
    return sku, campaign, group_id


def _path(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def _red_pixels(png: bytes, box) -> int:
    image = Image.open(io.BytesIO(png)).convert("RGB").crop(box)
    data = image.tobytes()
    return sum(1 for i in range(0, len(data), 3) if data[i] > 180 and data[i + 1] < 120 and data[i + 2] < 120)


def test_a_groups_poster_carries_the_sharers_code_and_the_link_lands_on_the_group(mall):
    sku, campaign, group_id = _open_group(mall)
    prefix = mall.shop.prefix
    group_page = f"{prefix}/x/groupbuy/g/{group_id}"

    # a visitor's poster: the group's own address; the real state beside the price
    plain = mall.app.test_client().get(f"{prefix}/share/poster/x/{KIND}/{group_id}.png")
    assert plain.status_code == 200 and plain.mimetype == "image/png"
    assert decode(plain.data) == f"http://localhost{group_page}"
    assert _red_pixels(plain.data, (430, 750 + 28, 710, 750 + 90)) > 150  # "3人团 · 还差 2 人", not blank

    # a signed-in sharer: their own code, the same in the share sheet's link and on the poster
    sharer = mall.app.test_client()
    register_shopper(sharer, mall.shop)
    linked = sharer.get(f"{prefix}/share/link/x/{KIND}/{group_id}").get_json()
    assert linked["source"] == "referral" and len(linked["code"]) == 10
    assert linked["share_url"] == f"http://localhost{prefix}/share/r/{linked['code']}/x/{KIND}/{group_id}"
    assert linked["poster_url"] == f"{prefix}/share/poster/x/{KIND}/{group_id}.png"
    poster = sharer.get(linked["poster_url"])
    assert poster.status_code == 200 and decode(poster.data) == linked["share_url"]

    # the friend opens it: lands on the group page; their first order (into the group) keeps the sharer
    friend_browser = mall.app.test_client()
    landed = friend_browser.get(_path(linked["share_url"]))
    assert landed.status_code == 303 and landed.headers["Location"] == group_page
    friend = mall.shopper()
    mall.client = friend_browser  # the friend's own session (the remembered code)
    try:
        order = mall.order(friend, sku, campaign, group_id)
    finally:
        mall.client = mall.app.test_client()
    from mallow.db import db
    from mallow.sharing.models import ShareCode, ShareReferral
    from mallow.tenants.context import store_context

    with store_context(mall.shop.store_id, app=mall.app):
        referral = db.session.execute(
            sa.select(ShareReferral).where(ShareReferral.order_id == order["id"])
        ).scalar_one()
        sharer_id = db.session.execute(
            sa.select(ShareCode.customer_id).where(ShareCode.code == linked["code"])
        ).scalar()
        assert referral.sharer_id == sharer_id and referral.code == linked["code"]

    # the group page's 分享 button opens the share sheet with these addresses
    html = mall.app.test_client().get(group_page).get_data(as_text=True)
    assert 'id="share"' in html and f'data-share-link="{prefix}/share/link/x/{KIND}/{group_id}"' in html
    assert f'data-poster="{prefix}/share/poster/x/{KIND}/{group_id}.png"' in html and "share-sheet.js" in html


def test_the_poster_follows_the_groups_real_state(mall):
    sku, campaign, group_id = _open_group(mall, size=2)
    prefix = mall.shop.prefix
    path = f"{prefix}/share/poster/x/{KIND}/{group_id}.png"
    first = mall.client.get(path)
    assert mall.client.get(path).headers["X-Mallow-Poster"] == "kept"
    mall.buy(mall.shopper(), sku, campaign, group_id)  # the second member: the group is complete
    again = mall.client.get(path)
    assert again.status_code == 200 and again.data != first.data  # drawn again: no stale "还差 1 人"
    assert decode(again.data).endswith(f"/x/groupbuy/g/{group_id}")


def test_unknown_groups_kinds_and_stores_without_the_plugin_are_404(mall, gb_app):
    from mallow.testing import make_store

    _sku, _campaign, group_id = _open_group(mall)
    prefix = mall.shop.prefix
    for path in (
        f"/share/poster/x/{KIND}/999999.png",
        f"/share/poster/x/{KIND}/abc.png",
        f"/share/poster/x/nosuch_thing/{group_id}.png",
        f"/share/poster/x/groupbuy/{group_id}.png",  # not a kind: <plugin>_<thing>
        f"/share/link/x/{KIND}/999999",
        f"/share/r/abcdefghjk/x/{KIND}/999999",
    ):
        assert mall.client.get(f"{prefix}{path}").status_code == 404, path
    other = make_store(gb_app)  # the plugin is not enabled there
    assert mall.client.get(f"{other.prefix}/share/poster/x/{KIND}/{group_id}.png").status_code == 404
