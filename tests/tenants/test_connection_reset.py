"""Session state that plugin-style code commits on a pooled connection never reaches the next
request, and plugins get a store-scoped way to run raw SQL (``store_sql``).

The platform pool holds one connection, so on PostgreSQL every request below runs on the same
server session (the tests check the backend pid): without the reset, a ``SET search_path`` made in
store A's request would let store C's unqualified raw SQL read store B's rows. On SQLite each store
engine has its own pool and the platform engine one connection; the tests check the identity of
the DBAPI connection, so the reset is shown to repair the connection, not only to replace it.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy import event

from mallow.testing import HAVE_POSTGRES, bearer, build_app, make_admin, make_store

POSTGRES = pytest.param(
    "postgresql",
    marks=[pytest.mark.postgres, pytest.mark.skipif(not HAVE_POSTGRES, reason="PostgreSQL is not running")],
)
_SEEN: list = []  # keeps DBAPI connections alive so that their id() is never reused

NOTES = sa.Table(
    "pooltest_notes",
    sa.MetaData(schema="store"),
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("body", sa.String(40), nullable=False),
)


@pytest.fixture(scope="module", params=["sqlite", POSTGRES])
def app(request, tmp_path_factory):
    app = build_app(
        tmp_path_factory,
        request.param,
        SQLALCHEMY_ENGINE_OPTIONS={"pool_size": 1, "max_overflow": 0, "pool_timeout": 5},
    )
    make_admin(app)

    from flask import request as flask_request

    from mallow.accounts.models import Customer
    from mallow.db import db
    from mallow.extensions import csrf

    # a console request: a shopper's write request holds its SQLite store's write lock from the
    # start (tenants.engines), under which SQLite refuses a DETACH outright
    @app.post("/s/<store_slug>/console/test-plugin-raw")
    def plugin_raw():  # what a careless plugin does: connection-level SQL, committed
        body = flask_request.get_json()
        connection = _raw_connection(body.get("on", "store"))
        for statement in body["statements"]:
            if body.get("via") == "session":  # what a plugin's db.session.execute(text(...)) sends
                db.session.execute(sa.text(statement))
            else:
                connection.exec_driver_sql(statement)
        identity = _identity(connection)
        if body.get("fail"):  # the request fails after the statements: its transaction rolls back
            db.session.rollback()
        else:
            db.session.commit()
        return {"identity": identity}

    @app.get("/s/<store_slug>/test-state")
    def connection_state():
        state = {"nicknames": sorted(c.nickname for c in db.session.execute(db.select(Customer)).scalars())}
        store = _raw_connection("store")
        state["store"] = _state(store)
        if store.dialect.name == "postgresql":
            try:
                with db.session.begin_nested():
                    state["unqualified"] = sorted(store.exec_driver_sql("SELECT nickname FROM customers").scalars())
            except sa.exc.ProgrammingError:
                state["unqualified"] = "not found"
        else:
            state["platform"] = _state(_raw_connection("platform"))
        return state

    csrf.exempt(plugin_raw)
    yield app
    with app.app_context():
        app.extensions["mallow.store_engines"].dispose()
        db.engine.dispose()
    if request.param == "postgresql":
        from mallow.testing import drop_postgres_database

        drop_postgres_database(app.config["SQLALCHEMY_DATABASE_URI"])


def _raw_connection(on: str):
    from mallow.db import db
    from mallow.db.session import SAME_CONNECTION as _SAME_CONNECTION
    from mallow.tenants.context import current_store_engine

    engine = current_store_engine()
    if on == "platform" or engine is _SAME_CONNECTION:
        return db.session.connection()
    return db.session.connection(bind_arguments={"bind": engine})


def _identity(connection):
    if connection.dialect.name == "postgresql":
        return connection.exec_driver_sql("SELECT pg_backend_pid()").scalar()
    dbapi = connection.connection.dbapi_connection
    _SEEN.append(dbapi)
    return id(dbapi)


def _state(connection) -> dict:
    run = connection.exec_driver_sql
    if connection.dialect.name == "postgresql":
        return {
            "identity": _identity(connection),
            "search_path": run("SHOW search_path").scalar(),
            "statement_timeout": run("SHOW statement_timeout").scalar(),
            "application_name": run("SHOW application_name").scalar(),
            "own_role": run("SELECT current_user = session_user").scalar(),
            "temp_tables": run("SELECT count(*) FROM pg_class WHERE relnamespace = pg_my_temp_schema()").scalar(),
            "prepared": sorted(run("SELECT name FROM pg_prepared_statements WHERE from_sql").scalars()),
            "advisory_locks": run(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()"
            ).scalar(),
            "listening": sorted(run("SELECT pg_listening_channels()").scalars()),
            "cursors": sorted(run("SELECT name FROM pg_cursors").scalars()),
        }
    return {
        "identity": _identity(connection),
        "attached": {row[1]: row[2] for row in run("PRAGMA database_list") if row[1] not in ("main", "temp")},
        "query_only": run("PRAGMA query_only").scalar(),
        "busy_timeout": run("PRAGMA busy_timeout").scalar(),
        "foreign_keys": run("PRAGMA foreign_keys").scalar(),
        "temp_tables": run("SELECT count(*) FROM temp.sqlite_master").scalar(),
    }


def _is_postgresql(app) -> bool:
    return app.extensions["mallow.store_engines"].is_postgresql


def _store_path(app, shop) -> str:
    return str(app.extensions["mallow.store_engines"].sqlite_path(shop.store_id))


def _schema(shop) -> str:
    return f"store_{shop.store_id}"


def _shop_with_shopper(app, nickname):
    shop = make_store(app)
    client = app.test_client()
    response = client.post(
        f"{shop.prefix}/api/customers",
        json={
            "login": f"{nickname}-{shop.store_id}@example.com",
            "password": "pass-word-1",
            "nickname": nickname,
            "privacy_consent": True,
        },
    )
    assert response.status_code == 201, response.get_json()
    return shop, response.get_json()["token"]


def _raw(client, shop, statements, on="store", **options):
    response = client.post(
        f"{shop.prefix}/console/test-plugin-raw", json={"statements": statements, "on": on, **options}
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()["identity"]


def _baseline(app, client, shop):
    return client.get(f"{shop.prefix}/test-state").get_json()


# --- PostgreSQL: one server session, many stores -----------------------------------------------


@pytest.mark.parametrize("app", [POSTGRES], indirect=True)
def test_search_path_committed_in_one_store_is_gone_for_the_next(app):
    (a, _), (b, _), (c, token_c) = (_shop_with_shopper(app, n) for n in ("alice", "bob", "carol"))
    client = app.test_client()
    clean = _baseline(app, client, c)["store"]
    pid = _raw(client, a, [f'SET search_path TO "{_schema(b)}"'])
    state = client.get(f"{c.prefix}/test-state").get_json()
    assert state["store"]["identity"] == pid  # the same pooled server session…
    assert state["store"]["search_path"] == clean["search_path"]  # …without A's search_path
    assert state["unqualified"] == "not found"  # raw SQL cannot reach B's customers through it
    assert state["nicknames"] == ["carol"]
    assert client.get(f"{c.prefix}/api/me", headers=bearer(token_c)).get_json()["nickname"] == "carol"


@pytest.mark.parametrize("app", [POSTGRES], indirect=True)
def test_role_settings_temp_tables_prepared_statements_and_locks_are_reset(app):
    (a, _), (b, _), (c, _) = (_shop_with_shopper(app, n) for n in ("alice", "bob", "carol"))
    client = app.test_client()
    clean = _baseline(app, client, c)["store"]
    pid = _raw(
        client,
        a,
        [
            "SET statement_timeout = '4321ms'",
            "SET application_name = 'leaky-plugin'",
            f'CREATE TEMP TABLE leak AS SELECT nickname FROM "{_schema(b)}".customers',
            f'PREPARE leak_q AS SELECT nickname FROM "{_schema(b)}".customers',
            "SELECT pg_advisory_lock(4242)",
            "LISTEN leak",
            "SET ROLE pg_monitor",
        ],
    )
    state = client.get(f"{c.prefix}/test-state").get_json()
    assert state["store"] == clean | {"identity": pid}
    assert state["store"]["own_role"] is True and state["store"]["prepared"] == []
    assert state["nicknames"] == ["carol"] and state["unqualified"] == "not found"


# each alone, through the ORM session as a plugin would send it: the reset runs only for a
# connection that ran a statement able to leave session state (mallow.db.hygiene), so each kind
# must be seen on its own
SESSION_LEAKS = {
    "advisory_lock": ["SELECT pg_advisory_lock(4245)"],
    "advisory_lock_shared": ["SELECT pg_try_advisory_lock_shared(4245, 7)"],
    "search_path": ['SET search_path TO "{b}"'],
    "search_path_by_set_config": ["SELECT set_config('search_path', '\"{b}\"', false)"],
    "listen": ["LISTEN leak"],
    "temp_table": ['CREATE TEMP TABLE leak AS SELECT nickname FROM "{b}".customers'],
    "temp_table_by_select_into": ['SELECT nickname INTO TEMPORARY leak FROM "{b}".customers'],
    "prepared": ['PREPARE leak_q AS SELECT nickname FROM "{b}".customers'],
    "held_cursor": ['DECLARE leak_c CURSOR WITH HOLD FOR SELECT nickname FROM "{b}".customers'],
    "role": ["SET ROLE pg_monitor"],
    "setting": ["SET statement_timeout = '4321ms'"],
}


@pytest.mark.parametrize("app", [POSTGRES], indirect=True)
@pytest.mark.parametrize("leak", sorted(SESSION_LEAKS))
def test_each_kind_of_session_state_sent_through_the_session_is_gone_for_the_next_store(app, leak):
    (a, _), (b, _), (c, _) = (_shop_with_shopper(app, n) for n in ("alice", "bob", "carol"))
    client = app.test_client()
    clean = _baseline(app, client, c)["store"]
    statements = [statement.replace("{b}", _schema(b)) for statement in SESSION_LEAKS[leak]]
    pid = _raw(client, a, statements, via="session")
    state = client.get(f"{c.prefix}/test-state").get_json()
    assert state["store"] == clean | {"identity": pid}  # the same server session, none of the state
    assert state["nicknames"] == ["carol"] and state["unqualified"] == "not found"


@pytest.mark.parametrize("app", [POSTGRES], indirect=True)
def test_a_session_lock_taken_by_a_request_that_rolled_back_is_released(app):
    """A session-level advisory lock outlives its transaction's rollback: the reset still runs
    (the statement marked the connection), so the lock is not held while the connection idles."""
    (a, _), (c, _) = (_shop_with_shopper(app, n) for n in ("alice", "carol"))
    client = app.test_client()
    clean = _baseline(app, client, c)["store"]
    pid = _raw(client, a, ["SELECT pg_advisory_lock(4246)", "LISTEN leak"], via="session", fail=True)
    other = sa.create_engine(app.config["SQLALCHEMY_DATABASE_URI"], poolclass=sa.pool.NullPool)
    try:
        with other.connect() as connection:  # the pooled connection is idle now: the lock is free
            assert connection.exec_driver_sql("SELECT pg_try_advisory_lock(4246)").scalar() is True
    finally:
        other.dispose()
    assert client.get(f"{c.prefix}/test-state").get_json()["store"] == clean | {"identity": pid}


@pytest.mark.parametrize("app", [POSTGRES], indirect=True)
def test_engine_settings_made_at_connect_survive_the_reset(app):
    """The reset puts back what the engine's own connect step set (here a ``SET`` in a
    ``connect`` listener), so ``DISCARD ALL`` never undoes the operator's settings."""
    from mallow.db import hygiene

    engine = sa.create_engine(app.config["SQLALCHEMY_DATABASE_URI"], pool_size=1, max_overflow=0)

    @event.listens_for(engine, "connect")
    def own_settings(dbapi_connection, _record):
        dbapi_connection.autocommit = True
        dbapi_connection.execute("SET lock_timeout = '2500ms'")
        dbapi_connection.autocommit = False

    hygiene.install(engine)
    try:
        with engine.connect() as connection:
            pid = connection.exec_driver_sql("SELECT pg_backend_pid()").scalar()
            connection.exec_driver_sql("SET lock_timeout = '1ms'")
            connection.exec_driver_sql("SET search_path TO pg_catalog")
            connection.commit()
        with engine.connect() as connection:
            assert connection.exec_driver_sql("SELECT pg_backend_pid()").scalar() == pid
            assert connection.exec_driver_sql("SHOW lock_timeout").scalar() == "2500ms"
            assert connection.exec_driver_sql("SHOW search_path").scalar() == '"$user", public'
    finally:
        engine.dispose()


def test_the_reset_keeps_one_healthy_connection_over_many_requests(app, caplog):
    """The reset repairs the connection, it does not replace it: no request's state makes the
    checkout step discard it, and the reset itself never fails (a failing reset is logged and
    the connection thrown away). On PostgreSQL it keeps psycopg's own prepared statements, which
    psycopg tracks: dropping them behind its back (DEALLOCATE ALL) breaks a later query on that
    connection (the plugin tests caught it)."""
    (a, token_a), (b, token_b) = (_shop_with_shopper(app, n) for n in ("alice", "bob"))
    client = app.test_client()
    seen = set()
    for _ in range(8):
        for shop, token, nickname in ((a, token_a, "alice"), (b, token_b, "bob")):
            assert client.get(f"{shop.prefix}/api/me", headers=bearer(token)).get_json()["nickname"] == nickname
            state = client.get(f"{shop.prefix}/test-state").get_json()
            assert state["nicknames"] == [nickname]
            seen.add(state["platform" if "platform" in state else "store"]["identity"])
    assert len(seen) == 1, "the pooled connection was replaced"
    assert not [
        r
        for r in caplog.records
        if r.name.startswith(("mallow.db.hygiene", "sqlalchemy.pool")) and r.levelname in ("WARNING", "ERROR")
    ]


# --- SQLite: the store's own file, and nothing else ----------------------------------------------


@pytest.mark.parametrize("app", ["sqlite"], indirect=True)
def test_sqlite_attach_and_pragmas_are_gone_on_the_next_checkout(app):
    (a, _), (b, _), (c, _) = (_shop_with_shopper(app, n) for n in ("alice", "bob", "carol"))
    client = app.test_client()
    clean_a = _baseline(app, client, a)
    other = _store_path(app, b)
    store_connection = _raw(
        client,
        a,
        [
            f"ATTACH DATABASE '{other}' AS other",
            "CREATE TEMP TABLE leak (x)",
            "PRAGMA busy_timeout = 7",
            "PRAGMA query_only = 1",
        ],
    )
    platform_connection = _raw(
        client, a, [f"ATTACH DATABASE '{other}' AS other", "PRAGMA busy_timeout = 9"], on="platform"
    )
    # the platform connection serves every store: C's request gets it back with nothing attached
    state_c = client.get(f"{c.prefix}/test-state").get_json()
    assert state_c["platform"]["identity"] == platform_connection
    assert state_c["platform"] | {"identity": None} == clean_a["platform"] | {"identity": None}
    assert state_c["platform"]["attached"] == {} and state_c["platform"]["busy_timeout"] == 30000
    # A's next request: its store connection, repaired (the same connection), with only its file
    state_a = client.get(f"{a.prefix}/test-state").get_json()
    assert state_a["store"]["identity"] == store_connection
    assert state_a["store"] == clean_a["store"] | {"identity": store_connection}
    assert state_a["store"]["attached"] == {"store": _store_path(app, a)}
    assert (state_a["store"]["query_only"], state_a["store"]["busy_timeout"]) == (0, 30000)
    assert state_a["nicknames"] == ["alice"]


@pytest.mark.parametrize("app", ["sqlite"], indirect=True)
def test_sqlite_store_file_swapped_on_a_connection_is_put_back(app):
    (a, _), (b, _) = (_shop_with_shopper(app, n) for n in ("alice", "bob"))
    client = app.test_client()
    _raw(client, a, ["DETACH DATABASE store", f"ATTACH DATABASE '{_store_path(app, b)}' AS store"])
    state = client.get(f"{a.prefix}/test-state").get_json()
    assert state["nicknames"] == ["alice"]
    assert state["store"]["attached"] == {"store": _store_path(app, a)}


# --- the checkout check: a connection the reset missed is never handed out ----------------------


def test_checkout_check_discards_a_connection_the_reset_missed(app):
    from mallow.db import db
    from mallow.db import hygiene

    (a, _), (b, _) = (_shop_with_shopper(app, n) for n in ("alice", "bob"))
    client = app.test_client()
    postgresql = _is_postgresql(app)
    with app.app_context():
        engines = (
            [db.engine] if postgresql else [db.engine, app.extensions["mallow.store_engines"].engine_for(a.store_id)]
        )
    reset = hygiene._pg_reset if postgresql else hygiene._sqlite_reset
    clean = _baseline(app, client, a)
    for engine in engines:
        event.remove(engine, "reset", reset)
    try:
        if postgresql:
            dirty = _raw(client, a, [f'SET search_path TO "{_schema(b)}"'])
        else:
            dirty = _raw(client, a, [f"ATTACH DATABASE '{_store_path(app, b)}' AS other", "PRAGMA query_only = 1"])
    finally:
        for engine in engines:
            event.listen(engine, "reset", reset)
    state = client.get(f"{a.prefix}/test-state").get_json()
    assert state["store"]["identity"] != dirty  # discarded at checkout, a fresh one instead
    assert state["store"] | {"identity": None} == clean["store"] | {"identity": None}
    assert state["nicknames"] == ["alice"]


# --- store_sql: raw SQL on the store's own tables ---------------------------------------------


def _create_notes(app, shop):
    from mallow.db import db
    from mallow.tenants.context import store_context

    with store_context(shop.store_id, app=app):
        NOTES.create(_raw_connection("store"))
        db.session.commit()


def test_store_sql_reads_and_writes_the_active_stores_table(app):
    from mallow.db import db
    from mallow.sdk import store_sql, store_table
    from mallow.tenants.context import store_context

    a, b = make_store(app), make_store(app)
    for shop, body in ((a, "a-note"), (b, "b-note")):
        _create_notes(app, shop)
        with store_context(shop.store_id, app=app):
            store_sql("INSERT INTO {pooltest_notes} (body) VALUES (:body)", {"body": body})
            store_sql("INSERT INTO {pooltest_notes} (body) VALUES (:body)", {"body": body + "-2"})
            db.session.commit()
    with store_context(a.store_id, app=app):
        assert (
            store_sql(
                "UPDATE {pooltest_notes} SET body = :new WHERE body = :old", {"new": "a-edited", "old": "a-note-2"}
            ).rowcount
            == 1
        )
        db.session.rollback()  # rolled back with the session, like any other write
        rows = (
            store_sql("SELECT n.body FROM {pooltest_notes} AS n WHERE n.body LIKE :p ORDER BY n.id", {"p": "%note%"})
            .scalars()
            .all()
        )
        assert rows == ["a-note", "a-note-2"]
        expected = f'"store_{a.store_id}"."pooltest_notes"' if _is_postgresql(app) else '"store"."pooltest_notes"'
        assert store_table("pooltest_notes") == expected
    with store_context(b.store_id, app=app):
        assert store_sql("SELECT count(*) FROM {pooltest_notes}").scalar() == 2
        assert store_sql("SELECT body FROM {pooltest_notes} WHERE body = 'a-note'").all() == []


REFUSED = [
    "SELECT * FROM merchants",
    "SELECT * FROM {merchants}",
    "SELECT s.slug FROM {pooltest_notes} n JOIN stores s ON true",
    'SELECT * FROM "Stores"',
    "SELECT * FROM public.merchants",
    "SELECT * FROM store_<other>.pooltest_notes",
    'SELECT * FROM "store_<other>"."pooltest_notes"',
    "SELECT * FROM {store_<other>.pooltest_notes}",
    "SELECT * FROM customers",
    "SET search_path TO store_<other>",
    "SELECT set_config('search_path', 'x', false)",
    "ATTACH DATABASE 'x.db' AS other",
    "PRAGMA query_only = 1",
    "CREATE TEMP TABLE x AS SELECT * FROM {pooltest_notes}",
    "DROP TABLE {pooltest_notes}",
    "SELECT 1; SELECT 2",
    "SELECT pg_advisory_lock(1)",
    "SELECT query_to_xml('SELECT * FROM merchants', true, false, '')",
    "COMMIT",
    # words hidden from a careless reader: E'' escapes, U&"" escapes, brackets, backticks
    "SELECT E'\\'', * FROM merchants -- '",
    'SELECT * FROM U&"\\0073tores"',
    "SELECT * FROM [stores]",
    "SELECT * FROM `stores`",
    "SELECT body FROM {pooltest_notes} WHERE id IN (SELECT 1 FROM merchants) /* x */",
]


def test_store_sql_refuses_platform_tables_other_schemas_and_connection_state(app):
    from mallow.sdk import StoreSQLRefused, store_sql
    from mallow.tenants.context import store_context

    shop, other = make_store(app), make_store(app)
    _create_notes(app, shop)
    with store_context(shop.store_id, app=app):
        for statement in REFUSED:
            with pytest.raises(StoreSQLRefused):
                store_sql(statement.replace("<other>", str(other.store_id)))
                pytest.fail(f"not refused: {statement}")


def test_store_sql_allows_what_only_looks_suspicious(app):
    from mallow.sdk import store_sql
    from mallow.tenants.context import store_context

    shop = make_store(app)
    _create_notes(app, shop)
    with store_context(shop.store_id, app=app):
        # platform table names inside literals and comments are data, not tables
        store_sql("INSERT INTO {pooltest_notes} (body) VALUES ('merchants; stores') -- from stores")
        store_sql("""INSERT INTO {pooltest_notes} (body) VALUES ('{"store_7": 1}')""")
        assert store_sql("SELECT body AS orders FROM {pooltest_notes} /* public.x */ ORDER BY id").scalars().all() == [
            "merchants; stores",
            '{"store_7": 1}',
        ]
        assert store_sql("SELECT count(*) FROM {pooltest_notes};").scalar() == 2


def test_store_table_refuses_platform_tables_and_qualified_names(app):
    from mallow.db.session import NoActiveStore
    from mallow.sdk import StoreSQLRefused, store_sql, store_table
    from mallow.tenants.context import store_context

    shop, other = make_store(app), make_store(app)
    with store_context(shop.store_id, app=app):
        for name in (
            "merchants",
            "stores",
            f"store_{other.store_id}.pooltest_notes",
            f"store_{other.store_id}",
            "public",
            'x"; DROP TABLE stores; --',
            "alembic_version_groupbuy",
            "",
        ):
            with pytest.raises(StoreSQLRefused):
                store_table(name)
    with app.app_context():
        with pytest.raises(NoActiveStore):
            store_sql("SELECT count(*) FROM {pooltest_notes}")
        with pytest.raises(NoActiveStore):
            store_table("pooltest_notes")
