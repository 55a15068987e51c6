"""The shopper's pages: the sale list and page with a server-rendered countdown, the sold-out
state, the buy button for a signed-in shopper, the static script; CSP-clean (no inline script)."""

from __future__ import annotations

import re
import time
from datetime import timedelta

from mallow.testing import PASSWORD, bearer, post_form, register_shopper

from .conftest import buy, create_sale, enabled_store, make_shoppers, now, product


def test_preheat_shows_the_countdown_from_the_server(fs_app):
    shop = enabled_store(fs_app)
    sku = product(fs_app, shop, title="山核桃")
    sale = create_sale(
        fs_app,
        shop,
        [{"sku_id": sku, "sale_price": 500, "quota": 5}],
        title="晚八点秒杀",
        starts=now() + timedelta(hours=2),
        ends=now() + timedelta(hours=3),
        preheat=now() - timedelta(minutes=1),
    )
    hidden = create_sale(
        fs_app,
        shop,
        [{"sku_id": sku, "sale_price": 500, "quota": 5}],
        title="明天的秒杀",
        starts=now() + timedelta(days=1),
        ends=now() + timedelta(days=1, hours=1),
        preheat=now() + timedelta(hours=20),
    )
    client = fs_app.test_client()
    listing = client.get(f"{shop.prefix}/x/flashsale/")
    assert listing.status_code == 200
    text = listing.get_data(as_text=True)
    assert "晚八点秒杀" in text and "明天的秒杀" not in text
    page = client.get(f"{shop.prefix}/x/flashsale/{sale['id']}")
    html = page.get_data(as_text=True)
    seconds = int(re.search(r'data-fs-deadline="(\d+)"', html).group(1)) - time.time()
    assert 7190 <= seconds <= 7200
    assert re.search(r'<time class="fs-clock">0[12]:5\d:\d\d</time>', html)
    assert 'data-state="preheat"' in html and "山核桃" in html and 'action="' not in html.split("fs-items")[1]
    assert client.get(f"{shop.prefix}/x/flashsale/{hidden['id']}").status_code == 404
    # no inline script: the countdown is a static file of the plugin (CSP script-src 'self')
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    assert all(tag.startswith("<script src=") for tag in re.findall(r"<script[^>]*>", html))
    script = client.get(f"{shop.prefix}/x/flashsale/static/countdown.js")
    assert script.status_code == 200 and "javascript" in script.mimetype
    api = client.get(f"{shop.prefix}/api/x/flashsale/sales/{sale['id']}").get_json()
    assert api["state"] == "preheat" and 7190 <= api["seconds_left"] <= 7200


def test_sold_out_state_on_the_page(fs_app):
    shop = enabled_store(fs_app)
    sku = product(fs_app, shop)
    sale = create_sale(fs_app, shop, [{"sku_id": sku, "sale_price": 500, "quota": 1}])
    [(token, address, _c)] = make_shoppers(fs_app, shop, 1)
    client = fs_app.test_client()
    assert 'id="fs-soldout"' not in client.get(f"{shop.prefix}/x/flashsale/{sale['id']}").get_data(as_text=True)
    assert buy(client, shop, sale["id"], token, address, sku).status_code == 201
    html = client.get(f"{shop.prefix}/x/flashsale/{sale['id']}").get_data(as_text=True)
    assert 'id="fs-soldout"' in html and 'data-state="live"' in html
    assert client.get(f"{shop.prefix}/api/x/flashsale/sales/{sale['id']}").get_json()["sold_out"] is True


def test_a_signed_in_shopper_buys_from_the_page(fs_app):
    shop = enabled_store(fs_app)
    sku = product(fs_app, shop, price=2000)
    sale = create_sale(fs_app, shop, [{"sku_id": sku, "sale_price": 1200, "quota": 3}])
    client = fs_app.test_client()
    login = register_shopper(client, shop)
    page = f"{shop.prefix}/x/flashsale/{sale['id']}"
    assert "action=" not in client.get(page).get_data(as_text=True).split("fs-items")[1]  # no address yet
    token = client.post(f"{shop.prefix}/api/tokens", json={"login": login, "password": PASSWORD}).get_json()["token"]
    client.post(
        f"{shop.prefix}/api/addresses",
        headers=bearer(token),
        json={
            "recipient": "赵六",
            "phone": "13712345678",
            "province": "江苏省",
            "city": "南京市",
            "detail": "中山路 1 号",
        },
    )
    html = client.get(page).get_data(as_text=True)
    address_id = re.search(r'<option value="(\d+)"[^>]*>赵六', html).group(1)
    attempt = re.search(r'name="attempt" value="([0-9a-f]+)"', html).group(1)
    placed = post_form(
        client, f"{page}/buy", {"sku_id": str(sku), "address_id": address_id, "attempt": attempt}, form_path=page
    )
    assert placed.status_code == 201, placed.get_data(as_text=True)[:1000]
    assert 'id="fs-placed"' in placed.get_data(as_text=True)
    # a double click sends the same attempt: the same order, nothing more taken
    again = post_form(
        client, f"{page}/buy", {"sku_id": str(sku), "address_id": address_id, "attempt": attempt}, form_path=page
    )
    assert again.status_code == 200
    orders = client.get(f"{shop.prefix}/api/orders", headers=bearer(token)).get_json()["items"]
    assert len(orders) == 1 and orders[0]["total"] == 1200
    # refused attempts come back to the page with the reason
    refused = post_form(client, f"{page}/buy", {"sku_id": str(sku), "address_id": address_id}, form_path=page)
    assert refused.status_code == 409 and 'id="fs-error"' in refused.get_data(as_text=True)


def test_the_product_page_and_the_console_menu_point_to_the_sale(fs_app):
    from mallow.catalog.models import Sku
    from mallow.db import db
    from mallow.testing import login_merchant

    from .conftest import in_store

    shop = enabled_store(fs_app)
    sku = product(fs_app, shop, price=3000)
    sale = create_sale(fs_app, shop, [{"sku_id": sku, "sale_price": 1500, "quota": 5}])
    product_id = in_store(fs_app, shop, lambda: db.session.get(Sku, sku).product_id)
    client = fs_app.test_client()
    html = client.get(f"{shop.prefix}/products/{product_id}").get_data(as_text=True)
    assert f'href="{shop.prefix}/x/flashsale/{sale["id"]}"' in html and "¥15.00" in html
    login_merchant(client, shop)
    console = client.get(f"{shop.prefix}/console/").get_data(as_text=True)
    assert f'href="{shop.prefix}/console/x/flashsale/"' in console and "限时秒杀" in console


def test_the_sale_page_guides_the_shopper_back_and_shows_options_by_their_names(fs_app):
    """Signed out: sign in or sign up, and come back to the sale; signed in without an address:
    add one and come back. Options read as their values (``200g``), never a spec key."""
    from urllib.parse import parse_qs, urlsplit

    from mallow.testing import make_product

    shop = enabled_store(fs_app)
    [sku] = make_product(
        fs_app,
        shop,
        title="碧根果",
        price=2500,
        skus=[{"spec_key": "规格:200g", "spec_values": {"规格": "200g"}, "price": 2500, "stock": 9}],
    )
    sale = create_sale(fs_app, shop, [{"sku_id": sku, "sale_price": 1990, "quota": 3}])
    page = f"{shop.prefix}/x/flashsale/{sale['id']}"
    client = fs_app.test_client()

    def next_of(html: str, element_id: str) -> str:
        href = re.search(rf'href="([^"]+)" id="{element_id}"', html).group(1).replace("&amp;", "&")
        return parse_qs(urlsplit(href).query)["next"][0]

    html = client.get(page).get_data(as_text=True)
    assert next_of(html, "fs-sign-in") == page and next_of(html, "fs-sign-up") == page
    assert "200g" in html and "规格:200g" not in html
    assert re.search(r'<link rel="stylesheet" href="[^"]*/x/flashsale/static/flashsale\.css\?v=\w+">', html)
    register_shopper(client, shop)
    html = client.get(page).get_data(as_text=True)
    assert 'id="address-first"' in html
    if "storefront.new_address" in fs_app.view_functions:
        assert next_of(html, "fs-add-address") == page
    # a refused attempt's page (after POST …/buy) still leads back to the sale, not to …/buy
    refused = post_form(
        client, f"{page}/buy", {"sku_id": str(sku), "address_id": "1"}, form_path=f"{shop.prefix}/account"
    )
    assert refused.status_code in (409, 422)
    if "storefront.new_address" in fs_app.view_functions:
        assert next_of(refused.get_data(as_text=True), "fs-add-address") == page
    assert fs_app.test_client().get(f"{shop.prefix}/x/flashsale/static/flashsale.css").status_code == 200


def test_the_product_page_ribbon_counts_down_a_live_sale(fs_app):
    from mallow.catalog.models import Sku
    from mallow.db import db

    from .conftest import in_store

    shop = enabled_store(fs_app)
    sku = product(fs_app, shop, price=3000)
    ends = now() + timedelta(hours=2)
    create_sale(fs_app, shop, [{"sku_id": sku, "sale_price": 1500, "quota": 5}], ends=ends)
    product_id = in_store(fs_app, shop, lambda: db.session.get(Sku, sku).product_id)
    html = fs_app.test_client().get(f"{shop.prefix}/products/{product_id}").get_data(as_text=True)
    ribbon = re.search(r'<a class="fs-ribbon".*?</a>', html, re.S).group(0)
    # an absolute end (the ribbon may be kept and served later: it must still count to the end)
    deadline = int(re.search(r'data-fs-deadline="(\d+)"', ribbon).group(1))
    assert "¥15.00" in ribbon and abs(deadline - ends.timestamp()) <= 1
    assert re.search(r'<time class="fs-clock">0[12]:5\d:\d\d</time>', ribbon)


def test_anonymous_visitors_get_the_sale_page_kept_a_few_seconds_while_it_is_live(fs_app, monkeypatch):
    """The sale page is the crowd's page: the front door keeps it for anonymous visitors (no Flask,
    no SQL) while the store's stamp holds, at most 5 s while the sale is live (units sold move no
    stamp; selling out does); a signed-in shopper always gets their own page with the buy form."""
    import mallow.edge.pages as edge_pages

    offset = {"s": 0.0}
    monkeypatch.setattr(
        edge_pages, "time", type("Clock", (), {"time": staticmethod(lambda: time.time() + offset["s"])})
    )
    shop = enabled_store(fs_app)
    sku = product(fs_app, shop)
    sale = create_sale(fs_app, shop, [{"sku_id": sku, "sale_price": 500, "quota": 3}])
    [(token, address, _c)] = make_shoppers(fs_app, shop, 1)
    page = f"{shop.prefix}/x/flashsale/{sale['id']}"
    visitor = fs_app.test_client()
    first = visitor.get(page)
    assert first.status_code == 200 and "X-Mallow-Cache" not in first.headers
    kept = visitor.get(page)
    assert kept.headers.get("X-Mallow-Cache") == "hit" and "已抢 0 / 3 件" in kept.get_data(as_text=True)
    assert kept.get_data() == first.get_data()

    # one unit sold (not the last): the kept page may say so up to 5 s late, then does
    assert buy(fs_app.test_client(), shop, sale["id"], token, address, sku).status_code == 201
    assert visitor.get(page).headers.get("X-Mallow-Cache") == "hit"
    offset["s"] = 6
    later = visitor.get(page)
    assert "X-Mallow-Cache" not in later.headers
    assert "已抢 1 / 3 件" in later.get_data(as_text=True)

    # a signed-in shopper is never served the kept page: their own, with the buy button
    shopper = fs_app.test_client()
    login = register_shopper(shopper, shop)
    assert login
    mine = shopper.get(page)
    assert "X-Mallow-Cache" not in mine.headers and "X-Mallow-Cache" not in shopper.get(page).headers
    # the clock ticks to an absolute deadline, so a kept page's countdown stays right
    deadline = int(re.search(r'data-fs-deadline="(\d+)"', kept.get_data(as_text=True)).group(1))
    assert abs(deadline - (time.time() + 3600)) < 120
