"""The hot statements of the cart write and order placement are sent as SQL text compiled once
(``mallow.db.sqltext``, issue 13): the text, parameters and rows must be exactly what
SQLAlchemy's own execution sends and answers, for any store's schema, on PostgreSQL and on
SQLite, and what it cannot send that way goes through ``connection.execute`` unchanged."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from mallow.testing import bearer, make_product, make_shopper, make_store
from mallow.testing.sql import statements

on_postgresql = pytest.mark.parametrize("app", ["postgresql"], indirect=True)


def _shopper_with_cart(app, title: str, lines: int):
    """A store, a client, its shopper's token and address, and ``lines`` SKUs each put in the
    shopper's cart once."""
    shop = make_store(app)
    client = app.test_client()
    token, address = make_shopper(client, shop)
    skus = [make_product(app, shop, title=f"{title} {n}", price=1000 + n, stock=20)[0] for n in range(lines)]
    for sku in skus:
        client.post(f"{shop.prefix}/api/cart/items", headers=bearer(token), json={"sku_id": sku, "quantity": 1})
    return shop, client, token, address, skus


def _placement():
    from mallow.orders import checkout
    from mallow.orders.models import Order

    keys = tuple(c.key for c in Order.__table__.columns if checkout._written(c))
    return checkout._placement_statement(keys)


@on_postgresql
def test_the_text_is_what_the_engine_renders_for_every_store(app):
    from mallow.cart import service
    from mallow.db import sqltext
    from mallow.db import db
    from mallow.orders import checkout

    with app.app_context():
        dialect = db.engine.dialect
        hot = [checkout._reads_query(True), *service._change_and_lines_statements(), _placement()]
        for statement in hot:
            for schema in ("store_1", "store_9999999999", "Odd Name"):
                translate = {"store": schema}
                text = sqltext._text(statement, dialect, translate)
                assert text is not None, statement
                expected = statement.compile(
                    dialect=dialect, schema_translate_map=translate, render_schema_translate=True
                ).string
                assert sqltext.sql_of(text, translate, dialect) == expected
        # an expanding IN is rendered per execution: such a statement is left to the engine
        assert sqltext._text(checkout._reads_query(False), dialect, {"store": "store_1"}) is None


@on_postgresql
def test_the_cart_write_and_the_order_send_the_same_statements_and_answer_the_same(app):
    from mallow.cart import service
    from mallow.db import sqltext
    from mallow.db import db
    from mallow.orders import checkout
    from mallow.orders.models import Address
    from mallow.tenants.context import store_context

    shop, client, token, address, skus = _shopper_with_cart(app, "核桃", 3)
    with store_context(shop.store_id, app=app):
        customer_id = db.session.execute(sa.select(Address.customer_id).where(Address.id == address)).scalar_one()
        connection = db.session.connection(bind_arguments={"clause": Address.__table__})
        read = checkout._reads_query(True)
        params = {"address_id": address, "customer_id": customer_id, "key": None, "ids": skus}
        update, _delete = service._change_and_lines_statements()
        change = {"customer_id": customer_id, "b_sku": skus[1], "b_quantity": 2}
        for statement, values in ((read, params), (update, change)):
            with statements() as engine_sent:
                by_engine = [tuple(row) for row in connection.execute(statement, values)]
            with statements() as text_sent:
                by_text = sqltext.rows(connection, statement, values)
            assert by_text == by_engine
            assert text_sent == engine_sent and len(text_sent) == 1
        db.session.rollback()

    # through the API: the answers hold what the database holds (the cart's PUT is GET /cart)
    put = client.put(f"{shop.prefix}/api/cart/items/{skus[1]}", headers=bearer(token), json={"quantity": 3})
    assert put.status_code == 200
    assert put.get_json() == client.get(f"{shop.prefix}/api/cart", headers=bearer(token)).get_json()
    body = {"items": [{"sku_id": sku, "quantity": 1} for sku in skus], "address_id": address}
    with statements() as seen:
        order = client.post(f"{shop.prefix}/api/orders", headers=bearer(token), json=body)
    assert order.status_code == 201, order.get_json()
    # the read, the order's write and its stock taken in the COMMIT's round trip
    assert len([s for s in seen if ".customer_sessions" not in s]) == 3
    answer = order.get_json()
    got = client.get(f"{shop.prefix}/api/orders/{answer['id']}", headers=bearer(token)).get_json()
    assert [(line["id"], line["sku_id"]) for line in answer["lines"]] == [
        (line["id"], line["sku_id"]) for line in got["lines"]
    ]
    assert answer["total"] == got["total"] == sum(1000 + n for n in range(3))


@pytest.mark.parametrize("app", ["sqlite"], indirect=True)
def test_on_sqlite_the_text_goes_with_its_values_in_order_and_answers_as_the_engine(app):
    """pysqlite's ``?`` placeholders: the values as a tuple in the text's order (a name used twice
    sent twice), each through its type's processor both ways (a date and time, a JSON document);
    the cart write's statements send what the engine sends and read what it reads."""
    from datetime import datetime

    from mallow.cart import service
    from mallow.db import db, sqltext
    from mallow.orders.models import Address
    from mallow.tenants.context import store_context

    shop, client, token, address, skus = _shopper_with_cart(app, "松子", 2)
    with store_context(shop.store_id, app=app):
        customer_id = db.session.execute(sa.select(Address.customer_id).where(Address.id == address)).scalar_one()
        connection = db.session.connection(bind_arguments={"clause": Address.__table__})
        assert connection.dialect.name == "sqlite"
        n = sa.bindparam("n", type_=sa.Integer)
        typed = sa.select(
            n + 1,
            sa.type_coerce(sa.bindparam("when", type_=sa.DateTime), sa.DateTime),
            n * 10,
            sa.type_coerce(sa.bindparam("doc", type_=sa.JSON), sa.JSON),
        )
        values = {"n": 4, "when": datetime(2026, 12, 8, 9, 30, 15), "doc": {"规格": ["120g", 2]}}
        prepared = sqltext.prepare(connection, typed, values)
        assert prepared is not None and isinstance(prepared.values, tuple)
        assert prepared.sql.count("?") == len(prepared.values) == 6  # the literals 1 and 10 bound too
        assert prepared.values.count(4) == 2  # n, where it is used twice
        assert sqltext.rows(connection, typed, values) == [(5, values["when"], 40, values["doc"])]

        update, _delete = service._change_statements()
        cases = (
            (service._lines_query(), {"customer_id": customer_id}),
            (update, {"b_customer": customer_id, "b_sku": skus[1], "b_quantity": 2}),
        )
        for statement, params in cases:
            with statements() as engine_sent:
                by_engine = [tuple(row) for row in connection.execute(statement, params)]
            with statements() as text_sent:
                by_text = sqltext.rows(connection, statement, params)
            assert by_text == by_engine and by_text
            assert text_sent == engine_sent and len(text_sent) == 1
        db.session.rollback()

    # through the API, on the front door's lane: the answer holds what the database holds
    put = client.put(f"{shop.prefix}/api/cart/items/{skus[1]}", headers=bearer(token), json={"quantity": 3})
    assert put.status_code == 200
    assert put.get_json() == client.get(f"{shop.prefix}/api/cart", headers=bearer(token)).get_json()
    assert [(i["sku_id"], i["quantity"]) for i in put.get_json()["items"]] == [(skus[0], 1), (skus[1], 3)]
