"""Store stamps: one version token per store that moves whenever anything a page shows changes.

Every process keeps things it can serve again without the database: the store row and its
enabled plugins (:mod:`mallow.tenants.snapshots`), whole anonymous pages (:mod:`mallow.edge`),
plugin slot markup. Each entry remembers the stamp of its store when it was made and is used
only while the stamp is unchanged, so the check per request is one comparison, not 3–5 queries.

What moves a stamp:

* a commit that flushed a **watched** class (:meth:`StoreStamps.watch`): the store row, its
  plugin switches and settings, the catalogue, pages and themes, and the classes plugins name
  with ``watches=`` when they register blocks. The stamp moves *after* the commit, so a page
  rendered from the old rows under the old stamp is never served under the new one;
* :func:`bump` for writes that bypass the session (bulk ``UPDATE`` of plugin switches, the
  circuit breaker's own connection), and :func:`bump_all` for what changes every store at once.

Where stamps live:

* with ``REDIS_URL``: ``INCR`` of ``<prefix>:<store id>`` and a ``PUBLISH``; each process
  listens on the channel in a thread and keeps the values it has seen, so a request asks
  Redis only for a store this process has not seen since it (re)connected. While the listener
  is down every check reads Redis (one ``MGET``). Redis unreachable: no stamp (``None``), so
  nothing cached is served and nothing is stored.
* without Redis (the embedded default, one host): a small file per store under
  ``<data dir>/stamps/``, rewritten on a bump (each write a new unique token) and read per check.

The prefix carries a digest of the platform database's address, so two installations (or two
test databases) sharing one Redis never see each other's stamps.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import os
import threading
import time
from collections.abc import Callable, Hashable
from pathlib import Path

from flask import current_app, g, has_app_context
from sqlalchemy import event

from mallow.db.outcomes import outermost, outermost_ended
from mallow.db.session import TenantSession

log = logging.getLogger("mallow.stamps")

EXTENSION = "mallow.stamps"
ALL = "all"
_PENDING = "mallow.stamps.pending"


class FileStamps:
    """Stamps as files under ``folder`` (one host: the embedded SQLite default)."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self._counter = itertools.count()
        self._prefix = os.path.join(str(self.folder), "")  # read per check: no Path joins there

    def _read(self, name: str) -> str:
        # read twice per request (the front door, then the store's resolution): the plain system
        # calls, not a text file object (a tenth of the cost); a bump replaces the file whole
        try:
            descriptor = os.open(self._prefix + name, os.O_RDONLY)
        except FileNotFoundError:
            return "0"
        try:
            return os.read(descriptor, 4096).decode("ascii")
        finally:
            os.close(descriptor)

    def current(self, store_id: int) -> Hashable | None:
        return (self._read(ALL), self._read(str(int(store_id))))

    def current_name(self, name: str) -> Hashable | None:
        return self._read(name)

    def current_many(self, store_ids) -> dict[int, Hashable]:
        everything = self._read(ALL)
        return {int(i): (everything, self._read(str(int(i)))) for i in store_ids}

    def bump(self, name: str) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        token = f"{time.time_ns()}-{os.getpid()}-{threading.get_ident()}-{next(self._counter)}"
        temporary = self.folder / f".{name}.{token}"
        temporary.write_text(token, encoding="ascii")
        os.replace(temporary, self.folder / name)


class RedisStamps:
    """Stamps in Redis, kept fresh in this process by a pub/sub listener thread."""

    def __init__(self, url: str, prefix: str):
        from redis import Redis

        self.redis = Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
        self.prefix = prefix
        self.channel = f"{prefix}:bumps"
        self.known: dict[str, int] = {}
        self.live = False
        self.generation = 0
        self._lock = threading.Lock()
        self._listener_pid: int | None = None

    def _key(self, name: str) -> str:
        return f"{self.prefix}:{name}"

    def current(self, store_id: int) -> Hashable | None:
        self._ensure_listener()
        store = str(int(store_id))
        if self.live:
            everything, own = self.known.get(ALL), self.known.get(store)
            if everything is not None and own is not None:
                return (everything, own)
        generation = self.generation
        try:
            values = self.redis.mget(self._key(ALL), self._key(store))
        except Exception as error:  # Redis away: nothing may be served from memory
            log.warning("store stamps unavailable (%s): caches bypassed", error)
            return None
        everything, own = (int(v or 0) for v in values)
        with self._lock:
            if self.live and self.generation == generation:  # not across a reconnect: bumps may be lost
                self._remember(ALL, everything)
                self._remember(store, own)
        return (everything, own)

    def current_name(self, name: str) -> Hashable | None:
        """One named stamp (not a store's: e.g. a store's sessions, :func:`named`)."""
        self._ensure_listener()
        if self.live:
            found = self.known.get(name)
            if found is not None:
                return found
        generation = self.generation
        try:
            value = int(self.redis.get(self._key(name)) or 0)
        except Exception as error:
            log.warning("stamp %s unavailable (%s): caches bypassed", name, error)
            return None
        with self._lock:
            if self.live and self.generation == generation:
                self._remember(name, value)
        return value

    def current_many(self, store_ids) -> dict[int, Hashable]:
        """Many stores' stamps in few round trips (chunks of 1,000 keys); {} when Redis is away."""
        self._ensure_listener()
        deadline = time.monotonic() + 1
        while not self.live and time.monotonic() < deadline:  # a new process: let it subscribe first,
            time.sleep(0.01)  # so what is read below is remembered
        ids = [int(i) for i in store_ids]
        found: dict[int, Hashable] = {}
        generation = self.generation
        try:
            everything = int(self.redis.get(self._key(ALL)) or 0)
            for start in range(0, len(ids), 1000):
                chunk = ids[start : start + 1000]
                for store_id, value in zip(chunk, self.redis.mget([self._key(str(i)) for i in chunk]), strict=True):
                    found[store_id] = (everything, int(value or 0))
        except Exception as error:
            log.warning("store stamps unavailable (%s): caches bypassed", error)
            return {}
        with self._lock:
            if self.live and self.generation == generation:
                self._remember(ALL, everything)
                for store_id, (_all, own) in found.items():
                    self._remember(str(store_id), own)
        return found

    def _remember(self, name: str, value: int) -> None:
        if value > self.known.get(name, -1):  # INCR only grows: a late read never goes back
            self.known[name] = value

    def bump(self, name: str) -> None:
        try:
            value = self.redis.incr(self._key(name))
            self.redis.publish(self.channel, f"{name}:{value}")
        except Exception as error:
            log.warning("store stamp %s not moved (%s): cached pages may show old data until they expire", name, error)
            return
        with self._lock:
            self._remember(name, value)

    # --- the listener --------------------------------------------------------------------------

    def _ensure_listener(self) -> None:
        if self._listener_pid == os.getpid():
            return
        with self._lock:
            if self._listener_pid == os.getpid():
                return
            self._listener_pid = os.getpid()  # a forked worker starts its own
            self.live, self.known = False, {}
            threading.Thread(target=self._listen, name="mallow-stamps", daemon=True).start()

    def _listen(self) -> None:
        pid, delay = os.getpid(), 0.5
        while self._listener_pid == pid:
            pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
            try:
                pubsub.subscribe(self.channel)
                pubsub.get_message(timeout=1.0)  # the subscription's confirmation
                with self._lock:
                    self.known, self.generation, self.live = {}, self.generation + 1, True
                delay = 0.5
                while self._listener_pid == pid:
                    message = pubsub.get_message(timeout=1.0)
                    if message and message.get("type") == "message":
                        name, _, value = message["data"].decode().partition(":")
                        with self._lock:
                            self._remember(name, int(value))
            except Exception as error:
                log.info("store stamps listener reconnecting (%s)", error)
            finally:
                with self._lock:
                    self.live, self.known, self.generation = False, {}, self.generation + 1
                try:
                    pubsub.close()
                except Exception:  # noqa: S110 (already broken)
                    pass
            time.sleep(delay)
            delay = min(delay * 2, 10)


class StoreStamps:
    """The app's stamps: where they live, and which classes move them when flushed."""

    def __init__(self, backend):
        self.backend = backend
        self._watched: dict[type, Callable[[object], int | None] | None] = {}
        self._providers: list[Callable[[], tuple]] = []

    def current(self, store_id: int) -> Hashable | None:
        """The store's stamp now (compare for equality), or None: nothing cached may be used."""
        return self.backend.current(store_id)

    def current_many(self, store_ids) -> dict:
        """``{store id: stamp}`` for many stores at once (stores without one are left out)."""
        return self.backend.current_many(store_ids)

    def bump(self, store_id: int) -> None:
        self.backend.bump(str(int(store_id)))

    def bump_all(self) -> None:
        self.backend.bump(ALL)

    def watch(self, cls: type, store_of: Callable[[object], int | str | None] | None = None) -> None:
        """Commits that flush ``cls`` move a stamp: ``store_of(obj)``'s (:data:`ALL`: every
        store's), else the active store's."""
        self._watched[cls] = store_of

    def watch_classes(self, provider: Callable[[], tuple]) -> None:
        """``provider()`` names more classes (of the active store) at each flush."""
        if provider not in self._providers:
            self._providers.append(provider)

    def stores_touched(self, session) -> set[int]:
        watched = dict(self._watched)
        for provider in self._providers:
            for cls in provider():
                watched.setdefault(cls, None)
        if not watched:
            return set()
        classes = tuple(watched)
        active = g.get("mallow_store_id") if has_app_context() else None
        touched = set()
        changed = [*session.new, *session.deleted]
        changed += [o for o in session.dirty if session.is_modified(o, include_collections=False)]
        for obj in changed:
            if not isinstance(obj, classes):
                continue
            store_of = next((f for c, f in watched.items() if isinstance(obj, c)), None)
            store_id = store_of(obj) if store_of is not None else active
            if store_id == ALL:
                touched.add(ALL)
            elif store_id is not None:
                touched.add(int(store_id))
        return touched


def stamps() -> StoreStamps | None:
    return current_app.extensions.get(EXTENSION) if has_app_context() else None


def current(store_id: int) -> Hashable | None:
    found = stamps()
    return found.current(store_id) if found is not None else None


def known_without_round_trip(found: StoreStamps | None, store_id: int) -> Hashable | None:
    """The store's stamp as this process knows it without a network round trip, or None (then
    nothing kept under it may be trusted now): with Redis, the listener's memory while it is
    subscribed (stamps only grow, so an equal one means no bump in between); the file stamps of
    one host are read (no network). ``found`` is an app's :class:`StoreStamps` (None: no stamps)."""
    if found is None:
        return None
    backend = found.backend
    if isinstance(backend, RedisStamps):
        if not backend.live:
            return None
        everything, own = backend.known.get(ALL), backend.known.get(str(int(store_id)))
        return None if everything is None or own is None else (everything, own)
    return found.current(store_id)


def bump(store_id: int) -> None:
    found = stamps()
    if found is not None:
        found.bump(store_id)


def named(name: str) -> Hashable | None:
    """A named stamp that is not a store's (a store's sessions: ``sessions.<id>``), or None (no
    stamp: nothing kept under it may be used). It lives where store stamps live and moves only
    by :func:`bump_named`."""
    found = stamps()
    return found.backend.current_name(name) if found is not None else None


def bump_named(name: str) -> None:
    found = stamps()
    if found is not None:
        found.backend.bump(name)


def bump_all() -> None:
    found = stamps()
    if found is not None:
        found.bump_all()


def bump_after_commit(session, store_id: int) -> None:
    """Move ``store_id``'s stamp when ``session`` commits (for writes the session does not flush
    as objects, e.g. a bulk ``UPDATE``)."""
    session.info.setdefault(_PENDING, set()).add(int(store_id))


def changed_at_commit(session) -> None:
    """The active store's pages change when ``session`` commits (a write that is not a flush of
    a watched object, e.g. stock taken by an ``UPDATE``); nothing outside a store."""
    store_id = g.get("mallow_store_id") if has_app_context() else None
    if store_id is not None:
        bump_after_commit(session, store_id)


def _after_flush(session, _context) -> None:
    found = stamps()
    if found is None:
        return
    touched = found.stores_touched(session)
    if touched:
        session.info.setdefault(_PENDING, set()).update(touched)
        if ALL in touched or g.get("mallow_store_id") in touched:
            # this request (or job) changed what is kept under the stamp it read: from now on it
            # reads afresh (the stamp moves only at the commit, and it keeps the one it read)
            g.mallow_store_stamp = None


@outermost
def _after_commit(session) -> None:
    pending = session.info.pop(_PENDING, None)
    found = stamps()
    if pending and found is not None:
        if ALL in pending:
            found.bump_all()
        for store_id in sorted(pending - {ALL}):
            found.bump(store_id)


@outermost_ended
def _after_soft_rollback(session, _previous) -> None:
    session.info.pop(_PENDING, None)


def _backend(app):
    url = app.config.get("REDIS_URL") or ""
    database = str(app.config.get("SQLALCHEMY_DATABASE_URI", ""))
    if url.startswith(("redis://", "rediss://", "unix://")):
        digest = hashlib.sha256(f"{database}|{app.config.get('MALLOW_DATA_DIR', '')}".encode()).hexdigest()[:12]
        return RedisStamps(url, f"mallow:stamp:{digest}")
    return FileStamps(Path(app.config["MALLOW_DATA_DIR"]) / "stamps")


def init_app(app) -> StoreStamps:
    found = StoreStamps(_backend(app))
    app.extensions[EXTENSION] = found
    for name, listener in (
        ("after_flush", _after_flush),
        ("after_commit", _after_commit),
        ("after_soft_rollback", _after_soft_rollback),
    ):
        if not event.contains(TenantSession, name, listener):
            event.listen(TenantSession, name, listener)
    return found
