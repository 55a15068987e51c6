"""Keeping what pages show fresh, for plugin authors.

Mallow keeps pages and plugin slots in each process's memory until the store's stamp moves
(:mod:`mallow.tenants.stamps`). A commit that flushes a watched class (the classes a block or a
slot names with ``watches=`` / :func:`mallow.sdk.slot_watches`) moves it by itself; a write the
session does not flush as objects (a bulk or conditional ``UPDATE``) must say so with
:func:`mark_changed`. Time is the other thing that changes a page: :func:`mallow.sdk.fresh_for`.
"""

from __future__ import annotations

from mallow.db import db
from mallow.tenants.stamps import changed_at_commit


def mark_changed() -> None:
    """This transaction changed rows a page or slot shows without flushing them as objects (an
    ``UPDATE`` statement): when it commits, every process drops what it kept of the active
    store. Nothing happens if it rolls back, or outside a store."""
    changed_at_commit(db.session())
