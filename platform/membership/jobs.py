"""Membership jobs: the points expiry sweep and the birthday coupons, each a sweep of every
store (hourly: both are idempotent, so running them more often than daily only makes an expiry
or a birthday coupon come sooner in the day)."""

from __future__ import annotations

from mallow.jobs import store_sweep
from mallow.membership import service

EVERY_SECONDS = 3600


@store_sweep("membership.expiry", every_seconds=EVERY_SECONDS)
def expiry(store, now):
    """Expire the lots past their date (nothing twice)."""
    return service.expire_points(now)


@store_sweep("membership.birthdays", every_seconds=EVERY_SECONDS)
def birthdays(store, now):
    """The birthday coupons of today's birthdays (once a year per member)."""
    return service.birthday_coupons(now)
