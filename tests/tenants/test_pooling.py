"""One pooled connection serves every store in turn and never mixes them up, on both backends.

PostgreSQL: the platform pool holds a single connection, so every request below runs on the same
server session: a schema left behind by one request (``search_path``) would show up in the next.

SQLite: a store's tables are its own file, attached as ``store`` to the connections of that store's
engine only. The same requests run with a one-connection platform pool, and afterwards every
pooled connection is looked at: the store engine's has exactly its own file attached and no open
transaction (a failed request's write would otherwise stay pending on it), the platform's none.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from mallow.testing import HAVE_POSTGRES, bearer, build_app, make_admin, make_store


class Boom(RuntimeError):
    pass


@pytest.fixture(
    scope="module",
    params=[
        "sqlite",
        pytest.param(
            "postgresql",
            marks=[pytest.mark.postgres, pytest.mark.skipif(not HAVE_POSTGRES, reason="PostgreSQL is not running")],
        ),
    ],
)
def pooled_app(request, tmp_path_factory):
    app = build_app(
        tmp_path_factory,
        request.param,
        SQLALCHEMY_ENGINE_OPTIONS={"pool_size": 1, "max_overflow": 0, "pool_timeout": 5},
    )
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
        app.extensions["mallow.store_engines"].dispose()
        db.engine.dispose()
    if request.param == "postgresql":
        from mallow.testing import drop_postgres_database

        drop_postgres_database(app.config["SQLALCHEMY_DATABASE_URI"])


def _shopper(client, shop, nickname):
    response = client.post(
        f"{shop.prefix}/api/customers",
        json={
            "login": f"{nickname}@example.com",
            "password": "pass-word-1",
            "nickname": nickname,
            "privacy_consent": True,
        },
    )
    assert response.status_code == 201, response.get_json()
    return response.get_json()["token"]


def _connection_state(app, shops) -> dict:
    """What the pooled connections carry between requests: PostgreSQL's ``search_path``; on
    SQLite, per store engine, the attached files and whether a transaction is still open."""
    from mallow.db import db

    engines = app.extensions["mallow.store_engines"]
    with app.app_context():
        if engines.is_postgresql:
            with db.engine.connect() as connection:
                return {"search_path": connection.exec_driver_sql("SHOW search_path").scalar()}
        state = {}
        for name, engine in [("platform", db.engine)] + [
            (shop.slug, engines.engine_for(shop.store_id)) for shop in shops
        ]:
            with engine.connect() as connection:
                left_open = connection.connection.dbapi_connection.in_transaction  # before anything runs
                attached = {row[1]: row[2] for row in connection.exec_driver_sql("PRAGMA database_list")}
                state[name] = {
                    "attached": {k: v for k, v in attached.items() if k not in ("main", "temp")},
                    "open_transaction_on_checkout": left_open,
                }
        return state


def _expected_sqlite_state(app, shops) -> dict:
    engines = app.extensions["mallow.store_engines"]
    state = {"platform": {"attached": {}, "open_transaction_on_checkout": False}}
    for shop in shops:
        state[shop.slug] = {
            "attached": {"store": str(engines.sqlite_path(shop.store_id))},
            "open_transaction_on_checkout": False,
        }
    return state


def test_interleaved_requests_on_one_pooled_connection(pooled_app):
    shops = [make_store(pooled_app) for _ in range(3)]
    client = pooled_app.test_client()
    tokens = [_shopper(client, shop, f"buyer{i}") for i, shop in enumerate(shops)]
    before = _connection_state(pooled_app, shops)
    for round_ in range(10):
        for i, (shop, token) in enumerate(zip(shops, tokens, strict=False)):
            me = client.get(f"{shop.prefix}/api/me", headers=bearer(token)).get_json()
            assert me["nickname"] == f"buyer{i}", (round_, i, me)
            # the token of the previous store, sent to this one, finds nothing here
            other = tokens[i - 1]
            assert client.get(f"{shop.prefix}/api/me", headers=bearer(other)).status_code == 401
    after = _connection_state(pooled_app, shops)
    assert after == before  # no request left session state behind
    if not pooled_app.extensions["mallow.store_engines"].is_postgresql:
        assert after == _expected_sqlite_state(pooled_app, shops)


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
    if not pooled_app.extensions["mallow.store_engines"].is_postgresql:
        assert _connection_state(pooled_app, [a, b]) == _expected_sqlite_state(pooled_app, [a, b])


def test_raw_sql_without_a_schema_never_reaches_store_tables(pooled_app):
    """``text()`` SQL is not schema-translated (PostgreSQL) and goes to the platform database
    (SQLite): a store table named without its schema is not found, so such code fails instead of
    reading a guessed store."""
    from mallow.db import db
    from mallow.tenants.context import store_context

    shop = make_store(pooled_app)
    with store_context(shop.store_id, app=pooled_app):
        with pytest.raises((sa.exc.ProgrammingError, sa.exc.OperationalError)):
            db.session.execute(sa.text("SELECT count(*) FROM customers"))
