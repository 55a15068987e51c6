"""Shopping and order pages, storefront and console: server-rendered forms with CSRF, a guest
cart that follows the shopper into their account, a checkout that places one order per page
however often it is submitted, and receipts that add up."""

from __future__ import annotations

import csv
import html as htmllib
import io
import re

import sqlalchemy as sa

from mallow.testing import PASSWORD, csrf_token, login_merchant, make_product, make_store, post_form, register_shopper

NEW_ADDRESS = {
    "address_id": "new",
    "recipient": "王五",
    "phone": "13700001111",
    "province": "浙江省",
    "city": "杭州市",
    "district": "余杭区",
    "detail": "文一西路 969 号",
}


def _html(response) -> str:
    return response.get_data(as_text=True)


def _product_path(app, shop, sku_id) -> str:
    from mallow.catalog.models import Sku
    from mallow.db import db
    from mallow.tenants.context import store_context

    with store_context(shop.store_id, app=app):
        return f"{shop.prefix}/products/{db.session.get(Sku, sku_id).product_id}"


def _add(client, app, shop, sku_id, quantity):
    """Add to the cart from the product page's form, as a browser does."""
    return post_form(
        client,
        f"{shop.prefix}/cart/items",
        {"sku_id": sku_id, "quantity": quantity},
        form_path=_product_path(app, shop, sku_id),
    )


def _cart(client, shop) -> dict[int, int]:
    """{sku id: quantity} as the cart page shows it."""
    page = _html(client.get(f"{shop.prefix}/cart"))
    found = {}
    for sku_id, form in re.findall(r'<li class="cart-line[^"]*" data-sku-id="(\d+)">(.*?)</li>', page, re.DOTALL):
        quantity = re.search(r'name="quantity" value="(\d+)"', form)
        found[int(sku_id)] = int(quantity.group(1)) if quantity else None
    return found


def _hidden(page: str) -> dict[str, str]:
    return {
        name: htmllib.unescape(value)
        for name, value in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', page)
    }


def _checkout_fields(client, shop, **fields) -> dict:
    page = client.get(f"{shop.prefix}/checkout")
    assert page.status_code == 200, _html(page)[:500]
    data = _hidden(_html(page))
    data.update(fields)
    return data


def _shopper(app, shop, *skus):
    """A signed-in shopper (browser session) with ``skus`` (sku id, quantity) in the cart."""
    client = app.test_client()
    register_shopper(client, shop)
    for sku_id, quantity in skus:
        assert _add(client, app, shop, sku_id, quantity).status_code == 303
    return client


def _place(client, shop, **fields):
    return client.post(f"{shop.prefix}/checkout", data=_checkout_fields(client, shop, **(NEW_ADDRESS | fields)))


def _order_id(response) -> int:
    assert response.status_code == 303, _html(response)[:3000]
    return int(re.search(r"/orders/(\d+)/pay$", response.headers["Location"]).group(1))  # placed: the cashier


def _in_store(app, shop, fn):
    from mallow.tenants.context import store_context

    with store_context(shop.store_id, app=app):
        return fn()


def _count(app, shop, model, *where) -> int:
    from mallow.db import db

    return _in_store(
        app, shop, lambda: db.session.execute(sa.select(sa.func.count()).select_from(model).where(*where)).scalar_one()
    )


def _stock(app, shop, sku_id) -> int:
    from mallow.catalog.models import Sku
    from mallow.db import db

    return _in_store(app, shop, lambda: db.session.get(Sku, sku_id).stock)


def _receipt_amounts(page: str) -> tuple[list[int], int]:
    table = re.search(r'<table class="[^"]*receipt" id="receipt" data-total="(-?\d+)">(.*?)</table>', page, re.DOTALL)
    assert table, "no receipt on the page"
    return [int(a) for a in re.findall(r'data-amount="(-?\d+)"', table.group(2))], int(table.group(1))


def _shipping_template(app, shop) -> int:
    from mallow.db import db
    from mallow.shipping.models import ShippingTemplate

    def create():
        template = ShippingTemplate(
            name="默认",
            mode="pieces",
            rules=[
                {"regions": ["浙江省"], "first": 1, "first_fee": 600, "extra": 1, "extra_fee": 100},
                {"regions": ["*"], "first": 1, "first_fee": 1200, "extra": 1, "extra_fee": 300},
            ],
        )
        db.session.add(template)
        db.session.commit()
        return template.id

    return _in_store(app, shop, create)


# --- cart -------------------------------------------------------------------------------------


def test_guest_cart_is_kept_by_a_cookie_and_merges_at_sign_in(app):
    shop = make_store(app)
    [nuts] = make_product(app, shop, title="山核桃仁", price=3990, stock=20)
    [tea] = make_product(app, shop, title="龙井茶", price=12800, stock=5)
    cookie_name = f"mallow_cart_{shop.store_id}"

    # a shopper with a cart of their own, signed out again
    own = app.test_client()
    login = register_shopper(own, shop)
    _add(own, app, shop, nuts, 1)
    _add(own, app, shop, tea, 1)
    post_form(own, f"{shop.prefix}/logout", {}, form_path=f"{shop.prefix}/account")

    guest = app.test_client()
    added = _add(guest, app, shop, nuts, 2)
    assert added.status_code == 303 and added.headers["Location"].endswith("/cart")
    set_cookie = next(h for h in added.headers.getlist("Set-Cookie") if h.startswith(cookie_name + "="))
    assert "HttpOnly" in set_cookie and "SameSite=Lax" in set_cookie and "Path=/" in set_cookie
    assert _cart(guest, shop) == {nuts: 2}
    assert "山核桃仁" in _html(guest.get(f"{shop.prefix}/cart")) and "¥79.80" in _html(guest.get(f"{shop.prefix}/cart"))
    # another browser has another cart
    assert _cart(app.test_client(), shop) == {}

    # the guest signs in to the account that had a cart: quantities add up, the cookie goes
    signed_in = post_form(guest, f"{shop.prefix}/login", {"login": login, "password": PASSWORD})
    assert signed_in.status_code == 303
    gone = next(h for h in signed_in.headers.getlist("Set-Cookie") if h.startswith(cookie_name + "="))
    assert "Max-Age=0" in gone or "expires=Thu, 01 Jan 1970" in gone
    assert _cart(guest, shop) == {nuts: 3, tea: 1}
    from mallow.cart.models import Cart

    assert _count(app, shop, Cart, Cart.guest_token_hash.is_not(None)) == 0

    # a guest who registers keeps their cart too
    newcomer = app.test_client()
    _add(newcomer, app, shop, tea, 2)
    register_shopper(newcomer, shop)
    assert _cart(newcomer, shop) == {tea: 2}

    # a shopper signed in some other way (e.g. WeChat) with a guest cart cookie: merged on the next page
    wanderer = app.test_client()
    _add(wanderer, app, shop, nuts, 1)
    newcomer.set_cookie(cookie_name, wanderer.get_cookie(cookie_name).value)
    assert _cart(newcomer, shop) == {tea: 2, nuts: 1}
    assert newcomer.get_cookie(cookie_name) is None and _cart(wanderer, shop) == {}


def test_cart_quantities_can_be_changed_and_removed(app):
    shop = make_store(app)
    [sku] = make_product(app, shop, price=1500, stock=8)
    [other] = make_product(app, shop, title="第二件", price=100, stock=3)
    client = app.test_client()
    assert _add(client, app, shop, sku, 2).status_code == 303
    assert _add(client, app, shop, sku, 3).status_code == 303
    assert _cart(client, shop) == {sku: 5}

    too_many = _add(client, app, shop, sku, 4)
    assert too_many.status_code == 422
    assert 'data-field="quantity"' in _html(too_many)
    assert _add(client, app, shop, sku, 0).status_code == 422
    assert _cart(client, shop) == {sku: 5}

    cart_path = f"{shop.prefix}/cart"
    changed = post_form(client, f"{cart_path}/items/{sku}", {"quantity": "7", "action": "update"}, form_path=cart_path)
    assert changed.status_code == 303 and _cart(client, shop) == {sku: 7}
    page = _html(client.get(cart_path))
    assert 'data-amount="10500"' in page and "¥105.00" in page and 'id="checkout"' in page

    # more than the stock is refused; stock that ran low since is shown, with no checkout until fixed
    over = post_form(client, f"{cart_path}/items/{sku}", {"quantity": "9", "action": "update"}, form_path=cart_path)
    assert over.status_code == 422 and "仅剩 8 件" in _html(over) and _cart(client, shop) == {sku: 7}
    from mallow.catalog.models import Sku
    from mallow.db import db

    def run_low():
        db.session.get(Sku, sku).stock = 5
        db.session.commit()

    _in_store(app, shop, run_low)
    page = _html(client.get(cart_path))
    assert 'id="checkout"' not in page and "仅剩 5 件" in page
    post_form(client, f"{cart_path}/items/{sku}", {"quantity": "5", "action": "update"}, form_path=cart_path)
    assert 'id="checkout"' in _html(client.get(cart_path))
    bad = post_form(client, f"{cart_path}/items/{sku}", {"quantity": "lots", "action": "update"}, form_path=cart_path)
    assert bad.status_code == 422 and _cart(client, shop) == {sku: 5}

    _add(client, app, shop, other, 1)
    removed = post_form(client, f"{cart_path}/items/{sku}", {"quantity": "5", "action": "remove"}, form_path=cart_path)
    assert removed.status_code == 303 and _cart(client, shop) == {other: 1}
    post_form(client, f"{cart_path}/items/{other}", {"quantity": "0", "action": "update"}, form_path=cart_path)
    assert _cart(client, shop) == {} and 'id="empty"' in _html(client.get(cart_path))


def test_forms_without_a_csrf_token_are_refused(app):
    shop = make_store(app)
    [sku] = make_product(app, shop)
    client = app.test_client()
    assert client.post(f"{shop.prefix}/cart/items", data={"sku_id": sku, "quantity": 1}).status_code == 400
    register_shopper(client, shop)
    _add(client, app, shop, sku, 1)
    fields = _checkout_fields(client, shop, **NEW_ADDRESS)
    fields.pop("csrf_token")
    assert client.post(f"{shop.prefix}/checkout", data=fields).status_code == 400
    from mallow.orders.models import Order

    assert _count(app, shop, Order) == 0


# --- checkout ---------------------------------------------------------------------------------


def test_checkout_needs_a_signed_in_shopper_and_comes_back_after_sign_in(app):
    shop = make_store(app)
    [sku] = make_product(app, shop)
    guest = app.test_client()
    _add(guest, app, shop, sku, 1)
    response = guest.get(f"{shop.prefix}/checkout")
    assert response.status_code == 302 and "/login?next=" in response.headers["Location"]


def test_checkout_form_errors_keep_the_input_and_write_nothing(app):
    from mallow.orders.models import Address, Order

    shop = make_store(app)
    [sku] = make_product(app, shop, price=2500, stock=4)
    client = _shopper(app, shop, (sku, 2))
    fields = _checkout_fields(client, shop, **NEW_ADDRESS)
    fields.update(recipient="", phone="12345", note="请周末送货")
    response = client.post(f"{shop.prefix}/checkout", data=fields)
    assert response.status_code == 422
    page = _html(response)
    assert 'data-field="recipient"' in page and 'data-field="phone"' in page
    assert 'value="12345"' in page and 'value="文一西路 969 号"' in page and "请周末送货</textarea>" in page
    # the region typed as names is shown in the picker: 浙江省 → 杭州市 → 余杭区 chosen
    for code in ("330000", "330100", "330110"):
        assert f'<option value="{code}" selected' in page
    assert _hidden(page)["idempotency_key"] == fields["idempotency_key"]
    assert _count(app, shop, Order) == 0 and _count(app, shop, Address) == 0 and _stock(app, shop, sku) == 4

    # a cart that changed after the page was shown is shown again, not ordered
    _add(client, app, shop, sku, 1)
    changed = client.post(f"{shop.prefix}/checkout", data=_hidden(page) | NEW_ADDRESS)
    assert changed.status_code == 409 and 'id="notice"' in _html(changed)
    assert _count(app, shop, Order) == 0 and _count(app, shop, Address) == 0


def test_a_total_that_changed_is_shown_again_before_ordering(app):
    from mallow.orders.models import Order

    shop = make_store(app)
    template = _shipping_template(app, shop)
    [sku] = make_product(app, shop, price=1000, stock=9, shipping_template_id=template)
    client = _shopper(app, shop, (sku, 1))
    fields = _checkout_fields(client, shop, **NEW_ADDRESS)
    assert fields["expected_total"] == str(1000 + 1200)  # no address yet: the "*" rule
    shown = client.post(f"{shop.prefix}/checkout", data=fields)  # 浙江省 ships for 6.00
    assert shown.status_code == 409 and "¥16.00" in _html(shown) and _count(app, shop, Order) == 0
    placed = client.post(f"{shop.prefix}/checkout", data=_hidden(_html(shown)) | NEW_ADDRESS)
    order_id = _order_id(placed)
    page = _html(client.get(f"{shop.prefix}/orders/{order_id}"))
    assert "¥16.00" in page and "¥6.00" in page


def test_double_submit_with_the_same_key_places_one_order(app):
    from mallow.orders.models import Address, Order

    shop = make_store(app)
    [sku] = make_product(app, shop, price=1999, stock=10)
    client = _shopper(app, shop, (sku, 3))
    fields = _checkout_fields(client, shop, **NEW_ADDRESS, note="不要辣")
    first = client.post(f"{shop.prefix}/checkout", data=fields)
    second = client.post(f"{shop.prefix}/checkout", data=fields)
    assert _order_id(first) == _order_id(second)
    assert _count(app, shop, Order) == 1 and _count(app, shop, Address) == 1
    assert _stock(app, shop, sku) == 7
    assert _cart(client, shop) == {}  # ordered items leave the cart
    # the saved address is offered next time; a new page has a new key
    _add(client, app, shop, sku, 1)
    again = _checkout_fields(client, shop)
    assert again["idempotency_key"] != fields["idempotency_key"]
    page = _html(client.get(f"{shop.prefix}/checkout"))
    assert "王五" in page and "137****1111" in page
    address_id = re.search(r'name="address_id" value="(\d+)" checked', page).group(1)
    assert _order_id(client.post(f"{shop.prefix}/checkout", data=again | {"address_id": address_id})) != _order_id(
        first
    )
    assert _count(app, shop, Order) == 2 and _count(app, shop, Address) == 1


def test_sold_out_at_checkout_is_a_clear_message(app):
    from mallow.catalog.models import Sku
    from mallow.db import db
    from mallow.orders.models import Order

    shop = make_store(app)
    [sku] = make_product(app, shop, title="限量款", stock=2)
    client = _shopper(app, shop, (sku, 2))
    fields = _checkout_fields(client, shop, **NEW_ADDRESS)

    def sell_out():
        db.session.get(Sku, sku).stock = 1
        db.session.commit()

    _in_store(app, shop, sell_out)
    response = client.post(f"{shop.prefix}/checkout", data=fields)
    assert response.status_code == 409 and "限量款" in _html(response)
    assert _count(app, shop, Order) == 0 and _stock(app, shop, sku) == 1


# --- the shopper's orders ---------------------------------------------------------------------


def test_order_pages_show_a_receipt_that_adds_up(app):
    from mallow.orders.models import Order

    shop = make_store(app)
    template = _shipping_template(app, shop)
    [a] = make_product(app, shop, title="山核桃仁", price=3990, stock=10, shipping_template_id=template)
    [b] = make_product(app, shop, title="笋干", price=1250, stock=10, shipping_template_id=template)
    client = _shopper(app, shop, (a, 2), (b, 1))
    fields = _checkout_fields(client, shop, **NEW_ADDRESS)
    fields["expected_total"] = str(3990 * 2 + 1250 + 600 + 2 * 100)  # 浙江省: 6.00 + 2 extra pieces
    order_id = _order_id(client.post(f"{shop.prefix}/checkout", data=fields))
    total = _in_store(app, shop, lambda: __import__("mallow.db", fromlist=["db"]).db.session.get(Order, order_id).total)
    assert total == 10030

    page = _html(client.get(f"{shop.prefix}/orders/{order_id}"))
    amounts, shown_total = _receipt_amounts(page)
    assert shown_total == total == sum(amounts) and 800 in amounts and 7980 in amounts
    assert "¥100.30" in page and "¥79.80" in page and "¥8.00" in page
    assert "待付款" in page and 'data-status="pending_payment"' in page
    assert "王五" in page and "137****1111" in page and "文一西路 969 号" in page
    assert 'data-kind="placed"' in page and "已下单" in page
    assert 'id="cancel"' in page and 'id="confirm"' not in page
    if "storefront.pay_order" in app.view_functions:
        assert 'id="pay"' in page
    else:
        assert 'id="pay"' not in page

    listing = _html(client.get(f"{shop.prefix}/orders"))
    assert f'data-order-id="{order_id}"' in listing and "¥100.30" in listing and "山核桃仁" in listing
    assert f'data-order-id="{order_id}"' in _html(client.get(f"{shop.prefix}/orders?status=pending_payment"))
    assert f'data-order-id="{order_id}"' not in _html(client.get(f"{shop.prefix}/orders?status=paid"))
    assert client.get(f"{shop.prefix}/orders?status=bogus").status_code == 404

    # in English the same receipt, the same figures
    english = _html(client.get(f"{shop.prefix}/orders/{order_id}?lang=en"))
    assert "Pending payment" in english and _receipt_amounts(english) == (amounts, shown_total)


def test_other_shoppers_get_404_on_someone_elses_order(app):
    from mallow.db import db
    from mallow.orders.models import Order

    shop = make_store(app)
    [sku] = make_product(app, shop, title="只给主人看的核桃", stock=5)
    owner = _shopper(app, shop, (sku, 1))
    order_id = _order_id(_place(owner, shop, recipient="赵六", detail="仅此一家路 1 号"))
    number = _in_store(app, shop, lambda: db.session.get(Order, order_id).number)
    details = (number, "只给主人看的核桃", "赵六", "仅此一家路 1 号")

    def hidden(response):
        shown = [d for d in details if d in _html(response)]
        assert not shown, f"{response.request.path} shows the order's {shown}"
        return response

    stranger = _shopper(app, shop)
    assert hidden(stranger.get(f"{shop.prefix}/orders/{order_id}")).status_code == 404
    _add(stranger, app, shop, sku, 1)  # (a cart page with a form, for the CSRF token)
    assert (
        post_form(stranger, f"{shop.prefix}/orders/{order_id}/cancel", {}, form_path=f"{shop.prefix}/cart").status_code
        == 404
    )
    assert f'data-order-id="{order_id}"' not in hidden(stranger.get(f"{shop.prefix}/orders")).get_data(as_text=True)
    assert app.test_client().get(f"{shop.prefix}/orders/{order_id}").status_code == 302  # signed out: sign in

    # A shopper of another store, which numbers its own orders from 1 too (so it has an order with
    # the same id as likely as not).
    other = make_store(app)
    [other_sku] = make_product(app, other, title="别家的商品", stock=5)
    outsider = _shopper(app, other, (other_sku, 1))
    own_id = _order_id(_place(outsider, other))
    # in the order's own store, the outsider's session is no session: sign in first
    response = hidden(outsider.get(f"{shop.prefix}/orders/{order_id}"))
    assert response.status_code == 302 and f"{shop.prefix}/login" in response.headers["Location"]
    cancel = post_form(
        outsider, f"{shop.prefix}/orders/{order_id}/cancel", {}, form_path=_product_path(app, other, other_sku)
    )  # a valid CSRF token of its session
    assert cancel.status_code == 302 and f"{shop.prefix}/login" in cancel.headers["Location"]
    hidden(outsider.get(f"{shop.prefix}/orders"))
    # through its own store, the same id is at most the outsider's own order, never this one
    response = hidden(outsider.get(f"{other.prefix}/orders/{order_id}"))
    if own_id == order_id:
        assert response.status_code == 200 and "别家的商品" in _html(response)
    else:
        assert response.status_code == 404
    hidden(outsider.get(f"{other.prefix}/orders"))

    assert _in_store(app, shop, lambda: db.session.get(Order, order_id).status) == "pending_payment"
    page = owner.get(f"{shop.prefix}/orders/{order_id}")
    assert page.status_code == 200 and all(d in _html(page) for d in details)


def test_shopper_cancels_an_unpaid_order_and_the_stock_comes_back(app):
    shop = make_store(app)
    [sku] = make_product(app, shop, stock=5)
    client = _shopper(app, shop, (sku, 2))
    order_id = _order_id(_place(client, shop))
    assert _stock(app, shop, sku) == 3
    path = f"{shop.prefix}/orders/{order_id}"
    token = csrf_token(client, path)
    cancelled = client.post(f"{path}/cancel", data={"csrf_token": token})
    assert cancelled.status_code == 303
    page = _html(client.get(path))
    assert "已取消" in page and 'id="cancel"' not in page and 'data-kind="cancelled"' in page
    assert _stock(app, shop, sku) == 5
    again = client.post(f"{path}/cancel", data={"csrf_token": token}, follow_redirects=True)
    assert "不能再取消" in _html(again) and _stock(app, shop, sku) == 5
    confirm = client.post(f"{path}/confirm", data={"csrf_token": token}, follow_redirects=True)
    assert "只有已发货的订单才能确认收货" in _html(confirm)


# --- the merchant console ---------------------------------------------------------------------


def _mark_paid(app, shop, order_id):
    from mallow.db import db
    from mallow.orders import service
    from mallow.orders.models import Order

    def pay():
        assert service.mark_paid(db.session.get(Order, order_id), "test", {"via": "test"})
        db.session.commit()

    _in_store(app, shop, pay)


def test_console_lists_filters_ships_paid_orders_only_and_notes(app):
    shop = make_store(app)
    [sku] = make_product(app, shop, title="山核桃仁", price=3990, stock=10)
    shopper = _shopper(app, shop, (sku, 1))
    order_id = _order_id(_place(shopper, shop, note="放门口"))
    _add(shopper, app, shop, sku, 2)
    second_id = _order_id(_place(shopper, shop, address_id="new"))
    from mallow.db import db
    from mallow.orders.models import Order

    number = _in_store(app, shop, lambda: db.session.get(Order, order_id).number)

    merchant = app.test_client()
    login_merchant(merchant, shop)
    base = f"{shop.prefix}/console/orders"
    listing = _html(merchant.get(base))
    assert (
        f'data-order-id="{order_id}"' in listing and f'data-order-id="{second_id}"' in listing and "待付款" in listing
    )
    searched = _html(merchant.get(f"{base}?number={number}"))
    assert f'data-order-id="{order_id}"' in searched and f'data-order-id="{second_id}"' not in searched
    assert 'id="no-orders"' in _html(merchant.get(f"{base}?status=shipped"))

    detail = f"{base}/{order_id}"
    page = _html(merchant.get(detail))
    assert "王五" in page and "13700001111" in page and "文一西路 969 号" in page and "放门口" in page
    amounts, total = _receipt_amounts(page)
    assert sum(amounts) == total == 3990 and 'id="ship-hint"' in page

    # unpaid: the ship form is refused with a clear message, nothing changes
    refused = post_form(
        merchant, f"{detail}/ship", {"carrier": "顺丰速运", "tracking_number": "SF100"}, form_path=detail
    )
    assert refused.status_code == 409 and 'id="problem"' in _html(refused) and "待付款" in _html(refused)
    assert _in_store(app, shop, lambda: db.session.get(Order, order_id).status) == "pending_payment"

    _mark_paid(app, shop, order_id)
    page = _html(merchant.get(detail))
    assert 'id="ship-button"' in page and "待发货" in page
    missing = post_form(merchant, f"{detail}/ship", {"carrier": "顺丰速运", "tracking_number": ""}, form_path=detail)
    assert missing.status_code == 422 and 'data-field="tracking_number"' in _html(missing)
    assert 'value="顺丰速运"' in _html(missing)
    shipped = post_form(
        merchant, f"{detail}/ship", {"carrier": "顺丰速运", "tracking_number": "SF1234567890"}, form_path=detail
    )
    assert shipped.status_code == 303
    page = _html(merchant.get(detail))
    assert "已发货" in page and "SF1234567890" in page and 'id="ship-button"' not in page

    noted = post_form(merchant, f"{detail}/note", {"note": "老客户，送小样"}, form_path=detail)
    assert noted.status_code == 303 and "老客户，送小样" in _html(merchant.get(detail))

    # the shopper sees carrier, tracking number and timeline — not the merchant's note — and confirms
    mine = f"{shop.prefix}/orders/{order_id}"
    page = _html(shopper.get(mine))
    assert "顺丰速运" in page and "SF1234567890" in page and 'data-kind="shipped"' in page
    assert "老客户" not in page and 'id="confirm"' in page and 'id="cancel"' not in page
    assert post_form(shopper, f"{mine}/confirm", {}, form_path=mine).status_code == 303
    assert "已签收" in _html(shopper.get(mine))
    assert f'data-order-id="{order_id}"' in _html(shopper.get(f"{shop.prefix}/orders?status=delivered"))


def test_console_csv_export_is_the_api_export_for_signed_in_staff(app):
    shop = make_store(app)
    [sku] = make_product(app, shop, title="笋干", price=1250, stock=10)
    shopper = _shopper(app, shop, (sku, 2))
    order_id = _order_id(_place(shopper, shop))
    merchant = app.test_client()
    login_merchant(merchant, shop)
    listing = _html(merchant.get(f"{shop.prefix}/console/orders?status=pending_payment"))
    link = htmllib.unescape(re.search(r'id="export" href="([^"]+)"', listing).group(1))
    assert "status=pending_payment" in link
    response = merchant.get(link)
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0][0] == "number" and len(rows) == 2 and rows[1][1] == "pending_payment" and rows[1][4] == "2500"
    assert "笋干" in rows[1][-1]
    # the same file the console API gives
    from mallow.testing import bearer, merchant_token

    api = merchant.get(
        f"{shop.prefix}/api/console/orders.csv?status=pending_payment",
        headers=bearer(merchant_token(app.test_client(), shop)),
    )
    assert api.get_data() == response.get_data()

    assert shopper.get(link).status_code == 302  # a shopper is sent to the merchant sign-in
    other = make_store(app)
    stranger = app.test_client()
    login_merchant(stranger, other)
    assert stranger.get(link).status_code == 403
    assert stranger.get(f"{shop.prefix}/console/orders/{order_id}").status_code == 403
    assert merchant.get(f"{shop.prefix}/console/orders/999999").status_code == 404
