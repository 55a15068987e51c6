"""/healthz answers while the process runs; /readyz says whether it can serve: the platform
database, Redis and both migration chains, naming the check that fails."""

from __future__ import annotations

import socket

import pytest
import sqlalchemy as sa

from mallow.testing import dispose_app, make_store, restart_app


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # closed again when the block ends: nothing listens there


@pytest.fixture(scope="module")
def uncached(app):
    """The same platform, its readiness read afresh at each probe (the migrations check is kept
    MALLOW_READYZ_CACHE_SECONDS otherwise)."""
    fresh = restart_app(app, MALLOW_READYZ_CACHE_SECONDS=0)
    yield fresh
    dispose_app(fresh, drop_database=False)


@pytest.fixture(scope="module")
def redis_away(app):
    broken = restart_app(app, REDIS_URL=f"redis://127.0.0.1:{_closed_port()}/0")
    yield broken
    dispose_app(broken, drop_database=False)


def test_healthz_answers_even_when_the_app_is_not_ready(app, redis_away):
    for each in (app, redis_away):
        response = each.test_client().get("/healthz")
        assert response.status_code == 200
        assert response.get_json() == {"ok": True}


def test_readyz_is_ready_on_a_migrated_platform(uncached):
    make_store(uncached)  # a store too: the store chain is read
    response = uncached.test_client().get("/readyz")
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["ready"] is True and body["failing"] == []
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["redis"] == {"ok": True, "detail": "embedded"}  # no REDIS_URL: jobs run in-process
    assert body["checks"]["migrations"] == {"ok": True, "detail": "at head"}


def test_readyz_names_redis_when_it_does_not_answer(redis_away):
    response = redis_away.test_client().get("/readyz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["ready"] is False
    assert body["failing"] == ["redis"]
    assert body["checks"]["redis"]["ok"] is False
    assert "ConnectionError" in body["checks"]["redis"]["detail"]
    assert "127.0.0.1" not in response.get_data(as_text=True)  # the address stays in the server's config
    assert body["checks"]["database"]["ok"] is True


def _set_store_revision(app, store_id: int, revision: str) -> None:
    engines = app.extensions["mallow.store_engines"]
    table = sa.table("alembic_version", sa.column("version_num"), schema=engines.version_table_schema(store_id))
    with app.app_context(), engines.engine_for(store_id).begin() as connection:
        connection.execute(table.update().values(version_num=revision))


def test_readyz_names_the_store_chain_when_a_store_is_behind(uncached):
    from mallow.db.migrate import head, script_directory

    shop = make_store(uncached)  # the newest store: one of the two the check reads
    current = head("store")
    previous = script_directory("store").get_revision(current).down_revision
    _set_store_revision(uncached, shop.store_id, previous)
    try:
        response = uncached.test_client().get("/readyz")
        assert response.status_code == 503
        body = response.get_json()
        assert body["failing"] == ["migrations"]
        assert previous in body["checks"]["migrations"]["detail"]
        assert "mallow db upgrade" in body["checks"]["migrations"]["detail"]
    finally:
        _set_store_revision(uncached, shop.store_id, current)
    assert uncached.test_client().get("/readyz").status_code == 200
