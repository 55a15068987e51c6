"""What the lane tests share: which requests reached Flask, the headers answers are compared on,
requests sent with the lanes on or off, and the round trips PostgreSQL connections make."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

from flask import request_started

#: the headers an answer is compared on (besides its status and body)
HEADERS = (
    "Content-Type",
    "Content-Length",
    "X-Content-Type-Options",
    "Referrer-Policy",
    "Vary",
    "WWW-Authenticate",
    "Set-Cookie",
    "Allow",
)


@contextmanager
def flask_requests(app):
    """The requests that reached Flask (a request context) inside the block."""
    seen: list[str] = []

    def started(_sender, **_extra):
        from flask import request

        seen.append(f"{request.method} {request.path}")

    request_started.connect(started, app)
    try:
        yield seen
    finally:
        request_started.disconnect(started, app)


def send(app, client, lanes: bool, method: str, path: str, cookies: dict | None = None, **kwargs):
    """``(status, body, headers, reached Flask)`` of one request with the lanes on or off (and
    ``cookies``: a client of their own holds them)."""
    if cookies:
        client = app.test_client()
        for name, value in cookies.items():
            client.set_cookie(name, value)
    app.config["MALLOW_LANES"] = lanes
    try:
        with flask_requests(app) as reached:
            response = client.open(path, method=method, **kwargs)
    finally:
        app.config["MALLOW_LANES"] = True
    headers = tuple((name, response.headers.getlist(name)) for name in HEADERS)
    return response.status, response.get_data(), headers, bool(reached)


def in_store(app, shop, fn):
    """``fn()`` in a context of ``shop``."""
    from mallow.tenants.context import store_context

    with store_context(shop.store_id, app=app):
        return fn()


@contextmanager
def round_trips() -> Iterator[list[str]]:
    """What the client sent that waits for the server's answer, on every PostgreSQL connection
    checked out of a pool inside the block, from libpq's own trace: a simple ``Query`` (one
    round trip each, e.g. ``BEGIN`` with the pool's check, ``COMMIT``) or an extended-protocol
    batch ending in ``Sync`` (one round trip each: a statement with its parameters, or the
    statements of a pipeline, the later ones after ``+``), in order."""
    import psycopg
    import sqlalchemy as sa
    from sqlalchemy.pool import Pool

    traced: list = []
    with tempfile.TemporaryFile("w+") as trace:

        def checked_out(dbapi_connection, _record, _proxy):
            pgconn = getattr(dbapi_connection, "pgconn", None)
            if pgconn is not None and pgconn not in traced:
                pgconn.trace(trace.fileno())
                pgconn.set_trace_flags(psycopg.pq.Trace.SUPPRESS_TIMESTAMPS | psycopg.pq.Trace.REGRESS_MODE)
                traced.append(pgconn)

        sa.event.listen(Pool, "checkout", checked_out)
        seen: list[str] = []
        try:
            yield seen
        finally:
            sa.event.remove(Pool, "checkout", checked_out)
            for pgconn in traced:
                pgconn.untrace()
            trace.seek(0)
            batch: list[str] = []
            for line in trace.read().splitlines():  # a message per line; a newline of SQL goes on
                direction, _length, kind, *text = [*line.split("\t"), "", "", ""][:4]
                if direction != "F":
                    continue
                if kind == "Query":
                    seen.append(f"Query {' '.join(text).strip()[:80]}")
                elif kind in ("Parse", "Bind", "Execute"):
                    batch.append(f"{kind} {' '.join(text).strip()[:80]}")
                elif kind == "Sync":  # a batch without Execute: psycopg preparing a statement
                    executed = any(message.startswith("Execute") for message in batch)
                    # a pipeline's statements travel in one batch: each one after the first, as `+ Parse …`
                    more = "".join(f" + {message}" for message in batch[1:] if message.startswith("Parse"))
                    seen.append(f"{'Sync' if executed else 'Prepare'} {batch[0] if batch else ''}{more}")
                    batch = []


def sent(traced: list[str]) -> list[str]:
    """The round trips of :func:`round_trips` but psycopg's preparing of a statement it has run five
    times on a connection (one round trip more, once per connection and statement)."""
    return [entry for entry in traced if not entry.startswith("Prepare")]
