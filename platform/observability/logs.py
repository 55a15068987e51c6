"""Log lines: one JSON object a line (``MALLOW_LOG_FORMAT=json``) or text, each with the request
id, the store's slug and the principal's kind.

Where they come from, without loading anything for it:

* the request id: the one :mod:`.requests` gave the request (``X-Request-Id``);
* the store: the store the request resolved (``g.mallow_store_slug``, set by
  :func:`mallow.tenants.context.activate_store`, jobs' store context included); for an answer of
  the front door, the store of its path (the door answers only for stores it knows);
* the principal: the kind :func:`mallow.accounts.guards.principal` found for the request
  (``g.mallow_principals``, the lookups it already made): ``admin``, ``staff`` (a merchant),
  ``customer`` (a shopper), ``developer``, or ``guest`` when none was signed in. Never a lookup
  of its own: a line logged before the route checked anyone says ``guest``.

:func:`configure` puts one handler on the root logger (stderr by default); ``create_app`` calls
it when ``MALLOW_LOG_FORMAT`` is set, and ``mallow serve`` sets ``json`` in production
(``MALLOW_ENV=production``) unless told otherwise. Without it nothing is configured (a
developer's default: Python's own logging). The access line of each request is logged at INFO
on ``mallow.access`` (``MALLOW_ACCESS_LOG=0`` turns it off).
"""

from __future__ import annotations

import json
import logging
import os
import sys
from datetime import UTC, datetime

from mallow.observability import context

#: fields of a record that a line carries when they are set (the access line's)
EXTRA_FIELDS = ("method", "path", "route", "status", "duration_ms")
_MARK = "_mallow_handler"


class RequestContextFilter(logging.Filter):
    """Puts ``request_id``, ``store`` and ``principal`` on every record it sees."""

    def filter(self, record: logging.LogRecord) -> bool:
        info = context.current()
        store, principal = context.store_slug(), context.principal_kind()
        if info is not None:
            store = store or info.store
            principal = principal or info.principal
        record.request_id = info.id if info is not None else None
        record.store = store
        record.principal = principal
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time (UTC, ISO 8601), level, logger, message, request_id, store,
    principal, the access line's fields when set, and ``exception`` (the traceback) when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
            "store": getattr(record, "store", None),
            "principal": getattr(record, "principal", None),
        }
        for field in EXTRA_FIELDS:
            value = getattr(record, field, None)
            if value is not None:
                line[field] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exception"] = record.exc_text
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return json.dumps(line, ensure_ascii=False, default=str)


TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s %(store)s %(principal)s] %(message)s"


def configure(fmt: str = "json", stream=None, level: int | str = logging.INFO) -> logging.Handler:
    """Log to ``stream`` (stderr) in ``fmt`` (``json`` or ``text``) from the root logger at
    ``level``; replaces the handler an earlier call installed. Returns the handler."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, _MARK, False):
            root.removeHandler(handler)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    handler.addFilter(RequestContextFilter())
    setattr(handler, _MARK, True)
    root.addHandler(handler)
    root.setLevel(level)
    return handler


def unconfigure(handler: logging.Handler) -> None:
    logging.getLogger().removeHandler(handler)


def log_format(app) -> str:
    """``json``, ``text`` or ``""`` (configure nothing): ``MALLOW_LOG_FORMAT`` (config, then the
    environment)."""
    value = app.config.get("MALLOW_LOG_FORMAT")
    if value is None:
        value = os.environ.get("MALLOW_LOG_FORMAT", "")
    value = value.strip().lower()
    if value and value not in ("json", "text"):
        raise ValueError(f"MALLOW_LOG_FORMAT must be json or text, not {value!r}")
    return value


def init_app(app) -> None:
    fmt = log_format(app)
    app.config["MALLOW_LOG_FORMAT"] = fmt
    access = app.config.get("MALLOW_ACCESS_LOG", os.environ.get("MALLOW_ACCESS_LOG", "1"))
    app.config["MALLOW_ACCESS_LOG"] = str(access).strip().lower() not in ("0", "false", "no", "off")
    if fmt:
        configure(fmt, level=os.environ.get("MALLOW_LOG_LEVEL", "INFO").upper())
