"""Scheduled per-store exports: the store-level backup (job ``stores.backup``, :mod:`mallow.stores.jobs`).

On when ``MALLOW_BACKUP_DIR`` and an archive key (``MALLOW_ARCHIVE_KEY``, or
``MALLOW_ARCHIVE_KEY_FILE``: a file holding it) are set; otherwise the job does nothing and says so
once per process in the log. Each run, for every ``open`` or ``closing`` store (the others do not
change: a suspended store's last backup stays, a closed store is exported before its purge by the
operator if wanted):

* its newest backup younger than ``MALLOW_BACKUP_INTERVAL_HOURS`` (default 24): skipped;
* else its archive (:func:`mallow.stores.archive.writer.export_store`, personal values sealed with
  the operator's key) is written to ``<dir>/<slug>/<slug>-<UTC %Y%m%dT%H%M%SZ>.tar.gz`` — under a
  temporary name first, renamed when whole, so the final name never holds half an archive;
* then only the newest ``MALLOW_BACKUP_KEEP`` (default 7) of its backups are kept.

A store whose export fails is logged (``mallow.stores.archive``) and the next ones go on; it is
tried again at the next run. The time in a backup's name (not the file's mtime, which a copy
changes) is what the interval and the pruning read. Restore one with
``mallow store import <file> --key-file <the key>``.
"""

from __future__ import annotations

import logging
import os
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from flask import Flask, current_app

from mallow.db import db
from mallow.stores.archive import keys
from mallow.stores.archive.errors import ArchiveError
from mallow.stores.archive.writer import export_store
from mallow.tenants.models import Store

log = logging.getLogger("mallow.stores.archive")

#: the stores that get backups (their data change)
BACKED_UP_STATES = ("open", "closing")
DEFAULT_INTERVAL_HOURS = 24.0
DEFAULT_KEEP = 7
STAMP = "%Y%m%dT%H%M%SZ"
_NAME = re.compile(r"^(?P<slug>[a-z0-9-]+)-(?P<stamp>\d{8}T\d{6}Z)\.tar\.gz$")
#: ``app.extensions`` key: the "backups are off" line was logged in this process
_OFF_SAID = "mallow.stores.backups_off_said"


def _setting(app: Flask, name: str) -> str:
    value = app.config.get(name)
    if value in (None, ""):
        value = os.environ.get(name, "")
    return str(value).strip()


def backup_dir(app: Flask) -> Path | None:
    value = _setting(app, "MALLOW_BACKUP_DIR")
    return Path(value) if value else None


def archive_secret(app: Flask) -> str | None:
    """The operator's archive key: ``MALLOW_ARCHIVE_KEY``, else ``MALLOW_ARCHIVE_KEY_FILE``'s content."""
    secret = _setting(app, "MALLOW_ARCHIVE_KEY")
    if secret:
        return secret
    path = _setting(app, "MALLOW_ARCHIVE_KEY_FILE")
    if path:
        return Path(path).read_text().strip() or None
    return None


def interval(app: Flask) -> timedelta:
    return timedelta(hours=max(0.0, float(_setting(app, "MALLOW_BACKUP_INTERVAL_HOURS") or DEFAULT_INTERVAL_HOURS)))


def keep(app: Flask) -> int:
    return max(1, int(_setting(app, "MALLOW_BACKUP_KEEP") or DEFAULT_KEEP))


def backups_of(folder: Path, slug: str) -> list[tuple[datetime, Path]]:
    """The store's backups in ``folder``, oldest first, with the time in their names (temporary
    files and anything else are not backups)."""
    found = []
    if folder.is_dir():
        for path in folder.iterdir():
            match = _NAME.match(path.name)
            if match and match["slug"] == slug and path.is_file():
                found.append((datetime.strptime(match["stamp"], STAMP).replace(tzinfo=UTC), path))
    return sorted(found)


def _prune(folder: Path, slug: str, kept: int) -> int:
    backups = backups_of(folder, slug)
    gone = backups[:-kept] if len(backups) > kept else []
    for _when, path in gone:
        path.unlink(missing_ok=True)
    return len(gone)


def back_up_store(store: Store, base: Path, key: keys.ArchiveKey, now: datetime, app: Flask) -> str:
    """One store's turn: ``"written"`` or ``"skipped"`` (newest backup younger than the interval)."""
    folder = base / store.slug
    backups = backups_of(folder, store.slug)
    if backups and now - backups[-1][0] < interval(app):
        _prune(folder, store.slug, keep(app))
        return "skipped"
    target = folder / f"{store.slug}-{now.strftime(STAMP)}.tar.gz"
    folder.mkdir(parents=True, exist_ok=True)
    export_store(store.id, target, key)  # a temporary name, renamed once whole (writer._pack)
    _prune(folder, store.slug, keep(app))
    log.info("store %s (%s) backed up to %s", store.id, store.slug, target)
    return "written"


def back_up_due(now: datetime | None = None, store_ids: list[int] | None = None) -> dict[str, str]:
    """Back up every open or closing store (among ``store_ids`` when given) whose newest backup
    is older than the interval; ``{slug: "written" | "skipped" | "failed"}``, or ``{}`` when
    backups are off."""
    app = current_app._get_current_object()
    base = backup_dir(app)
    try:
        secret = archive_secret(app)
    except OSError as error:
        log.error("scheduled store backups are off: MALLOW_ARCHIVE_KEY_FILE cannot be read (%s)", error)
        return {}
    if base is None or not secret:
        if not app.extensions.get(_OFF_SAID):
            app.extensions[_OFF_SAID] = True
            log.info(
                "scheduled store backups are off: set MALLOW_BACKUP_DIR and MALLOW_ARCHIVE_KEY "
                "(or MALLOW_ARCHIVE_KEY_FILE) to turn them on"
            )
        return {}
    try:
        key = keys.from_secret(secret)
    except ArchiveError as error:
        log.error("scheduled store backups are off: the archive key is not usable (%s)", error)
        return {}
    now = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    query = sa.select(Store).where(Store.status.in_(BACKED_UP_STATES)).order_by(Store.id)
    if store_ids is not None:
        query = query.where(Store.id.in_(store_ids))
    stores = list(db.session.execute(query).scalars())
    results: dict[str, str] = {}
    for store in stores:
        slug = store.slug
        try:
            results[slug] = back_up_store(store, base, key, now, app)
        except Exception:  # noqa: BLE001 -- logged; the other stores go on, the next run tries again
            db.session.rollback()
            log.exception("backing up store %s failed", slug)
            results[slug] = "failed"
    return results
