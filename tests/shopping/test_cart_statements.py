"""The store API's cart write costs one statement on PostgreSQL, and answers exactly what a read
of the committed cart answers.

``PUT /cart/items/<sku>`` changes the line and reads the cart's lines back with their SKUs and
products. On PostgreSQL that is one statement (a data-modifying CTE whose outer ``SELECT`` takes
the changed quantity from the ``UPDATE``'s ``RETURNING``, or leaves out the line the
``DELETE`` removed); on SQLite, which has no data-modifying CTE, an ``UPDATE`` and a ``SELECT``.
Besides the bearer token's lookup: 1 statement on PostgreSQL, 2 on SQLite, whatever the number
of lines (issue 13). Counts, not timings: a statement more is a round trip back on the hot path.

Every answer below is compared byte for byte with ``GET /cart`` right after it, which reads the
committed cart through its own, unchanged path: the one-statement write answers the same JSON.
"""

from __future__ import annotations

import pytest

from mallow.testing import bearer, make_product, make_shopper, make_store
from mallow.testing.sql import listing, statements


def _put_statements(app) -> int:
    """The write's own statements: the bearer token's lookup (which may come from memory) aside."""
    return 1 if app.extensions["mallow.store_engines"].is_postgresql else 2


def _own(seen: list[str]) -> list[str]:
    return [statement for statement in seen if "customer_sessions" not in statement]


@pytest.fixture
def shop(app):
    return make_store(app)


def _skus(app, shop, count: int, stock: int = 50) -> list[int]:
    return [make_product(app, shop, title=f"货品 {n}", price=1200 + n, stock=stock)[0] for n in range(count)]


def _shopper_with(client, shop, lines: dict[int, int]) -> str:
    token, _address = make_shopper(client, shop)
    for sku, quantity in lines.items():
        added = client.post(
            f"{shop.prefix}/api/cart/items", headers=bearer(token), json={"sku_id": sku, "quantity": quantity}
        )
        assert added.status_code == 201, added.get_json()
    return token


def _read(client, shop, token) -> bytes:
    answer = client.get(f"{shop.prefix}/api/cart", headers=bearer(token))
    assert answer.status_code == 200
    return answer.get_data()


def _put(client, shop, token, sku, quantity):
    with statements() as seen:
        answer = client.put(f"{shop.prefix}/api/cart/items/{sku}", headers=bearer(token), json={"quantity": quantity})
    return answer, seen


@pytest.mark.parametrize("lines", [1, 5])
def test_changing_a_quantity_is_one_statement_on_postgresql_and_answers_the_committed_cart(app, shop, lines):
    client = app.test_client()
    skus = _skus(app, shop, lines)
    token = _shopper_with(client, shop, dict.fromkeys(skus, 1))

    answer, seen = _put(client, shop, token, skus[-1], 4)

    assert answer.status_code == 200, answer.get_json()
    assert len(_own(seen)) == _put_statements(app), listing(seen)
    assert sum("cart_items" in s and ("UPDATE" in s) for s in seen) == 1, listing(seen)
    cart = answer.get_json()
    assert cart["items"] == [{"sku_id": sku, "quantity": 4 if sku == skus[-1] else 1} for sku in skus]
    assert cart["quote"]["items_total"] == 4 * (1200 + lines - 1) + sum(1200 + n for n in range(lines - 1))
    assert answer.get_data() == _read(client, shop, token)  # byte for byte what a read answers


def test_a_quantity_of_zero_removes_the_line_in_one_statement(app, shop):
    client = app.test_client()
    first, middle, last = _skus(app, shop, 3)
    token = _shopper_with(client, shop, {first: 2, middle: 1, last: 3})

    answer, seen = _put(client, shop, token, middle, 0)

    assert answer.status_code == 200, answer.get_json()
    assert len(_own(seen)) == _put_statements(app), listing(seen)
    assert answer.get_json()["items"] == [{"sku_id": first, "quantity": 2}, {"sku_id": last, "quantity": 3}]
    assert answer.get_json()["quote"]["items_total"] == 2 * 1200 + 3 * 1202
    assert answer.get_data() == _read(client, shop, token)

    emptied, _seen = _put(client, shop, token, first, 0)
    emptied, _seen = _put(client, shop, token, last, 0)
    assert emptied.status_code == 200 and emptied.get_json() == {"items": [], "quote": None}
    assert emptied.get_data() == _read(client, shop, token)


def test_a_sku_not_in_the_cart_or_a_bad_quantity_is_a_field_error_and_changes_nothing(app, shop):
    client = app.test_client()
    kept, never_added = _skus(app, shop, 2)
    token = _shopper_with(client, shop, {kept: 2})
    before = _read(client, shop, token)

    for quantity in (3, 0):
        refused, _seen = _put(client, shop, token, never_added, quantity)
        assert refused.status_code == 422, refused.get_data(as_text=True)[:300]
        assert refused.get_json()["fields"]["sku_id"]["code"] == "not_in_cart"
    refused, seen = _put(client, shop, token, 99_999_999_999, 1)  # beyond any id: no such route
    assert refused.status_code == 404 and seen == [], listing(seen)
    for quantity in (1000, -1, "many"):
        refused, _seen = _put(client, shop, token, kept, quantity)
        assert 400 <= refused.status_code < 500, refused.get_data(as_text=True)[:300]
    assert _read(client, shop, token) == before


def test_a_shopper_without_a_cart_is_told_the_item_is_not_in_it(app, shop):
    client = app.test_client()
    (sku,) = _skus(app, shop, 1)
    token, _address = make_shopper(client, shop)

    refused, seen = _put(client, shop, token, sku, 2)

    assert refused.status_code == 422 and refused.get_json()["fields"]["sku_id"]["code"] == "not_in_cart"
    # the lane's change that found no line (it gives way to the route, which answers the 422)
    # and the route's own
    assert len(_own(seen)) == 2, listing(seen)
    assert client.get(f"{shop.prefix}/api/cart", headers=bearer(token)).get_json() == {"items": [], "quote": None}


def test_another_shoppers_cart_with_the_same_sku_is_untouched(app, shop):
    client = app.test_client()
    shared, other = _skus(app, shop, 2)
    mine = _shopper_with(client, shop, {shared: 1, other: 1})
    theirs = _shopper_with(client, shop, {shared: 5})
    their_cart = _read(client, shop, theirs)

    for quantity in (7, 0):
        answer, _seen = _put(client, shop, mine, shared, quantity)
        assert answer.status_code == 200, answer.get_json()
        assert _read(client, shop, theirs) == their_cart
    assert [item["sku_id"] for item in answer.get_json()["items"]] == [other]

    refused, _seen = _put(client, shop, mine, shared, 2)  # removed from mine, still in theirs
    assert refused.status_code == 422
    assert _read(client, shop, theirs) == their_cart


def test_a_line_off_the_shelf_stays_in_the_cart_and_out_of_the_quote(app, shop):
    from mallow.catalog.models import Product, Sku
    from mallow.db import db
    from mallow.tenants.context import store_context

    client = app.test_client()
    kept, gone = _skus(app, shop, 2)
    token = _shopper_with(client, shop, {kept: 1, gone: 2})
    with store_context(shop.store_id, app=app):
        db.session.get(Product, db.session.get(Sku, gone).product_id).status = "off_shelf"
        db.session.commit()

    for sku, quantity in ((kept, 3), (gone, 1)):  # changing either line
        answer, seen = _put(client, shop, token, sku, quantity)
        assert answer.status_code == 200, answer.get_json()
        assert answer.get_json()["unavailable"] == [gone]
        assert answer.get_json()["quote"]["items_total"] == 3 * 1200
        assert answer.get_data() == _read(client, shop, token)
    assert answer.get_json()["items"] == [{"sku_id": kept, "quantity": 3}, {"sku_id": gone, "quantity": 1}]


def test_the_one_statement_write_answers_what_the_two_statement_one_did(app, shop):
    """The service's answer, compared with the update-then-read it replaces on every backend."""
    from mallow.cart import service as carts
    from mallow.db import db
    from mallow.tenants.context import store_context

    client = app.test_client()
    skus = _skus(app, shop, 3)
    token = _shopper_with(client, shop, dict.fromkeys(skus, 2))
    customer_id = client.get(f"{shop.prefix}/api/me", headers=bearer(token)).get_json()["id"]

    for sku, quantity in ((skus[1], 6), (skus[0], 0), (skus[2], 1)):
        with store_context(shop.store_id, app=app):
            carts.set_quantity_of(customer_id, sku, quantity)
            expected = carts.lines_with_skus(customer_id)
            db.session.rollback()
        with store_context(shop.store_id, app=app):
            assert carts.set_quantity_and_read(customer_id, sku, quantity) == expected
            db.session.commit()
