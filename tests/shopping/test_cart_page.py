"""The cart page as a phone shows it, without JavaScript: the stepper's − and + are submit buttons
of the line's form and the server works out the new quantity (never below 1, never above the
stock); lines that cannot be bought are grouped at the bottom with the reason, left out of the
total, 去结算(N) and checkout."""

from __future__ import annotations

import re

from mallow.testing import make_product, make_store, post_form, register_shopper


def _html(response) -> str:
    return response.get_data(as_text=True)


def _in_store(app, shop, fn):
    from mallow.tenants.context import store_context

    with store_context(shop.store_id, app=app):
        return fn()


def _add(client, shop, sku_id, quantity):
    """Add to the cart with the session's CSRF token (read from the sign-in page's form)."""
    return post_form(
        client, f"{shop.prefix}/cart/items", {"sku_id": sku_id, "quantity": quantity}, form_path=f"{shop.prefix}/login"
    )


def _lines(page: str) -> dict[int, str]:
    return {
        int(sku): body
        for sku, body in re.findall(r'<li class="cart-line[^"]*" data-sku-id="(\d+)">(.*?)</li>', page, re.DOTALL)
    }


def _quantity(client, shop, sku) -> int:
    line = _lines(_html(client.get(f"{shop.prefix}/cart")))[sku]
    return int(re.search(r'name="quantity" value="(\d+)"', line).group(1))


def test_the_stepper_posts_the_lines_form_and_the_server_counts(app):
    shop = make_store(app)
    [tea] = make_product(app, shop, title="龙井", price=1500, stock=4)
    client = app.test_client()
    assert _add(client, shop, tea, 2).status_code == 303
    cart = f"{shop.prefix}/cart"
    line = _lines(_html(client.get(cart)))[tea]
    # − [n] + are submit buttons of the line's own form, which posts to the line
    form = re.search(r'<form method="post" action="([^"]+)" class="qty-form">(.*?)</form>', line, re.DOTALL)
    assert form.group(1).endswith(f"/cart/items/{tea}")
    assert re.search(r'<button type="submit" name="action" value="dec"', form.group(2))
    assert re.search(r'<button type="submit" name="action" value="inc"', form.group(2))
    # the form's first button is the plain update: Enter in the field does not step
    assert re.findall(r'name="action" value="(\w+)"', form.group(2))[0] == "update"

    def step(action, quantity):
        return post_form(client, f"{cart}/items/{tea}", {"quantity": quantity, "action": action}, form_path=cart)

    assert step("inc", "2").status_code == 303 and _quantity(client, shop, tea) == 3
    assert step("dec", "3").status_code == 303 and _quantity(client, shop, tea) == 2
    assert step("inc", "abc").status_code == 303 and _quantity(client, shop, tea) == 3  # from the line
    step("dec", "2")
    step("dec", "1")
    assert _quantity(client, shop, tea) == 1  # never below 1: − does not remove
    assert 'value="dec" class="step" formnovalidate aria-label="减少一件" disabled' in _html(client.get(cart))

    # above the stock: the field's message, the quantity kept
    over = step("inc", "4")
    assert over.status_code == 422 and 'data-field="quantity"' in _html(over) and "仅剩 4 件" in _html(over)
    assert _quantity(client, shop, tea) == 1

    # the total and 去结算(N) follow
    step("update", "3")
    page = _html(client.get(cart))
    assert re.search(r'id="subtotal">¥45\.00<', page) and "去结算(3)" in page


def test_lines_that_cannot_be_bought_are_grouped_and_left_out(app):
    shop = make_store(app)
    [tea] = make_product(app, shop, title="龙井", price=1500, stock=10)
    [nuts] = make_product(app, shop, title="山核桃", price=2000, stock=10)
    [honey] = make_product(app, shop, title="蜂蜜", price=900, stock=10)
    [rice] = make_product(app, shop, title="大米", price=500, stock=10)
    client = app.test_client()
    register_shopper(client, shop)
    for sku in (honey, tea, rice, nuts):
        assert _add(client, shop, sku, 2).status_code == 303
    from mallow.catalog.models import Product, Sku
    from mallow.db import db

    def spoil():
        db.session.get(Product, db.session.get(Sku, honey).product_id).status = "off_shelf"
        db.session.get(Sku, rice).stock = 0
        db.session.commit()

    _in_store(app, shop, spoil)
    page = _html(client.get(f"{shop.prefix}/cart"))
    assert list(_lines(page)) == [tea, nuts, honey, rice]  # the buyable ones first
    buyable, rest = page.split('id="cart-unavailable"', 1)
    assert "龙井" in buyable and "山核桃" in buyable and "蜂蜜" not in buyable and "大米" not in buyable
    lines = _lines(page)
    assert "已下架" in lines[honey] and "已售罄" in lines[rice]
    assert 'name="quantity"' not in lines[honey] and 'value="remove"' in lines[honey]
    assert re.search(r'id="subtotal">¥70\.00<', page) and "去结算(4)" in page

    # checkout takes the buyable lines only
    checkout = _html(client.get(f"{shop.prefix}/checkout"))
    assert "龙井" in checkout and "山核桃" in checkout and "蜂蜜" not in checkout and "大米" not in checkout

    # and an unavailable line can be removed
    removed = post_form(
        client, f"{shop.prefix}/cart/items/{honey}", {"action": "remove"}, form_path=f"{shop.prefix}/cart"
    )
    assert removed.status_code == 303 and honey not in _lines(_html(client.get(f"{shop.prefix}/cart")))
