"""The group-buy timer: one periodic sweep (``groupbuy.sweep`` every minute over the stores that
enabled the plugin; ``groupbuy.sweep_store`` for one store, with an optional ``now``). Timers are
database states swept here, so they survive restarts: the database is the truth."""
from __future__ import annotations

from mallow.plugins.api import plugin_sweep


@plugin_sweep("groupbuy", every_seconds=60)
def sweep(store, now):
    from mallow_groupbuy import lifecycle

    return lifecycle.sweep(now)
