"""A busy database is a 503 "try again" (JSON for the API, a page in words otherwise) with
``Retry-After``, never a 500; any other database error is still a 500, and logged."""

from __future__ import annotations

import logging
import sqlite3

import pytest
import sqlalchemy as sa

from mallow.testing import build_app, dispose_app


class _Locked(Exception):
    pass


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    app = build_app(tmp_path_factory, "sqlite")

    def locked():
        raise sa.exc.OperationalError("INSERT INTO store.carts …", {}, _Locked("database is locked"))

    def broken():
        raise sa.exc.OperationalError("SELECT nothing", {}, _Locked("no such table: nothing"))

    for path, view in (("/api/_busy", locked), ("/_busy", locked), ("/_broken", broken)):
        app.add_url_rule(path, view.__name__ + path.replace("/", "_"), view)
    yield app
    dispose_app(app)


def test_a_locked_database_answers_503_try_again(app):
    client = app.test_client()
    api = client.get("/api/_busy")
    assert api.status_code == 503 and api.headers["Retry-After"] == "1"
    assert api.get_json()["error"] == "busy" and "稍后" in api.get_json()["message"]
    page = client.get("/_busy")
    assert page.status_code == 503 and "繁忙" in page.get_data(as_text=True)


def test_any_other_database_error_is_still_a_logged_500(app, caplog):
    with caplog.at_level(logging.ERROR, logger="mallow.web"):
        answer = app.test_client().get("/_broken")
    assert answer.status_code == 500
    assert any("no such table" in str(record.exc_info[1]) for record in caplog.records if record.exc_info)


def test_a_begin_that_finds_the_store_locked_is_a_busy_error_not_the_drivers(tmp_path, monkeypatch):
    """SQLite's BEGIN goes on the driver (mallow.tenants.engines): a store locked past the busy
    timeout must still reach the app as SQLAlchemy's OperationalError, which it answers 503."""
    from mallow.tenants import engines
    from mallow.web.busy import retryable

    path = tmp_path / "store.db"
    engine = sa.create_engine(f"sqlite:///{path}", poolclass=sa.pool.NullPool)
    engines.configure_sqlite(engine, immediate_writes=True)

    @sa.event.listens_for(engine, "connect")
    def impatient(dbapi_connection, _record):  # after configure_sqlite's 30 s: fail at once
        dbapi_connection.execute("PRAGMA busy_timeout = 0")

    with engine.connect():  # the file made and in WAL mode before anyone holds a lock
        pass
    monkeypatch.setattr(engines, "_request_writes", lambda: True)  # a shopper's write: IMMEDIATE
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another writer holds the store's write lock
    try:
        with pytest.raises(sa.exc.OperationalError) as raised:
            with engine.begin() as connection:
                connection.exec_driver_sql("SELECT 1")
        assert retryable(raised.value)
    finally:
        holder.rollback()
        holder.close()
        engine.dispose()
