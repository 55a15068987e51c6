"""我的 → 会员中心 and 积分明细 (test client, both backends): the 会员 card on 我的, the level with
its benefits and the way to the next one, the points with their soonest expiry, the birthday set
once, the ledger paginated; a store whose programme is off has no card and no pages, a guest is
sent to sign in and comes back."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit
from datetime import datetime, timedelta, UTC

from mallow.testing import csrf_token, make_store, post_form, register_shopper

from .conftest import add_level, customer_id, field_errors, grant, html, set_program, tr


def _shopper(app, shop):
    client = app.test_client()
    login = register_shopper(client, shop)
    return client, customer_id(app, shop, login)


def test_a_store_without_the_programme_shows_no_card_and_no_pages(app):
    shop = make_store(app)
    client, _cid = _shopper(app, shop)
    assert 'id="member-card"' not in html(client.get(f"{shop.prefix}/account"))
    for path in ("/account/member", "/account/points"):
        assert client.get(shop.prefix + path).status_code == 404
        assert app.test_client().get(shop.prefix + path).status_code == 404  # a guest too: nothing to sign in for
    assert (
        post_form(
            client,
            f"{shop.prefix}/account/member/birthday",
            {"birthday": "1990-05-01"},
            form_path=f"{shop.prefix}/account",
        ).status_code
        == 404
    )

    set_program(app, shop, enabled=False)  # set, but off
    assert client.get(f"{shop.prefix}/account/member").status_code == 404
    set_program(app, shop)
    assert client.get(f"{shop.prefix}/account/member").status_code == 200
    assert 'id="member-card"' in html(client.get(f"{shop.prefix}/account"))


def test_a_guest_is_sent_to_sign_in_and_back(app):
    shop = make_store(app)
    set_program(app, shop)
    guest = app.test_client()
    for path in ("/account/member", "/account/points?page=2"):
        answer = guest.get(shop.prefix + path)
        assert answer.status_code in (302, 303)
        location = urlsplit(answer.headers["Location"])
        assert location.path == f"{shop.prefix}/login"
        assert parse_qs(location.query)["next"] == [shop.prefix + path]


def test_the_member_centre_shows_the_level_the_next_one_and_expiring_points(app):
    shop = make_store(app)
    set_program(app, shop, validity_days=10)
    add_level(app, shop, name="银卡会员", threshold=0, discount_percent=95, free_shipping=False)
    add_level(app, shop, name="金卡会员", threshold=100000, discount_percent=90, free_shipping=True)
    client, cid = _shopper(app, shop)
    grant(app, shop, cid, 1500, "新会员礼")

    account = html(client.get(f"{shop.prefix}/account"))
    card = account[account.index('id="member-card"') :]
    card = card[: card.index("</section>")]
    assert "银卡会员" in card and 'data-points="1500"' in card
    assert f'href="{shop.prefix}/account/member"' in card and f'href="{shop.prefix}/account/points"' in card

    page = html(client.get(f"{shop.prefix}/account/member"))
    assert re.search(r'id="level-name">银卡会员<', page)
    benefits = re.search(r'<ul class="mb-benefits" id="benefits">(.*?)</ul>', page).group(1)
    assert "9.5折" in benefits and tr(app, "Free shipping") not in benefits
    assert tr(app, "%(value)s more to %(level)s", value="¥1000.00", level="金卡会员") in page
    assert 'id="points-balance" data-points="1500"' in page
    assert tr(app, "worth %(amount)s at checkout", amount="¥15.00") in page
    expires = (datetime.now(UTC) + timedelta(days=10)).astimezone(UTC)
    # the date in the store's time zone (China): the lot expires 10 days after it was added
    shown = re.search(r'id="points-expiring">([^<]+)<', page).group(1)
    assert "1500" in shown and (expires + timedelta(hours=8)).strftime("%Y-%m-%d") in shown
    assert tr(app, "%(points)s points = ¥1 off at checkout", points=100) in page
    assert re.search(r'<li aria-current="true"><span>银卡会员</span>', page)  # the levels, the member's marked


def test_the_birthday_is_set_once(app):
    shop = make_store(app)
    set_program(app, shop)
    client, _cid = _shopper(app, shop)
    centre = f"{shop.prefix}/account/member"
    path = f"{shop.prefix}/account/member/birthday"
    assert client.post(path, data={"birthday": "1990-05-01"}).status_code == 400  # no CSRF token

    bad = post_form(client, path, {"birthday": "1990-02-30"}, form_path=centre)
    assert bad.status_code == 422 and set(field_errors(html(bad))) == {"birthday"}
    future = post_form(client, path, {"birthday": "2999-01-01"}, form_path=centre)
    assert future.status_code == 422 and set(field_errors(html(future))) == {"birthday"}

    saved = post_form(client, path, {"birthday": "1990-05-01"}, form_path=centre)
    assert saved.status_code == 303 and saved.headers["Location"].endswith("/account/member")
    page = html(client.get(centre))
    assert 'id="birthday-value">1990-05-01<' in page and 'id="birthday-form"' not in page

    token = csrf_token(client, f"{shop.prefix}/account")  # the form is gone: the token of another page
    again = client.post(path, data={"birthday": "1991-06-02", "csrf_token": token})
    assert again.status_code == 422 and set(field_errors(html(again))) == {"birthday"}
    assert 'id="birthday-value">1990-05-01<' in html(client.get(centre))


def test_the_ledger_is_paginated_newest_first_with_sign_reason_and_expiry(app):
    shop = make_store(app)
    set_program(app, shop, validity_days=0)
    client, cid = _shopper(app, shop)
    for n in range(1, 23):
        grant(app, shop, cid, n * 10, f"签到奖励 {n}")
    grant(app, shop, cid, -35, "补偿扣回", kind="adjust")
    set_program(app, shop, validity_days=30)
    grant(app, shop, cid, 7, "晒单奖励")

    first = html(client.get(f"{shop.prefix}/account/points"))
    entries = re.findall(r'<li data-entry-id="\d+" data-kind="(\w+)" data-points="(-?\d+)">', first)
    assert len(entries) == 20 and re.search(r'id="ledger" data-total="24"', first)
    assert entries[0] == ("reward", "7") and entries[1] == ("adjust", "-35") and entries[2] == ("reward", "220")
    assert ">+7<" in first and ">-35<" in first and "晒单奖励" in first and "补偿扣回" in first
    expiry = (datetime.now(UTC) + timedelta(days=30, hours=8)).strftime("%Y-%m-%d")
    assert tr(app, "Valid until %(when)s", when=expiry) in first  # the lot with a validity says so
    assert 'rel="next"' in first and 'rel="prev"' not in first

    second = html(client.get(f"{shop.prefix}/account/points?page=2"))
    kinds = re.findall(r'data-kind="(\w+)" data-points="(-?\d+)"', second)
    assert kinds == [("reward", "40"), ("reward", "30"), ("reward", "20"), ("reward", "10")]
    assert 'rel="prev"' in second and 'rel="next"' not in second
    assert html(client.get(f"{shop.prefix}/account/points?page=abc")).count("data-entry-id") == 20  # page 1
    assert client.get(f"{shop.prefix}/account/points?page=99").status_code == 303  # past the end: page 1
