"""One last statement sent in the COMMIT's round trip (``mallow.db.with_commit``, issue 13).

What a caller relies on: everything the session holds is flushed and committed with the
statement; the statement's rows come back and ``then`` sees them before the session's
``after_commit`` listeners run; when the statement fails nothing of the transaction is kept (the
server skips the COMMIT), the error is SQLAlchemy's, and after the rollback the pool's one
connection serves the next request as usual.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from mallow.testing import make_product, make_store
from mallow.testing.servers import HAVE_POSTGRES

pytestmark = [pytest.mark.postgres, pytest.mark.skipif(not HAVE_POSTGRES, reason="PostgreSQL is not running")]


@pytest.fixture(scope="module")
def app(one_connection_app):
    return one_connection_app


def _take():
    from mallow.catalog.models import Sku

    skus = Sku.__table__
    return (
        sa.update(skus)
        .where(skus.c.id == sa.bindparam("sku", type_=sa.Integer))
        .values(stock=skus.c.stock - sa.bindparam("units", type_=sa.Integer))
        .returning(skus.c.id, skus.c.stock)
    )


def _state(app, shop, sku):
    from mallow.catalog.models import Product, Sku
    from mallow.db import db
    from mallow.tenants.context import store_context

    with store_context(shop.store_id, app=app):
        row = db.session.get(Sku, sku)
        return db.session.get(Product, row.product_id).title, row.stock


def test_the_statement_and_the_sessions_changes_commit_together(app):
    from mallow.catalog.models import Product, Sku
    from mallow.db import db, with_commit
    from mallow.tenants.context import store_context

    shop = make_store(app)
    [sku] = make_product(app, shop, title="核桃", price=1000, stock=5)
    seen = []
    with store_context(shop.store_id, app=app):
        session = db.session()
        sa.event.listen(session, "after_commit", lambda _s: seen.append("after_commit"))
        db.session.get(Product, db.session.get(Sku, sku).product_id).title = "山核桃"  # flushed by the commit
        connection = session.connection(bind_arguments={"clause": Sku.__table__})
        rows = with_commit.commit_with(
            session, connection, _take(), {"sku": sku, "units": 2}, lambda found: seen.append(("then", found))
        )

    assert rows == [(sku, 3)]
    assert seen == [("then", [(sku, 3)]), "after_commit"]
    assert _state(app, shop, sku) == ("山核桃", 3)


def test_a_failing_statement_keeps_nothing_and_the_connection_serves_on(app):
    from mallow.catalog.models import Product, Sku
    from mallow.db import db, with_commit
    from mallow.tenants.context import store_context

    shop = make_store(app)
    [sku] = make_product(app, shop, title="核桃", price=1000, stock=1)
    called = []
    with store_context(shop.store_id, app=app):
        session = db.session()
        db.session.get(Product, db.session.get(Sku, sku).product_id).title = "不该留下"
        connection = session.connection(bind_arguments={"clause": Sku.__table__})
        with pytest.raises(sa.exc.IntegrityError) as refused:  # the CHECK: stock never below zero
            with_commit.commit_with(session, connection, _take(), {"sku": sku, "units": 2}, called.append)
        session.rollback()
        assert "stock_not_negative" in str(refused.value)
        # the same (only) pooled connection, a new transaction: works, and nothing was kept
        assert db.session.execute(sa.select(Sku.stock).where(Sku.id == sku)).scalar() == 1

    assert called == []
    assert _state(app, shop, sku) == ("核桃", 1)
