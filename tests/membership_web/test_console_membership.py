"""营销 → 会员 in the merchant console (test client, both backends): the programme form with field
errors beside the fields, levels in yuan and 折 (create, edit, delete, the birthday coupon from the
store's coupons), the members searched by mobile number or nickname and paginated, the manual
points adjustment (a signed number and a reason, both required) the shopper then reads in
积分明细; staff only, one store's members only."""

from __future__ import annotations

import re

from mallow.testing import login_merchant, make_store, post_form, register_shopper

from .conftest import PROGRAM, balance, customer_id, field_errors, grant, html, in_store, set_program, tr

FORM = {
    "enabled": "1",
    "earn_per_yuan": "2",
    "points_per_yuan": "100",
    "redeem_cap_percent": "30",
    "validity_days": "365",
    "level_basis": "spend",
}


def _merchant(app):
    client = app.test_client()
    shop = make_store(app)
    login_merchant(client, shop)
    return client, shop


def _program(app, shop):
    from mallow.membership import service

    return in_store(app, shop, service.program)


def _levels(app, shop):
    from mallow.membership import service

    return in_store(
        app,
        shop,
        lambda: [
            (lv.name, lv.threshold, lv.discount_percent, lv.free_shipping, lv.birthday_coupon_id)
            for lv in service.list_levels()
        ],
    )


def test_the_programme_form_shows_field_errors_and_saves(app):
    client, shop = _merchant(app)
    path = f"{shop.prefix}/console/membership"
    page = html(client.get(path))
    assert 'id="program-form"' in page and 'id="nav-membership"' in page
    assert client.post(path, data=FORM).status_code == 400  # no CSRF token

    bad = post_form(client, path, FORM | {"earn_per_yuan": "abc", "redeem_cap_percent": "0", "level_basis": "vip"})
    assert bad.status_code == 422
    assert set(field_errors(html(bad))) == {"earn_per_yuan", "redeem_cap_percent", "level_basis"}
    assert 'value="abc"' in html(bad)  # what was typed stays in the form
    assert _program(app, shop)["enabled"] is False  # nothing stored

    saved = post_form(client, path, FORM)
    assert saved.status_code == 303 and saved.headers["Location"].endswith("/console/membership")
    assert _program(app, shop) == {
        "enabled": True,
        "earn_per_yuan": 2,
        "points_per_yuan": 100,
        "redeem_cap_percent": 30,
        "validity_days": 365,
        "level_basis": "spend",
    }
    again = html(client.get(path))
    assert re.search(r'name="enabled" value="1" id="f-enabled" checked', again)
    assert 'name="redeem_cap_percent" type="text" value="30"' in again

    off = post_form(client, path, {k: v for k, v in FORM.items() if k != "enabled"})  # the box unticked
    assert off.status_code == 303 and _program(app, shop)["enabled"] is False


def test_levels_in_yuan_and_zhe_with_a_birthday_coupon(app):
    from mallow.testing import merchant_token

    client, shop = _merchant(app)
    set_program(app, shop)
    coupon = client.post(
        f"{shop.prefix}/api/console/coupons",
        headers={"Authorization": f"Bearer {merchant_token(app.test_client(), shop)}"},
        json={
            "name": "生日券",
            "kind": "no_threshold",
            "amount_fen": 1000,
            "total_quantity": 100,
            "status": "active",
            "starts_at": "2020-01-01T00:00:00+00:00",
            "ends_at": "2099-01-01T00:00:00+00:00",
        },
    )
    assert coupon.status_code == 201, coupon.get_json()
    coupon_id = coupon.get_json()["id"]
    new = f"{shop.prefix}/console/membership/levels/new"
    form = html(client.get(new))
    assert f'<option value="{coupon_id}">生日券' in form

    bad = post_form(client, new, {"name": "", "threshold": "abc", "discount": "4"})
    assert bad.status_code == 422 and set(field_errors(html(bad))) == {"name", "threshold", "discount"}
    bad = post_form(client, new, {"name": "金卡", "threshold": "1000", "discount": "9.55"})
    assert bad.status_code == 422 and set(field_errors(html(bad))) == {"discount"}
    assert _levels(app, shop) == []

    made = post_form(
        client,
        new,
        {
            "name": "金卡会员",
            "threshold": "1000",
            "discount": "9.5",
            "free_shipping": "1",
            "birthday_coupon_id": str(coupon_id),
        },
    )
    assert made.status_code == 303
    assert post_form(client, new, {"name": "普通会员", "threshold": "0", "discount": ""}).status_code == 303
    assert _levels(app, shop) == [("普通会员", 0, 100, False, None), ("金卡会员", 100000, 95, True, coupon_id)]
    clash = post_form(client, new, {"name": "银卡", "threshold": "1000.00"})
    assert clash.status_code == 422 and set(field_errors(html(clash))) == {"threshold"}

    listing = html(client.get(f"{shop.prefix}/console/membership"))
    gold = re.search(r'<tr data-level-id="(\d+)">(.*?)</tr>', listing[listing.index("金卡会员") - 200 :], re.S)
    level_id, row = gold.group(1), gold.group(2)
    assert "¥1000.00" in row and tr(app, "%(zhe)s折", zhe="9.5") in row and "生日券" in row

    edit = f"{shop.prefix}/console/membership/levels/{level_id}"
    shown = html(client.get(edit))
    assert (
        'name="threshold" type="text" value="1000.00"' in shown and 'name="discount" type="text" value="9.5"' in shown
    )
    assert (
        post_form(
            client, edit, {"name": "金卡会员", "threshold": "800", "discount": "8", "birthday_coupon_id": ""}
        ).status_code
        == 303
    )
    assert ("金卡会员", 80000, 80, False, None) in _levels(app, shop)

    set_program(app, shop, level_basis="points")  # thresholds are points now
    shown = html(client.get(edit))
    assert 'name="threshold" type="text" value="80000"' in shown
    assert tr(app, "%(points)s points", points=80000) in html(client.get(f"{shop.prefix}/console/membership"))

    deleted = post_form(client, f"{edit}/delete", {}, form_path=f"{shop.prefix}/console/membership")
    assert deleted.status_code == 303 and [name for name, *_rest in _levels(app, shop)] == ["普通会员"]
    assert client.get(edit).status_code == 404


def test_members_are_searched_paginated_and_adjusted(app, monkeypatch):
    client, shop = _merchant(app)
    set_program(app, shop)
    shoppers = []
    for _n in range(3):
        login = register_shopper(app.test_client(), shop)
        shoppers.append((login, customer_id(app, shop, login)))
    (phone, cid), (_phone2, cid2), _third = shoppers
    grant(app, shop, cid, 300)
    grant(app, shop, cid2, 100)

    members = f"{shop.prefix}/console/membership/members"
    listed = html(client.get(members))
    ids = re.findall(r'<tr data-customer-id="(\d+)" data-points="(-?\d+)">', listed)
    assert ids[:2] == [(str(cid), "300"), (str(cid2), "100")] and len(ids) == 3
    assert phone not in listed and phone[:3] + "****" + phone[-4:] in listed  # masked

    found = html(client.get(members, query_string={"q": phone}))
    assert re.findall(r'data-customer-id="(\d+)"', found) == [str(cid)]
    assert re.findall(r'data-customer-id="(\d+)"', html(client.get(members, query_string={"q": "没有这个人"}))) == []

    import mallow.console.membership as pages

    monkeypatch.setattr(pages, "PER_PAGE", 2)
    first = html(client.get(members))
    assert len(re.findall(r"data-customer-id=", first)) == 2 and 'rel="next"' in first
    second = html(client.get(members, query_string={"page": "2"}))
    assert len(re.findall(r"data-customer-id=", second)) == 1 and 'rel="prev"' in second
    monkeypatch.undo()

    detail = f"{members}/{cid}"
    bad = post_form(client, detail, {"points": "0", "reason": ""})
    assert bad.status_code == 422 and set(field_errors(html(bad))) == {"points", "reason"}
    short = post_form(client, detail, {"points": "-500", "reason": "退货补扣"})
    assert short.status_code == 422 and set(field_errors(html(short))) == {"points"}  # only 300 there
    assert balance(app, shop, cid) == 300

    done = post_form(client, detail, {"points": "-120", "reason": "误发积分收回"})
    assert done.status_code == 303 and balance(app, shop, cid) == 180
    assert post_form(client, detail, {"points": "+50", "reason": "客服补偿"}).status_code == 303
    assert balance(app, shop, cid) == 230
    page = html(client.get(detail))
    assert 'id="member-points" data-points="230"' in page and "客服补偿" in page and "误发积分收回" in page

    # the shopper reads the reasons in 积分明细
    shopper = app.test_client()
    from mallow.testing import PASSWORD

    assert post_form(shopper, f"{shop.prefix}/login", {"login": phone, "password": PASSWORD}).status_code in (302, 303)
    ledger = html(shopper.get(f"{shop.prefix}/account/points"))
    assert re.search(r'data-kind="adjust" data-points="50">\s*<span class="mb-reason">客服补偿<', ledger)
    assert re.search(r'data-kind="adjust" data-points="-120">\s*<span class="mb-reason">误发积分收回<', ledger)


def test_staff_only_and_one_stores_members_only(app):
    client, shop = _merchant(app)
    set_program(app, shop)
    other_client, other = _merchant(app)
    mine = register_shopper(app.test_client(), shop)
    theirs = register_shopper(app.test_client(), other)

    # a merchant of another store, a shopper and a guest: none of them gets in
    assert other_client.get(f"{shop.prefix}/console/membership").status_code == 403
    shopper = app.test_client()
    register_shopper(shopper, shop)
    for who in (shopper, app.test_client()):
        answer = who.get(f"{shop.prefix}/console/membership/members")
        assert answer.status_code in (302, 303, 403) and "data-customer-id" not in html(answer)
        assert post_form(
            who,
            f"{shop.prefix}/console/membership",
            FORM,
            form_path=f"{shop.prefix}/account" if who is shopper else f"{shop.prefix}/login",
        ).status_code in (302, 303, 403)
    assert _program(app, shop)["earn_per_yuan"] == PROGRAM["earn_per_yuan"]  # unchanged

    # the members are this store's shoppers: another store's shopper is not found here
    members = f"{shop.prefix}/console/membership/members"
    assert len(re.findall(r"data-customer-id=", html(client.get(members, query_string={"q": mine})))) == 1
    assert re.findall(r"data-customer-id=", html(client.get(members, query_string={"q": theirs}))) == []
    assert client.get(f"{members}/999999").status_code == 404
