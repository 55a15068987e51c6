"""The address book: list, add, edit, default, delete (pages and API), the 省/市/区 cascade from
the GB/T 2260 dataset (the JSON steps and the no-JavaScript steps), server-side chain checks, the
default preselected at checkout, and another shopper's address out of reach."""

from __future__ import annotations

import re

import pytest

from mallow.testing import bearer, make_product, make_shopper, make_store, post_form, register_shopper

HANGZHOU = {"province_code": "330000", "city_code": "330100", "district_code": "330110"}  # 浙江省 杭州市 余杭区
ADDRESS = {"recipient": "王小明", "phone": "13800138000", "detail": "文一西路 969 号"}


@pytest.fixture
def shop(app):
    return make_store(app)


@pytest.fixture
def shopper(app, shop):
    client = app.test_client()
    register_shopper(client, shop)
    return client


def add(client, shop, **fields):
    return post_form(
        client,
        f"{shop.prefix}/account/addresses/new",
        {**ADDRESS, **HANGZHOU, **fields},
        form_path=f"{shop.prefix}/account/addresses/new",
    )


def book(client, shop) -> str:
    return client.get(f"{shop.prefix}/account/addresses").get_data(as_text=True)


def ids_in(page: str) -> list[int]:
    return [int(i) for i in re.findall(r'data-address-id="(\d+)"', page)]


def test_add_list_edit_default_delete(app, shop, shopper):
    empty = book(shopper, shop)
    assert 'id="no-addresses"' in empty and 'id="add-address"' in empty
    saved = add(shopper, shop)
    assert saved.status_code == 303 and saved.headers["Location"].endswith(f"{shop.prefix}/account/addresses")
    page = book(shopper, shop)
    assert "浙江省 杭州市 余杭区 文一西路 969 号" in page and "138****8000" in page
    [first] = ids_in(page)
    assert 'data-default="1"' in page  # the first address is the default

    assert (
        add(
            shopper,
            shop,
            recipient="李四",
            province_code="110000",
            city_code="110100",
            district_code="110105",
            detail="建国路 1 号",
        ).status_code
        == 303
    )
    page = book(shopper, shop)
    assert page.count('data-default="1"') == 1 and "北京市 朝阳区 建国路 1 号" in page  # municipality: 北京市 once
    second = [i for i in ids_in(page) if i != first][0]

    made_default = post_form(
        shopper, f"{shop.prefix}/account/addresses/{second}/default", {}, form_path=f"{shop.prefix}/account/addresses"
    )
    assert made_default.status_code == 303
    page = book(shopper, shop)
    assert ids_in(page)[0] == second and page.count('data-default="1"') == 1

    form = shopper.get(f"{shop.prefix}/account/addresses/{first}").get_data(as_text=True)
    assert 'value="王小明"' in form and 'value="330110" selected' in form and "余杭区" in form
    edited = post_form(
        shopper,
        f"{shop.prefix}/account/addresses/{first}",
        {
            **ADDRESS,
            "recipient": "王大明",
            "province_code": "440000",
            "city_code": "441900",
            "district_code": "",
            "detail": "东城街道 1 号",
        },
    )
    assert edited.status_code == 303
    page = book(shopper, shop)
    assert "王大明" in page and "广东省 东莞市 东城街道 1 号" in page  # 东莞: a city without districts

    deleted = post_form(
        shopper, f"{shop.prefix}/account/addresses/{second}/delete", {}, form_path=f"{shop.prefix}/account/addresses"
    )
    assert deleted.status_code == 303
    page = book(shopper, shop)
    assert ids_in(page) == [first] and 'data-default="1"' in page  # the remaining one became the default


def test_codes_must_form_a_real_chain(app, shop, shopper):
    cases = [
        ({"city_code": "320100"}, "city_code"),  # 南京市 is not in 浙江省
        ({"district_code": "320102"}, "district_code"),  # 玄武区 is not in 杭州市
        ({"province_code": "990000"}, "province_code"),  # no such province
        ({"district_code": ""}, "district_code"),  # 杭州市 has districts: one is needed
        ({"city_code": ""}, "city_code"),
        ({"province_code": "330000", "city_code": "330100", "district_code": "330171"}, "district_code"),  # NBS-only
        ({"province_code": "810000", "city_code": "330100", "district_code": ""}, "city_code"),  # 香港: no cities
    ]
    for change, field in cases:
        refused = add(shopper, shop, **change)
        body = refused.get_data(as_text=True)
        assert refused.status_code == 422, change
        assert f'data-field="{field}"' in body, (change, field)
    assert ids_in(book(shopper, shop)) == []
    # the province alone is an address in 香港 (offered without lower levels)
    assert add(shopper, shop, province_code="810000", city_code="", district_code="").status_code == 303


def test_every_level_still_to_choose_is_named_on_one_submit(app, shop, shopper):
    """Nothing picked: the province, the city and the district are all flagged at once (they were
    flagged one per submit); a province alone flags the city and the district."""
    for change, flagged in (
        ({"province_code": "", "city_code": "", "district_code": ""}, {"province_code", "city_code", "district_code"}),
        ({"city_code": "", "district_code": ""}, {"city_code", "district_code"}),
    ):
        refused = add(shopper, shop, **change)
        body = refused.get_data(as_text=True)
        assert refused.status_code == 422, change
        shown = set(re.findall(r'<small class="error" id="e-[\w]+" data-field="(\w+_code)"', body))
        assert shown == flagged, (change, shown)
    assert ids_in(book(shopper, shop)) == []


def test_phone_must_be_eleven_digits_starting_with_1(app, shop, shopper):
    for phone in ("1380013800", "23800138000", "138001380001", "abc"):
        refused = add(shopper, shop, phone=phone)
        assert refused.status_code == 422 and 'data-field="phone"' in refused.get_data(as_text=True)
    assert add(shopper, shop, phone="+86 138-0013-8000").status_code == 303


def test_the_cascade_works_without_javascript(app, shop, shopper):
    """Three selects submitted step by step: province → its cities → the city's districts."""
    url = f"{shop.prefix}/account/addresses/new"
    first = shopper.get(url).get_data(as_text=True)
    assert 'id="region-step"' in first and '<option value="330000"' in first
    assert re.search(r'<select id="f-city_code" name="city_code" disabled', first)
    step = post_form(shopper, url, {**ADDRESS, "province_code": "330000", "action": "region"})
    body = step.get_data(as_text=True)
    assert step.status_code == 200 and '<option value="330100"' in body and "杭州市" in body
    assert 'value="王小明"' in body  # what was typed stays
    step = post_form(shopper, url, {**ADDRESS, "province_code": "330000", "city_code": "330100", "action": "region"})
    body = step.get_data(as_text=True)
    assert '<option value="330110"' in body and "余杭区" in body
    assert ids_in(book(shopper, shop)) == []  # nothing saved by the steps


def test_region_json(app, shop):
    client = app.test_client()
    provinces = client.get(f"{shop.prefix}/regions/000000.json").get_json()
    assert len(provinces["children"]) == 34 and provinces["version"]
    beijing = client.get(f"{shop.prefix}/regions/110000.json").get_json()
    assert beijing["children"] == [{"code": "110100", "name": "北京市", "leaf": False}]
    districts = client.get(f"{shop.prefix}/regions/110100.json").get_json()["children"]
    assert {"code": "110105", "name": "朝阳区", "leaf": True} in districts and len(districts) == 16
    chongqing = client.get(f"{shop.prefix}/regions/500100.json").get_json()["children"]
    assert any(d["name"] == "渝中区" for d in chongqing) and any(d["name"] == "城口县" for d in chongqing)
    assert client.get(f"{shop.prefix}/regions/810000.json").get_json()["children"] == []
    assert client.get(f"{shop.prefix}/regions/441900.json").get_json()["children"] == []  # 东莞: no districts
    assert client.get(f"{shop.prefix}/regions/123456.json").status_code == 404
    assert client.get(f"{shop.prefix}/regions/abc.json").status_code == 404


def test_another_shoppers_address_is_out_of_reach(app, shop, shopper):
    add(shopper, shop)
    [mine] = ids_in(book(shopper, shop))
    other = app.test_client()
    register_shopper(other, shop)
    assert other.get(f"{shop.prefix}/account/addresses/{mine}").status_code == 404
    refused = post_form(
        other, f"{shop.prefix}/account/addresses/{mine}/delete", {}, form_path=f"{shop.prefix}/account/addresses/new"
    )
    assert refused.status_code == 404
    assert ids_in(book(shopper, shop)) == [mine]
    assert app.test_client().get(f"{shop.prefix}/account/addresses").status_code == 302  # a guest signs in first


def test_forms_need_the_csrf_token(app, shop, shopper):
    response = shopper.post(f"{shop.prefix}/account/addresses/new", data={**ADDRESS, **HANGZHOU})
    assert response.status_code == 400


def test_next_leads_back_after_saving(app, shop, shopper):
    target = f"{shop.prefix}/checkout"
    saved = add(shopper, shop, next=target)
    assert saved.headers["Location"].endswith(target)
    assert (
        add(shopper, shop, next="https://evil.example/")
        .headers["Location"]
        .endswith(f"{shop.prefix}/account/addresses")
    )


def test_checkout_preselects_the_default(app, shop, shopper):
    make_product(app, shop, title="山核桃", price=1000)
    add(shopper, shop)
    add(shopper, shop, recipient="默认收货人", is_default="1")
    page = book(shopper, shop)
    default_id = ids_in(page)[0]
    assert 'data-default="1"' in page.split("</li>")[0]
    from mallow.catalog.models import Sku
    from mallow.db import db
    from mallow.tenants.context import store_context

    with store_context(shop.store_id, app=app):
        sku = db.session.execute(db.select(Sku.id)).scalars().first()
    post_form(
        shopper,
        f"{shop.prefix}/cart/items",
        {"sku_id": sku, "quantity": 1},
        form_path=f"{shop.prefix}/account/addresses",
    )
    checkout = shopper.get(f"{shop.prefix}/checkout").get_data(as_text=True)
    assert re.search(rf'value="{default_id}"\s+checked', checkout), checkout[:2000]


def test_the_api_keeps_the_address_book(app, shop):
    client = app.test_client()
    token, legacy_id = make_shopper(client, shop)  # by names (杭州市 西湖区): codes are found
    auth = bearer(token)
    listed = client.get(f"{shop.prefix}/api/addresses", headers=auth).get_json()["items"]
    assert listed[0]["province_code"] == "330000" and listed[0]["district_code"] == "330106"
    made = client.post(
        f"{shop.prefix}/api/addresses",
        headers=auth,
        json={
            **ADDRESS,
            "province_code": "310000",
            "city_code": "310100",
            "district_code": "310115",
            "is_default": True,
        },
    )
    assert made.status_code == 201, made.get_json()
    body = made.get_json()
    assert (body["province"], body["city"], body["district"]) == ("上海市", "上海市", "浦东新区") and body["is_default"]
    bad = client.post(
        f"{shop.prefix}/api/addresses",
        headers=auth,
        json={**ADDRESS, "province_code": "310000", "city_code": "310100", "district_code": "330110"},
    )
    assert bad.status_code == 422 and "district_code" in bad.get_json()["fields"]
    unknown_city = client.post(
        f"{shop.prefix}/api/addresses", headers=auth, json={**ADDRESS, "province": "浙江省", "city": "南京市"}
    )
    assert unknown_city.status_code == 422 and "city" in unknown_city.get_json()["fields"]
    changed = client.put(f"{shop.prefix}/api/addresses/{legacy_id}", headers=auth, json={**ADDRESS, **HANGZHOU})
    assert changed.status_code == 200 and changed.get_json()["district"] == "余杭区"
    assert client.post(f"{shop.prefix}/api/addresses/{legacy_id}/default", headers=auth).get_json()["is_default"]
    assert client.delete(f"{shop.prefix}/api/addresses/{body['id']}", headers=auth).status_code == 204
    others = bearer(make_shopper(client, shop)[0])
    assert (
        client.put(f"{shop.prefix}/api/addresses/{legacy_id}", headers=others, json={**ADDRESS, **HANGZHOU}).status_code
        == 404
    )
    assert client.delete(f"{shop.prefix}/api/addresses/{legacy_id}", headers=others).status_code == 404
    assert [a["id"] for a in client.get(f"{shop.prefix}/api/addresses", headers=auth).get_json()["items"]] == [
        legacy_id
    ]


def test_orders_keep_the_names_when_the_address_changes(app, shop):
    from mallow.testing.payments import place_order

    client = app.test_client()
    token, address_id = make_shopper(client, shop)
    [sku] = make_product(app, shop, price=500)
    order = place_order(client, shop, token, address_id, sku)
    client.put(
        f"{shop.prefix}/api/addresses/{address_id}",
        headers=bearer(token),
        json={**ADDRESS, "province_code": "110000", "city_code": "110100", "district_code": "110105"},
    )
    again = client.get(f"{shop.prefix}/api/orders/{order['id']}", headers=bearer(token)).get_json()
    assert again["address"]["city"] == "杭州市" and again["address"]["district"] == "西湖区"
