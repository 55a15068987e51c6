"""The stores' periodic jobs: a closing store closes once nothing is open (``stores.sweep``),
closed stores past their retention are purged (``stores.purge``), and open and closing stores
are backed up to ``MALLOW_BACKUP_DIR`` (``stores.backup``, :mod:`mallow.stores.archive.backups`)."""

from __future__ import annotations

from datetime import datetime

from mallow.jobs import job, store_sweep
from mallow.stores import lifecycle, purge
from mallow.stores.archive import backups

PURGE_EVERY_SECONDS = 6 * 3600
#: how often the backup job looks (each store is written at most once per MALLOW_BACKUP_INTERVAL_HOURS)
BACKUP_EVERY_SECONDS = 3600


@store_sweep("stores", every_seconds=600)
def sweep(store, now):
    return {"closed": lifecycle.finish_closing_here(store)}


@job("stores.purge", every_seconds=PURGE_EVERY_SECONDS)
def purge_due(now: str | None = None) -> dict:
    """Purge closed stores past their ``purge_after`` (``MALLOW_STORE_RETENTION_DAYS``)."""
    return purge.purge_due(None, datetime.fromisoformat(now) if now else None)


@job("stores.backup", every_seconds=BACKUP_EVERY_SECONDS)
def backup_due(now: str | None = None) -> dict:
    """Write the archive of each open or closing store whose newest backup is older than
    ``MALLOW_BACKUP_INTERVAL_HOURS`` to ``MALLOW_BACKUP_DIR`` (off unless it and a key are set)."""
    return backups.back_up_due(datetime.fromisoformat(now) if now else None)
