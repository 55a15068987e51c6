"""A PostgreSQL connection is closed once it has served M distinct store schemas, so its
catalogue cache (~25 KiB per schema touched) cannot grow with the number of stores."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from mallow.db.session import STORE_SCHEMA
from mallow.testing import HAVE_POSTGRES, drop_postgres_database, fresh_postgres_database
from mallow.tenants import recycling

pytestmark = [pytest.mark.postgres, pytest.mark.skipif(not HAVE_POSTGRES, reason="PostgreSQL is not running")]

SCHEMAS = [f"store_{i}" for i in range(1, 6)]


@pytest.fixture(scope="module")
def database():
    url = fresh_postgres_database()
    setup = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with setup.begin() as connection:
        for schema in SCHEMAS:
            connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"; CREATE TABLE "{schema}".staff (id int)')
    setup.dispose()
    yield url
    drop_postgres_database(url)


@pytest.fixture
def engine(database):
    engine = sa.create_engine(database, pool_size=1, max_overflow=0)
    yield engine
    engine.dispose()


staff = sa.Table("staff", sa.MetaData(), sa.Column("id", sa.Integer), schema=STORE_SCHEMA)


def serve(engine, schema: str) -> int:
    """One request of store ``schema``: its statement translated as a store engine's are; the
    server process that answered."""
    with engine.connect() as connection:
        connection = connection.execution_options(schema_translate_map={STORE_SCHEMA: schema})
        connection.execute(sa.select(staff.c.id)).all()
        return connection.exec_driver_sql("SELECT pg_backend_pid()").scalar()


def test_a_connection_is_closed_after_serving_m_schemas_and_not_before(engine):
    assert recycling.install(engine, 3)
    first = {serve(engine, schema) for schema in ["store_1", "store_2", "store_1", "store_2", "store_2"]}
    assert len(first) == 1  # two schemas, served again and again: the same connection
    third = serve(engine, "store_3")
    assert third in first  # the third schema is still served by it, which is closed on its return
    fresh = serve(engine, "store_4")
    assert fresh not in first
    assert serve(engine, "store_1") == fresh == serve(engine, "store_5")  # a new count: 3 schemas


def test_statements_without_a_store_schema_do_not_count(engine):
    recycling.install(engine, 2)
    with engine.connect() as connection:
        pid = connection.exec_driver_sql("SELECT pg_backend_pid()").scalar()
        for schema in SCHEMAS:
            connection.exec_driver_sql(f'SELECT count(*) FROM "{schema}".staff').scalar()
        assert recycling.schemas_seen(connection) == 0
    assert serve(engine, "store_1") == pid


def test_zero_turns_recycling_off(engine):
    assert not recycling.install(engine, 0)
    pids = {serve(engine, schema) for schema in SCHEMAS}
    assert len(pids) == 1
