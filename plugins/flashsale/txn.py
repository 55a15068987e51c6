"""Run something once the current database transaction has committed, or once it rolled back.

Redis is only a gate in front of the database: a reservation taken in Redis is given back when
the order's transaction rolls back, and units go back to Redis only after the database has
really taken them back (a commit). Nested transactions (savepoints) are not outcomes: only the
outermost transaction of the session decides.
"""

from __future__ import annotations

import logging
from collections.abc import Callable


from mallow.sdk import db

log = logging.getLogger("mallow_flashsale")
_KEY = "mallow_flashsale.txn"


def _state(session) -> dict:
    state = session.info.get(_KEY)
    if state is None:
        state = session.info[_KEY] = {"commit": [], "rollback": [], "committed": False}
        session.listen("after_commit", _after_commit)
        session.listen("after_transaction_end", _after_transaction_end)
    return state


def after_commit(callback: Callable[[], None]) -> None:
    _state(db.session())["commit"].append(callback)


def after_rollback(callback: Callable[[], None]) -> None:
    _state(db.session())["rollback"].append(callback)


def _after_commit(session) -> None:
    if not session.in_nested_transaction():
        session.info[_KEY]["committed"] = True


def _after_transaction_end(session, transaction) -> None:
    if transaction.parent is not None or transaction.nested:
        return
    state = session.info.get(_KEY)
    if not state:
        return
    callbacks = state["commit"] if state["committed"] else state["rollback"]
    state["commit"], state["rollback"], state["committed"] = [], [], False
    for callback in callbacks:
        try:
            callback()
        except Exception:  # Redis is a gate: the database already holds the truth
            log.exception("flash sale: a post-transaction step failed")
