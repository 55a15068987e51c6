"""The checkout's 积分 row (test client, both backends): the balance and what this order may use,
the switch that prices the page again (the receipt's own 积分抵扣 line, the total lower), the
order placed with exactly the points the page priced (the order page keeps the line, the ledger
the debit with its order), and a balance spent in between refuses the order without writing it."""

from __future__ import annotations

import re

import sqlalchemy as sa

from mallow.testing import make_store, post_form, register_shopper

from .conftest import balance, customer_id, grant, hidden, html, in_store, set_program, shop_with_product, tr

NEW_ADDRESS = {
    "address_id": "new",
    "recipient": "王五",
    "phone": "13700001111",
    "province": "浙江省",
    "city": "杭州市",
    "district": "余杭区",
    "detail": "文一西路 969 号",
}


def _total(page: str) -> int:
    return int(re.search(r'id="receipt" data-total="(-?\d+)"', page).group(1))


def _points_line(page: str) -> list[str]:
    return re.findall(
        r'<tr class="receipt-adjustment" data-stage="points"[^>]*>\s*<th scope="row">([^<]*)</th>\s*<td[^>]*data-amount="(-?\d+)"',
        page,
    )


def _buyer(app, shop, sku, quantity=1):
    client = app.test_client()
    login = register_shopper(client, shop)
    product = in_store(app, shop, lambda: _product_of(sku))
    added = post_form(
        client,
        f"{shop.prefix}/cart/items",
        {"sku_id": sku, "quantity": quantity},
        form_path=f"{shop.prefix}/products/{product}",
    )
    assert added.status_code == 303
    return client, customer_id(app, shop, login)


def _product_of(sku_id):
    from mallow.catalog.models import Sku
    from mallow.db import db

    return db.session.get(Sku, sku_id).product_id


def test_no_programme_no_row_and_no_points_no_row(app):
    shop, sku = shop_with_product(app)
    client, cid = _buyer(app, shop, sku)
    grant_later = html(client.get(f"{shop.prefix}/checkout"))
    assert 'id="points-row"' not in grant_later and 'name="points"' not in grant_later
    set_program(app, shop)
    assert 'id="points-row"' not in html(client.get(f"{shop.prefix}/checkout"))  # on, but no points yet
    grant(app, shop, cid, 500)
    assert 'id="points-row"' in html(client.get(f"{shop.prefix}/checkout"))
    set_program(app, shop, enabled=False)
    assert 'id="points-row"' not in html(client.get(f"{shop.prefix}/checkout?points=max"))


def test_switching_points_on_prices_the_page_and_the_order_keeps_the_line(app):
    shop, sku = shop_with_product(app, price=6000)
    set_program(app, shop, points_per_yuan=100, redeem_cap_percent=50)
    client, cid = _buyer(app, shop, sku)
    grant(app, shop, cid, 5000, "新会员礼")

    page = html(client.get(f"{shop.prefix}/checkout"))
    off_total = _total(page)
    row = re.search(r'<div class="cp-row pt-row" id="points-row"[^>]*>', page).group(0)
    assert 'data-balance="5000"' in row and 'data-max-points="3000"' in row and 'data-used="0"' in row
    assert tr(app, "%(points)s points usable, %(amount)s off", points=3000, amount="¥30.00") in page
    assert re.search(r'name="choose_points" value="max"[^>]*role="switch" aria-checked="false"', page)
    assert hidden(page)["points"] == "none" and _points_line(page) == []

    on = client.post(f"{shop.prefix}/checkout", data=hidden(page) | {"choose_points": "max"})
    assert on.status_code == 200
    on_page = html(on)
    assert _total(on_page) == off_total - 3000
    [(label, amount)] = _points_line(on_page)
    assert amount == "-3000" and "3000" in label
    assert hidden(on_page)["points"] == "3000"
    assert re.search(r'name="choose_points" value="none"[^>]*aria-checked="true"', on_page)
    assert tr(app, "Using %(points)s points, %(amount)s off", points=3000, amount="¥30.00") in on_page

    # and off again; then on by the query string
    off = html(client.post(f"{shop.prefix}/checkout", data=hidden(on_page) | {"choose_points": "none"}))
    assert _total(off) == off_total and hidden(off)["points"] == "none"
    assert _total(html(client.get(f"{shop.prefix}/checkout?points=max"))) == off_total - 3000

    placed = client.post(f"{shop.prefix}/checkout", data=hidden(on_page) | NEW_ADDRESS | {"action": "place"})
    assert placed.status_code == 303, html(placed)[:600]
    order_id = int(re.search(r"/orders/(\d+)", placed.headers["Location"]).group(1))
    assert balance(app, shop, cid) == 2000
    order_page = html(client.get(f"{shop.prefix}/orders/{order_id}"))
    [(label, amount)] = _points_line(order_page)
    assert amount == "-3000"

    ledger = html(client.get(f"{shop.prefix}/account/points"))
    first = re.search(r'<li data-entry-id="\d+" data-kind="redeem" data-points="-3000">(.*?)</li>', ledger, re.S)
    assert first is not None and f'href="{shop.prefix}/orders/{order_id}"' in first.group(1)


def test_points_spent_in_between_refuse_the_order_and_nothing_is_written(app):
    from mallow.db import db
    from mallow.membership import service
    from mallow.orders.models import Order

    shop, sku = shop_with_product(app, price=6000)
    set_program(app, shop, points_per_yuan=100, redeem_cap_percent=50)
    client, cid = _buyer(app, shop, sku)
    grant(app, shop, cid, 5000)
    priced = html(
        client.post(
            f"{shop.prefix}/checkout",
            data=hidden(html(client.get(f"{shop.prefix}/checkout"))) | {"choose_points": "max"},
        )
    )
    assert hidden(priced)["points"] == "3000"

    in_store(app, shop, lambda: service.grant(cid, -4000, "adjust", "过期清理"))  # 1000 left
    refused = client.post(f"{shop.prefix}/checkout", data=hidden(priced) | NEW_ADDRESS | {"action": "place"})
    assert refused.status_code in (409, 422)
    assert 'id="points-row"' in html(refused)
    assert balance(app, shop, cid) == 1000
    assert in_store(app, shop, lambda: db.session.execute(sa.select(sa.func.count(Order.id))).scalar()) == 0

    # priced again, the page offers what is left
    again = html(client.get(f"{shop.prefix}/checkout?points=max"))
    assert hidden(again)["points"] == "1000" and _points_line(again)[0][1] == "-1000"


def test_another_store_sees_none_of_the_points(app):
    shop, sku = shop_with_product(app)
    set_program(app, shop)
    client, cid = _buyer(app, shop, sku)
    grant(app, shop, cid, 900)
    other = make_store(app)
    set_program(app, other)
    register_shopper(client, other)  # the same browser, a shopper of the other store
    assert 'data-points="0"' in html(client.get(f"{other.prefix}/account/member"))
    assert 'data-points="900"' in html(client.get(f"{shop.prefix}/account/member"))
