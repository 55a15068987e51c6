"""营销 → 优惠券 in the merchant console (test client, both backends): the form in yuan with field
errors beside the fields, a good coupon listed with its offer and counts, pause and resume, and
issuing to shoppers by mobile number or customer id (a job)."""

from __future__ import annotations

import re

from mallow.testing import login_merchant, make_product, make_shopper, make_store, post_form, register_shopper

GOOD = {
    "name": "满100减15",
    "kind": "amount_off",
    "threshold": "100",
    "amount": "15.5",
    "scope": "store",
    "validity": "fixed",
    "starts_at": "2026-01-01T00:00",
    "ends_at": "2099-12-31T23:59",
    "total_quantity": "50",
    "per_shopper_limit": "2",
    "stacks_with": "distribution",
    "activate": "1",
}


def _html(response) -> str:
    return response.get_data(as_text=True)


def _field_errors(page: str) -> dict[str, str]:
    return dict(re.findall(r'<small class="error"[^>]*data-field="([^"]+)"[^>]*>([^<]*)</small>', page))


def _merchant(app):
    client = app.test_client()
    shop = make_store(app)
    login_merchant(client, shop)
    return client, shop


def _coupon(app, shop, name):
    import sqlalchemy as sa

    from mallow.coupons.models import Coupon
    from mallow.db import db
    from mallow.tenants.context import store_context

    with store_context(shop.store_id, app=app):
        row = db.session.execute(sa.select(Coupon).where(Coupon.name == name)).scalar_one()
        return {
            k: getattr(row, k) for k in ("id", "status", "amount_fen", "threshold_fen", "issued_count", "scope_ids")
        }


def test_bad_input_shows_field_errors_and_a_good_coupon_is_listed(app):
    client, shop = _merchant(app)
    new = f"{shop.prefix}/console/coupons/new"
    assert "新建优惠券" in _html(client.get(new))
    bad = post_form(
        client,
        new,
        GOOD | {"name": "", "threshold": "abc", "total_quantity": "0"},
    )
    assert bad.status_code == 422
    assert _field_errors(_html(bad)) == {"threshold": "请输入以元为单位的金额，例如 12.50。"}
    bad = post_form(
        client, new, GOOD | {"name": "", "amount": "200", "total_quantity": "0", "ends_at": "2025-01-01T00:00"}
    )
    errors = _field_errors(_html(bad))
    assert bad.status_code == 422 and set(errors) == {"name", "amount", "total_quantity", "ends_at"}
    assert errors["amount"] == "减免金额不能超过门槛。"
    bad = post_form(client, new, GOOD | {"scope": "products"})  # no product ticked
    assert bad.status_code == 422 and set(_field_errors(_html(bad))) == {"product_ids"}

    saved = post_form(client, new, GOOD)
    assert saved.status_code == 303
    coupon = _coupon(app, shop, "满100减15")
    assert coupon["status"] == "active" and coupon["threshold_fen"] == 10000 and coupon["amount_fen"] == 1550
    listed = _html(client.get(f"{shop.prefix}/console/coupons"))
    assert "满¥100.00减¥15.50" in listed and 'data-status="active"' in listed and "0 / 50" in listed

    # a product-scoped one: the picker's ids
    [sku] = make_product(app, shop, price=1000)
    product_id = int(re.search(r'name="product_ids" value="(\d+)"', _html(client.get(new))).group(1))
    post_form(client, new, GOOD | {"name": "单品券", "scope": "products", "product_ids": str(product_id)})
    assert _coupon(app, shop, "单品券")["scope_ids"] == [product_id]

    # pause, resume
    status = f"{shop.prefix}/console/coupons/{coupon['id']}/status"
    assert (
        post_form(client, status, {"status": "paused"}, form_path=f"{shop.prefix}/console/coupons").status_code == 303
    )
    assert _coupon(app, shop, "满100减15")["status"] == "paused"
    assert "恢复" in _html(client.get(f"{shop.prefix}/console/coupons"))
    post_form(client, status, {"status": "active"}, form_path=f"{shop.prefix}/console/coupons")
    assert _coupon(app, shop, "满100减15")["status"] == "active"

    # the edit form shows yuan again
    edit = _html(client.get(f"{shop.prefix}/console/coupons/{coupon['id']}"))
    assert 'value="15.50"' in edit and 'value="100.00"' in edit


def test_issue_to_shoppers_by_mobile_number_or_id(app):
    client, shop = _merchant(app)
    assert post_form(client, f"{shop.prefix}/console/coupons/new", GOOD).status_code == 303
    coupon = _coupon(app, shop, "满100减15")
    shopper = app.test_client()
    phone = register_shopper(shopper, shop)
    _token, _address = make_shopper(app.test_client(), shop)
    from mallow.accounts.models import Customer
    from mallow.db import db
    from mallow.tenants.context import store_context

    with store_context(shop.store_id, app=app):
        ids = sorted(db.session.execute(db.select(Customer.id)).scalars())
    issue = f"{shop.prefix}/console/coupons/{coupon['id']}/issue"
    unknown = post_form(client, issue, {"recipients": "13000000000"})
    assert unknown.status_code == 422 and "13000000000" in _field_errors(_html(unknown))["recipients"]
    done = post_form(client, issue, {"recipients": f"{phone}\n{ids[-1]}"})
    assert done.status_code == 303
    app.extensions["mallow.jobs"].run_pending()  # the issue job (a worker's, in production)
    assert _coupon(app, shop, "满100减15")["issued_count"] == 2
    assert "满100减15" in _html(shopper.get(f"{shop.prefix}/account/coupons"))
