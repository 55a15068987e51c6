"""What the pool's hygiene costs a request on PostgreSQL, in round trips (issue 13).

Round trips are counted at the wire: libpq's protocol trace of the pooled connection (every
``Query`` message and every ``Sync`` of the extended protocol is one round trip), so what the
pool's own listeners send is counted with the request's SQL. Per checkout the hygiene costs one
round trip (the check, which is also the liveness check); the reset on return runs only on a
connection that ran a statement able to leave session state (``mallow.db.hygiene``), and clears
that state before the connection idles in the pool.

The platform pool holds one connection: every request here runs on the same server session.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import sqlalchemy as sa
from sqlalchemy import event

from mallow.testing import bearer, build_app, make_admin, make_product, make_shopper, make_store
from mallow.testing.servers import HAVE_POSTGRES
from mallow.testing.sql import listing, statements

pytestmark = [pytest.mark.postgres, pytest.mark.skipif(not HAVE_POSTGRES, reason="PostgreSQL is not running")]


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    app = build_app(
        tmp_path_factory,
        "postgresql",
        SQLALCHEMY_ENGINE_OPTIONS={"pool_size": 1, "max_overflow": 0, "pool_timeout": 5},
    )
    make_admin(app)

    from flask import request as flask_request

    from mallow.db import db
    from mallow.extensions import csrf

    @app.post("/s/<store_slug>/console/test-session-sql")
    def session_sql():
        body = flask_request.get_json()
        for statement in body["statements"]:
            if body.get("via") == "dbapi":  # past SQLAlchemy: no statement event sees it
                cursor = db.session.connection().connection.dbapi_connection.cursor()
                cursor.execute(statement)
                cursor.close()
            else:
                db.session.execute(sa.text(statement))
        db.session.commit()
        return {"ok": True}

    @app.get("/s/<store_slug>/test-session-state")
    def session_state():
        run = db.session.connection().exec_driver_sql
        return {
            "pid": run("SELECT pg_backend_pid()").scalar(),
            "search_path": run("SHOW search_path").scalar(),
            "statement_timeout": run("SHOW statement_timeout").scalar(),
            "advisory_locks": run(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()"
            ).scalar(),
            "listening": sorted(run("SELECT pg_listening_channels()").scalars()),
            "temp_tables": run("SELECT count(*) FROM pg_class WHERE relnamespace = pg_my_temp_schema()").scalar(),
            "prepared": sorted(run("SELECT name FROM pg_prepared_statements WHERE from_sql").scalars()),
            "cursors": sorted(run("SELECT name FROM pg_cursors").scalars()),
        }

    csrf.exempt(session_sql)
    yield app
    from mallow.testing import dispose_app

    dispose_app(app)


@contextmanager
def round_trips(app) -> Iterator[list[str]]:
    """The round trips sent on any pooled connection inside the block: the text of each
    ``Query``, or of the statement an extended-protocol ``Sync`` closed (psycopg's prepared
    statements by their name)."""
    import psycopg

    from mallow.db import db

    with app.app_context():
        engine = db.engine
    handle, path = tempfile.mkstemp(prefix="pgtrace-")
    traced = []

    def trace(dbapi_connection, _record, _proxy):
        pgconn = dbapi_connection.pgconn
        if pgconn not in traced:
            pgconn.trace(handle)
            pgconn.set_trace_flags(psycopg.pq.Trace.SUPPRESS_TIMESTAMPS | psycopg.pq.Trace.REGRESS_MODE)
            traced.append(pgconn)

    event.listen(engine, "checkout", trace, insert=True)  # before the hygiene check
    seen: list[str] = []
    try:
        yield seen
    finally:
        event.remove(engine, "checkout", trace)
        for pgconn in traced:
            try:
                pgconn.untrace()  # flushes the trace
            except Exception:  # noqa: BLE001 -- a connection closed meanwhile wrote everything
                pass
        with open(path, encoding="utf-8", errors="replace") as trace_file:
            lines = trace_file.read().splitlines()
        os.close(handle)
        os.unlink(path)
        pending = ""
        for line in lines:
            parts = line.split("\t")
            if len(parts) < 3 or parts[0] != "F":
                continue
            kind, rest = parts[2], "\t".join(parts[3:]).strip()
            if kind == "Query":
                seen.append(rest.strip('"'))
            elif kind in ("Parse", "Bind") and not pending:
                pending = rest
            elif kind == "Sync":
                seen.append(pending)
                pending = ""


def _hygiene(seen: list[str]) -> dict[str, int]:
    from mallow.db import hygiene

    return {
        "resets": sum(hygiene._PG_RESET.split(";")[0] in trip for trip in seen),
    }


def _begins_with_the_check(trip: str) -> bool:
    from mallow.db import hygiene

    checks = (hygiene._PG_CHECK, hygiene._PG_LIGHT_CHECK_QUERY.decode())  # prepared statements looked at, or not
    return trip.startswith("BEGIN; ") and any(check in trip for check in checks)


@pytest.fixture(scope="module")
def shop(app):
    return make_store(app)


@pytest.fixture(scope="module")
def token(app, shop):
    return make_shopper(app.test_client(), shop)[0]


def _request(app, call):
    """``call()``'s answer, its round trips and its SQL statements (transaction control left out)."""
    with round_trips(app) as trips, statements() as sql:
        answer = call()
    return answer, trips, sql


def test_a_read_pays_one_hygiene_round_trip_and_no_reset(app, shop, token):
    client = app.test_client()

    def read():
        return client.get(f"{shop.prefix}/api/cart", headers=bearer(token))

    for _ in range(8):  # psycopg prepares what it has run five times
        assert read().status_code == 200

    answer, trips, sql = _request(app, read)

    assert answer.status_code == 200 and sql, listing(sql)
    # BEGIN with the checkout's check (one round trip), the request's statements, ROLLBACK:
    # nothing else (no BEGIN of the driver's own)
    assert len(trips) == 1 + len(sql) + 1, trips
    assert _begins_with_the_check(trips[0]) and trips[-1] == "ROLLBACK", trips
    assert "BEGIN" not in trips[1:], trips
    assert _hygiene(trips)["resets"] == 0, trips


def test_a_cart_put_pays_one_hygiene_round_trip_and_its_one_statement(app, shop, token, monkeypatch):
    """Through the route (the lane before Flask, which pays fewer, is tests/edge/test_cart_lane.py)."""
    monkeypatch.setitem(app.config, "MALLOW_LANES", False)
    client = app.test_client()
    skus = [make_product(app, shop, title=f"往返 {n}", price=900 + n, stock=100)[0] for n in range(3)]
    for sku in skus:
        added = client.post(f"{shop.prefix}/api/cart/items", headers=bearer(token), json={"sku_id": sku, "quantity": 1})
        assert added.status_code == 201
    path = f"{shop.prefix}/api/cart/items/{skus[0]}"
    for n in range(8):
        assert client.put(path, headers=bearer(token), json={"quantity": 2 + n % 3}).status_code == 200

    answer, trips, sql = _request(app, lambda: client.put(path, headers=bearer(token), json={"quantity": 7}))

    assert answer.status_code == 200
    assert answer.get_json()["items"][0] == {"sku_id": skus[0], "quantity": 7}
    cart_sql = [s for s in sql if "cart_items" in s]
    assert len(cart_sql) == 1 and cart_sql[0].startswith("WITH"), listing(sql)  # the change and the lines
    # BEGIN with the check, the request's statements (the token's lookup, if not remembered), COMMIT
    assert len(trips) == 1 + len(sql) + 1, trips
    assert _begins_with_the_check(trips[0]) and trips[-1] == "COMMIT", trips
    assert _hygiene(trips)["resets"] == 0, trips


LEAKS = {
    "search_path": ["SET search_path TO pg_catalog"],
    "set_config": ["SELECT set_config('statement_timeout', '4321ms', false)"],
    "advisory_lock": ["SELECT pg_advisory_lock(4243)"],
    "listen": ["LISTEN leaky_channel"],
    "temp_table": ["CREATE TEMP TABLE leaky_temp AS SELECT 1 AS x"],
    "prepared": ["PREPARE leaky_q AS SELECT 1"],
    "held_cursor": ["DECLARE leaky_cursor CURSOR WITH HOLD FOR SELECT 1"],
    "commented": ["/* a plugin's note */ SET statement_timeout = '1234ms'"],
}


@pytest.mark.parametrize("leak", sorted(LEAKS))
def test_a_statement_that_can_leave_session_state_pays_the_reset_and_the_next_request_sees_none(app, shop, leak):
    client = app.test_client()
    clean = client.get(f"{shop.prefix}/test-session-state").get_json()

    with round_trips(app) as seen:
        done = client.post(f"{shop.prefix}/console/test-session-sql", json={"statements": LEAKS[leak]})
    assert done.status_code == 200, done.get_data(as_text=True)[:300]
    assert _hygiene(seen)["resets"] == 1, seen  # released when the connection came back

    with round_trips(app) as seen:
        state = client.get(f"{shop.prefix}/test-session-state").get_json()
    assert state == clean  # the same server session (pid), none of the state
    assert _hygiene(seen)["resets"] == 0, seen

    held = sa.create_engine(app.config["SQLALCHEMY_DATABASE_URI"], poolclass=sa.pool.NullPool)
    try:  # no lock left on the idle pooled connection: another session takes it at once
        with held.connect() as other:
            assert other.exec_driver_sql("SELECT pg_try_advisory_lock(4243)").scalar() is True
            other.exec_driver_sql("SELECT pg_advisory_unlock(4243)")
    finally:
        held.dispose()


def test_transaction_scoped_settings_and_locks_cost_no_reset_and_end_with_the_transaction(app, shop):
    client = app.test_client()
    clean = client.get(f"{shop.prefix}/test-session-state").get_json()

    with round_trips(app) as seen:
        done = client.post(
            f"{shop.prefix}/console/test-session-sql",
            json={
                "statements": [
                    "SET LOCAL statement_timeout = '999ms'",
                    "SELECT pg_advisory_xact_lock(4244)",
                    "SELECT set_config('search_path', 'pg_catalog', true)",
                ]
            },
        )
    assert done.status_code == 200
    # set_config(…, true) is local to the transaction: no reset either
    assert _hygiene(seen)["resets"] == 0, seen
    assert client.get(f"{shop.prefix}/test-session-state").get_json() == clean

    with round_trips(app) as seen:
        done = client.post(
            f"{shop.prefix}/console/test-session-sql",
            json={"statements": ["SET LOCAL statement_timeout = '999ms'", "SELECT pg_advisory_xact_lock(4244)"]},
        )
    assert done.status_code == 200
    assert _hygiene(seen)["resets"] == 0, seen
    assert client.get(f"{shop.prefix}/test-session-state").get_json() == clean


def test_state_set_past_sqlalchemy_is_caught_by_the_checkout_check(app, shop):
    """The mark sees statements SQLAlchemy sends; SQL sent on the raw DBAPI cursor is not seen,
    and then the checkout check is the net: a connection whose search_path or role changed is
    discarded, never handed to the next request."""
    client = app.test_client()
    clean = client.get(f"{shop.prefix}/test-session-state").get_json()

    done = client.post(
        f"{shop.prefix}/console/test-session-sql",
        json={"statements": ["SET search_path TO pg_catalog"], "via": "dbapi"},
    )
    assert done.status_code == 200

    state = client.get(f"{shop.prefix}/test-session-state").get_json()
    assert state["pid"] != clean["pid"]  # a fresh connection
    assert state | {"pid": None} == clean | {"pid": None}


def test_the_verdict_on_statements(app):
    from mallow.db.hygiene import leaves_session_state

    marked = [
        "SET search_path TO x",
        "set role pg_monitor",
        "-- a comment\nSET SESSION AUTHORIZATION DEFAULT",
        "RESET ALL",
        "LISTEN x",
        "PREPARE q AS SELECT 1",
        "EXECUTE q",
        "DECLARE c CURSOR WITH HOLD FOR SELECT 1",
        "DISCARD ALL",
        "DO $$ BEGIN PERFORM 1; END $$",
        "CALL some_procedure()",
        "LOAD 'auto_explain'",
        "SELECT pg_catalog.set_config('a.b', '1', false)",
        "SELECT set_config('a.b', lower('X'), true)",  # arguments it cannot read: marked
        "SELECT set_config('a.b', '1', is_local)",
        "SELECT pg_advisory_lock(1)",
        "SELECT pg_try_advisory_lock_shared(1, 2)",
        "CREATE TEMPORARY TABLE t (x int)",
        "CREATE TABLE pg_temp.t (x int)",
        "SELECT 1 INTO TEMP t",
        "SELECT 1; SET search_path TO x",
        "SELECT dblink_connect('x')",
        "",
    ]
    plain = [
        "SELECT 1",
        "(SELECT 1) UNION (SELECT 2)",
        "UPDATE store_1.cart_items SET quantity = 2 WHERE id = 1",
        "SELECT set_config('synchronous_commit', 'off', true)",
        "WITH relax AS (SELECT set_config('synchronous_commit', 'off', TRUE) AS relaxed) SELECT 1 FROM relax",
        "WITH changed AS (UPDATE a SET b = 1 RETURNING id) SELECT * FROM changed",
        "INSERT INTO store_1.customer_sessions (id) VALUES (1)",
        "DELETE FROM store_1.cart_items WHERE id = 1",
        "SET LOCAL statement_timeout = '1s'",
        "SET TRANSACTION ISOLATION LEVEL SERIALIZABLE",
        "SET CONSTRAINTS ALL DEFERRED",
        "SELECT pg_catalog.pg_try_advisory_xact_lock(1, 2)",
        "SELECT session_user",
        'ALTER SCHEMA "pool_1" RENAME TO "store_1"',
        "SELECT 1;",
    ]
    assert [s for s in marked if not leaves_session_state(s)] == []
    assert [s for s in plain if leaves_session_state(s)] == []


def test_statements_sent_as_compiled_text_are_judged_once_for_every_store(app, shop, token, monkeypatch):
    """The pool's listener remembers its verdict per statement text. A cart write on the lane is
    sent as text with the store's schema in it (:mod:`mallow.db.sqltext`): the listener judges
    the text it was made from, the same for every store, so the verdicts stay remembered with
    10,000 stores instead of one per store crowding the others out."""
    from mallow.db import hygiene

    judged: list[str] = []
    real = hygiene.leaves_session_state
    monkeypatch.setattr(hygiene, "leaves_session_state", lambda text: judged.append(text) or real(text))
    other = make_store(app)
    other_token = make_shopper(app.test_client(), other)[0]
    client = app.test_client()
    for store, bearer_token in ((shop, token), (other, other_token)):
        sku = make_product(app, store, title="判定", price=500, stock=10)[0]
        added = client.post(
            f"{store.prefix}/api/cart/items", headers=bearer(bearer_token), json={"sku_id": sku, "quantity": 1}
        )
        assert added.status_code == 201
        judged.clear()
        put = client.put(f"{store.prefix}/api/cart/items/{sku}", headers=bearer(bearer_token), json={"quantity": 2})
        assert put.status_code == 200
        writes = [text for text in judged if "cart_items" in text]
        assert writes, judged
        assert all("__[SCHEMA_" in text and f"store_{store.store_id}" not in text for text in writes), writes
