"""The storefront's navigation and product page as served (no browser): the bottom tab bar and
where it is left out, the cart's count (per shopper, never from the page cache), the category
page (分类), the store's card, 立即购买, and the product page's buy bar, option sheet and share data
over the plain form. The browser side is tests/browser/test_navigation_browser.py."""

from __future__ import annotations

import html as htmllib
import io
import json
import re
import uuid

import pytest

from mallow.testing import PASSWORD, bearer, png_bytes, post_form

SPECS = [{"name": "颜色", "values": ["红", "蓝"]}, {"name": "尺码", "values": ["M", "L"]}]


def _html(response) -> str:
    return response.get_data(as_text=True)


def _json_script(html: str, element_id: str):
    found = re.search(rf'<script type="application/json" id="{element_id}">(.*?)</script>', html, re.S)
    return json.loads(found.group(1)) if found else None


def _tabs(html: str) -> list[tuple[str, bool]]:
    """``[(tab, current)]`` of the page's tab bar (empty without one)."""
    bar = re.search(r'<nav class="tabbar" id="tabbar".*?</nav>', html, re.S)
    if bar is None:
        return []
    return [
        (key, "aria-current" in tag)
        for tag, key in re.findall(r'(<a class="tab"[^>]*data-tab="(\w+)"[^>]*>)', bar.group(0))
    ]


def _badge(html: str, element_id: str) -> str | None:
    found = re.search(rf'id="{element_id}"[^>]*>([^<]+)<', html)
    return found.group(1) if found else None


def sign_in(app, client, shop, login: str) -> None:
    """A browser session of the shopper ``login`` in ``client`` (as the sign-in page makes one)."""
    from mallow.accounts import customers, sessions
    from mallow.db import db
    from mallow.tenants.context import store_context

    with store_context(shop.store_id, app=app):
        secret = sessions.issue(customers.authenticate(login, PASSWORD), "cookie")
        db.session.commit()
    with client.session_transaction() as session:
        session[sessions.session_key("shopper", shop.store_id)] = secret
        session.permanent = True


def new_shopper(client, shop) -> tuple[str, str]:
    login = f"nav-{uuid.uuid4().hex[:10]}@example.com"
    response = client.post(
        f"{shop.prefix}/api/customers", json={"login": login, "password": PASSWORD, "privacy_consent": True}
    )
    assert response.status_code == 201, response.get_json()
    return login, response.get_json()["token"]


@pytest.fixture
def store(console):
    """Two shown top categories (one with a subcategory holding a product with two spec
    dimensions and a photo), one hidden category, a single-option product."""
    nuts = console.category("坚果")
    sub = console.category("山核桃", nuts)
    tea = console.category("茶叶")
    hidden = console.category("隐藏")
    console.patch(f"/categories/{hidden}", {"active": False})
    skus = [
        {"spec_values": {"颜色": "红", "尺码": "M"}, "price": 3990, "stock": 5, "market_price": 4990},
        {"spec_values": {"颜色": "红", "尺码": "L"}, "price": 4590, "stock": 0},
        {"spec_values": {"颜色": "蓝", "尺码": "M"}, "price": 3990, "stock": 2},
        {"spec_values": {"颜色": "蓝", "尺码": "L"}, "price": 4590, "stock": 3},
    ]
    shirt = console.product("山核桃礼盒", category_id=sub, specs=SPECS, skus=skus, subtitle="手剥")
    console.client.post(
        f"{console.api}/products/{shirt['id']}/images",
        headers=console.headers,
        data={"image": [(io.BytesIO(png_bytes((640, 640))), "a.png")]},
        content_type="multipart/form-data",
    )
    tea_product = console.product("龙井", price=12800, category_id=tea)
    return {"nuts": nuts, "sub": sub, "tea": tea, "hidden": hidden, "shirt": shirt, "tea_product": tea_product}


def test_the_tab_bar_is_on_top_level_pages_with_the_current_tab(app, console, store):
    client, prefix = app.test_client(), console.shop.prefix
    expected = {
        "/": "home",
        "/categories": "category",
        f"/category/{store['nuts']}": "category",
        "/cart": "cart",
        "/search?q=山核桃": None,
        "/about": None,
    }
    for path, current in expected.items():
        html = _html(client.get(prefix + path))
        tabs = _tabs(html)
        assert [key for key, _ in tabs] == ["home", "category", "cart", "me"], path
        assert [key for key, on in tabs if on] == ([current] if current else []), path
        assert 'class="storefront' in html and "has-tabbar" in html and "viewport-fit=cover" in html
    # the product page has its own bottom bar instead
    product = _html(client.get(f"{prefix}/products/{store['shirt']['id']}"))
    assert _tabs(product) == [] and "has-tabbar" not in product and 'id="buy-bar"' in product


def test_pages_with_their_own_bottom_bar_leave_the_tab_bar_out(app, console, store):
    client, prefix = app.test_client(), console.shop.prefix
    login, token = new_shopper(client, console.shop)
    address = client.post(
        f"{prefix}/api/addresses",
        headers=bearer(token),
        json={
            "recipient": "王小明",
            "phone": "13800138000",
            "province": "浙江省",
            "city": "杭州市",
            "district": "临安区",
            "detail": "衣锦街 1 号",
        },
    )
    assert address.status_code == 201, address.get_json()
    sku = next(s["id"] for s in store["shirt"]["skus"] if s["stock"] > 0)
    order = client.post(
        f"{prefix}/api/orders",
        headers=bearer(token),
        json={"items": [{"sku_id": sku, "quantity": 1}], "address_id": address.get_json()["id"]},
    )
    assert order.status_code == 201, order.get_json()
    added = client.post(f"{prefix}/api/cart/items", headers=bearer(token), json={"sku_id": sku, "quantity": 1})
    assert added.status_code in (200, 201), added.get_json()
    sign_in(app, client, console.shop, login)
    for path in ("/checkout", f"/orders/{order.get_json()['id']}"):
        response = client.get(prefix + path)
        assert response.status_code == 200, (path, response.status_code)
        assert _tabs(_html(response)) == [], path
    assert [key for key, on in _tabs(_html(client.get(f"{prefix}/orders"))) if on] == ["me"]
    assert [key for key, on in _tabs(_html(client.get(f"{prefix}/account"))) if on] == ["me"]


def test_the_cart_count_is_the_shoppers_own_and_never_cached(app, console, store):
    prefix = console.shop.prefix
    product = store["shirt"]
    red_m, blue_m = (
        next(s["id"] for s in product["skus"] if s["spec_values"] == v)
        for v in ({"颜色": "红", "尺码": "M"}, {"颜色": "蓝", "尺码": "M"})
    )
    # the product page drawn by the published product-detail template (through the page cache)
    assert console.client.get(f"{console.api}/pages/product", headers=console.headers).status_code == 200
    assert console.client.post(f"{console.api}/pages/product/publish", headers=console.headers).status_code == 201
    guest, other = app.test_client(), app.test_client()
    page = f"{prefix}/products/{product['id']}"
    assert _badge(_html(guest.get(page)), "bar-cart-count") is None
    for sku, quantity in ((red_m, 2), (blue_m, 1)):
        response = post_form(guest, f"{prefix}/cart/items", {"sku_id": sku, "quantity": quantity}, form_path=page)
        assert response.status_code == 303, _html(response)[:300]
    html = _html(guest.get(page))
    assert "mp-theme-default" in html and _badge(html, "bar-cart-count") == "3"
    assert _badge(_html(guest.get(f"{prefix}/")), "tabbar-cart-count") == "3"
    # another visitor gets the same cached page body with an empty cart of its own
    assert _badge(_html(other.get(page)), "bar-cart-count") is None
    assert _badge(_html(other.get(f"{prefix}/categories")), "tabbar-cart-count") is None


def test_the_category_page_has_a_rail_and_the_chosen_categorys_products(app, console, store):
    client, prefix = app.test_client(), console.shop.prefix
    html = _html(client.get(f"{prefix}/categories"))
    rail = re.findall(r'<a href="[^"]*\?c=(\d+)" data-category-id="\d+"( aria-current="page")?>([^<]+)</a>', html)
    assert [(int(i), name, bool(on)) for i, on, name in rail] == [
        (store["nuts"], "坚果", True),
        (store["tea"], "茶叶", False),
    ]
    assert "隐藏" not in html and "山核桃" in html  # the subcategory as a chip
    assert f'data-product-id="{store["shirt"]["id"]}"' in html  # from the subcategory
    assert f'data-product-id="{store["tea_product"]["id"]}"' not in html
    assert f'href="{prefix}/category/{store["nuts"]}"' in html  # see all: the category page with filters
    tea = _html(client.get(f"{prefix}/categories", query_string={"c": store["tea"]}))
    assert f'data-product-id="{store["tea_product"]["id"]}"' in tea and re.search(r'aria-current="page">茶叶<', tea)
    for bad in (store["hidden"], store["sub"], "x", "99999999999"):
        assert client.get(f"{prefix}/categories", query_string={"c": bad}).status_code == 404


def test_the_store_card_is_the_service_entry(app, console, store):
    client, prefix = app.test_client(), console.shop.prefix
    html = _html(client.get(f"{prefix}/about"))
    assert 'id="store-info"' in html and 'id="licence"' in html
    product = _html(client.get(f"{prefix}/products/{store['shirt']['id']}"))
    # the buy bar's 客服 opens the customer-service chat (a guest is asked to sign in first)
    assert f'href="{prefix}/chat" id="bar-service"' in product and f'href="{prefix}/" id="bar-store"' in product
    guest = client.get(f"{prefix}/chat")
    assert guest.status_code in (302, 303) and "/login" in guest.headers["Location"]


def test_the_product_page_has_the_buy_bar_the_option_sheet_and_share_data_over_the_plain_form(app, console, store):
    client, prefix = app.test_client(), console.shop.prefix
    product = store["shirt"]
    html = _html(client.get(f"{prefix}/products/{product['id']}"))
    form = html.split('id="add-to-cart"')[1].split("</form>")[0]
    # the plain form: radios (sold out disabled, the first in stock checked), quantity, CSRF, and
    # the buy bar's two submit buttons (立即购买 to the buy-now address)
    by_values = {tuple(sorted(s["spec_values"].items())): s["id"] for s in product["skus"]}
    red_m, red_l = by_values[(("尺码", "M"), ("颜色", "红"))], by_values[(("尺码", "L"), ("颜色", "红"))]
    assert re.search(rf'name="sku_id" value="{red_l}" disabled', form)
    assert re.search(rf'name="sku_id" value="{red_m}" checked', form)
    assert 'name="quantity"' in form and 'name="csrf_token"' in form
    assert re.search(r'<button type="submit" class="pd-add" data-open-sheet="cart">', form)
    assert f'formaction="{prefix}/buy"' in form
    # the sheet: one row of chips per dimension, in the specs' order
    rows = re.findall(
        r'<div class="pd-dim js-only" role="group" aria-label="([^"]+)" data-dim="\d+">(.*?)</div>\s*</div>', form, re.S
    )
    assert [(name, re.findall(r'data-value="([^"]+)"', body)) for name, body in rows] == [
        ("颜色", ["红", "蓝"]),
        ("尺码", ["M", "L"]),
    ]
    picker = _json_script(html, "sku-data")
    assert picker["dims"] == SPECS and picker["max"] == 999 and picker["image"].endswith("_320.png")
    assert {(tuple(s["values"]), s["price"], s["stock"]) for s in picker["skus"]} == {
        (("红", "M"), "39.90", 5),
        (("红", "L"), "45.90", 0),
        (("蓝", "M"), "39.90", 2),
        (("蓝", "L"), "45.90", 3),
    }
    share = _json_script(html, "share-data")
    assert share["title"] == "山核桃礼盒" and share["desc"] == "手剥"
    assert share["link"] == f"http://localhost{prefix}/products/{product['id']}"
    assert share["imgUrl"].startswith(f"http://localhost{prefix}/media/media/") and share["imgUrl"].endswith(".png")
    texts = _json_script(html, "product-texts")
    assert texts["in_stock"].count("{stock}") == 1 and texts["choose"].count("{names}") == 1
    # the gallery: links to the full photos (a tap opens one without JavaScript), a counter
    assert re.search(r'<a class="pd-slide" href="[^"]+\.png" data-index="0" data-width="640" data-height="640"', html)
    # only the storefront's own scripts (the page's, the share sheet's, the analytics beacon's), no inline
    # script (CSP script-src 'self')
    assert sorted(re.findall(r"<script[^>]*src=\"([^\"?]+)", html)) == [
        "/static/storefront/analytics.js",
        "/static/storefront/product.js",
        "/static/storefront/share-sheet.js",
    ]
    assert all('src="' in tag or 'type="application/json"' in tag for tag in re.findall(r"<script[^>]*>", html))
    assert client.get("/static/storefront/product.js").status_code == 200
    assert client.get("/static/storefront/vendor/photoswipe/photoswipe.esm.min.js").status_code == 200


def test_a_sold_out_product_offers_no_buying(app, console, store):
    client, prefix = app.test_client(), console.shop.prefix
    gone = console.product("售罄", stock=0)
    html = _html(client.get(f"{prefix}/products/{gone['id']}"))
    bar = html.split('id="buy-bar"')[1].split("</div>")[0]
    assert '<button type="submit" disabled>' in bar and "pd-buy" not in bar


def test_buy_now_puts_exactly_the_chosen_quantity_in_the_cart_and_goes_to_checkout(app, console, store):
    client, prefix = app.test_client(), console.shop.prefix
    page = f"{prefix}/products/{store['shirt']['id']}"
    red_m = next(s["id"] for s in store["shirt"]["skus"] if s["spec_values"] == {"颜色": "红", "尺码": "M"})
    assert (
        post_form(client, f"{prefix}/cart/items", {"sku_id": red_m, "quantity": 3}, form_path=page).status_code == 303
    )
    bought = post_form(client, f"{prefix}/buy", {"sku_id": red_m, "quantity": 1}, form_path=page)
    assert bought.status_code == 303 and bought.headers["Location"].endswith(f"{prefix}/checkout")
    assert re.search(r'name="quantity" value="1"', _html(client.get(f"{prefix}/cart")))
    # a guest is asked to sign in on the way to checkout
    assert client.get(f"{prefix}/checkout").status_code in (302, 303)
    # refusals: the cart with the reason, nothing added; no CSRF token, no purchase
    refused = post_form(client, f"{prefix}/buy", {"sku_id": red_m, "quantity": 6}, form_path=page)
    assert refused.status_code == 422 and 'data-field="quantity"' in _html(refused)
    assert post_form(client, f"{prefix}/buy", {"sku_id": "nope", "quantity": 1}, form_path=page).status_code == 422
    assert client.post(f"{prefix}/buy", data={"sku_id": red_m, "quantity": 1}).status_code == 400
    assert re.search(r'name="quantity" value="1"', _html(client.get(f"{prefix}/cart")))


def test_a_store_without_categories_says_so(app, other_console):
    client, prefix = app.test_client(), other_console.shop.prefix
    html = _html(client.get(f"{prefix}/categories"))
    assert 'id="categories"' in html and f'href="{prefix}/search"' in html
    assert htmllib.unescape(html).count('data-tab="category"') == 1
