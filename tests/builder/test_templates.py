"""The product-detail and category templates: built in the editor like any page, shown on the
storefront's product and category pages once published (else the fixed pages), with the real
product / category, a working add-to-cart form, filters, sorts and pages."""

from __future__ import annotations

import io
import json
import re

import pytest
from mallow.testing import login_merchant, png_bytes, post_form

SPECS = [{"name": "规格", "values": ["120g", "250g"]}]


def _order(html: str) -> list[str]:
    return re.findall(r'data-block-id="([^"]+)"', html)


def _section(html: str, block_id: str) -> str:
    """The page from block ``block_id`` up to the next block."""
    start = html.index(f'data-block-id="{block_id}"')
    following = html.find('data-block-id="', start + 1)
    return html[start : following if following > 0 else None]


def _cart(client, shop) -> dict[int, int]:
    page = client.get(f"{shop.prefix}/cart").get_data(as_text=True)
    found = {}
    for sku_id, line in re.findall(r'<li class="cart-line[^"]*" data-sku-id="(\d+)">(.*?)</li>', page, re.DOTALL):
        quantity = re.search(r'name="quantity" value="(\d+)"', line)
        found[int(sku_id)] = int(quantity.group(1)) if quantity else None
    return found


@pytest.fixture
def nuts(builder) -> dict:
    """An on-shelf product with two options (the cheaper one sold out), a photo, a category."""
    response = builder.client.post(f"{builder.api}/categories", json={"name": "坚果"}, headers=builder.headers)
    category = response.get_json()
    made = builder.product(
        "临安山核桃仁",
        category_id=category["id"],
        specs=SPECS,
        subtitle="手剥",
        description_html="<p>香脆可口</p>",
        skus=[
            {"spec_values": {"规格": "120g"}, "price": 3990, "stock": 0},
            {"spec_values": {"规格": "250g"}, "price": 6990, "market_price": 7900, "stock": 8},
        ],
    )
    uploaded = builder.client.post(
        f"{builder.api}/products/{made['id']}/images",
        headers=builder.headers,
        data={"image": [(io.BytesIO(png_bytes((640, 480))), "a.png")]},
        content_type="multipart/form-data",
    )
    assert uploaded.status_code in (200, 201), uploaded.get_json()
    made["category"] = category
    made["sold_out"], made["available"] = sorted(made["skus"], key=lambda s: s["price"])
    return made


def _page(builder, ref) -> dict:
    return builder.client.get(f"{builder.api}/pages/{ref}", headers=builder.headers).get_json()


def _editor(app, builder, page_id):
    """A signed-in console client and the data the editor starts from."""
    console = app.test_client()
    login_merchant(console, builder.shop)
    html = console.get(f"{builder.shop.prefix}/console/pages/{page_id}/edit").get_data(as_text=True)
    data = json.loads(re.search(r'<script type="application/json" id="pe-data">(.*?)</script>', html, re.S).group(1))
    return console, data


def _preview(console, data, **body):
    return console.post(data["urls"]["preview"], json=body, headers={"X-CSRFToken": data["csrf"]})


def test_the_page_list_offers_both_templates_and_their_drafts_reproduce_the_fixed_pages(app, builder, nuts):
    pages = builder.client.get(f"{builder.api}/pages", headers=builder.headers).get_json()["items"]
    assert [p["kind"] for p in pages] == ["home", "product", "category"]
    assert all(p["published_version_id"] is None for p in pages)
    product, category = _page(builder, "product"), _page(builder, "category")
    assert [s["type"] for s in product["document"]["sections"].values()] == ["product_detail"]
    assert [category["document"]["sections"][i]["type"] for i in category["document"]["order"]] == [
        "search_bar",
        "category_products",
    ]
    console = app.test_client()
    login_merchant(console, builder.shop)
    listed = console.get(f"{builder.shop.prefix}/console/pages/").get_data(as_text=True)
    for page in (product, category):
        assert f'data-kind="{page["kind"]}"' in listed and f"/console/pages/{page['id']}/edit" in listed

    # unpublished: the fixed pages
    fixed = builder.client.get(f"{builder.shop.prefix}/products/{nuts['id']}").get_data(as_text=True)
    assert "mp-theme-" not in fixed and 'id="add-to-cart"' in fixed and "临安山核桃仁" in fixed
    fixed_list = builder.client.get(f"{builder.shop.prefix}/category/{nuts['category']['id']}").get_data(as_text=True)
    assert "mp-theme-" not in fixed_list and f'data-product-id="{nuts["id"]}"' in fixed_list

    # published without edits: the same product page content, drawn through the theme
    builder.publish("product")
    built = builder.client.get(f"{builder.shop.prefix}/products/{nuts['id']}").get_data(as_text=True)
    assert "mp-theme-default" in built and _order(built) == ["product"]

    def content(html):
        article = html[html.index('<article class="card" id="product"') : html.index('id="description"')]
        return re.sub(r'name="csrf_token" value="[^"]+"', "", re.sub(r"\s+", " ", article))

    assert content(built) == content(fixed)


def test_a_published_product_template_shows_the_product_and_sells_it(app, builder, nuts):
    builder.save_and_publish(
        builder.doc(
            ("notice", "notice_bar", {"text": "满99包邮"}),
            ("detail", "product_detail", {}),
            ("more", "rich_text", {"html": "<p>售后无忧</p>"}),
        ),
        page="product",
    )
    shopper = app.test_client()
    response = shopper.get(f"{builder.shop.prefix}/products/{nuts['id']}")
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and _order(html) == ["notice", "detail", "more"]
    assert "<title>临安山核桃仁 · " in html and "满99包邮" in html and "售后无忧" in html
    detail = _section(html, "detail")
    assert "<h1>临安山核桃仁</h1>" in detail and "手剥" in detail and "香脆可口" in detail
    assert re.search(r'<img src="[^"]+\.png" alt="临安山核桃仁 1" width="640" height="480"', detail)
    assert f"/category/{nuts['category']['id']}" in detail and "坚果" in detail
    assert "39.90" in detail and "69.90" in detail and "¥79.00" in detail  # fen shown as yuan
    assert re.search(rf'name="sku_id" value="{nuts["sold_out"]["id"]}" disabled', detail)
    assert re.search(rf'name="sku_id" value="{nuts["available"]["id"]}" checked', detail)
    # no script but the storefront's own scripts (product, share sheet, view beacon: static files) and its JSON data
    assert all(
        'src="/static/storefront/product.js' in tag
        or 'src="/static/storefront/share-sheet.js' in tag
        or 'src="/static/storefront/analytics.js' in tag
        or 'type="application/json"' in tag
        for tag in re.findall(r"<script[^>]*>", html)
    )

    # the add-to-cart form works, for every shopper, although the page is cached
    assert (
        post_form(
            shopper,
            f"{builder.shop.prefix}/cart/items",
            {"sku_id": nuts["available"]["id"], "quantity": 2},
            form_path=f"{builder.shop.prefix}/products/{nuts['id']}",
        ).status_code
        == 303
    )
    assert _cart(shopper, builder.shop) == {nuts["available"]["id"]: 2}
    other = app.test_client()
    other_html = other.get(f"{builder.shop.prefix}/products/{nuts['id']}").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', _section(other_html, "detail")).group(1)
    assert token not in html  # each shopper's own CSRF token, never the cached one
    added = other.post(
        f"{builder.shop.prefix}/cart/items",
        data={"sku_id": nuts["available"]["id"], "quantity": 1, "csrf_token": token},
    )
    assert added.status_code == 303 and _cart(other, builder.shop) == {nuts["available"]["id"]: 1}

    # off the shelf or unknown: still not found
    builder.client.patch(f"{builder.api}/products/{nuts['id']}", json={"status": "off_shelf"}, headers=builder.headers)
    assert shopper.get(f"{builder.shop.prefix}/products/{nuts['id']}").status_code == 404
    assert shopper.get(f"{builder.shop.prefix}/products/999999").status_code == 404


def test_product_template_versions_roll_back(app, builder, nuts):
    first = builder.save_and_publish(
        builder.doc(("a", "notice_bar", {"text": "模板一"}), ("p", "product_detail", {})), page="product"
    )
    builder.save_and_publish(
        builder.doc(("p", "product_detail", {"show_description": False}), ("b", "notice_bar", {"text": "模板二"})),
        page="product",
    )
    path = f"{builder.shop.prefix}/products/{nuts['id']}"
    html = builder.client.get(path).get_data(as_text=True)
    assert _order(html) == ["p", "b"] and "模板二" in html and "香脆可口" not in html
    rolled = builder.client.post(
        f"{builder.api}/pages/product/rollback", json={"version_id": first["id"]}, headers=builder.headers
    )
    assert rolled.status_code == 200
    html = builder.client.get(path).get_data(as_text=True)
    assert _order(html) == ["a", "p"] and "模板一" in html and "模板二" not in html and "香脆可口" in html


def test_current_product_and_category_blocks_only_go_on_their_templates(app, builder, nuts):
    refused = builder.save(builder.doc(("p", "product_detail", {})))
    assert refused.status_code == 422
    error = refused.get_json()["fields"]["/sections/p/type"]
    assert error["code"] == "wrong_page" and ("商品详情" in error["message"] or "Product page" in error["message"])
    wrong = builder.save(builder.doc(("c", "category_products", {})), page="product")
    assert wrong.status_code == 422 and wrong.get_json()["fields"]["/sections/c/type"]["code"] == "wrong_page"
    assert (
        builder.save(builder.doc(("n", "notice_bar", {}), ("c", "category_products", {})), page="category").status_code
        == 200
    )

    # the editor's palette offers them only there
    home_id, product_id = _page(builder, "home")["id"], _page(builder, "product")["id"]
    _console, home = _editor(app, builder, home_id)
    _console, template = _editor(app, builder, product_id)
    assert "product_detail" not in {t["type"] for t in home["types"]}
    assert {"product_detail", "notice_bar"} <= {t["type"] for t in template["types"]}
    assert "category_products" not in {t["type"] for t in template["types"]}


def test_the_product_page_follows_catalogue_changes_and_live_stock(app, builder, nuts):
    from mallow.db import db
    from mallow.inventory import stock
    from mallow.tenants.context import store_context

    builder.save_and_publish(builder.doc(("p", "product_detail", {})), page="product")
    path = f"{builder.shop.prefix}/products/{nuts['id']}"
    cache = app.extensions["mallow.page_cache"]
    assert "临安山核桃仁" in builder.client.get(path).get_data(as_text=True)
    hits = cache.hits
    assert "临安山核桃仁" in builder.client.get(path).get_data(as_text=True)
    assert cache.hits == hits + 1 or app.test_client().get(path).headers.get("X-Mallow-Cache") == "hit"

    # stock taken the way checkout takes it (one conditional UPDATE, no catalogue write): the warm
    # page shows the option as sold out at once, for a new visitor too
    with store_context(builder.shop.store_id, app=app):
        stock.reserve([(nuts["available"]["id"], 8)], order_id=None)
        db.session.commit()
    html = app.test_client().get(path).get_data(as_text=True)
    assert re.search(rf'name="sku_id" value="{nuts["available"]["id"]}" disabled', html)
    assert re.search(r'<button type="submit" disabled>', html)

    renamed = builder.client.patch(
        f"{builder.api}/products/{nuts['id']}", json={"title": "新名字山核桃"}, headers=builder.headers
    )
    assert renamed.status_code == 200
    html = builder.client.get(path).get_data(as_text=True)
    assert "<h1>新名字山核桃</h1>" in html and "临安山核桃仁" not in html


def test_a_published_category_template_lists_filters_sorts_and_pages(app, builder):
    made = builder.client.post(f"{builder.api}/categories", json={"name": "茶叶"}, headers=builder.headers).get_json()
    sub = builder.client.post(
        f"{builder.api}/categories", json={"name": "绿茶", "parent_id": made["id"]}, headers=builder.headers
    ).get_json()
    ids = {
        price: builder.product(f"茶{price}", price=price, category_id=sub["id"])["id"] for price in (3000, 1000, 2000)
    }
    builder.product("别的商品", price=500)
    document = _page(builder, "category")["document"]
    document["sections"]["top"] = {"type": "notice_bar", "settings": {"text": "新茶上市"}}
    document["order"].insert(0, "top")
    builder.save_and_publish(document, page="category")
    path = f"{builder.shop.prefix}/category/{made['id']}"

    html = builder.client.get(path, query_string={"sort": "price_asc"}).get_data(as_text=True)
    assert _order(html) == ["top", "search", "products"] and "新茶上市" in html and "<title>茶叶 · " in html
    listing = _section(html, "products")
    assert "<h1>茶叶</h1>" in listing and f"/category/{sub['id']}" in listing  # the subcategory chip
    assert [int(i) for i in re.findall(r'data-product-id="(\d+)"', listing)] == [ids[1000], ids[2000], ids[3000]]
    assert "10.00" in listing and "别的商品" not in listing
    assert '<option value="price_asc" selected>' in listing

    filtered = builder.client.get(path, query_string={"min_price": "15", "sort": "price_desc"}).get_data(as_text=True)
    assert [int(i) for i in re.findall(r'data-product-id="(\d+)"', _section(filtered, "products"))] == [
        ids[3000],
        ids[2000],
    ]
    assert 'name="min_price" inputmode="decimal" value="15"' in filtered

    paged = builder.client.get(path, query_string={"sort": "price_asc", "per_page": "2", "page": "2"})
    paged_html = paged.get_data(as_text=True)
    assert [int(i) for i in re.findall(r'data-product-id="(\d+)"', _section(paged_html, "products"))] == [ids[3000]]
    assert re.search(rf'<a href="[^"]*/category/{made["id"]}\?[^"]*page=1[^"]*" rel="prev">', paged_html)

    bad = builder.client.get(path, query_string={"min_price": "1.234"})
    assert bad.status_code == 400 and 'data-field="min_price"' in bad.get_data(as_text=True)
    assert builder.client.get(f"{builder.shop.prefix}/category/999999").status_code == 404


def test_the_editor_previews_the_templates_with_a_real_product_and_category(app, builder, nuts):
    console, data = _editor(app, builder, _page(builder, "product")["id"])
    preview = _preview(console, data, document=builder.doc(("p", "product_detail", {})))
    assert preview.status_code == 200
    body = preview.get_json()
    [block] = body["blocks"]
    assert "临安山核桃仁" in block["html"] and "69.90" in block["html"] and 'name="sku_id"' in block["html"]
    assert "临安山核桃仁" in body["sample"]["text"]

    console, data = _editor(app, builder, _page(builder, "category")["id"])
    body = _preview(console, data, document=builder.doc(("c", "category_products", {}))).get_json()
    assert "坚果" in body["blocks"][0]["html"] and f'data-product-id="{nuts["id"]}"' in body["blocks"][0]["html"]
    refused = _preview(console, data, document=builder.doc(("p", "product_detail", {})))
    assert refused.status_code == 422 and refused.get_json()["fields"]["/sections/p/type"]["code"] == "wrong_page"


def test_theme_settings_preview_live_and_each_theme_keeps_its_saved_settings(app, builder):
    builder.save(builder.doc(("n", "notice_bar", {"text": "换主题"})))
    console, data = _editor(app, builder, _page(builder, "home")["id"])
    live = _preview(console, data, theme="promo", theme_settings={"primary": "#123456"}).get_json()
    assert live["theme"] == "promo" and "--mp-primary:#123456" in live["style"]
    assert any(
        url.endswith("/theme/promo/theme.css") or "/theme/promo/theme.css?" in url for url in live["stylesheets"]
    )
    refused = _preview(console, data, theme="promo", theme_settings={"radius": 99})
    assert refused.status_code == 422 and "/settings/radius" in refused.get_json()["fields"]

    theme = data["urls"]["theme"]
    headers = {"X-CSRFToken": data["csrf"]}
    assert (
        console.put(theme, json={"theme": "promo", "settings": {"primary": "#111111"}}, headers=headers).status_code
        == 200
    )
    bad = console.put(theme, json={"theme": "default", "settings": {"radius": 99}}, headers=headers)
    assert bad.status_code == 422 and bad.get_json()["fields"]["/settings/radius"]["code"] == "out_of_range"
    assert (
        console.put(theme, json={"theme": "default", "settings": {"primary": "#222222"}}, headers=headers).status_code
        == 200
    )

    # the editor knows every theme's saved settings: switching to promo starts from #111111
    _console, again = _editor(app, builder, _page(builder, "home")["id"])
    saved = {t["name"]: t["saved"] for t in again["themes"]}
    assert again["theme"]["name"] == "default" and saved["default"]["primary"] == "#222222"
    assert saved["promo"]["primary"] == "#111111" and saved["promo"]["accent"] == "#ffd60a"  # defaults filled in


def test_page_kind_templates_fall_back_to_the_default_theme(app, builder, nuts, tmp_path):
    from mallow.builder.themes import BUNDLED, ThemeSet

    builder.client.put(f"{builder.api}/theme", json={"theme": "promo"}, headers=builder.headers)
    builder.save_and_publish(builder.doc(("p", "product_detail", {})), page="product")
    html = builder.client.get(f"{builder.shop.prefix}/products/{nuts['id']}").get_data(as_text=True)
    assert "mp-theme-promo mp-kind-product" in html and ".gallery{" in html  # default's pages/product.html
    assert "/theme/promo/theme.css" in html

    # a theme with only its own page.html: the product kind still gets the catalogue styles,
    # around that theme's page
    root = tmp_path / "plain"
    (root / "templates" / "pages").mkdir(parents=True)
    (root / "theme.json").write_text(json.dumps({"name": "plain", "version": "1"}))
    (root / "templates" / "pages" / "page.html").write_text('<div class="plain-page">{{ blocks|join }}</div>')
    env = ThemeSet([BUNDLED, tmp_path]).environment("plain")
    with app.test_request_context():
        page = env.select_template(["pages/product.html", "pages/page.html"]).render(blocks=["<i>x</i>"])
    assert '<div class="plain-page">' in page and ".gallery{" in page
