"""Analytics jobs: the heavy figures of a store for a day, and the hourly rollup sweep."""

from __future__ import annotations

from datetime import date

from mallow.analytics import service
from mallow.jobs import job, store_sweep


@job("analytics.compute", store=True, idempotent=True)
def compute(store, day: str):
    """Compute and cache the heavy figures (7/30 days, daily rows, RFM) as of ``day``."""
    data = service.compute_heavy(date.fromisoformat(day))
    return {"as_of": data["as_of"], "customers": len(data["rfm"]["customers"])}


@store_sweep("analytics", every_seconds=3600)
def sweep(store, now):
    return service.daily_sweep(now)
