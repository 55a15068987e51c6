"""A list of ids in a statement, bound so that :mod:`mallow.db.sqltext` can send it.

An expanding ``IN`` (``column.in_(bindparam(…, expanding=True))``) is rendered afresh for every
number of values, and :func:`mallow.db.sqltext.rows` cannot send it: such a statement pays
SQLAlchemy's execution layer on every call. On PostgreSQL the same condition is
``column = ANY(%(name)s::INTEGER[])``: one text for any number of values, with the list sent as
one array parameter (sqltext sends an integer array as its literal text).
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY


def arrays(connection: sa.Connection) -> bool:
    """Whether statements for ``connection`` bind lists as arrays (:func:`one_of`): PostgreSQL's."""
    return connection.dialect.name == "postgresql"


def one_of(column, name: str, as_array: bool):
    """``column IN`` the integer list bound as ``name``: with ``as_array`` (PostgreSQL,
    :func:`arrays`) ``column = ANY`` of one array parameter; otherwise an expanding ``IN``."""
    if as_array:
        return column == sa.any_(sa.bindparam(name, type_=ARRAY(sa.Integer)))
    return column.in_(sa.bindparam(name, expanding=True))
