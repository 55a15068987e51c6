"""PostgreSQL dropped the app's pooled connections (a restart, an idle timeout, a failover): the
next request still answers, on a fresh connection, and no error reaches the merchant."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from mallow.testing import bearer, make_store, merchant_token


@pytest.mark.parametrize("app", ["postgresql"], indirect=True)
def test_the_next_request_after_the_server_dropped_every_connection_succeeds(app):
    shop = make_store(app)
    client = app.test_client()
    token = merchant_token(client, shop)
    path = f"{shop.prefix}/api/console/products"
    assert client.get(path, headers=bearer(token)).status_code == 200  # the pool holds a connection now

    url = sa.engine.make_url(app.config["SQLALCHEMY_DATABASE_URI"])
    killer = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with killer.connect() as connection:
        dropped = connection.execute(
            sa.text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        ).scalar()
    killer.dispose()
    assert dropped >= 1

    for _ in range(3):  # every pooled connection was dropped: each checkout must notice
        answer = client.get(path, headers=bearer(token))
        assert answer.status_code == 200, answer.get_data(as_text=True)[:300]


@pytest.fixture(scope="module")
def one_connection_app(tmp_path_factory):
    """An app whose pool holds one connection, with a route that marks its connection (a
    statement that can leave session state, so the connection is reset on its return) and has
    the server drop it before the request ends."""
    from mallow.testing import HAVE_POSTGRES, build_app, dispose_app

    if not HAVE_POSTGRES:
        pytest.skip("PostgreSQL is not running")
    app = build_app(
        tmp_path_factory,
        "postgresql",
        SQLALCHEMY_ENGINE_OPTIONS={"pool_size": 1, "max_overflow": 0, "pool_timeout": 5},
    )

    from mallow.db import db
    from mallow.extensions import csrf

    @app.post("/s/<store_slug>/console/test-dropped-while-out")
    def dropped_while_out():
        connection = db.session.connection()
        connection.exec_driver_sql("SET statement_timeout = '4321ms'")  # marks it: reset on return
        pid = connection.exec_driver_sql("SELECT pg_backend_pid()").scalar()
        db.session.commit()
        killer = sa.create_engine(app.config["SQLALCHEMY_DATABASE_URI"], poolclass=sa.pool.NullPool)
        with killer.connect() as other:
            other.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        killer.dispose()
        return {"pid": pid}

    csrf.exempt(dropped_while_out)
    yield app
    dispose_app(app)


@pytest.mark.postgres
def test_a_connection_dropped_while_out_whose_reset_fails_is_replaced(one_connection_app):
    """The reset on return fails on a dropped connection: the pool discards it (it never goes
    back with the state it was marked for), and the next request gets a fresh one."""
    app = one_connection_app
    shop = make_store(app)
    client = app.test_client()
    token = merchant_token(client, shop)
    path = f"{shop.prefix}/api/console/products"
    dropped = client.post(f"{shop.prefix}/console/test-dropped-while-out").get_json()["pid"]

    for _ in range(3):
        answer = client.get(path, headers=bearer(token))
        assert answer.status_code == 200, answer.get_data(as_text=True)[:300]
    with app.app_context():
        from mallow.db import db

        with db.engine.connect() as connection:
            assert connection.exec_driver_sql("SELECT pg_backend_pid()").scalar() != dropped
            assert connection.exec_driver_sql("SHOW statement_timeout").scalar() == "0"


@pytest.mark.parametrize("app", ["postgresql"], indirect=True)
def test_a_cart_write_after_the_server_dropped_every_connection_succeeds(app):
    """The write path's one statement (PUT of a cart line) on a pool the server emptied: the
    checkout check notices, the pool connects afresh, the write is made once."""
    from mallow.testing import make_product, make_shopper

    shop = make_store(app)
    client = app.test_client()
    token, _address = make_shopper(client, shop)
    sku = make_product(app, shop, title="断线", price=500, stock=20)[0]
    assert (
        client.post(
            f"{shop.prefix}/api/cart/items", headers=bearer(token), json={"sku_id": sku, "quantity": 1}
        ).status_code
        == 201
    )
    killer = sa.create_engine(app.config["SQLALCHEMY_DATABASE_URI"], poolclass=sa.pool.NullPool)
    with killer.connect() as connection:
        connection.execute(
            sa.text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        )
    killer.dispose()

    answer = client.put(f"{shop.prefix}/api/cart/items/{sku}", headers=bearer(token), json={"quantity": 3})
    assert answer.status_code == 200, answer.get_data(as_text=True)[:300]
    assert answer.get_json()["items"] == [{"sku_id": sku, "quantity": 3}]
    assert client.get(f"{shop.prefix}/api/cart", headers=bearer(token)).get_json()["items"] == [
        {"sku_id": sku, "quantity": 3}
    ]
