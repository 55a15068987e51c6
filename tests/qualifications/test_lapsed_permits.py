"""A permit whose valid-until date is past is lapsed at once, not only after the daily sweep: no
write puts a product of the store on sale (console form and list, API create and update), and no
shopper can order one already on the shelf. The renewed permit, approved, lifts all of it."""

from __future__ import annotations

import io
from datetime import date, timedelta

from mallow.testing import (
    PASSWORD,
    bearer,
    login_merchant,
    make_product,
    make_shopper,
    make_store,
    merchant_token,
    png_bytes,
    post_form,
    qualification_form,
)

PERMIT = "仅销售预包装食品备案凭证"


def _admin(client, email):
    response = client.post("/api/tokens", json={"email": email, "password": PASSWORD, "principal": "admin"})
    return response.get_json()["token"]


def _submit_and_approve(client, shop, admin_token, until: str):
    data = dict(qualification_form())
    data["licence_image"] = (io.BytesIO(png_bytes()), "licence.png")
    data.update(
        {
            "permit_food_filing_receipt_number": "NO-food-1",
            "permit_food_filing_receipt_valid_until": until,
            "permit_food_filing_receipt_image": (io.BytesIO(png_bytes()), "permit.png"),
        }
    )
    submitted = client.post(
        f"{shop.prefix}/api/console/qualifications",
        data=data,
        headers=bearer(merchant_token(client, shop)),
        content_type="multipart/form-data",
    )
    assert submitted.status_code == 201, submitted.get_json()
    approved = client.post(
        f"/api/admin/qualifications/{submitted.get_json()['id']}/approve", json={}, headers=bearer(admin_token)
    )
    assert approved.status_code == 200, approved.get_json()


def _lapse_yesterday(app, shop):
    """The approved food permit's valid-until date becomes yesterday; no sweep runs."""
    from mallow.db import db
    from mallow.qualifications.expiry import current_qualification

    with app.app_context():
        [permit] = current_qualification(shop.store_id).permits
        permit.valid_until = date.today() - timedelta(days=1)
        db.session.commit()


def _food_store_with_lapsed_permit(app, client, admin):
    shop = make_store(app, approved=False, category="food_prepackaged")
    _submit_and_approve(client, shop, admin, (date.today() + timedelta(days=200)).isoformat())
    return shop


def _status(app, shop, product_id):
    from mallow.catalog.models import Product
    from mallow.db import db
    from mallow.tenants.context import store_context

    with store_context(shop.store_id, app=app):
        product = db.session.get(Product, product_id)
        return product.status, product.category_id


def _count(app, shop, model):
    import sqlalchemy as sa

    from mallow.db import db
    from mallow.tenants.context import store_context

    with store_context(shop.store_id, app=app):
        return db.session.execute(sa.select(sa.func.count()).select_from(model)).scalar_one()


def _refused(response):
    assert response.status_code == 422, response.get_json()
    error = response.get_json()["fields"]["status"]
    assert error["code"] == "permit_lapsed" and PERMIT in error["message"], error


def test_no_write_puts_a_product_on_sale_while_a_needed_permit_is_lapsed(app, admin_email):
    from mallow.catalog.models import Product

    client = app.test_client()
    admin = _admin(client, admin_email)
    shop = _food_store_with_lapsed_permit(app, client, admin)
    token = merchant_token(client, shop)
    api = f"{shop.prefix}/api/console"
    sku = [{"spec_values": {}, "price": 1000, "stock": 10}]

    def create(title, status):
        return client.post(
            f"{api}/products", headers=bearer(token), json={"title": title, "status": status, "specs": [], "skus": sku}
        )

    draft = create("坚果礼盒", "draft").get_json()["id"]
    shelved = create("旧款坚果", "on_shelf").get_json()["id"]
    assert (
        client.patch(f"{api}/products/{shelved}", json={"status": "off_shelf"}, headers=bearer(token)).status_code
        == 200
    )
    nuts = client.post(f"{api}/categories", json={"name": "坚果"}, headers=bearer(token)).get_json()["id"]
    _lapse_yesterday(app, shop)  # and no sweep
    products_before = _count(app, shop, Product)

    # the API: shelving a draft, creating on the shelf, an edit into a category with status on_shelf
    _refused(client.patch(f"{api}/products/{draft}", json={"status": "on_shelf"}, headers=bearer(token)))
    _refused(create("新品坚果", "on_shelf"))
    _refused(
        client.patch(
            f"{api}/products/{shelved}", json={"category_id": nuts, "status": "on_shelf"}, headers=bearer(token)
        )
    )
    assert _status(app, shop, draft) == ("draft", None) and _status(app, shop, shelved) == ("off_shelf", None)
    assert _count(app, shop, Product) == products_before
    # what does not put anything on sale still works
    assert create("草稿坚果", "draft").status_code == 201
    assert (
        client.patch(f"{api}/products/{shelved}", json={"category_id": nuts}, headers=bearer(token)).status_code == 200
    )

    # the console: the shelf button of the list, the product form, the new-product form
    console = app.test_client()
    login_merchant(console, shop)
    base = f"{shop.prefix}/console/products"
    listed = post_form(console, f"{base}/{draft}/status", {"status": "on_shelf"}, form_path=base, follow_redirects=True)
    assert PERMIT in listed.get_data(as_text=True)
    fields = {
        "title": "坚果礼盒",
        "specs_text": "",
        "skus.0.key": "",
        "skus.0.price": "10.00",
        "skus.0.stock": "10",
        "status": "on_shelf",
    }
    form = post_form(console, f"{base}/{draft}", fields)
    assert form.status_code == 422
    assert 'data-field="status"' in form.get_data(as_text=True) and PERMIT in form.get_data(as_text=True)
    new = post_form(console, f"{base}/new", dict(fields, title="表单新品", action="save"))
    assert new.status_code == 422 and PERMIT in new.get_data(as_text=True)
    assert _status(app, shop, draft) == ("draft", None)
    assert _count(app, shop, Product) == products_before + 1  # the draft made above, nothing else

    # the renewed permit, approved: the same writes go through
    _submit_and_approve(client, shop, admin, "2040-01-01")
    assert (
        client.patch(f"{api}/products/{draft}", json={"status": "on_shelf"}, headers=bearer(token)).status_code == 200
    )
    assert create("新品坚果", "on_shelf").status_code == 201
    moved = client.patch(
        f"{api}/products/{shelved}", json={"category_id": nuts, "status": "on_shelf"}, headers=bearer(token)
    )
    assert moved.status_code == 200 and moved.get_json()["status"] == "on_shelf"


def test_a_product_on_the_shelf_cannot_be_ordered_once_the_permit_lapsed(app, admin_email):
    from mallow.orders.models import Order

    client = app.test_client()
    admin = _admin(client, admin_email)
    shop = _food_store_with_lapsed_permit(app, client, admin)
    [sku] = make_product(app, shop, title="坚果礼盒", stock=10)
    token, address = make_shopper(client, shop)
    _lapse_yesterday(app, shop)  # the product is still on the shelf: no sweep ran
    items = [{"sku_id": sku, "quantity": 1}]

    ordered = client.post(
        f"{shop.prefix}/api/orders", headers=bearer(token), json={"items": items, "address_id": address}
    )
    assert ordered.status_code == 422, ordered.get_json()
    error = ordered.get_json()["fields"]["sku_id"]
    assert error["code"] == "permit_lapsed" and PERMIT in error["message"]
    assert _count(app, shop, Order) == 0
    added = client.post(f"{shop.prefix}/api/cart/items", headers=bearer(token), json=items[0])
    assert added.status_code == 422 and added.get_json()["fields"]["sku_id"]["code"] == "permit_lapsed"
    quoted = client.post(f"{shop.prefix}/api/checkout/quote", headers=bearer(token), json={"items": items})
    assert quoted.status_code == 422

    _submit_and_approve(client, shop, admin, "2040-01-01")
    ordered = client.post(
        f"{shop.prefix}/api/orders", headers=bearer(token), json={"items": items, "address_id": address}
    )
    assert ordered.status_code == 201, ordered.get_json()
    assert _count(app, shop, Order) == 1


def test_the_rule_and_the_sweep_agree(app, admin_email):
    """``selling.lapsed_permits`` is what the sweep applies: a lapsed permit that another valid one
    covers stops nothing; a bystander store needs no permit at all."""
    from mallow.db import db
    from mallow.qualifications import selling
    from mallow.tenants.models import Store

    client = app.test_client()
    admin = _admin(client, admin_email)
    shop = _food_store_with_lapsed_permit(app, client, admin)
    bystander = make_store(app)
    _lapse_yesterday(app, shop)
    with app.app_context():
        store = db.session.get(Store, shop.store_id)
        assert selling.lapsed_permits(store) == ["food_filing_receipt"] and not selling.may_sell(store)
        assert selling.lapsed_permits(store, "general") == []  # a category that needs no permit
        assert selling.may_sell(db.session.get(Store, bystander.store_id))
        assert selling.lapsed_permits(store, today=date.today() - timedelta(days=1)) == []  # valid through that day
