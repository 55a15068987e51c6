"""Shopper sessions from this process's memory while the store's *sessions stamp* holds.

Every signed-in storefront request asks who the shopper is: one statement (the session row and
its customer) plus the ORM building both objects, a fifth of a cart write. A process keeps what
that statement answered, per ``(store, token digest)``, and serves it again while the store's
sessions stamp (:func:`mallow.tenants.stamps.named`, name ``sessions.<store id>``) is the one it
read *before* the statement: the two objects are made straight into their loaded state and
attached to the request's session without a query, as :mod:`mallow.tenants.snapshots` does for
the store row, so writes and relationships work as on rows read.

The stamp moves, after the commit, whenever a session of the store can have ended or its
shopper changed:

* :func:`forget_after_commit`: a session or all of a shopper's sessions revoked (sign-out,
  password change: :mod:`mallow.accounts.sessions`);
* any commit that flushed a changed or deleted ``Customer`` or a deleted ``CustomerSession``
  (a shopper switched off, a profile edit: the kept copy would be stale).

Expiry is checked on every use (the kept row carries ``expires_at``). No stamp (Redis away)
means nothing is kept or served. Other processes learn of a move as they learn of a store's
stamp (Redis pub/sub, or the stamp file on one host): a revoked token may be accepted by another
process only for the moment the bump takes to arrive.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from threading import Lock

import sqlalchemy as sa
from flask import current_app, g, has_app_context
from sqlalchemy import event
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.util import identity_key

from mallow.accounts.models import Customer, CustomerSession
from mallow.db import db
from mallow.db.outcomes import outermost, outermost_ended
from mallow.db.session import TenantSession
from mallow.tenants import stamps

EXTENSION = "mallow.session_memory"
#: sessions kept per process (all stores): at the limit the memory starts again
MAX_ENTRIES = 20_000
_PENDING = "mallow.session_memory.pending"
_SESSION_COLUMNS = tuple(column.key for column in CustomerSession.__table__.columns)
_CUSTOMER_COLUMNS = tuple(column.key for column in Customer.__table__.columns)


@dataclass(frozen=True)
class Kept:
    stamp: Hashable
    session: dict
    customer: dict


class SessionMemory:
    def __init__(self, max_entries: int = MAX_ENTRIES):
        self.max_entries = max_entries
        self.entries: dict[tuple[int, str], Kept] = {}
        self.lock = Lock()

    def put(self, key: tuple[int, str], kept: Kept) -> None:
        with self.lock:
            if len(self.entries) >= self.max_entries:
                self.entries.clear()
            self.entries[key] = kept


def stamp_name(store_id: int) -> str:
    return f"sessions.{int(store_id)}"


def _memory() -> SessionMemory | None:
    return current_app.extensions.get(EXTENSION)


def remembered(digest: str):
    """``(session row, customer)`` for ``digest`` in the active store from memory (attached to
    the request's session), or None: the caller asks the database, then calls :func:`remember`."""
    store_id = g.get("mallow_store_id")
    memory = _memory()
    if store_id is None or memory is None:
        return None
    stamp = stamps.named(stamp_name(store_id))
    g.mallow_sessions_stamp = stamp  # read before the statement on a miss: see remember()
    kept = memory.entries.get((store_id, digest))
    if kept is None or stamp is None or kept.stamp != stamp:
        return None
    return _attached(CustomerSession, kept.session), _attached(Customer, kept.customer)


def remember(digest: str, row: CustomerSession, customer: Customer) -> None:
    """Keep what the database answered, under the stamp read before it asked."""
    store_id = g.get("mallow_store_id")
    memory = _memory()
    stamp = g.get("mallow_sessions_stamp")
    if store_id is None or memory is None or stamp is None:
        return
    state = sa.inspect(customer)
    if state.expired_attributes or sa.inspect(row).expired_attributes:
        return  # not every column is loaded: nothing to copy without a query
    memory.put(
        (store_id, digest),
        Kept(
            stamp,
            {key: row.__dict__[key] for key in _SESSION_COLUMNS},
            {key: customer.__dict__[key] for key in _CUSTOMER_COLUMNS},
        ),
    )


def _attached(model, values: dict):
    """The row with ``values`` as its loaded state, in the request's session (the one already
    there when this request loaded it)."""
    found = db.session.identity_map.get(identity_key(model, values["id"]))
    if found is not None:
        return found
    instance = sa.inspect(model).class_manager.new_instance()
    instance.__dict__.update(values)
    make_transient_to_detached(instance)
    db.session.add(instance)
    return instance


def forget_after_commit(session=None) -> None:
    """The active store's kept sessions go when ``session`` (the request's) commits."""
    store_id = g.get("mallow_store_id") if has_app_context() else None
    if store_id is not None:
        (session or db.session()).info.setdefault(_PENDING, set()).add(int(store_id))


def _after_flush(session, _context) -> None:
    if not has_app_context() or g.get("mallow_store_id") is None:
        return
    for obj in (*session.dirty, *session.deleted):
        if isinstance(obj, CustomerSession) and obj in session.deleted:
            forget_after_commit(session)
            return
        if isinstance(obj, Customer) and (obj in session.deleted or session.is_modified(obj)):
            forget_after_commit(session)
            return


@outermost
def _after_commit(session) -> None:
    for store_id in sorted(session.info.pop(_PENDING, ())):
        stamps.bump_named(stamp_name(store_id))


@outermost_ended
def _after_soft_rollback(session, _previous) -> None:
    session.info.pop(_PENDING, None)


def init_app(app) -> None:
    app.extensions[EXTENSION] = SessionMemory(int(app.config.get("MALLOW_SESSION_CACHE_ENTRIES", MAX_ENTRIES)))
    for name, listener in (
        ("after_flush", _after_flush),
        ("after_commit", _after_commit),
        ("after_soft_rollback", _after_soft_rollback),
    ):
        if not event.contains(TenantSession, name, listener):
            event.listen(TenantSession, name, listener)
