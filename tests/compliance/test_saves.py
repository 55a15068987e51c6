"""Merchant saves: a blocking term is refused with a field-level 422 (API and console form) and
nothing is written; a flagged term saves, is listed for the merchant and the admin, and clears
when the text changes; page drafts are checked the same way."""

from __future__ import annotations

from mallow.testing import post_form


def _fields(response, field):
    body = response.get_json()
    assert response.status_code == 422, body
    return body["fields"][field]


def _product_count(merchant) -> int:
    return merchant.client.get(f"{merchant.api}/products", headers=merchant.headers).get_json()["total"]


def test_a_medical_claim_on_a_food_store_is_refused_by_the_api_naming_field_and_term(food):
    refused = food.create_product("酸枣仁茶", subtitle="根治失眠，三天见效")
    error = _fields(refused, "subtitle")
    assert error["code"] == "prohibited_term" and "根治" in error["message"]
    assert "title" not in refused.get_json()["fields"]
    assert _product_count(food) == 0  # nothing half-written
    spec = food.create_product(
        "酸枣仁茶",
        specs=[{"name": "功效", "values": ["安神", "治愈失眠"]}],
        skus=[{"spec_values": {"功效": v}, "price": 1000} for v in ("安神", "治愈失眠")],
    )
    assert "治愈" in _fields(spec, "specs.0.values.1")["message"]
    described = food.create_product("酸枣仁茶", description_html="<p>长期饮用可<b>降 血 压</b></p>")
    assert "降血压" in _fields(described, "description_html")["message"]
    assert _product_count(food) == 0


def test_an_update_that_adds_a_blocking_term_changes_nothing(food):
    created = food.create_product("酸枣仁茶")
    assert created.status_code == 201, created.get_json()
    product = created.get_json()
    refused = food.update_product(product["id"], title="酸枣仁茶 速效安眠")
    assert "速效" in _fields(refused, "title")["message"]
    again = food.client.get(f"{food.api}/products/{product['id']}", headers=food.headers).get_json()
    assert again["title"] == "酸枣仁茶"


def test_the_console_form_answers_422_with_the_error_at_the_field(food):
    base = f"{food.shop.prefix}/console"
    form = {
        "title": "酸枣仁茶 治愈失眠",
        "subtitle": "",
        "category_id": "",
        "specs_text": "",
        "description_html": "",
        "video_url": "",
        "sort": "0",
        "status": "draft",
        "skus.0.key": "",
        "skus.0.price": "19.90",
        "skus.0.stock": "5",
        "skus.0.weight_g": "0",
        "skus.0.code": "",
        "action": "save",
    }
    response = post_form(food.client, f"{base}/products/new", form)
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'data-field="title"' in html and "治愈" in html
    assert _product_count(food) == 0


def test_the_same_claim_on_a_general_store_is_flagged_saved_and_listed(app, general):
    created = general.create_product("安神枕 治愈失眠 最好的礼物")
    assert created.status_code == 201, created.get_json()
    page = general.findings_page()
    assert page.count("data-finding-id") == 2
    assert 'data-term="治愈"' in page and 'data-term="最好"' in page
    assert "安神枕 <mark>治愈</mark>失眠" in page  # the matched term highlighted in its place
    assert "Advertising Law art. 17" in page or "广告法" in page  # the reason is shown
    dashboard = general.client.get(f"{general.shop.prefix}/console/").get_data(as_text=True)
    assert 'data-kind="compliance"' in dashboard


def test_rewording_clears_the_finding_and_its_notice(general):
    product = general.create_product("史上最低价 核桃").get_json()
    assert 'data-term="史上最低价"' in general.findings_page()
    assert general.update_product(product["id"], title="好吃的核桃").status_code == 200
    assert "data-finding-id" not in general.findings_page()
    assert 'data-status="cleared"' in general.findings_page("cleared")
    dashboard = general.client.get(f"{general.shop.prefix}/console/").get_data(as_text=True)
    assert 'data-kind="compliance"' not in dashboard


def test_saving_again_keeps_one_finding_per_term_and_field(general):
    product = general.create_product("顶级 红茶").get_json()
    general.update_product(product["id"], title="顶级红茶 新包装")
    general.update_product(product["id"], subtitle="顶级")
    page = general.findings_page()
    assert page.count('data-term="顶级"') == 2  # title and subtitle, once each


def _home_doc(text, alt=""):
    return {
        "sections": {
            "bar": {"type": "notice_bar", "settings": {"text": text}},
            "hero": {
                "type": "carousel",
                "settings": {},
                "blocks": {"s1": {"type": "slide", "settings": {"alt": alt}}},
                "block_order": ["s1"],
            },
        },
        "order": ["bar", "hero"],
    }


def test_page_drafts_are_checked_text_and_image_alt(food, general):
    refused = food.client.put(
        f"{food.api}/pages/home/draft", json={"document": _home_doc("全场特效", "新品")}, headers=food.headers
    )
    assert "特效" in _fields(refused, "/sections/bar/settings/text")["message"]
    alt = food.client.put(
        f"{food.api}/pages/home/draft", json={"document": _home_doc("新品", "抗癌好物")}, headers=food.headers
    )
    assert "抗癌" in _fields(alt, "/sections/hero/blocks/s1/settings/alt")["message"]
    saved = general.client.put(
        f"{general.api}/pages/home/draft",
        json={"document": _home_doc("全场特效", "国家级品质")},
        headers=general.headers,
    )
    assert saved.status_code == 200, saved.get_json()
    page = general.findings_page()
    assert 'data-term="特效"' in page and 'data-term="国家级"' in page
