"""The group-buy timer: one schedule (``groupbuy.sweep`` every minute over the stores that
enabled the plugin; ``groupbuy.sweep_store`` for one store, with an optional ``now``). Timers are
database states swept here, so they survive restarts: the database is the truth."""

from __future__ import annotations

EVERY_SECONDS = 60


def sweep(store, now):
    from mallow_groupbuy import lifecycle

    return lifecycle.sweep(now)


def register_jobs(register) -> None:
    register("groupbuy.sweep", sweep, every_seconds=EVERY_SECONDS)
