"""The orders' indexes (store migration d3e5f7a9c124): no index of its own on ``customer_id``
(``uq_orders_customer_idempotency`` leads with it), one ``(status, pay_deadline)`` instead of two.

What a new order costs PostgreSQL: the order's one read looks up the order already placed under
the request's Idempotency-Key by shopper and key. With an index on ``customer_id`` alone beside
the unique one, the prepared (generic) plan of that read walked every order the shopper ever
placed, one heap fetch each, on every new order; now it is one probe of the unique index,
whatever the shopper's history.
"""

from __future__ import annotations


import pytest
import sqlalchemy as sa
from flask import Flask

from mallow.testing import bearer, make_product, make_shopper, make_store
from tests.tenants.test_migrations import migrated_scratch_store

OLD_HEAD = "c2d4f6b8e013"


def _orders_indexes(connection: sa.Connection, schema: str) -> dict[str | None, list[str | None]]:
    return {index["name"]: index["column_names"] for index in sa.inspect(connection).get_indexes("orders", schema)}


def test_the_migration_goes_down_and_up_again(app: Flask) -> None:
    from mallow.db.migrate import run_store_chain, store_schema_drift

    with migrated_scratch_store(app) as (engines, scratch):
        schema = engines.version_table_schema(scratch)
        with engines.engine_for(scratch).begin() as connection:
            assert _orders_indexes(connection, schema)["ix_orders_status_pay_deadline"] == [
                "status",
                "pay_deadline",
            ]
            assert "ix_orders_customer_id" not in _orders_indexes(connection, schema)
            run_store_chain(connection, schema, OLD_HEAD, downgrade=True)
        with engines.engine_for(scratch).begin() as connection:
            indexes = _orders_indexes(connection, schema)
            assert indexes["ix_orders_customer_id"] == ["customer_id"]
            assert indexes["ix_orders_status"] == ["status"]
            assert indexes["ix_orders_pay_deadline"] == ["pay_deadline"]
            assert "ix_orders_status_pay_deadline" not in indexes
            run_store_chain(connection, schema)
        with engines.engine_for(scratch).connect() as connection:
            assert store_schema_drift(connection, schema, schema) == []


@pytest.mark.parametrize("app", ["postgresql"], indirect=True)
@pytest.mark.parametrize("key", [None, "a-new-key"])
def test_the_orders_read_does_not_walk_the_shoppers_orders(app: Flask, key: str | None) -> None:
    """The read of a shopper with 120 orders, planned generic (as the prepared statement is
    after five executions), reads no index entry of ``orders`` (none matches). Before, it read
    all 120: from about a hundred orders on, the plan took the index on ``customer_id`` alone
    and filtered the rows by key."""
    from mallow.accounts.models import Customer
    from mallow.db import db
    from mallow.orders import checkout
    from mallow.tenants.context import store_context

    shop = make_store(app)
    client = app.test_client()
    token, address = make_shopper(client, shop)
    sku = make_product(app, shop, stock=1_000)[0]
    for _n in range(120):
        answer = client.post(
            f"{shop.prefix}/api/orders",
            headers=bearer(token),
            json={"items": [{"sku_id": sku, "quantity": 1}], "address_id": address},
        )
        assert answer.status_code == 201, answer.get_json()
    with store_context(shop.store_id, app=app):
        customer_id = db.session.execute(sa.select(Customer.id)).scalar_one()
        connection = db.session.connection()
        connection.exec_driver_sql("SET LOCAL plan_cache_mode = force_generic_plan")
        # index entries of orders read by this backend, flushed to the statistics or not
        entries = f"SELECT sum(pg_stat_get_xact_tuples_returned(indexrelid)) FROM pg_index WHERE indrelid = 'store_{shop.store_id}.orders'::regclass"
        before = connection.exec_driver_sql(entries).scalar_one()
        _connection, found_address, existing, found, _facts = checkout._read(customer_id, address, key, "digest", [sku])
        read = connection.exec_driver_sql(entries).scalar_one() - before
        db.session.rollback()
    assert found_address is not None and existing is None and sku in found
    assert read == 0
