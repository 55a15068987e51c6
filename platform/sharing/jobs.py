"""Sharing's job: the sweep that grants share rewards a completion could not grant at once
(every 10 minutes; idempotent: a referral is rewarded once, :func:`mallow.sharing.rewards.grant`)."""

from __future__ import annotations

from mallow.jobs import store_sweep
from mallow.sharing import rewards


@store_sweep("sharing", every_seconds=600)
def sweep(store, now):
    return rewards.sweep(now)
