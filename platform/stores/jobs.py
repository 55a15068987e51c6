"""The stores' periodic jobs: a closing store closes once nothing is open (``stores.sweep``), and
closed stores past their retention are purged (``stores.purge``)."""

from __future__ import annotations

from datetime import datetime

from mallow.jobs import job, store_sweep
from mallow.stores import lifecycle, purge

PURGE_EVERY_SECONDS = 6 * 3600


@store_sweep("stores", every_seconds=600)
def sweep(store, now):
    return {"closed": lifecycle.finish_closing_here(store)}


@job("stores.purge", every_seconds=PURGE_EVERY_SECONDS)
def purge_due(now: str | None = None) -> dict:
    """Purge closed stores past their ``purge_after`` (``MALLOW_STORE_RETENTION_DAYS``)."""
    return purge.purge_due(None, datetime.fromisoformat(now) if now else None)
