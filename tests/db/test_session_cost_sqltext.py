"""What a hot statement sent as text (``mallow.db.sqltext``) costs per execution (issue 13): the
same store's next execution gets the text made for its schema before (the same ``str``), and
the pooled connection's cursor is used again, not made and closed per statement. What must not
change: the SQL and the rows, a failure as SQLAlchemy raises it, and nothing of a failed
statement kept."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from mallow.testing import make_product, make_store

pytestmark = pytest.mark.parametrize("app", ["postgresql"], indirect=True)


def _reads(dialect_name: str = "postgresql"):
    from mallow.orders import checkout

    return checkout._reads_query(dialect_name == "postgresql")


def test_the_text_for_a_schema_is_made_once_and_is_what_the_engine_renders(app):
    from mallow.db import db, sqltext

    with app.app_context():
        dialect = db.engine.dialect
        statement = _reads()
        text = sqltext._text(statement, dialect, {"store": "store_1"})
        first = sqltext.sql_of(text, {"store": "store_1"}, dialect)
        assert sqltext.sql_of(text, {"store": "store_1"}, dialect) is first
        other = sqltext.sql_of(text, {"store": "Odd Name"}, dialect)
        assert other != first
        for schema, sql in (("store_1", first), ("Odd Name", other)):
            expected = statement.compile(
                dialect=dialect, schema_translate_map={"store": schema}, render_schema_translate=True
            ).string
            assert sql == expected


def test_the_texts_kept_per_statement_are_bounded(app):
    from mallow.db import db, sqltext

    with app.app_context():
        dialect = db.engine.dialect
        text = sqltext._text(_reads(), dialect, {"store": "store_1"})
        for store_id in range(sqltext.RENDERED_KEPT * 3):
            assert f"store_{store_id}." in sqltext.sql_of(text, {"store": f"store_{store_id}"}, dialect)
            assert len(text.rendered) <= sqltext.RENDERED_KEPT


def test_the_connection_keeps_one_cursor_for_its_statements_and_the_rows_are_the_engines(app):
    from mallow.catalog.models import Sku
    from mallow.db import db, sqltext
    from mallow.tenants.context import store_context

    shop = make_store(app)
    [sku] = make_product(app, shop, title="核桃", price=1000, stock=7)
    with store_context(shop.store_id, app=app):
        connection = db.session.connection(bind_arguments={"clause": Sku.__table__})
        statement, params = _reads(), {"address_id": 0, "customer_id": 0, "key": None, "ids": [sku]}
        by_engine = [tuple(row) for row in connection.execute(statement, params)]
        assert sqltext.rows(connection, statement, params) == by_engine
        kept = connection.connection.info[sqltext._CURSOR]
        assert not kept.closed and kept.connection is connection.connection.dbapi_connection
        assert sqltext.rows(connection, statement, params) == by_engine
        assert connection.connection.info[sqltext._CURSOR] is kept  # used again
        db.session.rollback()


def test_a_failed_statement_closes_its_cursor_and_raises_as_sqlalchemy_does(app):
    from mallow.catalog.models import Sku
    from mallow.db import db, sqltext
    from mallow.tenants.context import store_context

    shop = make_store(app)
    [sku] = make_product(app, shop, title="核桃", price=1000, stock=7)
    with store_context(shop.store_id, app=app):
        connection = db.session.connection(bind_arguments={"clause": Sku.__table__})
        statement = _reads()
        params = {"address_id": 0, "customer_id": 0, "key": None, "ids": [sku]}
        sqltext.rows(connection, statement, params)
        kept = connection.connection.info[sqltext._CURSOR]
        with pytest.raises(sa.exc.DBAPIError):
            sqltext.rows(connection, statement, {**params, "ids": ["not a number"]})
        assert kept.closed and sqltext._CURSOR not in connection.connection.info
        db.session.rollback()
        connection = db.session.connection(bind_arguments={"clause": Sku.__table__})
        assert sqltext.rows(connection, statement, params)  # a new cursor, the transaction works
        assert connection.connection.info[sqltext._CURSOR] is not kept
        db.session.rollback()


def test_a_statement_sent_while_the_cursor_is_in_use_gets_its_own(app):
    """A ``before_cursor_execute`` listener that sends a statement of its own this way on the
    same connection must not take the cursor whose rows are still to be read."""
    from mallow.catalog.models import Sku
    from mallow.db import db, sqltext
    from mallow.tenants.context import store_context

    shop = make_store(app)
    [sku] = make_product(app, shop, title="核桃", price=1000, stock=7)
    with store_context(shop.store_id, app=app):
        connection = db.session.connection(bind_arguments={"clause": Sku.__table__})
        statement = _reads()
        params = {"address_id": 0, "customer_id": 0, "key": None, "ids": [sku]}
        expected = sqltext.rows(connection, statement, params)
        inner: list = []

        def nested(conn, cursor, sql, parameters, context, executemany):
            if not inner:
                inner.append(cursor)
                inner.append(sqltext.rows(connection, statement, params))

        sa.event.listen(connection, "before_cursor_execute", nested)
        try:
            assert sqltext.rows(connection, statement, params) == expected
        finally:
            sa.event.remove(connection, "before_cursor_execute", nested)
        assert inner[1] == expected
        db.session.rollback()
