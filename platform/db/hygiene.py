"""What a pooled connection carries from one request to the next: nothing.

A plugin (or any code) that runs and commits a session-level statement changes the *server
session* of a pooled connection, and the pool's rollback-on-return does not undo it:
``SET search_path`` / ``SET ROLE`` / any ``SET``, a temp table, a ``PREPARE``d statement, an
advisory lock, ``LISTEN``, a ``WITH HOLD`` cursor on PostgreSQL; an ``ATTACH`` or a ``PRAGMA`` on
SQLite. The next request on that connection — possibly another store's — would inherit it.

:func:`install` puts two pool listeners on an engine (the platform engine, whose pool the
PostgreSQL store engines share, and each SQLite store engine):

* ``reset`` (every return to the pool, before the pool's own rollback): roll back, then

  - PostgreSQL, **when the connection ran a statement that can leave session state** (see
    below): what ``DISCARD ALL`` does (what PgBouncer runs between clients: ``RESET ALL``,
    ``SET SESSION AUTHORIZATION DEFAULT``, ``CLOSE ALL``, ``UNLISTEN *``, advisory locks, temp
    tables, sequences), with the statements a plugin ``PREPARE``d but not the driver's own (see
    ``_PG_RESET``), then put back the session settings the connection had when it was new (what
    ``connect`` listeners or the driver set), so the reset is safe with the engine's own settings. Store engines keep
    nothing on the connection (their schema is a ``schema_translate_map`` of the SQLAlchemy
    ``Connection``), so every store's schema is still right after it.
  - SQLite, **when the connection ran a statement that can leave state** (an ``ATTACH`` or
    ``DETACH``, a ``PRAGMA``, a temp object, anything unknown: :func:`leaves_sqlite_state`,
    marked by a listener as on PostgreSQL): detach every database that is not the engine's own
    (a store engine: exactly its file as ``store``; the platform engine: none), re-attach the
    own one if it was detached or swapped, put changed ``PRAGMA``s back, drop temp objects;
    whatever cannot be put back marks the connection to be discarded.

* ``checkout`` (every time the pool hands a connection out): a defensive check. The first
  checkout of a new connection records its state as the baseline the reset restores; later
  checkouts compare, cheaply, what decides which rows a statement reaches and with whose rights
  (PostgreSQL: ``search_path``, ``current_user``, ``session_user``, SQL prepared statements;
  SQLite: the attached files — exactly the engine's own — and the driver's transaction mode).
  A difference, or a connection the reset marked, raises ``DisconnectionError``: SQLAlchemy
  discards that connection and hands out a fresh one, so a connection that slipped past the
  reset never serves a request.

Which PostgreSQL connections are reset (issue 13). A ``before_cursor_execute`` listener looks
at every statement SQLAlchemy sends on the engine (``exec_driver_sql`` and ``text()`` included)
and marks the pooled connection when the statement can leave server session state
(:func:`leaves_session_state`, remembered per statement text: a cache lookup per statement).
Only a marked connection pays the reset's round trip when it returns; the rest — every request
Mallow itself serves — pay the checkout check alone. Marked: any statement that does not begin
with a plain data or DDL keyword (``SET`` other than ``SET LOCAL`` / ``SET TRANSACTION`` /
``SET CONSTRAINTS``, ``RESET``, ``LISTEN``, ``PREPARE``, ``EXECUTE``, ``DECLARE`` (a ``WITH HOLD``
cursor outlives the transaction), ``DISCARD``, ``DO``, ``CALL``, ``LOAD``, anything unknown),
several statements in one string, and a statement that names ``set_config``, a session-level
advisory lock function (``pg_advisory_lock``, ``pg_try_advisory_lock_shared``, … but not the
``_xact_`` ones, which the transaction's end releases), a temporary table (``TEMP``,
``TEMPORARY``, ``pg_temp``) or ``dblink``. ``SET LOCAL`` and transaction-level locks end with
the transaction, which the rollback on return ends. A false positive costs one reset.

Why this and not the reset folded into the checkout's round trip: a connection that leaked an
advisory lock or a ``LISTEN`` would then keep it while it idles in the pool (another worker
waiting on that lock would wait for as long as nobody checked this connection out), and the
reset is the heavy part on the server (``RESET ALL``, ``DISCARD TEMP``, a ``DO`` block on
``pg_prepared_statements``): measured on loopback, the check alone ≈ 60 µs a round trip, the reset
≈ 220 µs, both in one batch ≈ 265 µs. Folding saves one network latency but keeps the server's
work on every request; marking removes the ~220 µs from every request that set nothing (every
request Mallow itself serves) and still releases leaked state the moment the connection returns.

What the mark does not see: SQL sent past SQLAlchemy on the raw DBAPI connection
(``connection.connection.dbapi_connection.cursor()``), and state a user-defined function sets
when called from a plain ``SELECT``. For those the checkout check is the net, as it is for a
failed reset: a connection whose ``search_path``, role or SQL prepared statements differ from
its baseline is discarded, never handed out. Sequence state (``currval``/``lastval`` of the
sequences a request's ``INSERT``s used) is no longer discarded on every return: it names a
number this connection generated, not rows; ``store_sql`` refuses raw statements that could
reach another store's rows.

A checkout that skips the check (issue 13: HikariCP's bypass of its alive-check for a connection
used within the last 500 ms). The check catches what the connection's *previous holder* left
behind, past the mark. A holder that ran only statements SQLAlchemy saw, from code that sends
nothing else (a lane of the front door, :mod:`mallow.edge.lanes`: one schema-qualified
statement), says so with :func:`vouch`; when such a connection comes back unmarked, it is
stamped with the time, and the next checkout within :data:`BYPASS_SECONDS` hands it out
without the round trip: nothing ran on it since the holder whose every statement was seen, and
a connection used that recently is alive (if the server dropped it since, the statement fails,
SQLAlchemy discards the connection, and the caller's error path runs: a lane gives way to
Flask). Any checkout takes the stamp away, so a connection a request held without vouching
(anything Flask serves, plugin code included) is checked at its next checkout as before. Store
isolation does not rest on the check: every store statement names its schema through the
translate map; the check is the net for state a holder left.

The check and the transaction's ``BEGIN`` in one round trip (issue 13). The check is sent with
libpq's ``PQexec`` (one simple-protocol message, no autocommit switch around it). When the
tenant session takes the connection for its transaction (:func:`begin_at_checkout`, said by
:class:`mallow.db.session.TenantSession` around its own checkouts only), the message is ``BEGIN``
(as psycopg would word it for the connection's settings) followed by the check: the connection
comes out of the pool inside its transaction, the check has run, and psycopg sends no ``BEGIN``
of its own before the first statement. Nothing is relaxed: the check runs at every such
checkout as before, a connection that fails it (state kept, or dropped by the server) is
discarded and the pool tries a fresh one. Checkouts that are not the session's (a lane, which
switches the driver to autocommit; a connection given an isolation level) get the check alone
and no transaction. A request that reads costs ``BEGIN``+check, its statements, ``ROLLBACK``;
a write, ``BEGIN``+check, its statements, ``COMMIT`` (``tests/tenants/test_hygiene_round_trips.py``).

Cost: on PostgreSQL one round trip per checkout (the check, also the liveness check, with the
session's ``BEGIN``) and none on return unless the connection was marked; on SQLite one local
statement per checkout (the attached files) and, on return, three more only when the connection
was marked (reading the ``PRAGMA``s back cost ~50 µs, 5 % of a cold storefront page).
"""

from __future__ import annotations

import functools
import logging
import os
import re
import threading
import time

import sqlalchemy as sa
from psycopg import IsolationLevel as pq_isolation
from psycopg import pq
from sqlalchemy import event

log = logging.getLogger(__name__)


# a database file's real path: asked on every SQLite checkout, the same few files each time
_real_path = functools.lru_cache(maxsize=20_000)(os.path.realpath)  # a path per store file met (~250 B each)

BASELINE = "mallow.baseline"
#: PostgreSQL: the holder of this checkout vouched for it (:func:`vouch`)
VOUCHED = "mallow.vouched"
#: PostgreSQL: when a vouched-for connection came back (``time.monotonic()``)
VOUCHED_AT = "mallow.vouched_at"
#: a connection vouched for and returned this recently is handed out without the checkout check
BYPASS_SECONDS = 0.5
DIRTY = "mallow.dirty"
#: PostgreSQL: this pooled connection ran a statement that can leave session state (reset it)
SESSION_STATE = "mallow.session_state"
EXPECTED_ATTACHED = "mallow.expected_attached"
#: the process that made this connection (a forked one never uses it: :func:`_not_inherited`)
MADE_BY = "mallow.made_by"

# checked at every checkout: one cheap query on what decides which rows a statement reaches and
# with whose rights. Everything else a session can keep (other settings, temp tables, prepared
# statements, advisory locks, LISTEN, cursors) is cleared at every reset (_PG_RESET); reading
# pg_settings or pg_locks at every checkout would cost more than the request's own queries.
_PG_CHECK = (
    "SELECT pg_catalog.current_setting('search_path'), current_user::text, session_user::text,"
    " EXISTS (SELECT 1 FROM pg_catalog.pg_prepared_statements WHERE from_sql)"
)
_PG_FIELDS = ("search_path", "current_user", "session_user", "prepared statements")
# sent with libpq's PQexec (simple protocol, one round trip): alone, or after BEGIN for a
# checkout that will run its statements in a transaction (begin_at_checkout)
_PG_CHECK_QUERY = _PG_CHECK.encode()
# The same row without looking at prepared statements: ``pg_prepared_statements`` copies every
# statement the session has prepared, psycopg's own included (their text, parameter and result
# types) to find the SQL-``PREPARE``d ones; with a few dozen kept it cost the server ~130 µs a
# checkout, more than a request's own statements (BEGIN and the other three values: ~17 µs).
# What decides which rows a statement reaches and with whose rights (search_path, role) is
# checked at every checkout; a statement ``PREPARE``d in SQL past SQLAlchemy (nothing of ours
# does: the mark sees everything sent through SQLAlchemy and sqltext, and the reset deallocates
# it) is looked for at most every PREPARED_CHECK_SECONDS per connection, and the connection
# discarded then.
_PG_LIGHT_CHECK_QUERY = (
    b"SELECT pg_catalog.current_setting('search_path'), current_user::text, session_user::text, false"
)
#: PostgreSQL: when this pooled connection's prepared statements were last looked at
PREPARED_AT = "mallow.prepared_checked_at"
PREPARED_CHECK_SECONDS = 1.0
# at every reset, in one round trip: DISCARD ALL (what PgBouncer runs between clients) except
# DEALLOCATE ALL and DISCARD PLANS. The driver's own protocol-level prepared statements (psycopg
# prepares a query it has seen five times and tracks them; dropping them behind its back breaks
# the next such query) are kept: their text names its schema (the translate map) or resolves
# through a search_path that is reset here, and PostgreSQL re-plans a statement when the
# search_path or the role it was planned with changes. Statements a plugin PREPAREd in SQL are
# deallocated by name.
_PG_RESET = """CLOSE ALL;
SET SESSION AUTHORIZATION DEFAULT;
RESET ALL;
UNLISTEN *;
SELECT pg_catalog.pg_advisory_unlock_all();
DISCARD TEMP;
DISCARD SEQUENCES;
DO $mallow_reset$ DECLARE prepared record; BEGIN
  FOR prepared IN SELECT name FROM pg_catalog.pg_prepared_statements WHERE from_sql LOOP
    EXECUTE pg_catalog.format('DEALLOCATE %I', prepared.name);
  END LOOP;
END $mallow_reset$"""
# once per new connection: the settings its connect step made, put back after each reset
_PG_SESSION_SETTINGS = (
    "SELECT name, pg_catalog.current_setting(name) FROM pg_catalog.pg_settings WHERE source = 'session' ORDER BY name"
)

# connection-wide PRAGMAs that change what a statement does or sees
SQLITE_PRAGMAS = (
    "foreign_keys",
    "busy_timeout",
    "query_only",
    "recursive_triggers",
    "defer_foreign_keys",
    "trusted_schema",
    "automatic_index",
    "ignore_check_constraints",
    "reverse_unordered_selects",
    "legacy_alter_table",
    "writable_schema",
    "cell_size_check",
    "read_uncommitted",
    "cache_size",
    "temp_store",
    "secure_delete",
    "cache_spill",
    "analysis_limit",
)
# per attached database
SQLITE_SCHEMA_PRAGMAS = ("journal_mode", "synchronous")


def install(engine: sa.Engine, expected_attached: dict[str, str] | None = None) -> None:
    """Reset on return and check on checkout, for every connection of ``engine``'s pool.

    ``expected_attached`` (SQLite): the databases a connection must have attached besides
    ``main`` (``{"store": "/…/stores/7.db"}`` for a store engine, ``{}`` for the platform's).
    """
    backend = engine.dialect.name
    if backend == "postgresql":
        reset, checkout = _pg_reset, _pg_checkout
        if not event.contains(engine, "before_cursor_execute", _pg_note_session_state):
            event.listen(engine, "before_cursor_execute", _pg_note_session_state)
    elif backend == "sqlite":
        reset, checkout = _sqlite_reset, _sqlite_checkout
        if not event.contains(engine, "before_cursor_execute", _sqlite_note_state):
            event.listen(engine, "before_cursor_execute", _sqlite_note_state)
    else:
        return
    if event.contains(engine, "reset", reset):
        return  # already installed on this engine's pool
    if backend == "sqlite":
        attached = {name: _real_path(file) for name, file in (expected_attached or {}).items()}

        def remember(dbapi_connection, record):
            record.record_info[EXPECTED_ATTACHED] = attached

        event.listen(engine, "connect", remember)
    event.listen(engine, "reset", reset)
    event.listen(engine, "checkout", checkout)


# PostgreSQL ---------------------------------------------------------------------------------

# statements that begin with these change rows or the schema, or only the transaction: they leave
# no server session state unless they also name a function or object below
_PLAIN = frozenset(
    "select insert update delete with values table merge show begin start commit end rollback savepoint"
    " release abort create alter drop comment grant revoke truncate lock analyze vacuum notify copy explain"
    " refresh cluster reindex security".split()
)
# SET that ends with the transaction (the rollback on return ends it)
_TRANSACTION_SET = re.compile(r"set\s+(local|transaction|constraints)\b")
# (``set_config(…, true)`` with plain arguments is local to the transaction, as ``SET LOCAL`` is)
_SESSION_WORDS = re.compile(
    r"set_config(?!\s*\([^()]*,\s*true\s*\))|advisory_(?!xact)|\btemp(orary)?\b|pg_temp|dblink|\bhold\b"
    r"|\blisten\b|\bprepare\b|\bsession\b"
)
_LEADING_NOISE = re.compile(r"(\s+|--[^\n]*(\n|$)|/\*.*?\*/|\()*", re.DOTALL)


@functools.lru_cache(maxsize=8192)
def leaves_session_state(statement: str) -> bool:
    """Whether ``statement`` (PostgreSQL) can leave state on the server session beyond its
    transaction: a ``SET``, a temp table, a session advisory lock… (the module's docstring has
    the rule). Errs towards yes: a false positive costs one reset."""
    text = statement[_LEADING_NOISE.match(statement).end() :].lower()
    body = text.rstrip().rstrip(";")
    if ";" in body:
        return True  # several statements (or a semicolon in a literal): no guessing
    first = body.split(None, 1)[0] if body else ""
    if first == "set":
        return not _TRANSACTION_SET.match(body)
    if first not in _PLAIN:
        return True
    return _SESSION_WORDS.search(body) is not None


class _Sending(threading.local):
    """The statement a sender of compiled text is about to send (:func:`sending`)."""

    statement: str | None = None
    template: str = ""


_sending = _Sending()


def sending(statement: str, template: str) -> None:
    """Say (this thread) that ``statement``, sent next, is ``template`` with a store's schema put
    in (:mod:`mallow.db.sqltext` sends its statements so, with no execution context): the listener
    judges ``template``, as it judges the compiled text of a statement SQLAlchemy sends."""
    _sending.statement, _sending.template = statement, template


def _judged_text(statement: str, context) -> str:
    """The text a statement is judged by: as compiled, before a store's schema is put in (one
    text for every store, so the verdicts stay remembered with 10,000 stores; the very text
    :func:`sending` named: the same object, so a statement changed on its way is judged as it
    is), else the statement itself."""
    compiled = context.compiled if context is not None else None
    if compiled is not None:
        return compiled.string
    if statement is _sending.statement:
        return _sending.template
    return statement


def _pg_note_session_state(conn, _cursor, statement, _parameters, context, _executemany) -> None:
    if leaves_session_state(_judged_text(statement, context)):
        conn.info[SESSION_STATE] = True  # the pooled connection's record: reset when it returns


# SQLite ---------------------------------------------------------------------------------------

# statements that begin with these change rows or the schema, or only the transaction: they leave
# nothing on the connection unless they also make or name a temp object
_SQLITE_PLAIN = frozenset(
    "select insert update delete replace with values begin commit end rollback savepoint release"
    " create drop alter analyze reindex explain".split()
)
_SQLITE_TEMP = re.compile(r"\btemp(orary)?\b")


@functools.lru_cache(maxsize=8192)
def leaves_sqlite_state(statement: str) -> bool:
    """Whether ``statement`` (SQLite) can leave state on the connection beyond its transaction:
    an ``ATTACH`` / ``DETACH``, a ``PRAGMA``, a temp table, view or trigger… Errs towards yes
    (several statements in one string, anything unknown): a false positive costs one read of
    the connection's state when it returns."""
    text = statement[_LEADING_NOISE.match(statement).end() :].lower()
    body = text.rstrip().rstrip(";")
    if ";" in body:
        return True
    first = body.split(None, 1)[0] if body else ""
    return first not in _SQLITE_PLAIN or _SQLITE_TEMP.search(body) is not None


def _sqlite_note_state(conn, _cursor, statement, _parameters, context, _executemany) -> None:
    if leaves_sqlite_state(_judged_text(statement, context)):
        conn.info[SESSION_STATE] = True  # the pooled connection's record: read back when it returns


_IDLE = pq.TransactionStatus.IDLE
_TUPLES_OK = pq.ExecStatus.TUPLES_OK


def _pg_query(dbapi_connection, sql: str) -> list:
    with _autocommit(dbapi_connection):
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(sql)
            return cursor.fetchall()
        finally:
            cursor.close()


def vouch(connection: sa.Connection) -> None:
    """Say that the holder of ``connection`` (checked out from a pool with these listeners)
    sends on it only statements SQLAlchemy sees, none of which attaches, sets a ``PRAGMA`` or
    makes a temp object, from code that runs nothing else. PostgreSQL: its next checkout within
    :data:`BYPASS_SECONDS` of its return skips the check (see the module's notes). SQLite: its
    return skips reading the connection's state back (three statements: there is nothing to
    put back; the next checkout still compares the attached files)."""
    connection.connection.info[VOUCHED] = True


class _CheckoutWish(threading.local):
    begin = False


_wish = _CheckoutWish()


def begin_at_checkout(wanted: bool) -> None:
    """Say (this thread) that the next checkout of a PostgreSQL connection is for statements in
    a transaction (the tenant session's own connection): the checkout's check then opens it,
    the ``BEGIN`` psycopg would send and the check in one round trip, instead of psycopg
    sending its ``BEGIN`` on its own before the first statement. The caller says False
    again once its connection is taken (:class:`mallow.db.session.TenantSession`). Code that
    switches the connection to autocommit, or sets an isolation level, after the checkout must
    not ask (the driver refuses both inside a transaction)."""
    _wish.begin = wanted


def _not_inherited(record, proxy) -> None:
    """A connection another process made is never used here. A forked process (an rq work horse,
    one per job) inherits its parent's pool with the parent's open connections: using one would
    interleave two processes' messages on one socket, and a horse that ends with ``os._exit``
    leaves the server holding the transaction it was in (idle in transaction, its snapshot
    holding back the clean-up of every row updated meanwhile). Such a connection is let go
    without closing it (the parent's, still open there) and the pool connects afresh
    (SQLAlchemy's recipe for pools across ``os.fork()``)."""
    made_by = record.info.setdefault(MADE_BY, os.getpid())
    if made_by != os.getpid():
        record.dbapi_connection = proxy.dbapi_connection = None
        raise sa.exc.DisconnectionError(f"a connection of process {made_by}, inherited by {os.getpid()} (forked)")


def _pg_checkout(dbapi_connection, record, proxy) -> None:
    """The state check is also the pool's liveness check (``pool_pre_ping`` is off for
    PostgreSQL: one round trip per checkout instead of two): a connection the server dropped
    fails it and is discarded, and the pool connects afresh. Not for a connection whose last
    holder vouched for it and returned it moments ago (:func:`vouch`). A checkout for the
    tenant session (:func:`begin_at_checkout`) gets its transaction's ``BEGIN`` in the same
    round trip as the check. Never a connection another process made (:func:`_not_inherited`)."""
    _not_inherited(record, proxy)
    begin, _wish.begin = _wish.begin, False  # one wish, one checkout
    returned = record.info.pop(VOUCHED_AT, None)
    baseline = record.info.get(BASELINE)
    if returned is not None and time.monotonic() - returned < BYPASS_SECONDS and baseline is not None:
        return
    try:
        if not _idle(dbapi_connection):
            dbapi_connection.rollback()  # e.g. a connect step's statement left a transaction open
        check = _PG_CHECK_QUERY
        if baseline is not None:
            now = time.monotonic()
            if now - record.info.get(PREPARED_AT, 0.0) < PREPARED_CHECK_SECONDS:
                check = _PG_LIGHT_CHECK_QUERY
            else:
                record.info[PREPARED_AT] = now
        raw = _pg_check(
            dbapi_connection, check, _begin_command(dbapi_connection, check) if begin and baseline is not None else None
        )
        if baseline is not None and raw == baseline["raw"]:
            return
        state = _decoded(dbapi_connection, raw)
    except Exception as error:  # noqa: BLE001 -- any failure means: not usable
        raise sa.exc.DisconnectionError(f"pooled connection unusable ({error})") from error
    if baseline is None:
        settings = [tuple(row) for row in _pg_query(dbapi_connection, _PG_SESSION_SETTINGS)]
        record.info[BASELINE] = {"check": state, "raw": raw, "settings": settings}
        return
    changed = [name for name, now, then in zip(_PG_FIELDS, state, baseline["check"], strict=False) if now != then]
    log.warning("discarding a pooled PostgreSQL connection that kept session state: %s", ", ".join(changed))
    raise sa.exc.DisconnectionError(f"pooled connection kept session state ({', '.join(changed)})")


def _idle(dbapi_connection) -> bool:
    """No transaction open on the server (psycopg's own view of it is the same libpq status)."""
    return dbapi_connection.pgconn.transaction_status == _IDLE


def _begin_command(dbapi_connection, check: bytes) -> bytes | None:
    """The ``BEGIN`` psycopg would send before this connection's next statement (its
    isolation level, read-only and deferrable settings, as psycopg words them) followed by
    ``check``, or None in autocommit."""
    if dbapi_connection.autocommit:
        return None
    key = (dbapi_connection.isolation_level, dbapi_connection.read_only, dbapi_connection.deferrable, check)
    command = _BEGIN_COMMANDS.get(key)
    if command is None:
        level, read_only, deferrable, _check = key
        parts = [b"BEGIN"]
        if level is not None:
            parts += [b"ISOLATION LEVEL", pq_isolation(level).name.replace("_", " ").encode()]
        if read_only is not None:
            parts.append(b"READ ONLY" if read_only else b"READ WRITE")
        if deferrable is not None:
            parts.append(b"DEFERRABLE" if deferrable else b"NOT DEFERRABLE")
        command = _BEGIN_COMMANDS[key] = b" ".join(parts) + b"; " + check
    return command


_BEGIN_COMMANDS: dict[tuple, bytes] = {}


def _pg_check(dbapi_connection, check: bytes, begin: bytes | None) -> tuple:
    """The check's row as the server sent it (text format), in one round trip: libpq's PQexec
    of ``check``, or of ``begin`` (a ``BEGIN`` and the check: psycopg then sends no ``BEGIN`` of
    its own, as it reads the same libpq transaction status). Raises when the connection does
    not answer."""
    result = dbapi_connection.pgconn.exec_(begin or check)
    if result.status != _TUPLES_OK or result.ntuples != 1:
        message = result.error_message or dbapi_connection.pgconn.error_message or b"no answer"
        raise sa.exc.DisconnectionError(message.decode(errors="replace").strip())
    return tuple(result.get_value(0, column) for column in range(len(_PG_FIELDS)))


def _decoded(dbapi_connection, raw: tuple) -> tuple:
    """The check's raw row as psycopg reads it: three texts and a boolean."""
    encoding = dbapi_connection.info.encoding
    *texts, prepared = raw
    return (*(None if value is None else value.decode(encoding) for value in texts), prepared == b"t")


def _pg_reset(dbapi_connection, record, reset_state) -> None:
    """Only a connection marked by :func:`_pg_note_session_state` is reset (one round trip);
    the others only get the pool's own rollback (none when the transaction has ended)."""
    vouched = record.info.pop(VOUCHED, False)
    if reset_state.terminate_only or not record.info.pop(SESSION_STATE, False):
        if vouched and not reset_state.terminate_only:
            record.info[VOUCHED_AT] = time.monotonic()  # nothing left behind: see vouch()
        return
    dbapi_connection.rollback()
    baseline = record.info.get(BASELINE)
    with _autocommit(dbapi_connection):
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(_PG_RESET)
            if baseline is not None:
                names = [name for name, _value in baseline["settings"]]
                values = [value for _name, value in baseline["settings"]]
                _search_path, user, session_user, _prepared = baseline["check"]
                if user != session_user:
                    names.append("role")
                    values.append(user)
                if names:  # what the engine's own connect step had set
                    cursor.execute(
                        "SELECT pg_catalog.set_config(n, v, false) FROM unnest(%s::text[], %s::text[]) AS s(n, v)",
                        (names, values),
                    )
                    cursor.fetchall()
        finally:
            cursor.close()


class _autocommit:
    """Run statements outside the driver's transaction: one round trip, nothing left open."""

    def __init__(self, dbapi_connection):
        self.connection = dbapi_connection

    def __enter__(self):
        self.before = self.connection.autocommit
        if not self.before:
            self.connection.rollback()  # e.g. the pre-ping's SELECT 1 left a transaction open
            self.connection.autocommit = True
        return self.connection

    def __exit__(self, *exc):
        if not self.before:
            self.connection.autocommit = False
        return False


# SQLite -------------------------------------------------------------------------------------


def _sqlite_databases(dbapi_connection) -> dict[str, str]:
    return {name: file for _seq, name, file in dbapi_connection.execute("PRAGMA database_list") if name != "temp"}


def _sqlite_state(dbapi_connection) -> dict:
    databases = _sqlite_databases(dbapi_connection)
    keys = list(SQLITE_PRAGMAS) + [f"{schema}.{pragma}" for schema in databases for pragma in SQLITE_SCHEMA_PRAGMAS]
    values = dbapi_connection.execute(_sqlite_pragma_query(tuple(databases))).fetchone()
    temp = dbapi_connection.execute(
        "SELECT type, name FROM temp.sqlite_master WHERE type IN ('table', 'view', 'trigger')"
    ).fetchall()
    return {
        "databases": databases,
        "pragmas": dict(zip(keys, values, strict=False)),
        "temp": sorted(temp),
        "isolation_level": dbapi_connection.isolation_level,
    }


_PRAGMA_QUERIES: dict[tuple, str] = {}


def _sqlite_pragma_query(schemas: tuple) -> str:
    query = _PRAGMA_QUERIES.get(schemas)
    if query is None:
        parts = [f"(SELECT * FROM pragma_{pragma})" for pragma in SQLITE_PRAGMAS]
        parts += [
            f"(SELECT * FROM pragma_{pragma} WHERE schema = {_literal(schema)})"
            for schema in schemas
            for pragma in SQLITE_SCHEMA_PRAGMAS
        ]
        query = "SELECT " + ", ".join(parts)
        if len(_PRAGMA_QUERIES) < 64:
            _PRAGMA_QUERIES[schemas] = query
    return query


def _sqlite_problems(state: dict, baseline: dict, record) -> list[str]:
    problems = [key for key in ("databases", "pragmas", "temp", "isolation_level") if state[key] != baseline[key]]
    if "databases" not in problems and not _own_databases(state["databases"], record):
        problems.append("databases")
    return problems


def _own_databases(databases: dict[str, str], record) -> bool:
    """Exactly the engine's own files are attached (``expected_attached`` of :func:`install`)."""
    expected = record.record_info.get(EXPECTED_ATTACHED)
    if expected is None:
        return True
    attached = {name: _real_path(file) if file else file for name, file in databases.items() if name != "main"}
    return attached == expected


def _sqlite_checkout(dbapi_connection, record, proxy) -> None:
    _not_inherited(record, proxy)
    baseline = record.info.get(BASELINE)
    if baseline is None:  # a new connection: its state is the baseline the reset restores
        baseline = record.info[BASELINE] = _sqlite_state(dbapi_connection)
        problems = _sqlite_problems(baseline, baseline, record)
    else:  # cheap: what decides which rows a statement reaches (the reset checked the rest)
        databases = _sqlite_databases(dbapi_connection)
        problems = [] if databases == baseline["databases"] and _own_databases(databases, record) else ["databases"]
        if dbapi_connection.isolation_level != baseline["isolation_level"]:
            problems.append("isolation_level")
    if record.info.get(DIRTY):
        problems.append("could not be reset")
    if problems:
        log.warning("discarding a pooled SQLite connection that kept state: %s", ", ".join(problems))
        raise sa.exc.DisconnectionError(f"pooled connection kept state ({', '.join(problems)})")


def _sqlite_reset(dbapi_connection, record, reset_state) -> None:
    if reset_state.terminate_only:
        return
    if dbapi_connection.in_transaction:
        dbapi_connection.rollback()
    baseline = record.info.get(BASELINE)
    if baseline is None:
        return  # never checked out through the pool's checkout step: nothing to compare with
    if dbapi_connection.isolation_level != baseline["isolation_level"]:
        dbapi_connection.isolation_level = baseline["isolation_level"]
    vouched = record.info.pop(VOUCHED, False)
    if not record.info.pop(SESSION_STATE, False) or vouched:
        # every statement it ran was seen, none attaches, sets a PRAGMA or makes a temp object
        # (the mark, _sqlite_note_state), or its holder said so (vouch())
        return
    state = _sqlite_state(dbapi_connection)
    if not _sqlite_problems(state, baseline, record):
        return
    try:
        wanted = baseline["databases"]
        for name, file in state["databases"].items():
            if name != "main" and wanted.get(name) != file:
                dbapi_connection.execute(f"DETACH DATABASE {_quote(name)}")
        now = {name for _seq, name, _file in dbapi_connection.execute("PRAGMA database_list")}
        for name, file in wanted.items():
            if name not in now:
                dbapi_connection.execute(f"ATTACH DATABASE ? AS {_quote(name)}", (file,))
        state = _sqlite_state(dbapi_connection)
        for key, value in baseline["pragmas"].items():  # first: query_only would refuse the drops
            if state["pragmas"].get(key) != value and value is not None:
                schema, _, pragma = key.rpartition(".")
                target = f"{_quote(schema)}.{pragma}" if schema else pragma
                literal = value if isinstance(value, int) else _literal(str(value))
                dbapi_connection.execute(f"PRAGMA {target} = {literal}")
        for kind, name in state["temp"]:
            dbapi_connection.execute(f"DROP {kind.upper()} IF EXISTS temp.{_quote(name)}")
        problems = _sqlite_problems(_sqlite_state(dbapi_connection), baseline, record)
    except Exception:  # noqa: BLE001  (anything odd: the connection is not to be handed out again)
        log.exception("could not reset a pooled SQLite connection")
        problems = ["reset failed"]
    if problems:
        record.info[DIRTY] = problems  # the checkout step discards it


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
