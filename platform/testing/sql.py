"""Counting the SQL a block of code sends: the query-count tests of the hot paths (issue 13)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from sqlalchemy.engine import Engine

TRANSACTION_CONTROL = re.compile(r"^\s*(BEGIN|COMMIT|ROLLBACK)\b", re.IGNORECASE)


@contextmanager
def statements() -> Iterator[list[str]]:
    """The SQL statements run inside the block (on any engine), one line each, transaction
    control left out (SQLite's explicit ``BEGIN``), so both backends count alike."""
    seen: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):
        if not TRANSACTION_CONTROL.match(statement):
            seen.append(" ".join(statement.split()))

    sa.event.listen(Engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        sa.event.remove(Engine, "before_cursor_execute", count)


def listing(seen: list[str]) -> str:
    """The statements as an assertion message shows them."""
    return "\n".join(f"  {statement[:160]}" for statement in seen)
