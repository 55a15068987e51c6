"""Coupon jobs: issuing a coupon to a list of shoppers, and the expiry sweep (every 10 minutes)."""

from __future__ import annotations

from mallow.coupons import service
from mallow.jobs import job, store_sweep


@job("coupons.issue", store=True, idempotent=True)
def issue(store, coupon_id: int, customer_ids: list[int], batch: str):
    """Give the coupon to ``customer_ids`` (ids only, never personal data); a retry skips the
    shoppers this ``batch`` reached already."""
    return service.issue(int(coupon_id), list(customer_ids), batch=batch).as_dict()


@store_sweep("coupons", every_seconds=600)
def sweep(store, now):
    return service.expire(now)
