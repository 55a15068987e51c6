"""After-sales through the pages: the shopper asks, the merchant approves, money goes back."""

from __future__ import annotations

from mallow.testing.payments import pay_with_sandbox, place_order
from mallow.testing import PASSWORD, login_merchant, make_product, make_shopper, make_store, post_form


def test_shopper_requests_and_merchant_decides(app):
    from mallow.aftersales.models import AfterSale
    from mallow.db import db
    from mallow.orders.models import Order
    from mallow.tenants.context import store_context

    shop = make_store(app)
    [sku] = make_product(app, shop, price=2500, stock=10)
    api = app.test_client()
    login = f"after-{shop.slug}@example.com"
    token, address = make_shopper(api, shop, login=login)
    order = place_order(api, shop, token, address, sku, quantity=2)
    shopper = app.test_client()
    assert post_form(shopper, f"{shop.prefix}/login", {"login": login, "password": PASSWORD}).status_code == 303
    page = shopper.get(f"{shop.prefix}/orders/{order['id']}").get_data(as_text=True)
    assert 'id="request-aftersale"' not in page  # unpaid: nothing to refund yet
    pay_with_sandbox(api, shop, token, order["id"])
    page = shopper.get(f"{shop.prefix}/orders/{order['id']}").get_data(as_text=True)
    assert 'id="request-aftersale"' in page

    form = f"{shop.prefix}/orders/{order['id']}/aftersale"
    bad = post_form(shopper, form, {"kind": "refund_only", "reason": "", "amount": "12.345"})
    assert bad.status_code == 422 and 'data-field="amount"' in bad.get_data(as_text=True)
    sent = post_form(shopper, form, {"kind": "refund_only", "reason": "不想要了", "amount": "10.00"})
    assert sent.status_code == 303
    assert 'data-status="requested"' in shopper.get(f"{shop.prefix}/orders/{order['id']}").get_data(as_text=True)

    merchant = app.test_client()
    login_merchant(merchant, shop)
    assert "不想要了" in merchant.get(f"{shop.prefix}/console/aftersales?status=requested").get_data(as_text=True)
    with store_context(shop.store_id, app=app):
        aftersale_id = db.session.execute(db.select(AfterSale.id).where(AfterSale.order_id == order["id"])).scalar_one()
    done = post_form(
        merchant,
        f"{shop.prefix}/console/aftersales/{aftersale_id}/approve",
        {},
        form_path=f"{shop.prefix}/console/aftersales",
    )
    assert done.status_code == 303
    app.extensions["mallow.jobs"].run_pending()
    with store_context(shop.store_id, app=app):
        refreshed = db.session.get(Order, order["id"])
        assert refreshed.refunded_total == 1000 and refreshed.status == "paid"
    assert 'data-status="refunded"' in shopper.get(f"{shop.prefix}/orders/{order['id']}").get_data(as_text=True)
