"""A database that is busy is "try again in a moment" (503 with ``Retry-After``), never a 500.

SQLite answers ``database is locked`` when two requests write one store's file at the same
instant and the later one had read first (its snapshot is stale: the busy timeout does not help
there); PostgreSQL answers a deadlock or a serialization failure. Nothing was written either way
(the transaction is rolled back with the request's session), so the client may simply send the
request again: a page says so in words, the API answers ``{"error": "busy"}``. Any other
database error is still the server's fault: logged with its traceback and answered 500.
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from flask import Flask, request
from flask_babel import gettext as _
from werkzeug.exceptions import InternalServerError, ServiceUnavailable

log = logging.getLogger("mallow.web")
#: PostgreSQL's "try again" answers: serialization failure, deadlock, lock not available
RETRYABLE_PGCODES = frozenset({"40001", "40P01", "55P03"})


def retryable(error: sa.exc.DBAPIError) -> bool:
    """Whether ``error`` says "busy, try again" rather than "something is wrong"."""
    original = getattr(error, "orig", None)
    if "database is locked" in str(original or error).lower():
        return True
    return (
        getattr(original, "sqlstate", None) in RETRYABLE_PGCODES
        or getattr(original, "pgcode", None) in RETRYABLE_PGCODES
    )


def install(app: Flask, answer) -> None:
    """Answer retryable database errors with 503 through ``answer`` (the app's error page)."""

    def busy(error: sa.exc.DBAPIError):
        if not retryable(error):
            log.error("Exception on %s [%s]", request.path, request.method, exc_info=error)
            return answer(InternalServerError(original_exception=error))
        log.warning("database busy on %s [%s]: %s", request.path, request.method, getattr(error, "orig", error))
        message = _("The store is busy right now. Nothing was saved: please try again in a moment.")
        return answer(ServiceUnavailable(description=message, retry_after=1))

    app.register_error_handler(sa.exc.OperationalError, busy)
    app.register_error_handler(sa.exc.DBAPIError, busy)
