"""One last statement sent in the same round trip as the COMMIT (PostgreSQL, psycopg's pipeline).

Why: a statement that locks hot rows — the stock ``UPDATE`` of an order's SKUs, which every
order of a best seller updates — holds its row locks until the transaction ends. Sent early, the
locks are held across everything that follows it in Python (plugin hooks, building the answer,
SQLAlchemy's commit) and across two more round trips; on a loaded machine the worker holding
them is descheduled and every other order of those SKUs queues behind it (a lock convoy: issue
13 measured one backend in four waiting on such a lock). Sent as the transaction's last
statement, pipelined with its ``COMMIT``, the locks are held only for the server's own time: the
statement, the commit record and its flush.

:func:`commit_with` commits the session as ``session.commit()`` does — its flushes and
``before_commit`` listeners first, its ``after_commit`` listeners after — and, at the very moment
SQLAlchemy would send the ``COMMIT`` on the connection (its ``commit`` connection event), sends
the statement and the ``COMMIT`` together. When the statement fails (a constraint it meets, say),
the server skips the ``COMMIT`` and nothing of the transaction is kept: the error is raised out of
:func:`commit_with` (translated as SQLAlchemy translates the driver's errors, an
``IntegrityError`` for a constraint) and the caller rolls the session back, as after any failed
commit. SQLAlchemy's own ``COMMIT`` then finds no transaction open and sends nothing.

The statement and the ``COMMIT`` are sent by :func:`mallow.db.sqltext.rows_with_commit` (the
text compiled once, the store's schema put in; seen by the ``before_cursor_execute`` and
``after_cursor_execute`` listeners: the pool's hygiene, the tests' statement counts). Anything
:mod:`~mallow.db.sqltext` would not send as text, and SQLite, are refused: the caller sends such
a statement before committing.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import sqlalchemy as sa

from mallow.db import sqltext


class _Armed(threading.local):
    """The statement waiting for this thread's next commit on one connection."""

    connection: sa.Connection | None = None
    prepared: sqltext.Prepared | None = None
    then: Callable[[list], None] | None = None
    rows: list | None = None


_armed = _Armed()


def commit_with(session, connection: sa.Connection, statement, params: dict, then: Callable[[list], None]) -> list:
    """Commit ``session`` with ``statement`` sent in the COMMIT's round trip on ``connection`` (a
    connection of the session's transaction, on PostgreSQL); its rows. ``then(rows)`` runs once
    the commit succeeded on the server and before the session's ``after_commit`` listeners (e.g.
    to say the store's pages change at this commit)."""
    prepared = sqltext.prepare(connection, statement, params)
    if prepared is None or connection.dialect.name != "postgresql":
        raise ValueError("commit_with sends only a statement sqltext sends as text, on PostgreSQL")
    armed = _armed
    armed.connection, armed.prepared, armed.then, armed.rows = connection, prepared, then, None
    try:
        session.commit()
        rows = armed.rows
    finally:
        armed.connection = armed.prepared = armed.then = armed.rows = None
    if rows is None:  # SQLAlchemy committed another way (the connection was not the one given)
        raise RuntimeError("the statement to send with the commit was not sent")
    return rows


def _on_commit(connection: sa.Connection) -> None:
    """SQLAlchemy is about to send ``COMMIT`` on ``connection``: when a statement waits for it,
    send both at once."""
    armed = _armed
    if armed.connection is not connection:
        return
    prepared, then = armed.prepared, armed.then
    armed.connection = None  # one commit, one statement, whatever happens next
    rows = sqltext.rows_with_commit(connection, prepared)
    armed.rows = rows
    if then is not None:
        then(rows)


sa.event.listen(sa.engine.Engine, "commit", _on_commit)
