"""``mallow db upgrade --jobs N`` migrates every store behind the head, several at a time, names
a store that fails and exits non-zero; stores at the head cost no per-store query on PostgreSQL."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from mallow.db.migrate import head, run_store_chain, script_directory, store_revision
from mallow.testing import backend_params, build_app, dispose_app, make_admin, make_store, run_cli


@pytest.fixture(scope="module", params=backend_params())
def app(request, tmp_path_factory):
    app = build_app(tmp_path_factory, request.param, MALLOW_STORE_POOL_SIZE=0)
    app.mallow_backend = request.param
    make_admin(app)
    yield app
    dispose_app(app)


@pytest.fixture(scope="module")
def shops(app):
    return [make_store(app, approved=False) for _ in range(4)]


def previous_revision() -> str:
    return script_directory("store").get_revision(head("store")).down_revision


def move(app, store_id: int, revision: str) -> None:
    with app.app_context():
        engines = app.extensions["mallow.store_engines"]
        with engines.engine_for(store_id).begin() as connection:
            run_store_chain(connection, engines.version_table_schema(store_id), revision, downgrade=True)


def set_version(app, store_id: int, revision: str) -> None:
    with app.app_context():
        engines = app.extensions["mallow.store_engines"]
        with engines.engine_for(store_id).begin() as connection:
            version = sa.table(
                "alembic_version", sa.column("version_num"), schema=engines.version_table_schema(store_id)
            )
            connection.execute(version.update().values(version_num=revision))


def revision_of(app, store_id: int) -> str | None:
    with app.app_context():
        engines = app.extensions["mallow.store_engines"]
        return store_revision(engines.engine_for(store_id), engines.version_table_schema(store_id))


def test_every_store_behind_the_head_is_migrated_in_parallel(app, shops):
    with app.app_context():
        before, latest = previous_revision(), head("store")
    for shop in shops[:3]:
        move(app, shop.store_id, before)
    assert revision_of(app, shops[0].store_id) == before
    output = run_cli(app, "db", "upgrade", "--jobs", "2")
    assert "(2 at a time): 3 migrated, 1 already at head, 0 failed" in output
    for shop in shops:
        assert revision_of(app, shop.store_id) == latest
        assert f" {shop.slug}] ok" in output
    assert f" {shops[3].slug}] ok, at head" in output


def test_a_failing_store_is_named_and_the_exit_status_is_not_zero(app, shops):
    broken, behind = shops[1], shops[2]
    with app.app_context():
        before, latest = previous_revision(), head("store")
    move(app, behind.store_id, before)
    set_version(app, broken.store_id, "0bad0bad0bad")  # a revision this release does not know
    try:
        output = run_cli(app, "db", "upgrade", "--jobs", "2", code=1)
    finally:
        set_version(app, broken.store_id, latest)
    assert "1 migrated, 2 already at head, 1 failed" in output
    assert f"store {broken.store_id} ({broken.slug}) FAILED: " in output
    assert "0bad0bad0bad" in output
    assert revision_of(app, behind.store_id) == latest  # the others still ran


@pytest.mark.parametrize("app", ["postgresql"], indirect=True)  # SQLite reads each store's own file
def test_stores_at_the_head_are_read_in_bulk_on_postgresql(app, shops):
    from mallow.tenants.provisioning import migrate_stores

    def statements_for(stores) -> int:
        seen = []

        def count(*args):
            seen.append(args[2])

        sa.event.listen(sa.engine.Engine, "before_cursor_execute", count)
        try:
            with app.app_context():
                result = migrate_stores([(s.store_id, s.slug) for s in stores], jobs=2, echo=lambda line: None)
        finally:
            sa.event.remove(sa.engine.Engine, "before_cursor_execute", count)
        assert result["skipped"] == len(stores)
        return len(seen)

    assert statements_for(shops[:1]) == statements_for(shops)
