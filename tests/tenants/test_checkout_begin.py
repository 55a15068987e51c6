"""The tenant session's checkout opens its transaction in the check's round trip (issue 13).

On PostgreSQL the pool's checkout check (``mallow.db.hygiene``) is one round trip; when the
tenant session takes the connection for its transaction, ``BEGIN`` travels in that same round
trip and the driver sends none of its own before the first statement. What must not change: a
connection that kept session state is still discarded at that checkout (and never serves the
next request, whichever store it is for), a connection the server dropped is still replaced,
and a checkout that is *not* the session's (a lane, a connection given an isolation level or
autocommit) gets a connection with no transaction open.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from psycopg import pq

from mallow.testing import make_store
from mallow.testing.servers import HAVE_POSTGRES

pytestmark = [pytest.mark.postgres, pytest.mark.skipif(not HAVE_POSTGRES, reason="PostgreSQL is not running")]


@pytest.fixture(scope="module")
def app(one_connection_app):
    return one_connection_app


def _status(connection: sa.Connection) -> pq.TransactionStatus:
    return connection.connection.dbapi_connection.pgconn.transaction_status


def _warm(app) -> None:
    """The pool's one connection has its baseline (its first checkout is not checked against one)."""
    from mallow.db import db

    with app.app_context():
        db.session.execute(sa.text("SELECT 1"))
        db.session.remove()


def test_the_session_connection_is_in_its_transaction_before_its_first_statement(app):
    from mallow.db import db

    _warm(app)
    with app.app_context():
        connection = db.session.connection()
        assert _status(connection) == pq.TransactionStatus.INTRANS  # begun with the check
        assert connection.exec_driver_sql("SELECT txid_current_if_assigned()").scalar() is None  # read only
        driver = connection.connection.dbapi_connection
        db.session.remove()
        assert driver.pgconn.transaction_status == pq.TransactionStatus.IDLE  # rolled back on its return


@pytest.mark.parametrize("level", ["AUTOCOMMIT", "SERIALIZABLE", "REPEATABLE READ"])
def test_a_session_connection_given_an_isolation_level_begins_as_the_driver_would(app, level):
    from mallow.db import db

    _warm(app)
    with app.app_context():
        connection = db.session.connection(execution_options={"isolation_level": level})
        assert _status(connection) == pq.TransactionStatus.IDLE  # nothing begun behind its back
        shown = connection.exec_driver_sql("SHOW transaction_isolation").scalar()
        assert shown == ("read committed" if level == "AUTOCOMMIT" else level.lower())
        db.session.remove()
    with app.app_context():  # the pool put the level back: the next session begins as usual
        connection = db.session.connection()
        assert _status(connection) == pq.TransactionStatus.INTRANS
        assert connection.exec_driver_sql("SHOW transaction_isolation").scalar() == "read committed"
        db.session.remove()


def test_a_checkout_that_is_not_the_sessions_opens_no_transaction(app):
    """The wish belongs to one checkout of the session: the engine's own connections (a lane's,
    which then switches the driver to autocommit) get none, also right after a session's."""
    from mallow.db import db

    _warm(app)
    with app.app_context():
        engine = db.engine
        db.session.execute(sa.text("SELECT 1"))
        db.session.remove()  # the one pooled connection is back
        with engine.connect() as connection:
            assert _status(connection) == pq.TransactionStatus.IDLE
            driver = connection.connection.dbapi_connection
            driver.autocommit = True  # what the cart lane does
            try:
                assert connection.exec_driver_sql("SELECT 1").scalar() == 1
                assert _status(connection) == pq.TransactionStatus.IDLE
            finally:
                driver.autocommit = False


def test_a_connection_that_kept_session_state_is_discarded_at_the_session_checkout(app):
    """State set past SQLAlchemy (no mark, no reset): the BEGIN-and-check at the next session
    checkout sees it and the pool hands out a fresh connection, for this store or any other."""
    from mallow.db import db
    from mallow.tenants.context import store_context

    shop, other = make_store(app), make_store(app)
    _warm(app)
    with app.app_context():
        connection = db.session.connection()
        pid = connection.exec_driver_sql("SELECT pg_backend_pid()").scalar()
        clean_path = connection.exec_driver_sql("SHOW search_path").scalar()
        cursor = connection.connection.dbapi_connection.cursor()
        cursor.execute(f"SET search_path TO store_{shop.store_id}, public")  # past SQLAlchemy
        cursor.close()
        db.session.commit()
        db.session.remove()
    with store_context(other.store_id, app=app):
        connection = db.session.connection()
        assert connection.exec_driver_sql("SELECT pg_backend_pid()").scalar() != pid
        assert connection.exec_driver_sql("SHOW search_path").scalar() == clean_path


def test_a_statement_prepared_in_sql_past_sqlalchemy_is_found_within_the_prepared_check_interval(app, monkeypatch):
    """Every checkout checks the search_path and the role; the prepared statements (a
    ``pg_prepared_statements`` scan copies every statement psycopg keeps too: ~130 µs of the
    server's CPU) at most every ``PREPARED_CHECK_SECONDS`` per connection. A statement
    ``PREPARE``d past SQLAlchemy is found at the first checkout after that interval, and the
    connection discarded; within it the connection serves (it was checked a moment ago)."""
    from mallow.db import db, hygiene

    clock = [1_000.0]
    monkeypatch.setattr(hygiene.time, "monotonic", lambda: clock[0])
    _warm(app)

    def pid() -> int:
        with app.app_context():
            found = db.session.execute(sa.text("SELECT pg_backend_pid()")).scalar()
            db.session.remove()
            return found

    first = pid()  # the full check ran: the interval starts now
    with app.app_context():
        cursor = db.session.connection().connection.dbapi_connection.cursor()
        cursor.execute("PREPARE leaked_q AS SELECT 1")  # past SQLAlchemy: no mark, no reset
        cursor.close()
        db.session.commit()
        db.session.remove()
    clock[0] += hygiene.PREPARED_CHECK_SECONDS / 2
    assert pid() == first  # checked a moment ago: search_path and role only
    clock[0] += hygiene.PREPARED_CHECK_SECONDS
    assert pid() != first  # the prepared statements looked at: a fresh connection
    with app.app_context():
        prepared = db.session.execute(sa.text("SELECT count(*) FROM pg_prepared_statements WHERE from_sql")).scalar()
        db.session.remove()
    assert prepared == 0


def test_a_connection_the_server_dropped_is_replaced_at_the_session_checkout(app):
    from mallow.db import db

    _warm(app)
    with app.app_context():
        pid = db.session.execute(sa.text("SELECT pg_backend_pid()")).scalar()
        db.session.remove()
    killer = sa.create_engine(app.config["SQLALCHEMY_DATABASE_URI"], poolclass=sa.pool.NullPool)
    try:
        with killer.connect() as other:
            assert other.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar() is True
    finally:
        killer.dispose()
    with app.app_context():
        assert db.session.execute(sa.text("SELECT pg_backend_pid()")).scalar() != pid
        db.session.remove()
