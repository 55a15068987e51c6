"""Keyword search that works for Chinese on both backends, with filters, sorts and pages;
user input is only ever a bound, escaped parameter."""

from __future__ import annotations

import pytest


def _ids(response):
    assert response.status_code == 200, response.get_json()
    return [item["id"] for item in response.get_json()["items"]]


def _search(console, **params):
    return console.client.get(f"{console.shop.prefix}/api/products", query_string=params)


@pytest.fixture
def nuts(console):
    food = console.category("食品")
    nut = console.category("坚果", food)
    walnut = console.category("山核桃", nut)
    tea = console.category("茶叶")
    made = {
        "linan": console.product("临安山核桃仁", price=5980, category_id=walnut, subtitle="手剥 原味"),
        "paper": console.product("纸皮山核桃", price=3990, category_id=walnut),
        "pecan": console.product("碧根果 Pecan", price=4590, category_id=nut),
        "tea": console.product("西湖龙井茶 ＡＢＣ", price=12800, category_id=tea),
        "off": console.product("下架山核桃", price=100, category_id=walnut, status="off_shelf"),
        "draft": console.product("草稿山核桃", price=100, category_id=walnut, status="draft"),
        "pct": console.product("100% 纯 山核桃_油", price=8800, category_id=food),
    }
    return {"cats": {"food": food, "nut": nut, "walnut": walnut, "tea": tea}, **{k: v["id"] for k, v in made.items()}}


def test_chinese_substring_search(console, nuts):
    found = set(_ids(_search(console, q="山核桃")))
    assert {nuts["linan"], nuts["paper"], nuts["pct"]} == found  # not the off-shelf or draft ones
    assert _ids(_search(console, q="核桃仁")) == [nuts["linan"]]
    assert _ids(_search(console, q="手剥")) == [nuts["linan"]]  # subtitle


def test_several_words_must_all_match(console, nuts):
    assert _ids(_search(console, q="山核桃 纸皮")) == [nuts["paper"]]
    assert _ids(_search(console, q="山核桃　临安")) == [nuts["linan"]]  # full-width space
    assert _ids(_search(console, q="山核桃 龙井")) == []


def test_width_and_case_are_folded(console, nuts):
    assert _ids(_search(console, q="abc")) == [nuts["tea"]]
    assert _ids(_search(console, q="ＡＢＣ")) == [nuts["tea"]]
    assert _ids(_search(console, q="PECAN")) == [nuts["pecan"]]
    assert _ids(_search(console, q="ｐｅｃａｎ")) == [nuts["pecan"]]


@pytest.mark.parametrize(
    "q",
    [
        "%",
        "_",
        "%%",
        "'; DROP TABLE products; --",
        "\\",
        "/",
        "' OR '1'='1",
        "山核桃%",
        "_油",
        "a' UNION SELECT * FROM skus --",
    ],
)
def test_sql_metacharacters_are_literal(console, nuts, q):
    found = _ids(_search(console, q=q))
    expected = {"%": [nuts["pct"]], "_": [nuts["pct"]], "_油": [nuts["pct"]]}.get(q, [])
    assert found == expected, q
    # and the table is still there
    assert len(_ids(_search(console))) == 5


def test_unknown_sort_and_bad_params_are_400(console, nuts):
    for params in (
        {"sort": "price; DROP TABLE products"},
        {"sort": "title"},
        {"page": "0"},
        {"per_page": "51"},
        {"per_page": "x"},
        {"min_price": "-1"},
        {"min_price": "12.5"},
        {"category": "abc"},
        {"min_price": "500", "max_price": "100"},
        {"q": "x" * 101},
    ):
        response = _search(console, **params)
        assert response.status_code == 400, params
        body = response.get_json()
        assert body["error"] == "bad_request" and set(body["fields"]) <= set(params) | {"max_price"}, body
    assert _search(console, sort="price_asc").status_code == 200


def test_category_includes_descendants(console, nuts):
    cats = nuts["cats"]
    assert set(_ids(_search(console, category=cats["food"]))) == {
        nuts["linan"],
        nuts["paper"],
        nuts["pecan"],
        nuts["pct"],
    }
    assert set(_ids(_search(console, category=cats["nut"]))) == {nuts["linan"], nuts["paper"], nuts["pecan"]}
    assert set(_ids(_search(console, category=cats["walnut"]))) == {nuts["linan"], nuts["paper"]}
    assert _ids(_search(console, category=999999)) == []
    assert _ids(_search(console, category=cats["nut"], q="纸皮")) == [nuts["paper"]]


def test_price_range_and_sorts(console, nuts):
    assert set(_ids(_search(console, min_price=4000, max_price=6000))) == {nuts["linan"], nuts["pecan"]}
    assert _ids(_search(console, min_price=12800)) == [nuts["tea"]]
    assert _ids(_search(console, max_price=3990)) == [nuts["paper"]]
    assert _ids(_search(console, sort="price_asc")) == [nuts[k] for k in ("paper", "pecan", "linan", "pct", "tea")]
    assert _ids(_search(console, sort="price_desc")) == [nuts[k] for k in ("tea", "pct", "linan", "pecan", "paper")]
    assert _ids(_search(console, sort="newest"))[0] == nuts["pct"]


def test_min_price_counts_active_skus_only(console):
    specs = [{"name": "规格", "values": ["小", "大"]}]
    made = console.product(
        "礼盒",
        specs=specs,
        skus=[{"spec_values": {"规格": "小"}, "price": 500}, {"spec_values": {"规格": "大"}, "price": 9000}],
    )
    assert _ids(_search(console, max_price=600)) == [made["id"]]
    console.patch(f"/products/{made['id']}", {"specs": [{"name": "规格", "values": ["大"]}]})  # 小 deactivated
    assert _ids(_search(console, max_price=600)) == []
    assert _search(console).get_json()["items"][0]["min_price"] == 9000


def test_sort_by_sales(app, console, nuts):
    from mallow.catalog.models import Product
    from mallow.db import db
    from mallow.tenants.context import store_context

    with store_context(console.shop.store_id, app):
        db.session.get(Product, nuts["tea"]).sales = 50
        db.session.get(Product, nuts["paper"]).sales = 20
        db.session.commit()
    assert _ids(_search(console, sort="sales"))[:2] == [nuts["tea"], nuts["paper"]]


def test_pagination_with_total(console):
    made = [console.product(f"商品{i:02d}", price=100 + i)["id"] for i in range(7)]
    first = _search(console, per_page=3, page=1, sort="price_asc").get_json()
    assert first["total"] == 7 and first["pages"] == 3 and [i["id"] for i in first["items"]] == made[:3]
    third = _search(console, per_page=3, page=3, sort="price_asc").get_json()
    assert [i["id"] for i in third["items"]] == made[6:]
    assert _search(console, per_page=3, page=9).get_json()["items"] == []


def test_store_scoped(console, other_console, nuts):
    other_console.product("别家山核桃", price=100)
    assert len(_ids(_search(other_console, q="山核桃"))) == 1
    assert nuts["linan"] in _ids(_search(console, q="山核桃"))
    assert "别家" not in str(_search(console, q="山核桃").get_json())
    assert _ids(_search(console, q="别家")) == []


def test_console_listing_sees_every_status(console, nuts):
    listing = console.get("/products", query_string={"q": "山核桃"}).get_json()
    assert {i["id"] for i in listing["items"]} >= {nuts["off"], nuts["draft"]}
    drafts = console.get("/products", query_string={"status": "draft"}).get_json()
    assert [i["id"] for i in drafts["items"]] == [nuts["draft"]] and drafts["items"][0]["status"] == "draft"
    assert console.get("/products", query_string={"status": "deleted"}).status_code == 400


def test_off_shelf_product_is_404_for_shoppers(console, nuts):
    base = f"{console.shop.prefix}/api/products"
    assert console.client.get(f"{base}/{nuts['linan']}").status_code == 200
    assert console.client.get(f"{base}/{nuts['off']}").status_code == 404
    assert console.client.get(f"{base}/{nuts['draft']}").status_code == 404
    assert console.client.get(f"{base}/999999").status_code == 404
