"""What a shopper meets around a group: the share link guides a newcomer through signing in (or
up) and adding an address back to the group; after paying the member lands on the group with an
invite action, real member slots and the countdown; the order reads 待成团 while the group forms
and its timeline has labels, never the plugin's keys."""

from __future__ import annotations

import json
import re
from urllib.parse import parse_qs, urlsplit

import pytest

from mallow.testing import PASSWORD, bearer, post_form, register_shopper


def _page(client, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    return response.get_data(as_text=True)


def _next_of(html: str, element_id: str) -> str:
    href = re.search(rf'href="([^"]+)" id="{element_id}"', html).group(1).replace("&amp;", "&")
    return parse_qs(urlsplit(href).query)["next"][0]


def _token_of(mall, login: str) -> str:
    response = mall.client.post(f"{mall.shop.prefix}/api/tokens", json={"login": login, "password": PASSWORD})
    assert response.status_code == 201, response.get_json()
    return response.get_json()["token"]


def test_a_newcomer_is_sent_to_sign_in_or_up_and_to_the_address_book_and_back(mall):
    [sku] = mall.product(price=10000, stock=10)
    campaign = mall.campaign([sku], group_size=2, tiers=[{"size": 2, "percent": "90"}])
    group_id = mall.group_of(mall.buy(mall.shopper(), sku, campaign))
    share = f"{mall.shop.prefix}/x/groupbuy/g/{group_id}"
    browser = mall.app.test_client()

    html = _page(browser, share)
    assert _next_of(html, "gb-sign-in") == share and _next_of(html, "gb-sign-up") == share
    assert 'id="join-form"' not in html and 'id="gb-invite"' not in html

    login = register_shopper(browser, mall.shop)
    html = _page(browser, share)
    assert 'id="address-first"' in html and 'id="join-form"' not in html
    if "storefront.new_address" in mall.app.view_functions:  # the account's address book
        assert _next_of(html, "gb-add-address") == share

    mall.client.post(
        f"{mall.shop.prefix}/api/addresses",
        headers=bearer(_token_of(mall, login)),
        json={
            "recipient": "王五",
            "phone": "13712345678",
            "province": "浙江省",
            "city": "杭州市",
            "district": "西湖区",
            "detail": "文一路 1 号",
            "is_default": True,
        },
    )
    html = _page(browser, share)
    assert 'id="join-form"' in html and f'name="group_id" value="{group_id}"' in html


def test_after_paying_a_member_sees_the_group_with_an_invite_action(mall):
    from mallow.db import db
    from mallow.orders import labels
    from mallow.orders.models import Order
    from mallow.tenants.context import store_context

    [sku] = mall.product(price=10000, stock=10)
    campaign = mall.campaign([sku])  # three people
    leader = mall.shopper()
    opened = mall.buy(leader, sku, campaign)
    group_id = mall.group_of(opened)
    share = f"{mall.shop.prefix}/x/groupbuy/g/{group_id}"

    with mall.app.test_request_context(), store_context(mall.shop.store_id, app=mall.app):
        assert labels.after_payment_url(db.session.get(Order, opened["id"])) == f"{share}?paid=1"

    browser = mall.app.test_client()  # the leader signs in on the phone
    signed_in = post_form(browser, f"{mall.shop.prefix}/login", {"login": leader.login, "password": PASSWORD})
    assert signed_in.status_code in (302, 303)
    html = _page(browser, share)
    assert 'id="gb-invite"' in html and 'id="gb-poster"' in html
    assert f'href="{mall.shop.prefix}/orders/{opened["id"]}"' in html  # back to the order
    assert 'id="join-form"' not in html
    share_data = json.loads(
        re.search(r'<script type="application/json" id="gb-share-data">(.*?)</script>', html, re.S).group(1)
    )
    assert share_data["link"].endswith(share) and set(share_data) == {"title", "desc", "link", "imgUrl"}
    slots = re.search(r'<ul class="gb-slots" id="members"[^>]*>(.*?)</ul>', html, re.S).group(1)
    assert slots.count("data-member-id=") == 1 and slots.count("gb-empty") == 2  # one member, two open seats
    assert 'class="gb-countdown" data-deadline=' in html
    assert _page(browser, f"{mall.shop.prefix}/x/groupbuy/static/groupbuy.js")


def test_the_order_reads_waiting_for_the_group_until_it_completes(mall):
    from mallow.db import db
    from mallow.orders import labels
    from mallow.orders.models import Order
    from mallow.tenants.context import store_context

    [sku] = mall.product(price=10000, stock=10)
    campaign = mall.campaign([sku], group_size=2, tiers=[{"size": 2, "percent": "90"}])
    leader, friend = mall.shopper(), mall.shopper()
    opened = mall.buy(leader, sku, campaign)
    group_id = mall.group_of(opened)

    def read(order_id: int) -> tuple[str, list[str]]:
        with (
            mall.app.test_request_context(headers={"Accept-Language": "en"}),
            store_context(mall.shop.store_id, app=mall.app),
        ):
            order = db.session.get(Order, order_id)
            return labels.shopper_status_label(order), [labels.event_label(e) for e in order.events]

    status, events = read(opened["id"])
    assert status == "Waiting for the group"
    assert "Group opened (group of 2)" in events
    assert not any(e.startswith("groupbuy_") or e == "Order updated" for e in events)

    joined = mall.buy(friend, sku, campaign, group_id)
    status, events = read(opened["id"])
    assert status == "Awaiting shipment"  # the group is complete: on to shipping
    assert "Group complete with 2 people: the order goes on to shipping" in events
    _status, events = read(joined["id"])
    assert "Joined the group (2 of 2 people)" in events


@pytest.mark.parametrize(
    "kind", ["groupbuy_opened", "groupbuy_joined", "groupbuy_succeeded", "groupbuy_left", "groupbuy_refunding"]
)
def test_every_timeline_entry_of_the_plugin_has_a_label(gb_app, kind):
    from types import SimpleNamespace

    from mallow_groupbuy.labels import order_event_label

    with gb_app.test_request_context():
        assert order_event_label(SimpleNamespace(kind=kind, detail={}, actor="plugin:groupbuy"))
        assert order_event_label(SimpleNamespace(kind=kind, detail={"size": 3, "headcount": 2}, actor=""))
        closed = SimpleNamespace(kind="cancelled", detail={"reason": "groupbuy_closed"}, actor="plugin:groupbuy")
        assert order_event_label(closed) and "groupbuy" not in order_event_label(closed)
        assert order_event_label(SimpleNamespace(kind="cancelled", detail={"reason": "shopper"}, actor="")) is None
