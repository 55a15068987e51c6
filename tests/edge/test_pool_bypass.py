"""The pool's checkout check (``mallow.db.hygiene``) is skipped only for a connection whose last
holder vouched for it (a lane: only statements SQLAlchemy saw) and that came back moments ago;
a connection a request held without vouching, one that ran a statement leaving session state,
or one that idled past the window is checked as before, and a leak is still caught."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from mallow.db import hygiene
from mallow.testing import HAVE_POSTGRES, fresh_postgres_database
from mallow.testing.servers import drop_postgres_database


@pytest.fixture
def engine():  # PostgreSQL
    url = fresh_postgres_database()
    engine = sa.create_engine(url, pool_size=1, max_overflow=0)
    hygiene.install(engine)
    yield engine
    engine.dispose()
    drop_postgres_database(url)


@pytest.fixture
def checks(monkeypatch):
    """The checkout checks sent (alone, or with the transaction's BEGIN)."""
    sent: list[str] = []
    check = hygiene._pg_check

    def counted(dbapi_connection, query, begin):
        sent.append(query.decode())
        return check(dbapi_connection, query, begin)

    monkeypatch.setattr(hygiene, "_pg_check", counted)
    return sent


def _use(engine, statement: str = "SELECT 1", vouch: bool = False) -> None:
    with engine.connect() as connection:
        connection.exec_driver_sql(statement)
        if vouch:
            hygiene.vouch(connection)
        connection.commit()


@pytest.mark.postgres
@pytest.mark.skipif(not HAVE_POSTGRES, reason="PostgreSQL is not running")
def test_a_vouched_connection_back_moments_ago_is_handed_out_without_the_check(engine, checks):
    _use(engine)  # the first checkout records the baseline
    _use(engine, vouch=True)
    assert len(checks) == 2
    _use(engine)  # its last holder vouched, a moment ago: no round trip
    assert len(checks) == 2
    _use(engine)  # its last holder (the one just now) did not vouch: checked
    assert len(checks) == 3


@pytest.mark.postgres
@pytest.mark.skipif(not HAVE_POSTGRES, reason="PostgreSQL is not running")
def test_the_window_closes(engine, checks, monkeypatch):
    _use(engine)
    _use(engine, vouch=True)
    monkeypatch.setattr(hygiene, "BYPASS_SECONDS", 0.0)
    _use(engine)
    assert len(checks) == 3


@pytest.mark.postgres
@pytest.mark.skipif(not HAVE_POSTGRES, reason="PostgreSQL is not running")
def test_a_vouched_holder_that_left_state_is_reset_and_checked(engine, checks):
    _use(engine)
    _use(engine, "SET search_path TO pg_catalog", vouch=True)  # marked: reset on return, no bypass
    with engine.connect() as connection:
        assert connection.exec_driver_sql("SHOW search_path").scalar() != "pg_catalog"
    assert len(checks) == 3


@pytest.mark.postgres
@pytest.mark.skipif(not HAVE_POSTGRES, reason="PostgreSQL is not running")
def test_state_left_past_sqlalchemy_by_a_holder_that_did_not_vouch_is_still_caught(engine, checks, caplog):
    _use(engine, vouch=True)  # even right after a vouching holder
    with engine.connect() as connection:
        cursor = connection.connection.dbapi_connection.cursor()
        cursor.execute("SET search_path TO pg_catalog")  # past SQLAlchemy: no mark, no reset
        cursor.close()
        connection.connection.dbapi_connection.commit()
    with engine.connect() as connection:  # checked: discarded, a fresh connection handed out
        assert connection.exec_driver_sql("SHOW search_path").scalar() != "pg_catalog"
    assert "kept session state" in caplog.text


def test_sqlite_a_return_reads_the_state_back_only_after_a_statement_that_can_leave_some(tmp_path, monkeypatch):
    """SQLite's reset reads the connection's state back (three statements, ~50 µs) only when the
    holder sent something that can leave state (hygiene.leaves_sqlite_state); an ATTACH is
    undone on return, and one sent past SQLAlchemy is caught by the checkout's comparison."""
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'platform.db'}", poolclass=sa.pool.QueuePool, pool_size=1)
    hygiene.install(engine, expected_attached={})
    reads = []
    state = hygiene._sqlite_state
    monkeypatch.setattr(hygiene, "_sqlite_state", lambda connection: reads.append(1) or state(connection))
    other = tmp_path / "other.db"
    try:
        _use(engine)  # the first checkout reads the baseline; plain statements: nothing read back
        assert len(reads) == 1
        _use(engine, "WITH t(x) AS (SELECT 1) SELECT x FROM t")
        _use(engine, vouch=True)
        assert len(reads) == 1
        for marked in ("PRAGMA query_only = 1", f"ATTACH DATABASE '{other}' AS other"):
            before = len(reads)
            _use(engine, marked)  # marked: read back, and put back
            assert len(reads) > before, marked
            before = len(reads)
            _use(engine)
            assert len(reads) == before
        with engine.connect() as connection:
            names = [row[1] for row in connection.exec_driver_sql("PRAGMA database_list")]
            assert "other" not in names and connection.exec_driver_sql("PRAGMA query_only").scalar() == 0
        with engine.connect() as connection:  # past SQLAlchemy: no mark, nothing read back…
            connection.connection.dbapi_connection.execute(f"ATTACH DATABASE '{other}' AS other")
        with engine.connect() as connection:  # …the checkout's comparison discards it
            names = [row[1] for row in connection.exec_driver_sql("PRAGMA database_list")]
        assert "other" not in names
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    "statement, leaves",
    [
        ("SELECT 1", False),
        ("  /* c */ (SELECT * FROM store.products WHERE id = ?)", False),
        ("INSERT INTO store.carts (id) VALUES (1) RETURNING id", False),
        ("WITH x AS (SELECT 1) UPDATE store.skus SET stock = 1", False),
        ("BEGIN IMMEDIATE", False),
        ("CREATE TABLE store.t (x)", False),
        ("PRAGMA query_only = 1", True),
        ("pragma store.synchronous", True),
        ("ATTACH DATABASE 'x.db' AS x", True),
        ("DETACH DATABASE store", True),
        ("CREATE TEMP TABLE leak (x)", True),
        ("CREATE TEMPORARY VIEW v AS SELECT 1", True),
        ("CREATE TABLE temp.t (x)", True),
        ("SELECT 1; PRAGMA query_only = 1", True),
        ("VACUUM INTO 'copy.db'", True),
        ("", True),
    ],
)
def test_what_can_leave_state_on_a_sqlite_connection(statement, leaves):
    assert hygiene.leaves_sqlite_state(statement) is leaves
