"""PostgreSQL: one pooled connection serves every store in turn and never mixes them up.

The pool holds a single connection, so every request below runs on the same server session:
a schema left behind by one request would show up in the next one.
"""
from __future__ import annotations

import pytest

from mallow.testing import HAVE_POSTGRES, build_app
from mallow.testing import bearer, make_admin, make_store

pytestmark = [pytest.mark.postgres, pytest.mark.skipif(not HAVE_POSTGRES, reason="PostgreSQL is not running")]


class Boom(RuntimeError):
    pass


@pytest.fixture(scope="module")
def pooled_app(tmp_path_factory):
    app = build_app(tmp_path_factory, "postgresql",
                    SQLALCHEMY_ENGINE_OPTIONS={"pool_size": 1, "max_overflow": 0, "pool_timeout": 5})
    make_admin(app)

    from mallow.accounts.models import Customer
    from mallow.db import db

    @app.post("/s/<store_slug>/test-fail-midway")
    def fail_midway():  # writes to the store's schema, then fails before commit
        db.session.add(Customer(login_digest="x" * 64, login_cipher="-", nickname="ghost"))
        db.session.flush()
        raise Boom("failed mid-transaction")

    from mallow.extensions import csrf

    csrf.exempt(fail_midway)

    app.config["PROPAGATE_EXCEPTIONS"] = False
    yield app
    with app.app_context():
        db.engine.dispose()


def _shopper(client, shop, nickname):
    response = client.post(f"{shop.prefix}/api/customers",
                           json={"login": f"{nickname}@example.com", "password": "pass-word-1", "nickname": nickname})
    assert response.status_code == 201, response.get_json()
    return response.get_json()["token"]


def _search_path(app):
    from mallow.db import db

    with app.app_context():
        with db.engine.connect() as connection:
            return connection.exec_driver_sql("SHOW search_path").scalar()


def test_interleaved_requests_on_one_pooled_connection(pooled_app):
    shops = [make_store(pooled_app) for _ in range(3)]
    client = pooled_app.test_client()
    tokens = [_shopper(client, shop, f"buyer{i}") for i, shop in enumerate(shops)]
    default_path = _search_path(pooled_app)
    for round_ in range(10):
        for i, (shop, token) in enumerate(zip(shops, tokens)):
            me = client.get(f"{shop.prefix}/api/me", headers=bearer(token)).get_json()
            assert me["nickname"] == f"buyer{i}", (round_, i, me)
            # the token of the previous store, sent to this one, finds nothing here
            other = tokens[i - 1]
            assert client.get(f"{shop.prefix}/api/me", headers=bearer(other)).status_code == 401
    assert _search_path(pooled_app) == default_path  # no request left session state behind


def test_failed_transaction_then_another_store_on_the_same_connection(pooled_app):
    a, b = make_store(pooled_app), make_store(pooled_app)
    client = pooled_app.test_client()
    token_a, token_b = _shopper(client, a, "alice"), _shopper(client, b, "bob")
    assert client.post(f"{a.prefix}/test-fail-midway").status_code == 500
    me = client.get(f"{b.prefix}/api/me", headers=bearer(token_b)).get_json()
    assert me["nickname"] == "bob"
    from mallow.accounts.models import Customer
    from mallow.db import db
    from mallow.tenants.context import store_context

    for shop, expected in ((a, ["alice"]), (b, ["bob"])):
        with store_context(shop.store_id, app=pooled_app):
            assert [c.nickname for c in db.session.execute(db.select(Customer)).scalars()] == expected
    assert client.get(f"{a.prefix}/api/me", headers=bearer(token_a)).get_json()["nickname"] == "alice"


def test_raw_sql_without_a_schema_never_reaches_store_tables(pooled_app):
    """``text()`` SQL is not schema-translated: a store table named without its schema is not
    found in the default schema, so such code fails instead of reading a guessed store."""
    import sqlalchemy as sa

    from mallow.db import db

    shop = make_store(pooled_app)
    from mallow.tenants.context import store_context

    with store_context(shop.store_id, app=pooled_app):
        with pytest.raises(sa.exc.ProgrammingError):
            db.session.execute(sa.text("SELECT count(*) FROM customers"))
