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

PostgreSQL: nothing is changed. Its commits share the wait for the log's flush (group commit), and
``SET LOCAL synchronous_commit`` would cost the cart lane's one statement a second round trip (the
flash sale's drain, which commits many orders in a row, relaxes them itself:
:mod:`mallow.sdk.flash_batch`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa

from mallow.db.session import STORE_SCHEMA

log = logging.getLogger("mallow.db")

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
