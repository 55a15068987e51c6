"""A plugin's work that runs once per order, paid as little as a core hot path pays.

A job that places order after order (the flash sale's drain) runs the same few statements for
each with other values. Through ``db.session.execute`` each one pays SQLAlchemy's ORM execution
(the session's autoflush — a unit of work over every object it holds, the new order's included —,
an execution context, a result object). What is here sends the same SQL on the same connection
and transaction, as the core's order placement sends its own statements (:mod:`mallow.db.sqltext`):

* :func:`rows` — a plugin's statement, checked as ``db.session.execute`` checks it (the active
  store's tables, the manifest's permissions: :mod:`mallow.sdk.reach`; a statement object that
  passed is not walked again), compiled once per process and sent as SQL text with its bound
  parameters. Build the statement once (module level, ``sa.bindparam`` for the values) and pass
  the values each time. **No autoflush**: the statement does not see ORM changes the session
  has not flushed yet (call ``db.session.flush()`` first when it must).

A short payment window is not written after the order either: ask for it while pricing
(``context.pay_within(deadline)`` in ``mallow_validate_checkout``), and the order is written
with it.

On SQLite it goes through the session as before (no gain to be had there: one writer).
"""

from __future__ import annotations

import sys
from typing import Any


from mallow.db import db as _db
from mallow.db import sqltext
from mallow.sdk.data import _check
from mallow.sdk.flash_batch import _store_connection  # the store's tables' connection (its pod)


def rows(statement: Any, params: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
    """The rows of a plugin's ``statement`` (tuples), run with ``params`` in the store session's
    current transaction (begun if need be), as ``db.session.execute(statement, params).all()``
    would give them but without the session's autoflush (see the module's notes)."""
    _check(statement, sys._getframe(1))  # the active store's tables only: all on _store_connection()
    if _db.engine.dialect.name != "postgresql":
        return [tuple(row) for row in _db.session.execute(statement, params or {})]
    return sqltext.rows(_store_connection(), statement, params or {})
