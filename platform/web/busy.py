"""A database that is busy or out of reach is "try again in a moment" (503 with ``Retry-After``),
never a 500.

SQLite answers ``database is locked`` when two requests write one store's file at the same
instant and the later one had read first (its snapshot is stale: the busy timeout does not help
there); PostgreSQL answers a deadlock or a serialization failure. Nothing was written either way
(the transaction is rolled back with the request's session), so the client may simply send the
request again: a page says so in words, the API answers ``{"error": "busy"}``.

The same answer when the database is out of reach (:func:`unavailable`): PostgreSQL dropped the
request's connection (the server restarted, an operator or a failover ended the backend: the
transaction died with it, so nothing was written) or refuses new ones for a moment (shutting
down, starting up, too many connections, not listening). SQLAlchemy has invalidated the dead
connection by then, and the pool's checkout check (:mod:`mallow.db.hygiene`) discards any other
connection the server dropped, so the next request connects afresh: the app recovers by itself,
without a restart. Logged as a warning, ``Retry-After`` a little longer.

A request that began before its store's move to another pod (:mod:`mallow.stores.move`) and
reached the old pod's schema as the move dropped it (or that waited for the move's lock and lost
it) is "try again" too: the store is elsewhere now, and the retry finds it there.

Any other database error is still the server's fault: logged with its traceback and answered 500.
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from flask import Flask, request
from flask_babel import gettext as _
from werkzeug.exceptions import InternalServerError, ServiceUnavailable

from mallow.tenants.context import moved_since_activation
from mallow.tenants.resolve import store_moving

log = logging.getLogger("mallow.web")
#: PostgreSQL's "try again" answers: serialization failure, deadlock, lock not available
RETRYABLE_PGCODES = frozenset({"40001", "40P01", "55P03"})
#: PostgreSQL's "not reachable right now": admin/crash shutdown, cannot connect now, too many
#: connections (and every connection exception, class ``08``)
UNAVAILABLE_PGCODES = frozenset({"57P01", "57P02", "57P03", "53300"})
#: seconds a client is told to wait: a lock clears in milliseconds, a restart takes seconds
BUSY_RETRY_AFTER, UNAVAILABLE_RETRY_AFTER = 1, 3


def retryable(error: sa.exc.DBAPIError) -> bool:
    """Whether ``error`` says "busy, try again" rather than "something is wrong"."""
    original = getattr(error, "orig", None)
    if "database is locked" in str(original or error).lower():
        return True
    return (
        getattr(original, "sqlstate", None) in RETRYABLE_PGCODES
        or getattr(original, "pgcode", None) in RETRYABLE_PGCODES
    )


def unavailable(error: sa.exc.DBAPIError) -> bool:
    """Whether ``error`` says "the database is out of reach": SQLAlchemy saw the connection
    drop (``connection_invalidated``), or PostgreSQL's driver could not connect or was told
    the server is going away (an ``OperationalError`` without a SQLSTATE, class ``08``, or
    :data:`UNAVAILABLE_PGCODES`). SQLite's errors are never this: a file does not go away."""
    if error.connection_invalidated:
        return True
    original = getattr(error, "orig", None)
    if not (hasattr(original, "sqlstate") or hasattr(original, "pgcode")):
        return False  # not a PostgreSQL driver's error
    code = getattr(original, "sqlstate", None) or getattr(original, "pgcode", None)
    if code is None:  # the client library's own failure: refused, reset, closed, timed out
        return isinstance(error, sa.exc.OperationalError)
    return code.startswith("08") or code in UNAVAILABLE_PGCODES


def _store_moved() -> bool:
    try:
        return moved_since_activation()
    except Exception:  # the platform database out of reach: the error stays what it was
        return False


def install(app: Flask, answer) -> None:
    """Answer retryable database errors, and a database out of reach, with 503 through
    ``answer`` (the app's error page: JSON for the API, a page in words for a browser)."""

    def busy(error: sa.exc.DBAPIError):
        if unavailable(error):
            log.warning(
                "database unavailable on %s [%s]: %s", request.path, request.method, getattr(error, "orig", error)
            )
            retry_after = UNAVAILABLE_RETRY_AFTER
        elif retryable(error):
            log.warning("database busy on %s [%s]: %s", request.path, request.method, getattr(error, "orig", error))
            retry_after = BUSY_RETRY_AFTER
        elif _store_moved():
            log.warning("store moved under %s [%s]: %s", request.path, request.method, getattr(error, "orig", error))
            return answer(store_moving())
        else:
            log.error("Exception on %s [%s]", request.path, request.method, exc_info=error)
            return answer(InternalServerError(original_exception=error))
        message = _("The store is busy right now. Nothing was saved: please try again in a moment.")
        return answer(ServiceUnavailable(description=message, retry_after=retry_after))

    app.register_error_handler(sa.exc.OperationalError, busy)
    app.register_error_handler(sa.exc.DBAPIError, busy)
