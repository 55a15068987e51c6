"""Closing PostgreSQL connections that have served too many store schemas.

A PostgreSQL backend caches the catalogue entries (tables, indexes, columns) of every relation
it has used and never gives that memory back while it lives: ~25 KiB per store schema a request
touched, 231 MiB for one connection that has served 10,000 stores (shared/briefs/performance.md).
``pool_recycle`` bounds a connection's age, not what it has seen; this bounds what it has seen.

:func:`install` counts, per pooled connection, the distinct schemas its statements were
translated to (every store statement carries ``schema_translate_map``, see
:mod:`mallow.tenants.engines`), and closes the connection when it returns to the pool once it
has served ``max_schemas`` of them; the pool opens a fresh one on the next checkout. So every
backend stays under ~``max_schemas`` × 25 KiB of catalogue cache, whatever the number of stores.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy import event

SEEN = "mallow.schemas_seen"


def install(engine: sa.Engine, max_schemas: int) -> bool:
    """Recycle ``engine``'s connections after ``max_schemas`` distinct schemas (PostgreSQL only;
    0 turns it off). Returns whether it was installed."""
    if engine.dialect.name != "postgresql" or max_schemas <= 0 or engine.pool.__dict__.get(SEEN):
        return False
    engine.pool.__dict__[SEEN] = max_schemas

    @event.listens_for(engine, "before_cursor_execute")
    def note_schemas(conn, _cursor, _statement, _parameters, context, _executemany):
        translate = context.execution_options.get("schema_translate_map") if context is not None else None
        if translate:
            seen = conn.connection.info.setdefault(SEEN, set())
            seen.update(name for name in translate.values() if name)

    @event.listens_for(engine.pool, "checkin")
    def recycle(_dbapi_connection, record):
        if record.dbapi_connection is not None and len(record.info.get(SEEN, ())) >= max_schemas:
            record.invalidate()  # closed now; the pool reconnects on the next checkout

    return True


def schemas_seen(connection: sa.Connection) -> int:
    """How many distinct schemas ``connection``'s pooled DBAPI connection has served so far."""
    return len(connection.connection.info.get(SEEN, ()))
