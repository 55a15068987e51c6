"""A list of ids in a statement, bound so that :mod:`mallow.db.sqltext` can send it.

An expanding ``IN`` (``column.in_(bindparam(…, expanding=True))``) is rendered afresh for every
number of values, and :func:`mallow.db.sqltext.rows` cannot send it: such a statement pays
SQLAlchemy's execution layer on every call. One text for any number of values instead:

* PostgreSQL: ``column = ANY(%(name)s::INTEGER[])``, the list sent as one array parameter
  (sqltext sends an integer array as its literal text);
* SQLite: ``column IN (SELECT value FROM json_each(?))``, the list sent as one JSON text
  (``[1,2,3]``; SQLite's JSON functions are built in since 3.38, and the check below looks).
"""

from __future__ import annotations

import functools
import sqlite3

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY


@functools.cache
def _json_each() -> bool:
    """Whether this process's SQLite has ``json_each`` (built without JSON: expanding ``IN``)."""
    try:
        sqlite3.connect(":memory:").execute("SELECT value FROM json_each('[1]')").close()
    except sqlite3.Error:
        return False
    return True


def arrays(connection: sa.Connection) -> str:
    """How statements for ``connection`` bind a list (:func:`one_of`): ``"postgresql"`` (an
    array) or ``"sqlite"`` (a JSON text), one parameter either way; ``""`` for an expanding
    ``IN``."""
    name = connection.dialect.name
    if name == "postgresql" or (name == "sqlite" and _json_each()):
        return name
    return ""


class IdList(sa.types.TypeDecorator):
    """A list of integers bound as its JSON text (SQLite's ``json_each`` reads it back)."""

    impl = sa.String
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        return "[" + ",".join(str(int(v)) for v in value) + "]"


def one_of(column, name: str, as_array: str | bool):
    """``column IN`` the integer list bound as ``name``, as :func:`arrays` said: PostgreSQL's
    ``column = ANY`` of one array parameter, SQLite's ``IN`` the values of one JSON text, else
    (``""``) an expanding ``IN``."""
    if as_array == "sqlite":
        values = sa.func.json_each(sa.bindparam(name, type_=IdList())).table_valued("value")
        return column.in_(sa.select(values.c.value))
    if as_array:
        return column == sa.any_(sa.bindparam(name, type_=ARRAY(sa.Integer)))
    return column.in_(sa.bindparam(name, expanding=True))
