"""The store of a request from this process's memory: no ``stores`` query while its stamp holds.

:func:`find` answers the ``Store`` for a slug. The first time a process meets a slug it queries
the row and learns the slug's id; from then on it reads the store's stamp
(:mod:`mallow.tenants.stamps`) *before* querying, keeps the row's values under that stamp, and
serves later requests from them while the stamp is unchanged: a fresh ``Store`` object, attached
to the request's session without a query (``make_transient_to_detached``), so relationships and
writes work as on a loaded row. Nothing is kept when there is no stamp (Redis away). Meeting a
slug for the first time costs one more query: the row is read again after the stamp.

The stamp read for the request is kept in ``g.mallow_store_stamp``: every other per-process
cache of this request (enabled plugins, pages, slots) keys on the same reading. The stamp is
read once a request: the front door (:mod:`mallow.edge.door`) checks the snapshot of the store
it sees before Flask runs, and leaves the one it found current in the WSGI environ
(:data:`ENVIRON_SNAPSHOT`); :func:`find` takes that reading (when it is still the snapshot this
process holds for the slug) instead of reading the stamp again microseconds later.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from threading import Lock

import sqlalchemy as sa
from flask import current_app, g
from flask.globals import _cv_request
from sqlalchemy import event
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.attributes import instance_state, set_committed_value

from mallow.db import db
from mallow.db.session import TenantSession, context_globals
from mallow.observability.metrics import cache_counters
from mallow.tenants import stamps
from mallow.tenants.models import Store

log = logging.getLogger("mallow.tenants")

EXTENSION = "mallow.store_snapshots"
#: the WSGI environ's key for the snapshot the front door found current for this request's store
ENVIRON_SNAPSHOT = "mallow.store_snapshot"
MAX_ENTRIES = 20_000
_COLUMNS = tuple(column.key for column in Store.__table__.columns)  # attribute names = column names here


@dataclass(frozen=True)
class Snapshot:
    stamp: object
    values: dict

    @property
    def id(self) -> int:
        return self.values["id"]

    @property
    def slug(self) -> str:
        return self.values["slug"]

    @property
    def status(self) -> str:
        return self.values["status"]


class Snapshots:
    def __init__(self):
        self.ids: dict[str, int] = {}
        self.entries: dict[int, Snapshot] = {}
        self.lock = Lock()
        self.preloaded_in: int | None = None  # the process that loaded every store (after a fork: again)

    def preload(self, app, app_stamps: stamps.StoreStamps) -> None:
        """Once per process: every open store's row (up to ``MAX_ENTRIES``, newest first) under
        its stamp, all stamps read first, so a process meets no store for the first time on
        a shopper's request."""
        if self.preloaded_in == os.getpid():
            return
        with self.lock:
            if self.preloaded_in == os.getpid():
                return
            self.preloaded_in = os.getpid()
            with app.app_context():
                try:
                    newest = sa.select(Store.__table__).where(Store.status == "open")
                    newest = newest.order_by(Store.id.desc()).limit(MAX_ENTRIES)
                    ids = db.session.execute(sa.select(newest.subquery().c.id)).scalars().all()
                    found = app_stamps.current_many(ids)  # the stamps first, then the rows
                    for row in db.session.execute(newest).mappings():
                        if row["id"] in found:
                            self.ids[row["slug"]] = row["id"]
                            self.entries[row["id"]] = Snapshot(found[row["id"]], dict(row))
                except Exception as error:  # not migrated yet, database away: stores are met one by one
                    log.warning("stores not preloaded: %s", error)
                finally:
                    db.session.remove()

    def known(self, slug: str, app_stamps: stamps.StoreStamps) -> Snapshot | None:
        """The snapshot of ``slug`` if it is still current (reads the stamp), else None; needs
        no app context (the front door asks before there is one)."""
        store_id = self.ids.get(slug)
        entry = self.entries.get(store_id) if store_id is not None else None
        if entry is None or entry.slug != slug:
            return None
        stamp = app_stamps.current(store_id)
        return entry if stamp is not None and stamp == entry.stamp else None

    def remember(self, store: Store, stamp) -> None:
        with self.lock:
            if len(self.entries) >= MAX_ENTRIES:
                self.entries.clear()
                self.ids.clear()
            self.ids[store.slug] = store.id
            if stamp is not None:
                self.entries[store.id] = Snapshot(stamp, {key: getattr(store, key) for key in _COLUMNS})


_counted_hit, _counted_miss = cache_counters("store_snapshot")  # mallow_cache_lookups_total{cache="store_snapshot"}


def _snapshots() -> Snapshots:
    return current_app.extensions[EXTENSION]


def find(slug: str) -> Store | None:
    """The store with ``slug`` (attached to this request's session), or None; sets
    ``g.mallow_store_stamp``."""
    memory = _snapshots()
    store_id = memory.ids.get(slug)
    entry = memory.entries.get(store_id) if store_id is not None else None
    if entry is not None and entry is _seen_at_the_door():
        stamp = entry.stamp  # the door read the stamp for this request and found this snapshot current
    else:
        stamp = stamps.current(store_id) if store_id is not None else None
    if entry is not None and stamp is not None and entry.stamp == stamp and entry.slug == slug:
        _counted_hit()
        session = db.session()  # the request's session, looked up once
        key = (_IDENTITY_CLASS, (store_id,), _IDENTITY_TOKEN)
        store = session.identity_map.get(key)  # already here (a test, a CLI)
        if store is None:
            # attached to the request's session: relationships load, writes are flushed,
            # ``session.get(Store, id)`` answers it without a query (the price of no ``stores`` query)
            store = _detached(entry.values)
            session.add(store)
        g.mallow_store_stamp = stamp
        g.mallow_store_values = entry.values
        return store
    _counted_miss()
    store = db.session.execute(sa.select(Store).filter_by(slug=slug)).scalar_one_or_none()
    if store is None:
        memory.ids.pop(slug, None)
        return None
    if store_id != store.id:  # first meeting (or the slug moved): no stamp was read before the row,
        stamp = stamps.current(store.id)  # so read it now and the row again after it
        if stamp is not None:
            db.session.refresh(store)
    memory.remember(store, stamp)
    g.mallow_store_stamp = stamp  # None: nothing of this request is kept
    if stamp is not None:
        g.mallow_store_values = memory.entries[store.id].values
    return store


def _seen_at_the_door() -> Snapshot | None:
    ctx = _cv_request.get(None)
    return ctx.request.environ.get(ENVIRON_SNAPSHOT) if ctx is not None else None


_STORE_MANAGER = sa.inspect(Store).class_manager
# the identity map's key of a Store row is ``identity_key(Store, id)``: made here without that
# call per request (no inheritance, no identity token; tests/tenants/test_store_snapshot_cost.py)
_IDENTITY_CLASS, _IDENTITY_TOKEN = Store, None


def _detached(values: dict) -> Store:
    """A ``Store`` holding ``values`` as its loaded, unchanged state (detached: the caller adds
    it to a session, which then treats it as a row it read). The values go straight into the
    instance's state, as a load would put them: the constructor would fire an attribute event
    per column only for the state to be committed right after."""
    store = _STORE_MANAGER.new_instance()
    store.__dict__.update(values)
    make_transient_to_detached(store)
    return store


def _transaction_ended(session, transaction) -> None:
    if transaction.parent is None:  # the outermost: the commit or rollback expired every object
        _unexpire(session)


def _written(session, _context) -> None:
    found = context_globals()
    store = found.get("mallow_store") if found is not None else None
    if store is not None and (store in session.dirty or store in session.new or store in session.deleted):
        g.mallow_store_written = True


def _unexpire(session) -> None:
    """After a commit or a rollback, the active store's row as it was read: a commit expires every
    loaded object, and ``current_store().id`` would otherwise query ``stores`` again (once per
    write request, once per order a job places). Not when this request wrote the row: then it is
    read back as usual; nor, in a job that keeps the row (:func:`keep_row`), once its check
    fails. Runs at the end of every transaction: ``g`` is read as the context's own dict, and
    what costs more (a kept row's check) only when the row is expired."""
    found = context_globals()
    if found is None:
        return
    store, values = found.get("mallow_store"), found.get("mallow_store_values")
    if store is None or values is None or found.get("mallow_store_written"):
        return
    state = instance_state(store)
    if state.session_id != session.hash_key or not state.expired_attributes or not _still_true(found):
        return
    for key in _COLUMNS:
        set_committed_value(store, key, values[key])


restore_row = _unexpire  # for a caller that expires rows itself after its commit (orders' checkout)


def keep_row(store: Store, still_true) -> None:
    """A store job keeps the active store's row as it read it, as a request does, for as long as
    ``still_true()`` says the row has not changed since (the store's stamp as read before the row,
    still the one the process knows: :mod:`mallow.jobs.registry`). A job lasts up to a minute, so
    it is asked again each time the row would be put back and as each of the job's transactions
    begins: once it says no, the row is read from the database from then on (a store suspended
    mid-drain refuses the drain's next order)."""
    g.mallow_store_values = {key: getattr(store, key) for key in _COLUMNS}
    g.mallow_store_values_check = still_true


def _still_true(found: dict) -> bool:
    """Whether the row kept in ``found`` (this context's ``g``) may still be put back."""
    check = found.get("mallow_store_values_check")
    if check is None or check():
        return True
    found.pop("mallow_store_values", None)
    found.pop("mallow_store_values_check", None)
    return False


def _transaction_began(session, transaction) -> None:
    """A kept row's check, as a job's next transaction begins: no longer true, the row is expired
    (read again on use). Runs as every transaction begins: nothing more than a look at ``g``
    unless a job keeps the row."""
    if transaction.parent is not None:
        return
    found = context_globals()
    if found is None or found.get("mallow_store_values_check") is None:
        return
    store = found.get("mallow_store")
    if not _still_true(found) and store is not None and instance_state(store).session_id == session.hash_key:
        session.expire(store)


def init_app(app) -> None:
    app.extensions[EXTENSION] = Snapshots()
    stamps.init_app(app)
    for name, listener in (
        ("after_flush", _written),
        ("after_transaction_end", _transaction_ended),
        ("after_transaction_create", _transaction_began),
    ):
        if not event.contains(TenantSession, name, listener):
            event.listen(TenantSession, name, listener)
    app.extensions[stamps.EXTENSION].watch(Store, lambda store: store.id)
