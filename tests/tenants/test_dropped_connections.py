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
