"""Raw SQL on the active store's own tables, the same on PostgreSQL and SQLite.

``text()`` SQL is not schema-translated: an unqualified table name finds nothing on PostgreSQL
(the store's schema is not on the ``search_path``, and must never be put there: it would stay on
the pooled connection) and goes to the platform database on SQLite. :func:`store_sql` is the way
for plugin code to run a statement of its own:

    store_sql("UPDATE {groupbuy_counters} SET seats = seats + 1 WHERE id = :id", {"id": 7})

* every ``{name}`` becomes the table ``name`` of the active store (:func:`store_table`):
  ``"store_<id>"."name"`` on PostgreSQL, ``"store"."name"`` (the attached file) on SQLite;
* it runs in the request's (or job's) session transaction, on the connection that holds the
  store's tables, and is committed or rolled back with everything else;
* refused with :class:`StoreSQLRefused`, before anything runs: a platform table's name (in
  ``{…}`` or anywhere in the statement), a schema name (``public``, ``store_<id>``: another
  store's or even this one's — write ``{name}``), a store table written without braces after
  ``FROM``/``JOIN``/``UPDATE``/``INTO`` (it would work on SQLite only), more than one statement,
  anything but ``SELECT``/``INSERT``/``UPDATE``/``DELETE``/``WITH``/``VALUES`` (no ``SET``,
  ``ATTACH``, ``PRAGMA``, ``PREPARE``, DDL or transaction control), temp tables, ``set_config()``,
  session advisory locks (use ``pg_advisory_xact_lock``) and functions that run SQL given as a
  string.

The check reads the statement's words outside string literals and comments; it keeps honest code
on its own store's tables, it is not a sandbox (see docs/plugins.md, *Trust*).
"""

from __future__ import annotations

import re
from typing import Any
from collections.abc import Mapping

import sqlalchemy as sa
from flask import g

from mallow.db import db
from mallow.db.session import SAME_CONNECTION, STORE_SCHEMA, NoActiveStore
from mallow.db.store_tables import known_tables
from mallow.tenants.context import current_store, current_store_engine, store_engines
from mallow.tenants.engines import schema_name

NAME_RE = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
STORE_SCHEMA_RE = re.compile(r"^store_[0-9]+$")
# the statement's lexemes, as PostgreSQL and SQLite read them. Where the two differ, this reads
# *less* as literal or comment than either database does, so a word is never hidden from the
# check (nested /* */ comments end early; brackets and backticks are not taken as quotes). On
# SQLite, which has no $$ quoting, the store's connection reaches nothing but the store's file.
_LEXEME_RE = re.compile(
    r"""(?P<unicode>[uU]&['"])"""  # U&'…' / U&"…": escapes spell any name
    r"""|(?P<literal>[eE]'(?:[^'\\]|\\.|'')*'"""  # E'…' with backslash escapes
    r"""|[bBxXnN]?'(?:[^']|'')*')"""
    r"""|(?P<dollar>\$(?P<tag>[A-Za-z_][A-Za-z0-9_]*|)\$.*?\$(?P=tag)\$)"""  # PostgreSQL's $$…$$
    r"""|(?P<quoted>"(?:[^"]|"")*")"""
    r"""|(?P<comment>--[^\n]*|/\*.*?\*/)"""
    r"""|(?P<placeholder>\{[^{}'"]*\})"""
    r"""|(?P<word>[A-Za-z_][A-Za-z0-9_$]*)"""
    r"""|(?P<semicolon>;)""",
    re.S,
)
# what a statement may start with: it reads or writes rows, nothing else
_STATEMENTS = {"select", "insert", "update", "delete", "with", "values"}
# words that keep state on the pooled connection, or run SQL given as a string (which the check
# below does not read)
_REFUSED_WORDS = {
    "temp",
    "temporary",
    "set_config",
    "pg_advisory_lock",
    "pg_advisory_lock_shared",
    "pg_try_advisory_lock",
    "pg_try_advisory_lock_shared",
    "dblink",
    "dblink_exec",
    "query_to_xml",
    "query_to_xml_and_xmlschema",
    "query_to_xmlschema",
    "table_to_xml",
    "table_to_xml_and_xmlschema",
    "cursor_to_xml",
    "schema_to_xml",
    "database_to_xml",
    "regclass",
    "pg_read_file",
    "pg_read_binary_file",
    "lo_import",
    "lo_export",
    "load_extension",
}
#: shared with the SDK's session check (:mod:`mallow.sdk.reach`): functions it refuses by name
REFUSED_WORDS = frozenset(_REFUSED_WORDS)
_TABLE_POSITION = {"from", "join", "update", "into", "table", "using"}
_FOREIGN_SCHEMAS = {"public", "information_schema", "pg_catalog", "pg_toast", "main", "temp"}


class StoreSQLRefused(ValueError):
    """The statement or table name reaches beyond the active store's own tables."""


def store_table(name: str) -> str:
    """The active store's table ``name``, qualified and quoted for raw SQL.

    ``name`` is a bare table name (``groupbuy_counters``): not schema-qualified, not a platform
    table. Raises :class:`~mallow.db.session.NoActiveStore` outside a store.
    """
    return f"{_quote(_store_schema())}.{_quote(_checked_name(name))}"


def store_sql(statement: str, params: Mapping[str, Any] | None = None):
    """Run one statement on the active store's tables (``{name}`` for each table); returns the
    SQLAlchemy ``Result``. Bind values with ``:name`` parameters, never by formatting them in."""
    if not isinstance(statement, str):
        raise StoreSQLRefused("store_sql takes the statement as a string with {table} placeholders")
    sql = _qualified(statement, _store_schema())
    bind_arguments = {}
    engine = _store_bind()
    if engine is not None:
        bind_arguments["bind"] = engine
    return db.session.execute(sa.text(sql), dict(params or {}), bind_arguments=bind_arguments)


def _qualified(statement: str, schema: str) -> str:
    """Check ``statement`` and put the store's qualified table in each ``{name}``."""
    words: list[str] = []
    statement_ended = False

    def lexeme(match) -> str:
        nonlocal statement_ended
        kind = match.lastgroup
        text = match.group(0)
        if kind in ("literal", "dollar", "comment"):
            return text
        if statement_ended:
            raise StoreSQLRefused("store_sql runs one statement")
        if kind == "unicode":
            raise StoreSQLRefused("U&'…' and U&\"…\" escapes are not allowed in store_sql")
        if kind == "semicolon":
            statement_ended = True
        elif kind == "placeholder":
            words.append("{}")
            return f"{_quote(schema)}.{_quote(_checked_name(text[1:-1]))}"
        elif kind == "word":
            words.append(text.lower())
        elif kind == "quoted":
            words.append(text[1:-1].replace('""', '"').lower())
        return text

    sql = _LEXEME_RE.sub(lexeme, statement)
    _check_words(words)
    return sql


def _check_words(words: list[str]) -> None:
    if not words:
        raise StoreSQLRefused("an empty statement")
    first = words[0]
    if first not in _STATEMENTS:
        raise StoreSQLRefused(
            f"store_sql runs SELECT, INSERT, UPDATE, DELETE (or WITH …), not {first.upper()}: "
            "schema changes belong in migrations, connection settings nowhere"
        )
    platform, store = known_tables()
    previous = ""
    for word in words:
        if word in _REFUSED_WORDS:
            raise StoreSQLRefused(f"{word} is not allowed in store_sql (connection state, or SQL in a string)")
        if STORE_SCHEMA_RE.match(word) or word in _FOREIGN_SCHEMAS:
            raise StoreSQLRefused(
                f"{word!r} names a schema: write the table as {{name}}, it is qualified for the active store"
            )
        if word in platform:
            raise StoreSQLRefused(f"{word!r} is a platform table: store_sql reaches the active store's tables only")
        if word in store and previous in _TABLE_POSITION:
            raise StoreSQLRefused(f"write the store table {word!r} as {{{word}}}")
        previous = word


def _checked_name(name: str) -> str:
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise StoreSQLRefused(f"{name!r} is not a bare table name (lower-case letters, digits, _)")
    if STORE_SCHEMA_RE.match(name) or name in _FOREIGN_SCHEMAS:
        raise StoreSQLRefused(f"{name!r} is a schema, not a table")
    platform, _store = known_tables()
    if name in platform:
        raise StoreSQLRefused(f"{name!r} is a platform table: store_sql reaches the active store's tables only")
    if name.startswith("alembic_version"):
        raise StoreSQLRefused("migration version tables belong to the migrations")
    return name


def _store_schema() -> str:
    if current_store() is None:
        raise NoActiveStore("store_sql needs an active store (a store request, job or store_context)")
    return schema_name(g.mallow_store_id) if store_engines().is_postgresql else STORE_SCHEMA


def _store_bind():
    """SQLite: the store's own engine; PostgreSQL: None (the session's one connection)."""
    engine = current_store_engine()
    return None if engine is SAME_CONNECTION else engine


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
