"""Storefront and console pages, the console API, the page-builder block and the product-page
slot. Members shown are the real ones, with masked nicknames; nothing is invented."""

from __future__ import annotations

import re
from datetime import timedelta

from mallow.testing import bearer, login_merchant, post_form, register_shopper
from tests.groupbuy.conftest import now


def _campaign_page(mall, campaign) -> str:
    response = mall.client.get(f"{mall.shop.prefix}/x/groupbuy/c/{campaign['id']}")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_storefront_lists_campaigns_and_shows_a_group_with_its_real_members(mall):
    [sku] = mall.product(price=10000, stock=10)
    campaign = mall.campaign([sku], title="山核桃三人团", leader_discount_percent="5")
    leader, friend = mall.shopper(), mall.shopper()
    group_id = mall.group_of(mall.buy(leader, sku, campaign))
    mall.buy(friend, sku, campaign, group_id)

    listing = mall.client.get(f"{mall.shop.prefix}/x/groupbuy/").get_data(as_text=True)
    assert "山核桃三人团" in listing and f'data-campaign-id="{campaign["id"]}"' in listing

    page = _campaign_page(mall, campaign)
    assert 'id="ladder"' in page and "95%" in page and "90%" in page and 'id="leader-discount"' in page
    assert f'data-group-id="{group_id}"' in page and "data-deadline=" in page  # the open group, with countdown

    group_page = mall.client.get(f"{mall.shop.prefix}/x/groupbuy/g/{group_id}").get_data(as_text=True)
    members = re.findall(r'<ul class="gb-slots" id="members"[^>]*>(.*?)</ul>', group_page, re.S)[0]
    assert members.count("data-member-id=") == 2  # two real members
    assert members.count("gb-empty") == 1 and "b**" not in members.split("gb-empty")[1]  # one open seat, nobody
    assert "b**" in members  # "buyer-…" masked: the nickname never shows in full
    assert "buyer-" not in group_page and "@example.com" not in group_page
    assert 'id="share-url"' in group_page and f"/x/groupbuy/g/{group_id}" in group_page
    poster = mall.client.get(f"{mall.shop.prefix}/x/groupbuy/g/{group_id}/poster")
    assert poster.status_code == 200 and f"/x/groupbuy/g/{group_id}" in poster.get_data(as_text=True)
    script = mall.client.get(f"{mall.shop.prefix}/x/groupbuy/static/countdown.js")
    assert script.status_code == 200 and b"data-deadline" in script.data
    assert mall.client.get(f"{mall.shop.prefix}/x/groupbuy/g/999999").status_code == 404


def test_a_shopper_joins_through_the_share_link_and_pays_on_the_cashier(mall):
    [sku] = mall.product(price=10000, stock=10)
    campaign = mall.campaign([sku], group_size=2, tiers=[{"size": 2, "percent": "90"}])
    group_id = mall.group_of(mall.buy(mall.shopper(), sku, campaign))
    browser = mall.app.test_client()
    share = f"{mall.shop.prefix}/x/groupbuy/g/{group_id}"
    assert "/login" in browser.get(share).get_data(as_text=True)  # signed out: asked to sign in first

    register_shopper(browser, mall.shop)
    _add_address(mall, browser)
    page = browser.get(share).get_data(as_text=True)
    assert 'id="join-form"' in page
    address_id = re.search(r'<option value="(\d+)"', page).group(1)
    response = post_form(
        browser,
        f"{mall.shop.prefix}/x/groupbuy/c/{campaign['id']}/order",
        {"sku_id": sku, "quantity": 1, "address_id": address_id, "group_id": group_id, "idempotency_key": "k" * 32},
        form_path=share,
    )
    assert response.status_code == 303 and re.search(r"/orders/\d+/pay$", response.location)
    started = post_form(browser, response.location, {"method": "sandbox"})  # the one cashier (收银台)
    assert started.status_code == 303 and "/pay/sandbox/" in started.location
    cashier = started.location
    paid = post_form(browser, cashier, {"action": "pay", "token": cashier.split("token=")[1]})
    assert paid.status_code == 303
    assert mall.group(group_id)["status"] == "succeeded"


def _add_address(mall, browser) -> None:
    """Give the browser's shopper an address through the store API (a token of the same account)."""
    from mallow.accounts.models import Customer
    from mallow.accounts import sessions
    from mallow.db import db
    from mallow.tenants.context import store_context

    with store_context(mall.shop.store_id, app=mall.app):
        customer = db.session.execute(db.select(Customer).order_by(Customer.id.desc()).limit(1)).scalar_one()
        token = sessions.issue(customer, "token")
        db.session.commit()
    created = mall.client.post(
        f"{mall.shop.prefix}/api/addresses",
        headers=bearer(token),
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
    assert created.status_code == 201, created.get_json()


def test_console_campaign_crud_groups_and_the_auto_complete_warning(mall):
    [sku] = mall.product(price=10000, stock=30)
    browser = mall.app.test_client()
    login_merchant(browser, mall.shop)
    base = f"{mall.shop.prefix}/console/x/groupbuy"
    overview = browser.get(f"{mall.shop.prefix}/console/")
    assert f'href="{base}/"' in overview.get_data(as_text=True)  # the console menu entry

    form = browser.get(f"{base}/new").get_data(as_text=True)
    assert 'id="auto-complete-warning"' in form
    fields = {
        "title": "两人团",
        "product_id": mall.product_of(sku),
        "group_size": 2,
        "tier_size": "2",
        "tier_percent": "88.5",
        "window_hours": 12,
        "starts_at": (now() - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"),
        "ends_at": (now() + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M"),
        "quota": 999,
    }
    refused = post_form(browser, f"{base}/new", fields)
    assert refused.status_code == 422 and 'data-field="quota"' in refused.get_data(as_text=True)
    created = post_form(browser, f"{base}/new", fields | {"quota": 10}, form_path=f"{base}/new")
    assert created.status_code == 303
    campaign_id = int(created.location.rstrip("/").rsplit("/", 1)[1])
    [campaign] = [c for c in mall.get(f"{mall.console_api}/campaigns", mall.mtoken)["items"] if c["id"] == campaign_id]
    assert campaign["tiers"][0]["bp"] == 8850 and campaign["window_hours"] == 12
    assert campaign["auto_complete_percent"] is None  # off unless ticked

    edit = f"{base}/{campaign_id}"
    saved = post_form(
        browser, edit, fields | {"quota": 10, "auto_complete": "1", "auto_complete_percent": 50, "sku_ids": sku}
    )
    assert saved.status_code == 303
    assert mall.campaign_row({"id": campaign_id})["auto_complete_percent"] == 50

    group_id = mall.group_of(mall.buy(mall.shopper(), sku, {"id": campaign_id}))
    listing = browser.get(f"{base}/").get_data(as_text=True)
    assert f'data-campaign-id="{campaign_id}"' in listing
    groups = browser.get(f"{base}/groups?state=open").get_data(as_text=True)
    assert f'data-group-id="{group_id}"' in groups
    assert f'data-group-id="{group_id}"' not in browser.get(f"{base}/groups?state=failed").get_data(as_text=True)
    detail = browser.get(f"{base}/groups/{group_id}").get_data(as_text=True)
    assert 'data-state="joined"' in detail and 'data-kind="group_opened"' in detail
    log = detail.split('id="events"')[1]
    with mall.app.test_request_context(headers={"Accept-Language": "zh-CN"}):
        from mallow_groupbuy.labels import log_label

        assert log_label("group_opened") in log  # a label in the merchant's language…
    assert "group_opened" not in re.sub(r'data-kind="[^"]*"', "", log)  # …never the raw key

    # a campaign shoppers ordered in cannot be deleted, only ended
    refused_delete = mall.client.delete(f"{mall.console_api}/campaigns/{campaign_id}", headers=bearer(mall.mtoken))
    assert refused_delete.status_code == 409
    assert post_form(browser, f"{edit}/end", {}, form_path=f"{base}/").status_code == 303
    assert mall.campaign_row({"id": campaign_id})["status"] == "ended"


def test_console_api_validates_and_is_for_the_stores_staff_only(mall):
    [sku] = mall.product(price=10000, stock=5)
    bad = mall.client.post(
        f"{mall.console_api}/campaigns",
        headers=bearer(mall.mtoken),
        json={
            "title": "",
            "product_id": mall.product_of(sku),
            "group_size": 3,
            "tiers": [{"size": 3, "percent": "90"}, {"size": 2, "percent": "80"}],
            "starts_at": now().isoformat(),
            "ends_at": (now() - timedelta(days=1)).isoformat(),
            "quota": 6,
        },
    )
    assert bad.status_code == 422
    assert set(bad.get_json()["fields"]) == {"title", "tiers", "ends_at", "quota"}
    assert mall.client.get(f"{mall.console_api}/campaigns").status_code == 401
    shopper = mall.shopper()
    assert mall.client.get(f"{mall.console_api}/campaigns", headers=bearer(shopper.token)).status_code in (401, 403)
    created = mall.campaign([sku], quota=5)
    assert (
        mall.client.delete(f"{mall.console_api}/campaigns/{created['id']}", headers=bearer(mall.mtoken)).status_code
        == 204
    )


def test_the_group_buy_list_block_is_registered_and_lists_running_campaigns(mall):
    from mallow.builder import blocks
    from mallow.tenants.context import store_context

    block_type = blocks.types_of(mall.app).get("groupbuy_list")
    assert block_type is not None and (block_type.template_folder / "blocks" / "groupbuy_list.html").is_file()
    [sku] = mall.product(price=10000, stock=10)
    campaign = mall.campaign([sku], title="区块里的团")
    with mall.app.test_request_context(), store_context(mall.shop.store_id, app=mall.app):
        data = block_type.resolve({"settings": {"count": 4}}, None)
    assert [c["title"] for c in data["campaigns"]] == ["区块里的团"]
    assert data["campaigns"][0]["best_price"] == "90.00"
    assert data["campaigns"][0]["url"] == f"{mall.shop.prefix}/x/groupbuy/c/{campaign['id']}"
