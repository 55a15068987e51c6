"""Hot statements sent as SQL text compiled once, not once per execution (issue 13).

``connection.execute(statement, params)`` pays SQLAlchemy's execution layer on every call: the
compiled-cache lookup, the parameters processed again, and the store's ``schema_translate_map``
rendered into the SQL text by a regular expression with a Python callback per table reference
(the order's placement statement names the store's schema dozens of times). :func:`rows`
compiles a statement once per process, keeps its text with the schema tokens in it, and per
execution puts the active store's schema in with ``str.replace`` and sends the text on the
connection's DBAPI cursor (with ``Connection.exec_driver_sql`` when no transaction has begun): the
very SQL the engine would send, on the same connection and transaction, seen by every
``before_cursor_execute`` listener (the pool's hygiene, the tests' statement counters), with
SQLAlchemy's error translation (an ``IntegrityError`` stays one).

The parameters and the rows go through their types' processors as the engine's would (``JSON``
serialised, an array column's value made a list). An ``ARRAY`` parameter of integers or strings
that the SQL casts (``%(ids)s::INTEGER[]``: the psycopg dialect casts every typed parameter) is
sent as PostgreSQL's array literal text (``{1,2,3}``, ``{"a","b \\"c\\""}``), which the cast
reads back into the same array: psycopg's list dumper looks at every element in Python on every
execution (its type, the array's element type, each element's dumper), and the order's placement
sends fourteen arrays (about 0.4 M instructions of an order's 5.4 M). An array holding anything
else (a float, a bool, a nested list, a ``None`` among strings) goes as the engine sends it.
On SQLite the text has pysqlite's ``?`` placeholders and the values go as a tuple in their
order (:attr:`_Text.positions`); the store's file is attached under the schema name the map
gives, so the same tokens are replaced. Only a statement this can send exactly as SQLAlchemy
would is taken: PostgreSQL with named parameters or SQLite with ``?`` ones, no post-compile
(expanding ``IN``) or literal-execute parameters, no escaped bind names, no numeric column
processed (its processing depends on the driver's column type).
Anything else, and a schema map of another shape than the one compiled for, goes through
``connection.execute``.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from itertools import repeat
from typing import NamedTuple

import sqlalchemy as sa

from mallow.db import hygiene

_TOKEN = re.compile(r"__\[SCHEMA_([^\]]+)\]")
_NONE = "_none"


class _Text:
    """A statement compiled once: its SQL with the schema tokens in it (``names``: the schema
    names they stand for), and whether the map it was compiled for had a ``None`` key."""

    __slots__ = ("binds", "compiled", "names", "none_key", "positions", "rendered", "results", "sql", "statement")

    def __init__(self, statement, compiled, none_key: bool, dialect):
        self.statement, self.compiled, self.none_key = statement, compiled, none_key
        self.sql = compiled.string
        self.names = tuple(sorted(set(_TOKEN.findall(self.sql))))
        self.rendered: dict[tuple, str] = {}  # the text for a store's schema: see sql_of()
        self.binds = dict(compiled._bind_processors)
        for key, bind in compiled.binds.items():
            literal = _array_literal(bind.type, dialect)
            if literal is not None and _always_cast(self.sql, key, bind.type, dialect):
                self.binds[key] = _literal_or(literal, self.binds.get(key))
        results = [_result_processor(column[3], dialect) for column in compiled._result_columns]
        self.results = results if any(results) else None
        #: SQLite's ``?`` placeholders: the parameters' names in the order of the text (a name
        #: used twice is there twice); None for PostgreSQL's named ones
        self.positions = tuple(compiled.positiontup) if dialect.positional else None


def _result_processor(type_, dialect):
    return type_._cached_result_processor(dialect, None)


_NONE_TYPE = type(None)
#: inside a double-quoted element of an array literal, a backslash escapes the next character
_QUOTED = str.maketrans({"\\": "\\\\", '"': '\\"'})


def _integers(values) -> str | None:
    """``{1,2,NULL}``: a one-dimensional array of ``int`` (and ``None``), else None."""
    kinds = set(map(type, values))
    if kinds <= {int}:
        return "{" + ",".join(map(str, values)) + "}"
    if kinds <= {int, _NONE_TYPE}:  # no digit string holds "None"
        return "{" + ",".join(map(str, values)).replace("None", "NULL") + "}"
    return None


def _strings(values) -> str | None:
    """``{"a","b \\"c\\""}``: a one-dimensional array of ``str``, each element quoted, else None."""
    if not values:
        return "{}"
    if set(map(type, values)) <= {str}:
        return '{"' + '","'.join(map(str.translate, values, repeat(_QUOTED))) + '"}'
    return None


def _array_literal(type_, dialect) -> Callable[[list], str | None] | None:
    """How a value of ``type_`` is written as an array literal: an ``ARRAY`` of one dimension
    whose elements' type processes nothing (integers, strings), else None."""
    if not isinstance(type_, sa.ARRAY) or (type_.dimensions or 1) != 1:
        return None
    item = type_.item_type
    if item._cached_bind_processor(dialect) is not None:
        return None
    if isinstance(item, sa.Integer):
        return _integers
    if isinstance(item, sa.String) and not isinstance(item, sa.Enum):
        return _strings
    return None


def _always_cast(sql: str, key: str, type_, dialect) -> bool:
    """Whether every place of parameter ``key`` in ``sql`` casts it to ``type_`` (so a literal's
    text is read as that array)."""
    placeholder = f"%({key})s"
    cast = f"{placeholder}::{dialect.type_compiler_instance.process(type_)}"
    return sql.count(placeholder) == sql.count(cast) > 0


def _literal_or(literal: Callable[[list], str | None], process: Callable | None) -> Callable:
    """The parameter's processor: the array literal of a list or tuple that has one, else what
    the engine would send (the type's own processor)."""

    def send(value):
        if isinstance(value, (list, tuple)):
            text = literal(value)
            if text is not None:
                return text
        return value if process is None else process(value)

    return send


#: (id of the statement, dialect name) → its text, or None when it is not taken (see above);
#: a statement stays referenced by its entry, so its id is never reused while it is here
_texts: dict[tuple[int, str], _Text | None] = {}
_lock = threading.Lock()


def _sendable(compiled, dialect) -> bool:
    if "__[POSTCOMPILE_" in compiled.string:
        return False
    if getattr(compiled, "escaped_bind_names", None) or compiled.literal_execute_params or compiled.post_compile_params:
        return False
    for column in compiled._result_columns:
        type_ = column[3]
        if isinstance(type_, sa.Numeric) and _result_processor(type_, dialect) is not None:
            return False
    return True


#: the drivers' parameter styles a text is sent in: psycopg's named ``%(name)s``, pysqlite's ``?``
_SENT_STYLES = frozenset({("postgresql", False, "pyformat"), ("sqlite", True, "qmark")})


def _text(statement, dialect, translate: dict | None) -> _Text | None:
    key = (id(statement), dialect.name)
    found = _texts.get(key, False)
    if found is False:
        found = None
        if (dialect.name, dialect.positional, dialect.paramstyle) in _SENT_STYLES:
            compiled = statement.compile(dialect=dialect, schema_translate_map=dict(translate or {}))
            if _sendable(compiled, dialect):
                found = _Text(statement, compiled, None in (translate or {}), dialect)
        with _lock:
            _texts[key] = found
    return found


#: how many schemas' texts a statement keeps (:func:`sql_of`); past it, they are made afresh
RENDERED_KEPT = 64


def sql_of(text: _Text, translate: dict | None, dialect) -> str:
    """The text with each schema token replaced as SQLAlchemy's schema translation replaces it
    (``IdentifierPreparer._render_schema_translates``): the map's schema for its name, the name
    itself when the map does not have it, the dialect's default schema for an empty one; quoted
    where it must be.

    Kept per statement for the last schemas it was sent for (up to :data:`RENDERED_KEPT`, then
    begun again): the same store's next order gets the same ``str`` object, not a new one of a
    few kilobytes (the replacing, then every cache the text is looked up in hashing it again:
    the pool's hygiene, psycopg's converted queries), about 20 K instructions a statement."""
    translate = translate or {}
    key = (tuple(translate.items()), dialect.default_schema_name)
    sql = text.rendered.get(key)
    if sql is not None:
        return sql
    sql = text.sql
    preparer = dialect.identifier_preparer
    for name in text.names:
        target = translate[None] if name == _NONE else translate.get(name, name)
        sql = sql.replace(f"__[SCHEMA_{name}]", preparer.quote_schema(target or dialect.default_schema_name))
    if len(text.rendered) >= RENDERED_KEPT:
        text.rendered.clear()
    text.rendered[key] = sql
    return sql


class Prepared(NamedTuple):
    """A statement ready to send on one connection: its compiled text, the SQL with the active
    store's schema in it, and the processed parameters."""

    text: _Text
    sql: str
    values: dict | tuple


def prepare(connection: sa.Connection, statement, params: dict) -> Prepared | None:
    """The statement's text for ``connection`` (the active store's schema in it) and its processed
    parameters, or None when it is not sent as text (see the module's notes)."""
    translate = connection.get_execution_options().get("schema_translate_map")
    text = _text(statement, connection.dialect, translate)
    if text is None or text.none_key != (None in (translate or {})):
        return None
    values = text.compiled.construct_params(params)
    for key, process in text.binds.items():
        if key in values:
            values[key] = process(values[key])
    if text.positions is not None:
        values = tuple([values[name] for name in text.positions])
    return Prepared(text, sql_of(text, translate, connection.dialect), values)


def _processed(text: _Text, found: list) -> list:
    """The rows with each column's result processor applied, as the engine's rows have them."""
    if text.results is None:
        return found
    processors = text.results
    return [
        tuple(value if process is None else process(value) for process, value in zip(processors, row, strict=True))
        for row in found
    ]


def rows(connection: sa.Connection, statement, params: dict) -> list:
    """``connection.execute(statement, params).all()`` with less work per call (see the module's
    notes): the same SQL and parameters, the same values in each row (tuples).

    Inside a transaction the text goes on the connection's DBAPI cursor through SQLAlchemy's
    ``Connection._cursor_execute`` (what it sends a column default's SQL with): the
    ``before/after_cursor_execute`` listeners, echo logging and SQLAlchemy's error translation (an
    ``IntegrityError`` stays one, a disconnect invalidates the connection), without building an
    execution context and a result (about 0.9 M instructions of a 3-SKU order's 6.3 M). Outside
    one, ``exec_driver_sql`` begins the transaction as SQLAlchemy's own execution would."""
    prepared = prepare(connection, statement, params)
    if prepared is None:
        return [tuple(row) for row in connection.execute(statement, params)]
    text, sql, values = prepared
    if not connection.in_transaction():
        result = connection.exec_driver_sql(sql, values)
        try:
            return _processed(text, result.cursor.fetchall())  # plain tuples: no Row objects
        finally:
            result.close()
    return _processed(text, _on_cursor(connection, sql, values, fetch=True, template=text.sql))


def execute(connection: sa.Connection, sql: str) -> None:
    """``connection.exec_driver_sql(sql)`` for a statement with no parameters and no rows (``SET
    LOCAL …``): inside a transaction sent on the DBAPI cursor as :func:`rows` sends its text."""
    if connection.in_transaction():
        _on_cursor(connection, sql, (), fetch=False)
    else:
        connection.exec_driver_sql(sql)


#: the pooled connection's cursor for these statements (its ``info``: gone with the connection)
_CURSOR = "mallow.sqltext.cursor"


def take_cursor(fairy):
    """A cursor of the pooled connection ``fairy`` for one statement: the one the connection's
    last statement sent this way used (:func:`keep_cursor` put it back), else a new one.

    Why: a DBAPI cursor is the driver's adaptation context. psycopg's finds the dumper of each
    parameter's Python type and the loader of each result column's type once per cursor, so a
    new cursor per statement pays them, and the cursor itself, every time (about 20 K
    instructions of a statement). A client-side cursor holds nothing on the server (the pool's
    hygiene is unchanged); it holds its last rows in memory until its next statement, and goes
    with its connection (the pool clears ``info`` when it replaces a connection). It is taken
    out while in use: a statement sent meanwhile on the same connection (by a listener) gets a
    cursor of its own."""
    cursor = fairy.info.pop(_CURSOR, None)
    if cursor is None or cursor.connection is not fairy.dbapi_connection:
        cursor = fairy.dbapi_connection.cursor()
    return cursor


def keep_cursor(fairy, cursor) -> None:
    """Put back the cursor of a statement that went well (one that failed is closed instead)."""
    fairy.info[_CURSOR] = cursor


def _on_cursor(connection: sa.Connection, sql: str, values, fetch: bool, template: str | None = None) -> list:
    """``sql`` through ``Connection._cursor_execute`` on the connection's cursor (see
    :func:`rows`, :func:`take_cursor`); its rows when ``fetch``. ``template``: the compiled text
    ``sql`` was made from, for the pool's hygiene (:func:`mallow.db.hygiene.sending`)."""
    fairy = connection.connection
    cursor = take_cursor(fairy)
    if template is not None:
        hygiene.sending(sql, template)
    try:
        connection._cursor_execute(cursor, sql, values)
        found = []
        if fetch:
            try:
                found = cursor.fetchall()
            except Exception as error:  # noqa: BLE001 -- translated (and raised) as SQLAlchemy would
                connection._handle_dbapi_exception(error, sql, values, cursor, None)
                raise
    except BaseException:
        cursor.close()
        raise
    keep_cursor(fairy, cursor)
    return found


def cursor_rows(connection: sa.Connection, statement, params: dict) -> list:
    """:func:`rows` for a caller that holds ``connection`` for this one statement (a lane of the
    front door, :mod:`mallow.edge.lanes`), outside any SQLAlchemy transaction: the same SQL and
    parameters, sent on the connection's DBAPI cursor without SQLAlchemy's execution context and
    result (a third of a cart write's instructions). What stays: the ``before_cursor_execute`` and
    ``after_cursor_execute`` listeners see the statement on ``connection`` (their ``context`` is
    None, as SQLAlchemy's events allow: the pool's hygiene reads the statement, the tests count
    it); a failure discards the pooled connection (SQLAlchemy would only for a disconnect: here
    nothing tells which) and is raised as the driver's error. Not sent this way: what
    :func:`rows` would not send as text, and anything on SQLite (:func:`rows` then)."""
    prepared = prepare(connection, statement, params) if connection.dialect.name == "postgresql" else None
    if prepared is None:
        return rows(connection, statement, params)
    text, sql, values = prepared
    dispatch = connection.dispatch
    fairy = connection.connection
    cursor = take_cursor(fairy)
    hygiene.sending(sql, text.sql)
    try:
        if dispatch.before_cursor_execute:
            dispatch.before_cursor_execute(connection, cursor, sql, values, None, False)
        cursor.execute(sql, values)
        found = cursor.fetchall()
        if dispatch.after_cursor_execute:
            dispatch.after_cursor_execute(connection, cursor, sql, values, None, False)
    except BaseException:
        connection.invalidate()
        cursor.close()
        raise
    keep_cursor(fairy, cursor)
    return _processed(text, found)


def rows_with_commit(connection: sa.Connection, prepared: Prepared) -> list:
    """The rows of ``prepared`` (:func:`prepare`), sent with the ``COMMIT`` of ``connection``'s
    transaction in one round trip (PostgreSQL, psycopg's pipeline: one Sync for both, where
    ``connection.commit()`` would sync once more). The server skips the ``COMMIT`` when the
    statement fails: nothing of the transaction is kept, and the error is raised as SQLAlchemy
    translates the driver's (an ``IntegrityError`` for a constraint). Seen by the
    ``before/after_cursor_execute`` listeners as :func:`cursor_rows` is; on the connection's kept
    cursor (:func:`take_cursor`). What calls it tells SQLAlchemy the transaction is over
    (:mod:`mallow.db.with_commit`: from its ``commit`` event, so its own ``COMMIT`` finds none)."""
    text, sql, values = prepared
    fairy = connection.connection
    dbapi = fairy.dbapi_connection
    dispatch = connection.dispatch
    cursor, committing = take_cursor(fairy), dbapi.cursor()
    hygiene.sending(sql, text.sql)
    try:
        if dispatch.before_cursor_execute:
            dispatch.before_cursor_execute(connection, cursor, sql, values, None, False)
        try:
            with dbapi.pipeline():
                cursor.execute(sql, values)
                committing.execute(b"COMMIT", prepare=False)  # never prepared: nothing to plan
            found = cursor.fetchall()
        except Exception as error:  # noqa: BLE001 -- translated (and raised) as SQLAlchemy would
            connection._handle_dbapi_exception(error, sql, values, cursor, None)
            raise
        if dispatch.after_cursor_execute:
            dispatch.after_cursor_execute(connection, cursor, sql, values, None, False)
    except BaseException:
        cursor.close()
        raise
    finally:
        committing.close()
    keep_cursor(fairy, cursor)
    return _processed(text, found)
