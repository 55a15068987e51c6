"""Commits that need not wait for the disk: writes a power cut may lose without harm to anyone.

A shopper's cart line is such a write (the shopper sets the quantity again); an order, a payment,
a refund never is. On SQLite in WAL mode a commit with the default ``synchronous=FULL`` syncs the
log to disk while it holds the store's write lock: 0.71–0.84 ms a commit on these machines, so one
store's cart writes could not pass ~1,200 a second, whatever the CPU, while the other writers
waited. :func:`relaxed` commits with ``synchronous=NORMAL`` instead (35–57 µs):

* the data is as safe from corruption, and from a crash of the process: the log is written before
  ``COMMIT`` returns; every reader sees the write at once;
* the next commit with ``FULL`` (any order or payment of the store) syncs the log, and so the
  relaxed commits before it, with its own sync;
* only an operating-system crash or a power cut in between loses the relaxed writes since.

PostgreSQL: :func:`relaxing_cte`, a CTE a statement carries, sets ``synchronous_commit`` off for
the transaction it runs in (``set_config(…, true)``: it ends with the transaction). The cart lane's
write is one statement that is its own transaction, so ``SET LOCAL`` would cost it a second round
trip. A commit then returns before the log is flushed to disk; the WAL writer flushes it within
three times ``wal_writer_delay`` (0.6 s by default), and any synchronous commit flushes it with its
own. A crash of the server in between loses those cart writes and nothing else; the database stays
consistent. Over HTTP on PostgreSQL the cart write waited for that flush on every request (4 sync
workers, two cores): with ``synchronous_commit`` off on the whole server the cart row read
0.95 / 0.91 / 0.71× A-dbjson in its rounds against 0.57 / 0.53 / 0.68× with it on. (The flash
sale's drain, which commits many orders in a row, relaxes them itself:
:mod:`mallow.sdk.flash_batch`.) ``relaxed`` sends nothing on PostgreSQL.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa

from mallow.db.session import STORE_SCHEMA

log = logging.getLogger("mallow.db")


def relaxing_cte() -> sa.CTE:
    """PostgreSQL: ``WITH relax AS (SELECT set_config('synchronous_commit', 'off', true))``, for
    a statement whose transaction need not wait for the disk to commit (see the module's notes).
    The statement must read from it (``JOIN relax ON true``): the server runs a CTE only when it
    is read. The pool's hygiene knows ``set_config(…, true)`` ends with the transaction."""
    relax = sa.func.set_config(sa.literal_column("'synchronous_commit'"), sa.literal_column("'off'"), sa.true())
    return sa.select(relax.label("relaxed")).cte("relax")


#: the setting of a relaxed commit (SQLite's ``PRAGMA synchronous``: 1 is NORMAL)
_NORMAL = 1


@contextmanager
def relaxed(connection: sa.Connection) -> Iterator[None]:
    """The store transactions ``connection`` begins and commits inside commit without waiting for
    the disk (see the module's notes); the connection's own setting is put back after.

    SQLite refuses to change it inside a transaction, so ``connection`` must have none open when
    this is entered: with one open, nothing is relaxed (the commit stays durable). Commit or roll
    back inside: a transaction left open, or a setting that cannot be put back, invalidates the
    connection (the pool closes it instead of lending it on; what was not committed is lost)."""
    if connection.dialect.name != "sqlite" or connection.in_transaction():
        yield
        return
    driver = connection.connection.dbapi_connection
    pragma = f"PRAGMA {STORE_SCHEMA}.synchronous"
    before = driver.execute(pragma).fetchone()[0]  # the driver's own: SQLAlchemy would begin a transaction
    if before <= _NORMAL:
        yield
        return
    driver.execute(f"{pragma} = {_NORMAL}")
    try:
        yield
    finally:
        if not connection.invalidated:
            try:
                if connection.in_transaction():
                    raise RuntimeError("a relaxed transaction was left open")
                driver.execute(f"{pragma} = {int(before)}")
            except Exception:  # noqa: BLE001 -- never lend on a connection that skips the disk
                log.exception("could not put back %s; the connection is discarded", pragma)
                connection.invalidate()
