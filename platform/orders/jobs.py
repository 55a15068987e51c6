"""Order timers: close unpaid orders past their deadline, confirm receipt of long-shipped ones,
complete delivered ones (every minute)."""

from __future__ import annotations

from mallow.jobs import store_sweep
from mallow.orders import service


@store_sweep("orders", every_seconds=60)
def sweep(store, now):
    return service.sweep(now)
