"""Cart writes cost a fixed number of SQL statements, however many lines the cart holds.

Counts are deterministic where timings are not: a statement more is a lazy load or a round trip
back on a hot path (issue 13). Transaction control (SQLite's explicit ``BEGIN``) is left out, so
both backends count the same. What the counts hold today (the store, its plugins, its settings
and the permits check come from the process's memory under the store's stamp; the store's row is
not read back after the commit), per request:

* the bearer token with its shopper: no statement once the process has met the token
  (:mod:`mallow.accounts.session_memory`; every test here meets it when it makes the shopper);
* the API's PUT: on PostgreSQL one statement, the line's ``UPDATE`` (finding the cart by its
  shopper inside it) in a CTE that also reads the cart's lines with their SKUs and products; on
  SQLite two, the ``UPDATE`` then the lines. The quote prices them without a statement of its
  own; all in the write's transaction (no second connection or transaction after the commit);
* the API's GET (1): the lines with their SKUs and products;
* the form's add (3): the cart with its lines, the SKU with its product, the UPDATE.
"""

from __future__ import annotations


import pytest

from mallow.testing.sql import listing, statements
from mallow.testing import bearer, csrf_token, make_product, make_shopper, make_store

PUT_STATEMENTS = {"postgresql": 1, "sqlite": 2}
GET_STATEMENTS = 1
FORM_ADD_STATEMENTS = 3


def _backend(app) -> str:
    return "postgresql" if app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql") else "sqlite"


@pytest.fixture
def shop(app):
    return make_store(app)


def _skus(app, shop, count: int) -> list[int]:
    return [make_product(app, shop, title=f"商品 {n}", price=1000 + n, stock=50)[0] for n in range(count)]


def _put(client, shop, token, sku, quantity):
    with statements() as seen:
        response = client.put(f"{shop.prefix}/api/cart/items/{sku}", headers=bearer(token), json={"quantity": quantity})
    assert response.status_code == 200, response.get_json()
    return response.get_json(), seen


@pytest.mark.parametrize("lines", [1, 6])
def test_setting_a_quantity_through_the_api_costs_the_same_statements_for_any_cart(app, shop, lines):
    client = app.test_client()
    token, _address = make_shopper(client, shop)
    skus = _skus(app, shop, lines)
    for sku in skus:
        assert (
            client.post(
                f"{shop.prefix}/api/cart/items", headers=bearer(token), json={"sku_id": sku, "quantity": 1}
            ).status_code
            == 201
        )

    cart, seen = _put(client, shop, token, skus[0], 3)

    assert len(seen) == PUT_STATEMENTS[_backend(app)], listing(seen)
    assert sum("UPDATE" in s and "cart_items" in s for s in seen) == 1, listing(seen)
    assert {item["sku_id"]: item["quantity"] for item in cart["items"]} == {
        sku: 3 if sku == skus[0] else 1 for sku in skus
    }
    assert cart["quote"]["items_total"] == 3 * 1000 + sum(1000 + n for n in range(1, lines))


def test_a_cart_put_answers_the_committed_cart_and_a_line_off_the_shelf_stays_out_of_the_quote(app, shop):
    from mallow.catalog.models import Product, Sku
    from mallow.db import db
    from mallow.tenants.context import store_context

    client = app.test_client()
    token, _address = make_shopper(client, shop)
    kept, gone = _skus(app, shop, 2)
    for sku in (kept, gone):
        client.post(f"{shop.prefix}/api/cart/items", headers=bearer(token), json={"sku_id": sku, "quantity": 1})
    with store_context(shop.store_id, app=app):
        db.session.get(Product, db.session.get(Sku, gone).product_id).status = "off_shelf"
        db.session.commit()

    cart, seen = _put(client, shop, token, kept, 2)

    assert cart["unavailable"] == [gone]
    assert cart["quote"]["items_total"] == 2 * 1000
    assert client.get(f"{shop.prefix}/api/cart", headers=bearer(token)).get_json()["items"] == cart["items"]


@pytest.mark.parametrize("lines", [1, 6])
def test_adding_through_the_form_costs_the_same_statements_for_any_cart(app, shop, lines):
    from mallow.catalog.models import Sku
    from mallow.db import db
    from mallow.tenants.context import store_context

    guest = app.test_client()
    skus = _skus(app, shop, lines)
    with store_context(shop.store_id, app=app):
        product_page = f"{shop.prefix}/products/{db.session.get(Sku, skus[0]).product_id}"
    token = csrf_token(guest, product_page)
    for sku in skus:
        assert (
            guest.post(
                f"{shop.prefix}/cart/items", data={"sku_id": sku, "quantity": 1, "csrf_token": token}
            ).status_code
            == 303
        )

    with statements() as seen:
        added = guest.post(f"{shop.prefix}/cart/items", data={"sku_id": skus[0], "quantity": 2, "csrf_token": token})

    assert added.status_code == 303 and added.headers["Location"].endswith("/cart")
    assert len(seen) == FORM_ADD_STATEMENTS, listing(seen)
    assert sum(s.startswith("UPDATE") for s in seen) == 1, listing(seen)
    page = guest.get(f"{shop.prefix}/cart").get_data(as_text=True)
    assert "¥30.00" in page  # the first line now holds 3 × ¥10.00


def test_reading_the_cart_through_the_api_costs_two_statements_for_any_cart(app, shop):
    client = app.test_client()
    token, _address = make_shopper(client, shop)
    skus = _skus(app, shop, 4)
    for sku in skus:
        client.post(f"{shop.prefix}/api/cart/items", headers=bearer(token), json={"sku_id": sku, "quantity": 2})

    with statements() as seen:
        cart = client.get(f"{shop.prefix}/api/cart", headers=bearer(token)).get_json()

    assert len(seen) == GET_STATEMENTS, listing(seen)
    assert cart["items"] == [{"sku_id": sku, "quantity": 2} for sku in skus]
    assert cart["quote"]["items_total"] == 2 * sum(1000 + n for n in range(4))


def test_a_put_of_zero_removes_the_line_and_a_sku_not_in_the_cart_is_refused_with_nothing_changed(app, shop):
    client = app.test_client()
    token, _address = make_shopper(client, shop)
    kept, removed, never_added = _skus(app, shop, 3)
    for sku in (kept, removed):
        client.post(f"{shop.prefix}/api/cart/items", headers=bearer(token), json={"sku_id": sku, "quantity": 1})

    cart, seen = _put(client, shop, token, removed, 0)

    assert cart["items"] == [{"sku_id": kept, "quantity": 1}]
    assert cart["quote"]["items_total"] == 1000
    assert len(seen) == PUT_STATEMENTS[_backend(app)], listing(seen)
    for sku in (never_added, removed):
        refused = client.put(f"{shop.prefix}/api/cart/items/{sku}", headers=bearer(token), json={"quantity": 4})
        assert refused.status_code == 422, refused.get_json()
        assert refused.get_json()["fields"]["sku_id"]["code"] == "not_in_cart", refused.get_json()
    assert client.get(f"{shop.prefix}/api/cart", headers=bearer(token)).get_json()["items"] == cart["items"]


def test_a_shopper_without_a_cart_is_told_the_item_is_not_in_it(app, shop):
    client = app.test_client()
    token, _address = make_shopper(client, shop)
    (sku,) = _skus(app, shop, 1)

    refused = client.put(f"{shop.prefix}/api/cart/items/{sku}", headers=bearer(token), json={"quantity": 1})

    assert refused.status_code == 422
    assert refused.get_json()["fields"]["sku_id"]["code"] == "not_in_cart"
    assert client.get(f"{shop.prefix}/api/cart", headers=bearer(token)).get_json() == {"items": [], "quote": None}
