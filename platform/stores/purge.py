"""Purging a closed store once its retention is over: everything of it goes, but its row.

:func:`purge` removes, in this order, each step idempotent (a purge that stops half-way is run
again by the next ``stores.purge`` or ``mallow store purge``; the store stays ``closed`` until the
last step):

1. its queued jobs (rq: the queue and the scheduled ones; embedded: the in-memory queue), those
   whose ``store_id`` is the store's (a job missed here is dropped anyway when it runs: the store
   runs no jobs, :func:`mallow.jobs.registry.execute`);
2. its schema (PostgreSQL ``DROP SCHEMA … CASCADE``) or its SQLite file (its engine in this
   process disposed first: :func:`mallow.tenants.provisioning.drop_store`);
3. its files under ``MALLOW_DATA_DIR``: :func:`store_folders` (media library and product images,
   qualification documents, cached share posters, kept pages);
4. its Redis keys, found with ``SCAN`` (never ``KEYS``) by the patterns of :func:`redis_patterns`
   (the platform's, and those plugins declare with ``mallow.sdk.purge_redis_patterns``);
5. the row: ``purged`` with ``purged_at``, and an audit entry with what was removed.

The row stays (the audit trail points at it) and so does its slug: the ``stores.slug`` unique
constraint keeps it from being given to another store. Only the store's own archive takes the
slug back (``mallow store import``, :func:`mallow.stores.archive.importer.release_slug`): the
purged row then keeps ``<slug>~<id>``. Another store's rows, files and keys
are never touched: every path and pattern is built from the purged store's id.
"""

from __future__ import annotations

import logging
import re
import shutil
from collections.abc import Callable
from datetime import datetime, UTC
from pathlib import Path

from flask import Flask, current_app

from mallow import audit
from mallow.db import db
from mallow.tenants import provisioning, stamps
from mallow.tenants.models import STORE_STATES, Store

log = logging.getLogger("mallow.stores")

#: ``app.extensions`` key: more ``(app, store_id) → [SCAN pattern]`` functions (a capability with
#: per-store keys of its own adds one in ``create_app``)
REDIS_PATTERNS = "mallow.stores.redis_patterns"
#: plugins' ``(app, store_id) → [SCAN pattern]`` functions (``mallow.sdk.purge_redis_patterns``,
#: declared when the plugin's module is imported: every app of the process asks them)
PLUGIN_REDIS_PATTERNS: list[Callable[[Flask, int], list[str]]] = []


class NotClosed(ValueError):
    """Only a closed store can be purged."""


def due(now: datetime | None = None, store_ids: list[int] | None = None) -> list[Store]:
    """Closed stores whose ``purge_after`` has passed (among ``store_ids`` when given)."""
    now = now or datetime.now(UTC)
    query = db.select(Store).where(Store.status == "closed", Store.purge_after <= now).order_by(Store.id)
    if store_ids is not None:
        query = query.where(Store.id.in_(store_ids))
    return list(db.session.execute(query).scalars())


def store_folders(app: Flask, store_id: int) -> list[Path]:
    """Every folder of the store's own files under the data dir."""
    base = Path(app.config["MALLOW_DATA_DIR"])
    store_id = int(store_id)
    return [
        base / "uploads" / "stores" / str(store_id),  # media library, product and page images
        base / "uploads" / str(store_id),  # qualification documents (licence, permits)
        base / "cache" / "posters" / str(store_id),  # share posters
        base / "pages" / str(store_id),  # kept anonymous pages (the front door's disk cache)
    ]


def redis_patterns(app: Flask, store_id: int) -> list[str]:
    """``SCAN`` patterns of the store's Redis keys. Each names the store's id in a position no
    other store's key can match (``…:<id>:…`` after a fixed word, ``{<id>:…}`` hash tags)."""
    store_id = int(store_id)
    mirror = app.config.get("SESSION_MIRROR_PREFIX") or "mallow"
    patterns = [
        f"{mirror}:sess-of:{store_id}:*",  # shoppers' mirrored token sessions (their digests: below)
        f"{mirror}:sess-gone-c:{store_id}:*",
        f"*login:store:{store_id}:*",  # sign-in rate limits (Flask-Limiter's keys)
        f"*:{{{store_id}:*",  # hash-tagged per-store keys (the flash sale's stock and buyers)
    ]
    backend = stamps.stamps()
    prefix = getattr(getattr(backend, "backend", None), "prefix", None)
    if prefix:  # the stamp of its sessions (the store's own stamp stays: the row changes on)
        patterns.append(f"{prefix}:sessions.{store_id}")
    for extra in app.extensions.get(REDIS_PATTERNS, ()):
        patterns.extend(extra(app, store_id))
    for declared in list(PLUGIN_REDIS_PATTERNS):
        try:
            found = [str(pattern) for pattern in declared(app, store_id)]
        except Exception:  # noqa: BLE001 -- a plugin's mistake leaves its keys (they expire), not the purge
            log.exception("purge: the Redis patterns of %s failed", getattr(declared, "__module__", declared))
            continue
        patterns.extend(pattern for pattern in found if _names_store(pattern, store_id))
    return patterns


def _names_store(pattern: str, store_id: int) -> bool:
    """A plugin's pattern must start with a fixed word (no wildcard: ``\\*`` escapes one), then
    name the store's id between separators (``<word>:<id>:*``, ``<word>:<id>``, ``<word>{<id>:…``),
    so it matches no other store's keys: else it is ignored."""
    marker = str(int(store_id))
    start = 0
    while (start := pattern.find(marker, start + 1)) > 0:
        end = start + len(marker)
        fixed = re.sub(r"\\.", "", pattern[:start])
        if pattern[start - 1] in ":{" and (end == len(pattern) or pattern[end] in ":}"):
            if fixed.strip(":{") and not any(c in fixed for c in "*?["):
                return True
    log.warning("purge: Redis pattern %r does not name store %s behind a fixed word: ignored", pattern, store_id)
    return False


def add_redis_patterns(app: Flask, patterns: Callable[[Flask, int], list[str]]) -> None:
    """Core: one more function giving a store's ``SCAN`` patterns, for ``app``."""
    app.extensions.setdefault(REDIS_PATTERNS, []).append(patterns)


def add_plugin_redis_patterns(patterns: Callable[[Flask, int], list[str]]) -> Callable[[Flask, int], list[str]]:
    """A plugin's function ``(app, store_id) → [SCAN pattern]`` of the store's keys it keeps in
    Redis (``mallow.sdk.purge_redis_patterns``; usable as a decorator; declaring one twice is
    one declaration). Each pattern must name the store's id after a ``:`` or ``{`` and before a
    ``:``, ``}`` or its end, behind a fixed word (its own prefix), so it cannot match another
    store's keys; a pattern that does not is ignored with a warning."""
    if patterns not in PLUGIN_REDIS_PATTERNS:
        PLUGIN_REDIS_PATTERNS.append(patterns)
    return patterns


def _redis(app: Flask):
    url = app.config.get("REDIS_URL")
    if not url:
        return None
    from redis import Redis

    return Redis.from_url(url, socket_connect_timeout=3)


def delete_redis_keys(app: Flask, store_id: int, redis=None) -> int:
    """Delete the store's keys (``SCAN`` by pattern); returns how many went."""
    own = redis is None
    redis = redis if redis is not None else _redis(app)
    if redis is None:
        return 0
    mirror = app.config.get("SESSION_MIRROR_PREFIX") or "mallow"
    deleted = 0
    try:
        for pattern in redis_patterns(app, store_id):
            batch: list = []
            for key in redis.scan_iter(match=pattern, count=500):
                if pattern.startswith(f"{mirror}:sess-of:"):  # the sessions it lists go with it
                    batch.extend(f"{mirror}:sess:{digest.decode()}" for digest in redis.smembers(key))
                batch.append(key)
                if len(batch) >= 500:
                    deleted += redis.delete(*batch)
                    batch = []
            if batch:
                deleted += redis.delete(*batch)
    finally:
        if own:
            redis.close()
    return deleted


def delete_files(app: Flask, store_id: int) -> int:
    """Remove the store's folders; returns how many files went."""
    removed = 0
    for folder in store_folders(app, store_id):
        if folder.is_dir():
            removed += sum(1 for path in folder.rglob("*") if path.is_file())
            shutil.rmtree(folder)
    return removed


def drop_queued_jobs(app: Flask, store_id: int) -> int:
    runner = app.extensions.get("mallow.jobs")
    drop = getattr(runner, "drop_store_jobs", None)
    return int(drop(store_id)) if drop is not None else 0


def purge(store: Store, actor=None, *, now: datetime | None = None, redis=None) -> dict:
    """Remove everything of closed store ``store`` but its row, which becomes ``purged``;
    returns what was removed. Raises :class:`NotClosed` for a store that is not closed."""
    if not STORE_STATES.can(store.status, "purged"):
        raise NotClosed(f"store {store.slug} is {store.status}, not closed")
    app = current_app._get_current_object()
    store_id, slug = store.id, store.slug
    db.session.commit()  # nothing of this session may hold the store's file or schema
    removed = {"jobs": drop_queued_jobs(app, store_id)}
    provisioning.drop_store(store_id)
    removed["files"] = delete_files(app, store_id)
    removed["redis_keys"] = delete_redis_keys(app, store_id, redis)
    store = db.session.get(Store, store_id)
    STORE_STATES.move(store, "purged")
    store.purged_at = now or datetime.now(UTC)
    audit.record("store.purged", actor=actor, store_id=store_id, target=f"store:{slug}", detail=removed)
    db.session.commit()
    log.info("store %s (%s) purged: %s", store_id, slug, removed)
    return removed


def purge_due(
    actor=None, now: datetime | None = None, store_ids: list[int] | None = None, redis=None
) -> dict[str, dict | str]:
    """Purge every closed store past its retention (among ``store_ids`` when given); one store's
    failure does not stop the others."""
    results: dict[str, dict | str] = {}
    for store in due(now, store_ids):
        slug = store.slug
        try:
            results[slug] = purge(store, actor, now=now, redis=redis)
        except Exception:  # noqa: BLE001 -- logged; the next run tries it again
            db.session.rollback()
            log.exception("purging store %s failed", slug)
            results[slug] = "failed"
    return results
