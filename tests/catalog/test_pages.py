"""Console and storefront pages of the catalogue: server-rendered, CSRF on every form."""

from __future__ import annotations

import html as htmllib
import io
import re

from mallow.testing import csrf_token, login_merchant, make_store, png_bytes, post_form


def _html(response) -> str:
    return response.get_data(as_text=True)


def _form_fields(html: str) -> dict:
    """The named inputs of a rendered form with their values (enough to re-post it)."""
    fields = {}
    for tag in re.findall(r"<input[^>]*>", html):
        name = re.search(r'name="([^"]+)"', tag)
        if not name or 'type="file"' in tag or 'type="checkbox"' in tag:
            continue
        value = re.search(r'value="([^"]*)"', tag)
        fields[htmllib.unescape(name.group(1))] = htmllib.unescape(value.group(1)) if value else ""
    for name, body in re.findall(r'<textarea[^>]*name="([^"]+)"[^>]*>(.*?)</textarea>', html, re.DOTALL):
        fields[name] = htmllib.unescape(body)
    for name, options in re.findall(r'<select[^>]*name="([^"]+)"[^>]*>(.*?)</select>', html, re.DOTALL):
        chosen = re.search(r'<option value="([^"]*)" selected', options)
        fields[name] = htmllib.unescape(chosen.group(1)) if chosen else ""
    return fields


def test_console_product_form_flow(app, console):
    client = console.client
    login_merchant(client, console.shop)
    base = f"{console.shop.prefix}/console"
    category = console.category("坚果")
    page = client.get(f"{base}/products/new")
    assert page.status_code == 200 and 'name="csrf_token"' in _html(page)
    # specs typed, table refreshed (nothing saved), then prices filled in yuan
    form = {
        "title": "临安山核桃仁",
        "subtitle": "手剥",
        "category_id": str(category),
        "specs_text": "规格：120g，250g",
        "description_html": "<p>香<img src=x onerror=alert(1)></p>",
        "video_url": "",
        "sort": "0",
        "status": "on_shelf",
        "action": "refresh",
    }
    refreshed = post_form(client, f"{base}/products/new", form)
    assert refreshed.status_code == 200
    html = _html(refreshed)
    assert 'name="skus.0.key" value="规格:120g"' in html and 'name="skus.1.key" value="规格:250g"' in html
    assert console.get("/products").get_json()["total"] == 0
    fields = _form_fields(html)
    fields.update(
        {
            "skus.0.price": "39.90",
            "skus.0.stock": "100",
            "skus.1.price": "69.9",
            "skus.1.market_price": "79",
            "skus.1.stock": "3",
            "action": "save",
        }
    )
    fields.pop("csrf_token")
    bad = post_form(
        client, f"{base}/products/new", dict(fields, **{"skus.0.price": "39.905"}), form_path=f"{base}/products/new"
    )
    assert bad.status_code == 422 and 'data-field="skus.0.price"' in _html(bad)
    saved = post_form(client, f"{base}/products/new", fields)
    assert saved.status_code == 303, _html(saved)[:2000]
    listing = console.get("/products").get_json()
    assert listing["total"] == 1
    product = console.get(f"/products/{listing['items'][0]['id']}").get_json()
    assert sorted((s["price"], s["market_price"], s["stock"]) for s in product["skus"]) == [
        (3990, None, 100),
        (6990, 7900, 3),
    ]
    assert product["description_html"] == '<p>香<img src="x"></p>' and product["status"] == "on_shelf"

    # edit: change the specs without refreshing → the table is rebuilt, nothing saved
    edit_path = f"{base}/products/{product['id']}"
    fields = _form_fields(_html(client.get(edit_path)))
    assert fields["skus.0.price"] == "39.90" and fields["title"] == "临安山核桃仁"
    fields.pop("csrf_token")
    fields.update({"specs_text": "规格: 120g, 250g, 500g", "action": "save"})
    stale = post_form(client, edit_path, fields)
    assert stale.status_code == 200 and 'id="notice"' in _html(stale) and 'value="规格:500g"' in _html(stale)
    fields = _form_fields(_html(stale))
    fields.pop("csrf_token")
    fields.update({"skus.2.price": "120", "skus.2.stock": "7", "action": "save"})
    assert post_form(client, edit_path, fields).status_code == 303
    after = console.get(f"/products/{product['id']}").get_json()
    assert {s["id"] for s in product["skus"]} <= {s["id"] for s in after["skus"]} and len(after["skus"]) == 3

    # images through the form
    fields = _form_fields(_html(client.get(edit_path)))
    fields.pop("csrf_token")
    fields["action"] = "save"
    fields["images"] = [(io.BytesIO(png_bytes((800, 800))), "a.png"), (io.BytesIO(png_bytes((400, 300))), "b.png")]
    uploaded = post_form(client, edit_path, fields, content_type="multipart/form-data")
    assert uploaded.status_code == 303
    edit_html = _html(client.get(edit_path))
    assert edit_html.count('name="remove_image"') == 2
    thumb = re.search(r'src="(/s/[^"]+/console/media/media/[0-9a-f]{32}_320\.png)"', edit_html).group(1)
    assert client.get(thumb).status_code == 200


def test_console_form_errors_and_csrf(app, console):
    client = console.client
    login_merchant(client, console.shop)
    base = f"{console.shop.prefix}/console"
    response = post_form(client, f"{base}/products/new", {"title": "", "specs_text": "没有冒号", "action": "save"})
    assert response.status_code == 422 and 'data-field="specs_text"' in _html(response)
    assert client.post(f"{base}/products/new", data={"title": "x"}).status_code == 400  # no CSRF token
    assert client.post(f"{base}/categories", data={"name": "x"}).status_code == 400
    assert client.post(f"{base}/skus/bulk", data={}).status_code == 400


def test_console_shelf_toggle_and_list(app, console):
    client = console.client
    login_merchant(client, console.shop)
    made = console.product("龙井茶", status="draft")
    base = f"{console.shop.prefix}/console"
    page = _html(client.get(f"{base}/products?q=龙井"))
    assert "龙井茶" in page and f'data-product-id="{made["id"]}"' in page
    response = post_form(
        client, f"{base}/products/{made['id']}/status", {"status": "on_shelf"}, form_path=f"{base}/products"
    )
    assert response.status_code == 303
    assert console.get(f"/products/{made['id']}").get_json()["status"] == "on_shelf"
    post_form(client, f"{base}/products/{made['id']}/status", {"status": "draft"}, form_path=f"{base}/products")
    assert console.get(f"/products/{made['id']}").get_json()["status"] == "on_shelf"  # refused
    assert client.get(f"{base}/products?sort=evil").status_code == 422


def test_console_categories_page(app, console):
    client = console.client
    login_merchant(client, console.shop)
    base = f"{console.shop.prefix}/console"
    assert post_form(client, f"{base}/categories", {"name": "食品", "sort": "0"}).status_code == 303
    html = _html(client.get(f"{base}/categories"))
    category_id = int(re.search(r'data-category-id="(\d+)"', html).group(1))
    duplicate = post_form(client, f"{base}/categories", {"name": "食品"})
    assert duplicate.status_code == 422 and 'data-field="name"' in _html(duplicate)
    assert post_form(client, f"{base}/categories", {"name": "坚果", "parent_id": str(category_id)}).status_code == 303
    refused = post_form(client, f"{base}/categories/{category_id}/delete", {}, form_path=f"{base}/categories")
    assert refused.status_code == 422 and 'data-field="category"' in _html(refused)
    edit = post_form(client, f"{base}/categories/{category_id}", {"name": "食品饮料", "parent_id": "", "sort": "1"})
    assert edit.status_code == 303
    tree = client.get(f"{console.shop.prefix}/api/categories").get_json()["items"]
    assert tree == []  # the checkbox was not ticked: hidden from shoppers
    assert console.patch(f"/categories/{category_id}", {"active": True}).status_code == 200
    assert client.get(f"{console.shop.prefix}/api/categories").get_json()["items"][0]["name"] == "食品饮料"


def test_console_bulk_page_is_all_or_nothing(app, console):
    client = console.client
    login_merchant(client, console.shop)
    a = console.product("甲", price=1000, stock=5)["skus"][0]
    b = console.product("乙", price=2000, stock=5)["skus"][0]
    path = f"{console.shop.prefix}/console/skus/bulk"
    fields = _form_fields(_html(client.get(path)))
    assert fields[f"sku.{a['id']}.price"] == "10.00" and fields[f"sku.{b['id']}.stock"] == "5"
    fields.pop("csrf_token")
    fields.pop("q", None)
    bad = post_form(client, path, dict(fields, **{f"sku.{a['id']}.price": "12.00", f"sku.{b['id']}.stock": "-1"}))
    assert bad.status_code == 422 and f'data-field="sku.{b["id"]}.stock"' in _html(bad)
    bad = post_form(client, path, dict(fields, **{f"sku.{a['id']}.price": "12.00", f"sku.{b['id']}.price": "1.234"}))
    assert bad.status_code == 422 and f'data-field="sku.{b["id"]}.price"' in _html(bad)
    assert console.get("/skus/low-stock").get_json()["items"][0]["price"] in (1000, 2000)
    prices = {i["id"]: i["price"] for i in console.get("/skus/low-stock").get_json()["items"]}
    assert prices == {a["id"]: 1000, b["id"]: 2000}
    good = post_form(client, path, dict(fields, **{f"sku.{a['id']}.price": "12.00", f"sku.{b['id']}.stock": "80"}))
    assert good.status_code == 303
    rows = {i["id"]: (i["price"], i["stock"]) for i in console.get("/skus/low-stock").get_json()["items"]}
    assert rows == {a["id"]: (1200, 5)}  # b has 80 now: above the threshold


def test_console_low_stock_page(app, console):
    client = console.client
    login_merchant(client, console.shop)
    console.product("快卖完了", stock=2)
    console.product("很多", stock=999)
    html = _html(client.get(f"{console.shop.prefix}/console/skus/low-stock"))
    assert "快卖完了" in html and "很多" not in html


def test_console_pages_are_staff_only(app, console, other_console):
    made = console.product("A 的商品")
    intruder = other_console.client
    login_merchant(intruder, other_console.shop)
    base = f"{console.shop.prefix}/console"
    for path in (
        "/products",
        f"/products/{made['id']}",
        "/products/new",
        "/categories",
        "/skus/bulk",
        "/skus/low-stock",
    ):
        assert intruder.get(base + path).status_code == 403, path
    token = csrf_token(intruder, f"{other_console.shop.prefix}/console/products/new")
    response = intruder.post(f"{base}/products/{made['id']}", data={"csrf_token": token, "title": "hacked"})
    assert response.status_code == 403
    assert console.get(f"/products/{made['id']}").get_json()["title"] == "A 的商品"
    anonymous = app.test_client()
    assert anonymous.get(f"{base}/products").status_code in (302, 303)


def test_storefront_pages(app, console):
    client = app.test_client()
    food = console.category("坚果")
    sub = console.category("山核桃", food)
    specs = [{"name": "规格", "values": ["120g", "250g"]}]
    product = console.product(
        "临安山核桃仁",
        category_id=sub,
        specs=specs,
        skus=[
            {"spec_values": {"规格": "120g"}, "price": 3990, "stock": 0},
            {"spec_values": {"规格": "250g"}, "price": 6990, "stock": 8},
        ],
        description_html='<p>香脆<a href="https://x.example">源</a></p>',
    )
    console.client.post(
        f"{console.api}/products/{product['id']}/images",
        headers=console.headers,
        data={"image": [(io.BytesIO(png_bytes((640, 480))), "a.png")]},
        content_type="multipart/form-data",
    )
    console.product("下架的", status="off_shelf")
    prefix = console.shop.prefix

    home = _html(client.get(f"{prefix}/"))
    assert "临安山核桃仁" in home and "下架的" not in home and 'id="licence"' in home
    assert re.search(r'<img src="[^"]+_320\.png" alt="" width="320" height="240" loading="lazy"', home)
    assert "39.90" in home

    category = client.get(f"{prefix}/category/{food}")
    assert category.status_code == 200 and "临安山核桃仁" in _html(category)  # from a subcategory
    assert client.get(f"{prefix}/category/999999").status_code == 404

    results = client.get(f"{prefix}/search", query_string={"q": "山核桃", "min_price": "39.9"})
    assert results.status_code == 200 and "临安山核桃仁" in _html(results)
    assert "临安山核桃仁" not in _html(
        client.get(f"{prefix}/search", query_string={"q": "山核桃", "min_price": "39.91"})
    )
    assert client.get(f"{prefix}/search", query_string={"sort": "evil"}).status_code == 400
    assert client.get(f"{prefix}/search", query_string={"min_price": "1.234"}).status_code == 400
    xss = _html(client.get(f"{prefix}/search", query_string={"q": "<script>alert(1)</script>"}))
    assert "<script>alert(1)" not in xss

    detail = client.get(f"{prefix}/products/{product['id']}")
    html = _html(detail)
    assert detail.status_code == 200 and "临安山核桃仁" in html
    assert 'rel="noopener noreferrer"' in html and "香脆" in html
    assert re.search(r'<img src="[^"]+\.png" alt="[^"]*" width="640" height="480"', html)
    sold_out, available = (s for s in sorted(product["skus"], key=lambda s: s["price"]))
    has_cart = "storefront.add_to_cart" in app.view_functions
    if has_cart:
        assert re.search(rf'name="sku_id" value="{sold_out["id"]}" disabled', html)
        assert re.search(rf'name="sku_id" value="{available["id"]}" checked', html)
        assert 'name="quantity"' in html and 'name="csrf_token"' in html
    else:
        assert "<form" not in html.split('id="product"')[1].split("</article>")[0]
        assert f'data-sku-id="{sold_out["id"]}"' in html and f'data-sku-id="{available["id"]}"' in html
    assert "69.90" in html


def test_storefront_hides_off_shelf_and_draft_products(app, console):
    client = app.test_client()
    off = console.product("下架", status="off_shelf")
    draft = console.product("草稿", status="draft")
    on = console.product("在售")
    assert client.get(f"{console.shop.prefix}/products/{off['id']}").status_code == 404
    assert client.get(f"{console.shop.prefix}/products/{draft['id']}").status_code == 404
    assert client.get(f"{console.shop.prefix}/products/{on['id']}").status_code == 200
    console.patch(f"/products/{on['id']}", {"status": "off_shelf"})
    assert client.get(f"{console.shop.prefix}/products/{on['id']}").status_code == 404


def test_pending_store_shows_no_catalogue(app):
    shop = make_store(app, approved=False)
    client = app.test_client()
    assert client.get(f"{shop.prefix}/search").status_code == 503
    assert client.get(f"{shop.prefix}/api/products").status_code == 503


def test_sku_picker_posts_to_the_cart_when_there_is_one(tmp_path_factory):
    """With a ``storefront.add_to_cart`` endpoint, the product page is a no-JavaScript form:
    one radio per SKU (sold-out ones disabled), a quantity, the CSRF token."""
    from mallow.testing import build_app, make_admin, merchant_token

    app = build_app(tmp_path_factory, "sqlite")
    make_admin(app)
    if "storefront.add_to_cart" not in app.view_functions:
        app.add_url_rule(
            "/s/<store_slug>/cart/add", endpoint="storefront.add_to_cart", view_func=lambda: ("", 204), methods=["POST"]
        )
    shop = make_store(app)
    client = app.test_client()
    token = merchant_token(client, shop)
    specs = [{"name": "规格", "values": ["小", "大"]}]
    made = client.post(
        f"{shop.prefix}/api/console/products",
        headers={"Authorization": f"Bearer {token}"},
        json={
            "title": "礼盒",
            "status": "on_shelf",
            "specs": specs,
            "skus": [
                {"spec_values": {"规格": "小"}, "price": 100, "stock": 0},
                {"spec_values": {"规格": "大"}, "price": 200, "stock": 3},
            ],
        },
    ).get_json()
    small, large = sorted(made["skus"], key=lambda s: s["price"])
    html = _html(client.get(f"{shop.prefix}/products/{made['id']}"))
    form = html.split('id="add-to-cart"')[1].split("</form>")[0]
    assert 'name="csrf_token"' in form and 'name="quantity"' in form
    assert re.search(rf'name="sku_id" value="{small["id"]}" disabled', form)
    assert re.search(rf'name="sku_id" value="{large["id"]}" checked', form)
    with app.app_context():
        from mallow.db import db

        app.extensions["mallow.store_engines"].dispose()
        db.engine.dispose()
