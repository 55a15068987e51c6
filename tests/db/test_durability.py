"""Which commits wait for the disk (``mallow.db.durability``). On SQLite a shopper's cart write on
the lane commits with ``synchronous=NORMAL`` (no sync of the log while the store's write lock is
held); an order still commits with ``FULL``, and every connection the pool lends afterwards is
back at ``FULL``. On PostgreSQL the cart's change statement turns ``synchronous_commit`` off for
its own transaction only."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import sqlalchemy as sa

from mallow.testing import bearer, make_product, make_shopper, make_store

SQLITE = pytest.mark.parametrize("app", ["sqlite"], indirect=True)
FULL, NORMAL = 2, 1


def _synchronous(connection: sa.Connection) -> int:
    return connection.connection.dbapi_connection.execute("PRAGMA store.synchronous").fetchone()[0]


@contextmanager
def commits_seen() -> Iterator[list[int]]:
    """The store file's ``synchronous`` at every SQLite commit inside the block."""
    seen: list[int] = []

    def commit(connection):
        if connection.dialect.name == "sqlite" and "store" in {
            row[1] for row in connection.connection.dbapi_connection.execute("PRAGMA database_list")
        }:
            seen.append(_synchronous(connection))

    sa.event.listen(sa.engine.Engine, "commit", commit)
    try:
        yield seen
    finally:
        sa.event.remove(sa.engine.Engine, "commit", commit)


@SQLITE
def test_a_cart_write_skips_the_disk_an_order_does_not(app) -> None:
    shop = make_store(app)
    [sku] = make_product(app, shop, price=1200, stock=50)
    client = app.test_client()
    token, address = make_shopper(client, shop)
    headers = bearer(token)
    added = client.post(f"{shop.prefix}/api/cart/items", headers=headers, json={"sku_id": sku, "quantity": 1})
    assert added.status_code == 201, added.get_json()

    with commits_seen() as seen:
        answered = client.put(f"{shop.prefix}/api/cart/items/{sku}", headers=headers, json={"quantity": 4})
    assert answered.status_code == 200 and answered.get_json()["quote"]["total"] == 4 * 1200
    assert seen == [NORMAL]

    with commits_seen() as seen:
        placed = client.post(
            f"{shop.prefix}/api/orders",
            headers=headers,
            json={"items": [{"sku_id": sku, "quantity": 4}], "address_id": address},
        )
    assert placed.status_code == 201, placed.get_json()
    assert seen and set(seen) == {FULL}

    # the quantity written without the sync is what the store holds, and every connection the
    # pool lends on waits for the disk again
    engine = app.extensions["mallow.store_engines"].engine_for(shop.store_id)
    held = [engine.connect() for _n in range(engine.pool.size())]
    try:
        assert {_synchronous(connection) for connection in held} == {FULL}
    finally:
        for connection in held:
            connection.close()


@SQLITE
def test_a_transaction_left_open_discards_the_relaxed_connection(app, caplog) -> None:
    from mallow.db import durability

    shop = make_store(app)
    engine = app.extensions["mallow.store_engines"].engine_for(shop.store_id)
    with engine.connect() as connection:
        with caplog.at_level(logging.ERROR, logger="mallow.db"), durability.relaxed(connection):
            assert _synchronous(connection) == NORMAL
            connection.begin()
            connection.exec_driver_sql("SELECT 1 FROM store.skus")
        assert connection.invalidated
    assert "could not put back" in caplog.text
    with engine.connect() as connection:
        assert _synchronous(connection) == FULL


@pytest.mark.parametrize("app", ["postgresql"], indirect=True)
def test_on_postgresql_the_cart_write_relaxes_its_own_transaction_only(app) -> None:
    """The cart's change statement (lane and route alike) sets ``synchronous_commit`` off for the
    transaction it runs in, and the next transaction on the same connection is back to on."""
    from mallow.cart.service import change_and_read

    shop = make_store(app)
    [sku] = make_product(app, shop, price=1200, stock=50)
    client = app.test_client()
    token, _address = make_shopper(client, shop)
    added = client.post(f"{shop.prefix}/api/cart/items", headers=bearer(token), json={"sku_id": sku, "quantity": 1})
    assert added.status_code == 201, added.get_json()
    engine = app.extensions["mallow.store_engines"].engine_for(shop.store_id)
    with engine.connect() as connection:
        customer_id = connection.exec_driver_sql(f"SELECT customer_id FROM store_{shop.store_id}.carts").scalar_one()
        connection.commit()
        with connection.begin():
            assert connection.exec_driver_sql("SHOW synchronous_commit").scalar_one() == "on"
            lines, _skus = change_and_read(connection, customer_id, sku, 3)
            assert [line["quantity"] for line in lines] == [3]
            assert connection.exec_driver_sql("SHOW synchronous_commit").scalar_one() == "off"
        with connection.begin():
            assert connection.exec_driver_sql("SHOW synchronous_commit").scalar_one() == "on"
    answered = client.put(f"{shop.prefix}/api/cart/items/{sku}", headers=bearer(token), json={"quantity": 5})
    assert answered.status_code == 200 and answered.get_json()["items"][0]["quantity"] == 5


@pytest.mark.parametrize("app", ["postgresql"], indirect=True)
def test_on_postgresql_relaxed_sends_nothing(app) -> None:
    from mallow.db import durability
    from mallow.testing.sql import statements

    shop = make_store(app)
    engine = app.extensions["mallow.store_engines"].engine_for(shop.store_id)
    with engine.connect() as connection, statements() as seen, durability.relaxed(connection):
        pass
    assert seen == []
