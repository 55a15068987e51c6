"""The commission timer, registered through ``mallow_register_jobs``: every
:data:`EVERY_SECONDS`, in each store that has the plugin enabled, write commissions missed when
their order was paid, catch up on refunds, freeze delivered orders' commissions and settle them
once the after-sales window is over. A database state swept periodically, so nothing is lost
with a restart.

* ``distribution.settle``: every store that enabled the plugin (one store's failure is logged and
  does not stop the others);
* ``distribution.settle_store`` (``store_id``, optional ``now`` ISO timestamp): one store.
"""

from __future__ import annotations

from mallow_distribution import commission

EVERY_SECONDS = 600


def settle(store, now) -> dict:
    return commission.sweep(now)


def register_jobs(register) -> None:
    register("distribution.settle", settle, every_seconds=EVERY_SECONDS)
