"""The pool of ready store schemas (files): new stores take one at the head and empty, sign-up
works with the pool empty or full, and a failed sign-up leaks neither a schema nor a store."""

from __future__ import annotations

import os

import pytest
import sqlalchemy as sa

from mallow.db.migrate import head, store_revision
from mallow.testing import backend_params, build_app, dispose_app, make_admin, make_store


@pytest.fixture(scope="module", params=backend_params())
def app(request, tmp_path_factory):
    app = build_app(tmp_path_factory, request.param, MALLOW_STORE_POOL_SIZE=3)
    make_admin(app)
    yield app
    dispose_app(app)


@pytest.fixture
def pool(app):
    from mallow.tenants import pool

    with app.app_context():
        pool.top_up(0)  # every test starts from an empty pool
    return pool


def in_app(app, func, *args):
    with app.app_context():
        return func(*args)


def store_tables_with_rows(app, schema_or_file: str) -> dict[str, int]:
    """Every table of a pooled schema (PostgreSQL) or file (SQLite) that holds a row."""
    from mallow.db import db, store_metadata

    found = {}
    with app.app_context():
        engines = app.extensions["mallow.store_engines"]
        if engines.is_postgresql:
            with db.engine.connect() as connection:
                for table in store_metadata.tables.values():
                    count = connection.exec_driver_sql(f'SELECT count(*) FROM "{schema_or_file}"."{table.name}"')
                    found[table.name] = count.scalar()
        else:
            engine = sa.create_engine(f"sqlite:///{schema_or_file}", poolclass=sa.pool.NullPool)
            with engine.connect() as connection:
                for table in store_metadata.tables.values():
                    found[table.name] = connection.exec_driver_sql(f'SELECT count(*) FROM "{table.name}"').scalar()
            engine.dispose()
    return {name: count for name, count in found.items() if count}


def pooled_revision(app, place: str) -> str:
    with app.app_context():
        if app.extensions["mallow.store_engines"].is_postgresql:
            from mallow.db import db

            with db.engine.connect() as connection:
                return connection.exec_driver_sql(f'SELECT version_num FROM "{place}".alembic_version').scalar()
        engine = sa.create_engine(f"sqlite:///{place}", poolclass=sa.pool.NullPool)
        with engine.connect() as connection:
            revision = connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
        engine.dispose()
        return revision


def pooled_places(app) -> list[str]:
    """The pooled schemas' names (PostgreSQL) or files' paths (SQLite)."""
    from mallow.tenants import pool

    with app.app_context():
        engines = app.extensions["mallow.store_engines"]
        names = pool._pooled_names(engines)
        if engines.is_postgresql:
            return names
        return [str(pool._pool_dir(engines) / f"{name}.db") for name in names]


def revision_of(app, store_id: int) -> str | None:
    with app.app_context():
        engines = app.extensions["mallow.store_engines"]
        return store_revision(engines.engine_for(store_id), engines.version_table_schema(store_id))


def owners(app, store_id: int) -> list[str]:
    from mallow.accounts.models import Staff
    from mallow.db import db
    from mallow.tenants.context import store_context

    with store_context(store_id, app=app):
        return list(db.session.execute(db.select(Staff.role)).scalars())


def test_top_up_fills_the_pool_with_empty_stores_at_the_head_and_stops_at_its_size(app, pool):
    first = in_app(app, pool.top_up)
    assert (first["made"], first["ready"]) == (3, 3)
    assert in_app(app, pool.top_up)["made"] == 0  # full: nothing more
    places = pooled_places(app)
    assert len(places) == 3
    with app.app_context():
        assert all(os.path.basename(place).startswith(f"pool_{head('store')}_") for place in places)
    for place in places:
        assert store_tables_with_rows(app, place) == {}
        assert pooled_revision(app, place) == in_app(app, head, "store")


def test_the_periodic_job_tops_the_pool_up(app, pool):
    """What a running platform does every minute (the embedded runner or ``mallow worker``)."""
    from mallow.jobs.registry import execute, jobs_of

    assert jobs_of(app).spec_of("tenants.top_up_pool").every_seconds == pool.TOP_UP_SECONDS
    assert execute(app, "tenants.top_up_pool", {})["ready"] == 3
    assert in_app(app, pool.pooled)["ready"] == 3


def test_sign_up_takes_a_pooled_store_and_the_pool_is_topped_up_again(app, pool):
    in_app(app, pool.top_up)
    shop = make_store(app)
    assert in_app(app, pool.pooled)["ready"] == 2
    assert revision_of(app, shop.store_id) == in_app(app, head, "store")
    assert owners(app, shop.store_id) == ["owner"]
    for place in pooled_places(app):  # the owner went to the store, not to what is still pooled
        assert store_tables_with_rows(app, place) == {}
    assert in_app(app, pool.top_up)["made"] == 1


def test_sign_up_with_an_empty_pool_creates_the_store_itself(app, pool):
    assert in_app(app, pool.pooled)["ready"] == 0
    shop = make_store(app)
    assert revision_of(app, shop.store_id) == in_app(app, head, "store")
    assert owners(app, shop.store_id) == ["owner"]


def test_a_pool_of_size_zero_is_never_taken_from(app, pool):
    in_app(app, pool.top_up, 2)
    app.config["MALLOW_STORE_POOL_SIZE"] = 0
    try:
        make_store(app)
    finally:
        app.config["MALLOW_STORE_POOL_SIZE"] = 3
    assert in_app(app, pool.pooled)["ready"] == 2


def test_a_pooled_store_of_an_older_head_is_never_handed_out_and_top_up_drops_it(app, pool):
    in_app(app, pool.top_up, 1)
    [place] = pooled_places(app)
    stale = place.replace(f"pool_{in_app(app, head, 'store')}_", "pool_0ld0ld0ld0ld_")
    with app.app_context():
        engines = app.extensions["mallow.store_engines"]
        if engines.is_postgresql:
            with engines.platform_engine.begin() as connection:
                connection.exec_driver_sql(f'ALTER SCHEMA "{place}" RENAME TO "{stale}"')
        else:
            os.rename(place, stale)
    assert in_app(app, pool.pooled) == {"ready": 0, "stale": 1}
    shop = make_store(app)  # made itself: the stale one is not taken
    assert revision_of(app, shop.store_id) == in_app(app, head, "store")
    assert pooled_places(app) == [stale]
    result = in_app(app, pool.top_up)
    assert (result["dropped"], result["ready"]) == (1, 3)
    assert stale not in pooled_places(app)


def test_a_failed_sign_up_leaks_neither_a_pooled_schema_nor_a_store_row(app, pool, monkeypatch):
    from mallow.db import db
    from mallow.merchants import signup
    from mallow.tenants.models import Store

    in_app(app, pool.top_up, 2)

    def boom(*args, **kwargs):
        raise RuntimeError("audit log down")

    monkeypatch.setattr(signup.audit, "record", boom)
    with pytest.raises(RuntimeError, match="audit log down"):
        make_store(app, approved=False, slug="leaky-store")
    with app.app_context():
        assert db.session.execute(db.select(Store).filter_by(slug="leaky-store")).first() is None
        engines = app.extensions["mallow.store_engines"]
        store_id = db.session.execute(sa.text("SELECT max(id) FROM stores")).scalar() or 0
        if engines.is_postgresql:  # the rename was rolled back: the schema is pooled again
            with engines.platform_engine.connect() as connection:
                stores = connection.exec_driver_sql(
                    "SELECT count(*) FROM pg_namespace WHERE nspname ~ '^store_[0-9]+$'"
                ).scalar()
            assert in_app(app, pool.pooled)["ready"] == 2
            assert stores == db.session.execute(sa.text("SELECT count(*) FROM stores")).scalar()
        else:  # the file was the failed store's: it is gone, the other one still pooled
            assert in_app(app, pool.pooled)["ready"] == 1
            assert not engines.sqlite_path(store_id + 1).exists()
            assert sorted(p.name for p in engines.sqlite_path(1).parent.glob("*.db")) == sorted(
                f"{i}.db" for i in db.session.execute(sa.text("SELECT id FROM stores")).scalars()
            )
    for place in pooled_places(app):
        assert store_tables_with_rows(app, place) == {}


def test_mallow_db_pool_tops_up_and_empties_the_pool(app, pool):
    from mallow.testing.cli import run_cli

    assert "pool: 3 ready (3 made, 0 stale dropped)" in run_cli(app, "db", "pool")
    assert "pool: 0 ready (0 made, 3 stale dropped)" in run_cli(app, "db", "pool", "--size", "0")
    assert pooled_places(app) == []
