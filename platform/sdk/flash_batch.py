"""Group commit for a job that places many orders one after another (the flash sale's drain).

Each order keeps its own transaction (``place_order`` commits it; one that fails rolls back alone),
but on PostgreSQL most of a small order's time is the commit waiting for the disk (measured here:
2.5–5 ms of a ~10 ms order). A job placing a batch asks for the batch's commits to return without
that wait (:func:`relax_next_commit`, before each order), then makes them all durable at once
(:func:`flush_commits`, one disk flush for the batch) **before** it tells anyone the outcome. A
commit not yet flushed is visible to every reader at once and cannot be lost by the job dying;
only a crash of the database server in the moment between the two loses it, and then the job
has told no one: it must leave its work where a retry finds it (the drain's tickets stay in the
processing set and are placed again under the same idempotency key).

On SQLite (one writer, no group commit to gain) both are no-ops.
"""

from __future__ import annotations

import sqlalchemy as sa

from mallow.db import db as _db
from mallow.db import sqltext
from mallow.orders.models import Order


def _store_connection() -> sa.Connection:
    """The active store's connection in the session's current transaction (begun if need be)."""
    return _db.session.connection(bind_arguments={"clause": Order.__table__})


def relax_next_commit() -> None:
    """The store session's current transaction (the next order) commits without waiting for the
    disk: ``SET LOCAL synchronous_commit TO off`` (it ends with the transaction). Call it before
    each order of the batch, and :func:`flush_commits` before reporting any of them."""
    connection = _store_connection()
    if connection.dialect.name == "postgresql":  # on the DBAPI cursor, as the core's hot statements go
        sqltext.execute(connection, "SET LOCAL synchronous_commit TO off")


def flush_commits() -> None:
    """Every commit so far is on disk when this returns: one small transaction that writes a
    commit record (it takes a transaction id) and commits synchronously, which flushes the log up
    to it, and so every relaxed commit before it. Nothing else in the session is committed: call
    it between orders."""
    connection = _store_connection()
    if connection.dialect.name == "postgresql":
        connection.execute(sa.text("SELECT pg_current_xact_id()"))
    _db.session.commit()
