"""我的: nickname and avatar, the order entries with their counts and tabs, the profile, and the
entries plugins add through ``mallow_account_entries`` (the distribution centre when that plugin
is on)."""

from __future__ import annotations

import re
import uuid

import pytest

from mallow.testing import (
    PASSWORD,
    backend_params,
    bearer,
    dispose_app,
    enable_plugin,
    make_product,
    make_shopper,
    make_store,
    merchant_token,
    plugin_app,
    post_form,
)


@pytest.fixture(scope="module", params=backend_params())
def dist_app(request, tmp_path_factory):
    app = plugin_app(tmp_path_factory, request.param, ["distribution"])
    yield app
    dispose_app(app)


def sign_in(app, shop, client, token_login: str | None = None):
    """Sign ``client`` in by SMS code as a new shopper; returns the phone."""
    import random

    from mallow.accounts import sms

    phone = f"15{random.randrange(10**9):09d}"
    client.environ_base["REMOTE_ADDR"] = f"10.200.{random.randrange(256)}.{random.randrange(256)}"
    post_form(client, f"{shop.prefix}/login/code", {"phone": phone}, form_path=f"{shop.prefix}/login")
    code = sms.provider(app).last_code(phone, shop.store_id)
    done = post_form(
        client,
        f"{shop.prefix}/login/sms",
        {"phone": phone, "code": code, "nickname": "山核桃爱好者", "privacy_consent": "1"},
        form_path=f"{shop.prefix}/login",
    )
    assert done.status_code == 303
    return phone


def badges(page: str) -> dict[str, int]:
    return {tab: int(count) for tab, count in re.findall(r'data-tab="(\w+)" data-count="(\d+)"', page)}


def test_the_account_page_counts_orders_by_tab(app):
    from mallow.testing.payments import pay_with_sandbox, place_order

    shop = make_store(app)
    client = app.test_client()
    login = f"buyer-{uuid.uuid4().hex[:8]}@example.com"
    token, address = make_shopper(client, shop, login=login)
    [sku] = make_product(app, shop, price=1200, stock=50)
    owner = bearer(merchant_token(app.test_client(), shop))
    unpaid = [place_order(client, shop, token, address, sku) for _ in range(2)]
    paid = place_order(client, shop, token, address, sku)
    pay_with_sandbox(client, shop, token, paid["id"])
    shipped = place_order(client, shop, token, address, sku)
    pay_with_sandbox(client, shop, token, shipped["id"])
    assert (
        client.post(
            f"{shop.prefix}/api/console/orders/{shipped['id']}/ship",
            headers=owner,
            json={"carrier": "中通快递", "tracking_number": "ZT1"},
        ).status_code
        == 200
    )
    refund = place_order(client, shop, token, address, sku)
    pay_with_sandbox(client, shop, token, refund["id"])
    asked = client.post(
        f"{shop.prefix}/api/orders/{refund['id']}/aftersales",
        headers=bearer(token),
        json={"kind": "refund_only", "reason": "不想要了"},
    )
    assert asked.status_code == 201, asked.get_json()

    # the same shopper in a browser
    page_client = app.test_client()
    assert post_form(page_client, f"{shop.prefix}/login", {"login": login, "password": PASSWORD}).status_code == 303
    page = page_client.get(f"{shop.prefix}/account").get_data(as_text=True)
    assert badges(page) == {"unpaid": 2, "to_ship": 2, "to_receive": 1, "aftersale": 1}  # the refund one is paid too
    assert re.search(r'data-tab="unpaid" data-count="2">.*?<i class="acc-badge"[^>]*>2</i>', page, re.S)
    assert 'id="all-orders"' in page

    def listed(query: str) -> set[int]:
        body = page_client.get(f"{shop.prefix}/orders{query}").get_data(as_text=True)
        return {int(i) for i in re.findall(r'data-order-id="(\d+)"', body)}

    assert listed("?tab=unpaid") == {o["id"] for o in unpaid}
    assert listed("?tab=to_ship") == {paid["id"], refund["id"]}
    assert listed("?tab=to_receive") == {shipped["id"]}
    assert listed("?tab=aftersale") == {refund["id"]}
    assert listed("") == {o["id"] for o in unpaid} | {paid["id"], shipped["id"], refund["id"]}
    assert page_client.get(f"{shop.prefix}/orders?tab=nonsense").status_code == 404


def test_nickname_avatar_and_profile(app):
    shop = make_store(app)
    client = app.test_client()
    phone = sign_in(app, shop, client)
    page = client.get(f"{shop.prefix}/account").get_data(as_text=True)
    assert 'id="nickname">山核桃爱好者<' in page and 'class="acc-avatar" aria-hidden="true">山<' in page
    assert f"{phone[:3]}****{phone[-4:]}" in page and phone not in page
    refused = post_form(client, f"{shop.prefix}/account/profile", {"nickname": "  "})
    assert refused.status_code == 422 and 'data-field="nickname"' in refused.get_data(as_text=True)
    saved = post_form(client, f"{shop.prefix}/account/profile", {"nickname": "小核桃"})
    assert saved.status_code == 303
    assert 'id="nickname">小核桃<' in client.get(f"{shop.prefix}/account").get_data(as_text=True)
    assert client.post(f"{shop.prefix}/account/profile", data={"nickname": "x"}).status_code == 400  # no CSRF


def test_core_entries_are_there(app):
    shop = make_store(app)
    client = app.test_client()
    sign_in(app, shop, client)
    page = client.get(f"{shop.prefix}/account").get_data(as_text=True)
    assert f'href="{shop.prefix}/account/addresses" id="entry-addresses"' in page
    assert f'href="{shop.prefix}/account/profile" id="entry-profile"' in page
    assert "data-plugin=" not in page  # no plugin on: no plugin entries


def test_the_distribution_plugin_adds_its_entry_where_it_is_on(dist_app):
    on, off = make_store(dist_app), make_store(dist_app)
    enable_plugin(dist_app, on, "distribution")
    for shop, expected in ((on, True), (off, False)):
        client = dist_app.test_client()
        sign_in(dist_app, shop, client)
        page = client.get(f"{shop.prefix}/account").get_data(as_text=True)
        entry = re.search(r'<a href="([^"]+)" data-plugin="distribution">', page)
        assert bool(entry) is expected
        if entry:
            assert "分销中心" in page
            assert client.get(entry.group(1)).status_code == 200


def test_a_broken_or_wrong_plugin_entry_is_left_out(app, monkeypatch, caplog):
    from mallow.plugins import manager

    shop = make_store(app)
    client = app.test_client()
    sign_in(app, shop, client)

    def results(hook_name, **kwargs):
        assert hook_name == "mallow_account_entries" and kwargs["customer"].nickname == "山核桃爱好者"
        yield (
            "coupons",
            [
                {"label": "优惠券", "endpoint": "storefront.orders_list", "badge": 3, "icon": "券"},
                {"label": "没有地址", "endpoint": "nowhere.view"},
                {"endpoint": "storefront.cart"},
            ],
        )

    monkeypatch.setattr(manager, "each_result", results)
    page = client.get(f"{shop.prefix}/account").get_data(as_text=True)
    assert f'<a href="{shop.prefix}/orders" data-plugin="coupons">' in page
    assert '<i class="acc-badge">3</i>' in page and ">券<" in page
    assert "没有地址" not in page
    assert "account entry endpoint 'nowhere.view' not found" in caplog.text
