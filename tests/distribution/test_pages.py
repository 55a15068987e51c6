"""The pages: a shopper applies (free), gets a link, friends arrive through it and are bound,
the distributor sees team, earnings and withdrawals; the merchant approves distributors and
withdrawals and sets the rules in the console."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, UTC

import sqlalchemy as sa

from mallow.testing import bearer, csrf_token, login_merchant, post_form, register_shopper


def _page(client, path: str, status: int = 200) -> str:
    response = client.get(path)
    assert response.status_code == status, (path, response.status_code, response.get_data(as_text=True)[:300])
    return response.get_data(as_text=True)


def test_apply_review_and_referral_link(mall, dist_app):
    shop = mall.shop
    base = f"{shop.prefix}/x/distribution"
    # signed out: the centre asks to sign in first
    anonymous = dist_app.test_client()
    assert anonymous.get(f"{base}/").status_code == 302

    client = dist_app.test_client()
    register_shopper(client, shop)
    html = _page(client, f"{base}/")
    assert 'id="apply"' in html and "免费" in html  # joining is free, and says so
    # the terms must be accepted
    refused = post_form(client, f"{base}/apply", {"note": "我是宝妈"}, form_path=f"{base}/")
    assert refused.status_code == 422 and 'data-field="agree"' in refused.get_data(as_text=True)
    applied = post_form(client, f"{base}/apply", {"note": "我是宝妈", "agree": "1"}, form_path=f"{base}/")
    assert applied.status_code == 303
    assert 'id="application-pending"' in _page(client, f"{base}/")
    assert client.get(f"{base}/team").status_code == 302  # not approved yet

    # the merchant approves in the console
    merchant = dist_app.test_client()
    login_merchant(merchant, shop)
    console = _page(merchant, f"{shop.prefix}/console/x/distribution/?status=pending")
    [distributor_id] = re.findall(r'id="distributor-(\d+)"', console)
    decided = post_form(
        merchant,
        f"{shop.prefix}/console/x/distribution/distributors/{distributor_id}/decision",
        {"approve": "1"},
        form_path=f"{shop.prefix}/console/x/distribution/",
    )
    assert decided.status_code == 303

    html = _page(client, f"{base}/")
    code = re.search(r'id="referral-code">([A-Z0-9]+)<', html).group(1)
    link = re.search(r'id="referral-link">([^<]+)<', html).group(1)
    assert link.endswith(f"{base}/r/{code}")

    # a friend opens the link (signed out), signs up, orders: bound at the first order
    friend = dist_app.test_client()
    assert friend.get(f"{base}/r/{code}").status_code == 302
    from mallow.testing.payments import place_order
    from mallow.testing import make_shopper

    sku = mall.product(price=8800)
    token, address = make_shopper(friend, shop)
    order = place_order(friend, shop, token, address, sku)
    mall.pay(token, order, client=friend)
    assert mall.get(f"{mall.api}/me", token)["referred_by"] == code
    assert list(mall.paid_to(order).values()) == [880]

    # the distributor's pages
    team = _page(client, f"{base}/team")
    assert team.count("<tr><td>") == 1
    earnings = _page(client, f"{base}/earnings")
    assert "8.80" in earnings and "88.00" in earnings
    assert 'id="withdraw"' in _page(client, f"{base}/withdraw")


def test_signed_in_shopper_is_bound_by_opening_the_link(mall, dist_app):
    promoter = mall.distributor()
    client = dist_app.test_client()
    register_shopper(client, mall.shop)
    assert client.get(f"{mall.shop.prefix}/x/distribution/r/{promoter.code.lower()}").status_code == 302
    html = _page(client, f"{mall.shop.prefix}/x/distribution/")
    assert 'id="apply"' in html
    # the binding is visible in the promoter's team
    assert len(mall.get(f"{mall.api}/team", promoter.token)["members"]) == 1
    # an unknown code changes nothing and goes home
    assert client.get(f"{mall.shop.prefix}/x/distribution/r/NOPE0000").status_code == 302


def test_code_waiting_in_the_session_binds_after_sign_up(mall, dist_app):
    promoter = mall.distributor()
    client = dist_app.test_client()
    client.get(f"{mall.shop.prefix}/x/distribution/r/{promoter.code}")
    register_shopper(client, mall.shop)
    _page(client, f"{mall.shop.prefix}/x/distribution/team", status=302)  # any of our pages binds
    assert len(mall.get(f"{mall.api}/team", promoter.token)["members"]) == 1


def test_first_touch_keeps_the_first_referrer(mall):
    first, second = mall.distributor(), mall.distributor()
    shopper = mall.shopper()
    assert mall.bind(shopper, first)["bound"]
    assert mall.bind(shopper, second) == {"bound": False, "reason": "already_bound"}


def test_days_mode_protects_then_lets_another_link_rebind(mall, dist_app):
    from mallow.db import db
    from mallow.tenants.context import store_context
    from mallow_distribution.models import Binding

    mall.configure(binding_mode="days", binding_days=15)
    first, second = mall.distributor(), mall.distributor()
    shopper = mall.shopper()
    assert mall.bind(shopper, first)["bound"]
    assert mall.bind(shopper, second)["reason"] == "already_bound"  # protected for 15 days
    with store_context(mall.shop.store_id, app=dist_app):
        binding = db.session.execute(sa.select(Binding).filter_by(customer_id=shopper.customer_id)).scalar_one()
        expires = binding.expires_at.replace(tzinfo=UTC) if binding.expires_at.tzinfo is None else binding.expires_at
        assert timedelta(days=14) < expires - datetime.now(UTC) <= timedelta(days=15)
        binding.expires_at = datetime.now(UTC) - timedelta(seconds=1)  # 15 days later
        db.session.commit()
    sku = mall.product(price=10000)
    order = mall.buy(shopper, sku)
    assert mall.paid_to(order) == {}  # an expired binding pays nobody
    assert mall.bind(shopper, second)["bound"]
    order = mall.buy(shopper, sku)
    assert mall.paid_to(order) == {second.distributor_id: 1000}


def test_merchant_transfers_a_shopper(mall):
    first, second = mall.distributor(), mall.distributor()
    shopper = mall.shopper()
    mall.bind(shopper, first)
    moved = mall.post(
        f"{mall.console_api}/transfer", mall.mtoken, {"customer_id": shopper.customer_id, "code": second.code}
    )
    assert moved["distributor_id"] == second.distributor_id
    # never onto themselves
    refused = mall.client.post(
        f"{mall.console_api}/transfer",
        headers=bearer(mall.mtoken),
        json={"customer_id": second.customer_id, "code": second.code},
    )
    assert refused.status_code == 422


def test_auto_approve_and_rejection(mall, dist_app):
    mall.configure(auto_approve=True)
    shopper = mall.shopper()
    applied = mall.post(f"{mall.api}/apply", shopper.token, {"agree": True})
    assert applied["status"] == "approved" and applied["link"].endswith(f"/r/{applied['code']}")

    mall.configure(auto_approve=False)
    other = mall.shopper()
    pending = mall.post(f"{mall.api}/apply", other.token, {"agree": True}, expect=(201,))
    no_reason = mall.client.post(
        f"{mall.console_api}/distributors/{pending['id']}/decision",
        headers=bearer(mall.mtoken),
        json={"approve": False},
    )
    assert no_reason.status_code == 422
    rejected = mall.post(
        f"{mall.console_api}/distributors/{pending['id']}/decision",
        mall.mtoken,
        {"approve": False, "reason": "资料不全"},
    )
    assert rejected["status"] == "rejected"
    assert mall.get(f"{mall.api}/me", other.token)["distributor"]["reason"] == "资料不全"
    # a rejected shopper may apply again
    assert mall.post(f"{mall.api}/apply", other.token, {"agree": True}, expect=(201,))["status"] == "pending"


def test_console_pages(mall, dist_app):
    from datetime import datetime, timedelta

    mall.configure(min_withdrawal=100)
    sku = mall.product(price=10000)
    promoter = mall.distributor()
    buyer = mall.shopper()
    mall.bind(buyer, promoter)
    order = mall.buy(buyer, sku)
    mall.deliver(buyer, order)
    mall.settle(datetime.now(UTC))
    mall.settle(datetime.now(UTC) + timedelta(days=8))
    withdrawal = mall.post(f"{mall.api}/withdrawals", promoter.token, {"amount": "5.00"}, expect=(201,))

    client = dist_app.test_client()
    login_merchant(client, mall.shop)
    base = f"{mall.shop.prefix}/console/x/distribution"
    page = _page(client, f"{base}/")
    assert promoter.code in page
    assert f'<a href="{base}/" data-plugin="distribution">分销</a>' in page  # the console menu entry
    ledger = _page(client, f"{base}/ledger")
    assert order["number"] in ledger and "10.00" in ledger
    page = _page(client, f"{base}/withdrawals")
    assert f'id="withdrawal-{withdrawal["id"]}"' in page
    paid = post_form(
        client,
        f"{base}/withdrawals/{withdrawal['id']}/decision",
        {"approve": "1", "payout_method": "bank_transfer", "payout_reference": "BANK-778"},
        form_path=f"{base}/withdrawals",
    )
    assert paid.status_code == 303
    assert "BANK-778" in _page(client, f"{base}/withdrawals?status=paid")

    # settings: a third level is refused with a message, two levels are accepted
    settings = _page(client, f"{base}/settings")
    assert 'name="levels" value="3"' not in settings
    form = {
        "levels": "3",
        "level1_rate": "10",
        "level2_rate": "5",
        "binding_mode": "first_touch",
        "min_withdrawal": "10",
    }
    refused = post_form(client, f"{base}/settings", form)
    assert refused.status_code == 422 and 'data-field="levels"' in refused.get_data(as_text=True)
    accepted = post_form(client, f"{base}/settings", dict(form, levels="2", level1_rate="8.5"))
    assert accepted.status_code == 303
    assert mall.get(f"{mall.console_api}/settings", mall.mtoken)["settings"]["level1_rate_bp"] == 850
    # grades and product rules
    assert (
        post_form(
            client, f"{base}/grades", {"name": "金牌", "level1_rate": "15"}, form_path=f"{base}/settings"
        ).status_code
        == 303
    )
    assert "金牌" in _page(client, f"{base}/settings")
    too_high = post_form(client, f"{base}/grades", {"name": "钻石", "level1_rate": "40"}, form_path=f"{base}/settings")
    assert too_high.status_code == 422
    # a shopper is not staff
    shopper = dist_app.test_client()
    register_shopper(shopper, mall.shop)
    assert shopper.get(f"{base}/").status_code in (302, 403)


def test_storefront_withdraw_form(mall, dist_app):
    mall.configure(auto_approve=True)
    client = dist_app.test_client()
    register_shopper(client, mall.shop)
    base = f"{mall.shop.prefix}/x/distribution"
    assert post_form(client, f"{base}/apply", {"agree": "1"}, form_path=f"{base}/").status_code == 303
    assert 'id="referral-link"' in _page(client, f"{base}/")
    too_small = client.post(
        f"{base}/withdraw", data={"amount": "5", "csrf_token": csrf_token(client, f"{base}/withdraw")}
    )
    assert too_small.status_code == 422 and "最低提现金额为 10.00 元" in too_small.get_data(as_text=True)
    nothing = client.post(
        f"{base}/withdraw", data={"amount": "20", "csrf_token": csrf_token(client, f"{base}/withdraw")}
    )
    assert nothing.status_code == 422 and "最多可提现 0.00 元" in nothing.get_data(as_text=True)


def test_the_centre_is_an_entry_of_my_account_and_its_link_wraps_and_copies(mall, dist_app):
    """我的 lists 分销中心 (``mallow_account_entries``); the centre shows the link in an element
    that wraps (never wider than the phone) with a copy button, and the storefront's header."""
    client = dist_app.test_client()
    register_shopper(client, mall.shop)
    base = f"{mall.shop.prefix}/x/distribution"
    if "storefront.account" in dist_app.view_functions:
        account = _page(client, f"{mall.shop.prefix}/account")
        assert f'href="{base}/"' in account and "分销中心" in account
    apply = post_form(client, f"{base}/apply", {"agree": "1"}, form_path=f"{base}/")
    assert apply.status_code == 303
    from mallow.db import db
    from mallow.tenants.context import store_context
    from mallow_distribution.models import Distributor

    with store_context(mall.shop.store_id, app=dist_app):
        row = db.session.execute(sa.select(Distributor).order_by(Distributor.id.desc())).scalars().first()
        distributor_id = row.id
    if row.status != "approved":
        mall.post(f"{mall.console_api}/distributors/{distributor_id}/decision", mall.mtoken, {"approve": True})
    html = _page(client, f"{base}/")
    assert '<code id="referral-link">' in html and 'data-copy="referral-link"' in html
    assert re.search(r'<link rel="stylesheet" href="[^"]*/x/distribution/static/distribution\.css\?v=\w+">', html)
    assert 'aria-current="page">分销中心' in html  # the centre's own tab
    assert f'href="{mall.shop.prefix}/account"' in html  # the storefront's header (signed in), not a plugin's
    css = client.get(f"{base}/static/distribution.css")
    assert css.status_code == 200 and b"word-break:break-all" in css.data
