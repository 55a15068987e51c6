"""The flash sale's timer, swept every 30 seconds in every store that enabled the plugin:

1. unpaid flash-sale orders past their short deadline are cancelled through the core
   (``mallow.sdk.cancel_order``: the order's stock comes back, and our ``mallow_order_cancelled``
   returns the sale's units, once). The core's own sweep would close them too, at the same
   deadline, within its minute;
2. purchases still marked unpaid whose order moved on without us (the plugin was disabled at the
   time) are settled: units back for cancelled orders, "paid" for paid ones;
3. the Redis gate of every sale in preheat or live is re-seeded from the database, unless
   admitted tickets are still waiting for their orders (their units are held in the gate, not
   yet in the database: a seed now would admit as many shoppers again);
4. tickets admitted at the front door that a dead drain took and never settled go back on the
   store's queue, with a drain job for them (:func:`mallow_flashsale.admission.requeue_stale`).

Everything is a conditional UPDATE on database state: running it twice, or beside the core's
sweep, changes nothing more.
"""

from __future__ import annotations

import logging

import sqlalchemy as sa

from mallow.sdk import Order, cancel_order, db
from mallow_flashsale import checkout, gate
from mallow_flashsale.models import Purchase, Sale, aware

log = logging.getLogger("mallow_flashsale")
EVERY_SECONDS = 30


def sweep(store, now):
    """Only in stores that enabled the plugin (its tables may not exist elsewhere)."""
    return run(store.id, now)


def run(store_id: int, now) -> dict:
    closed = settled = 0
    order_ids = (
        db.session.execute(sa.select(Purchase.order_id).where(Purchase.status == "pending").distinct()).scalars().all()
    )
    for order_id in order_ids:
        order = db.session.get(Order, order_id)
        if order is None:
            continue
        if order.status == "pending_payment":
            deadline = db.session.execute(
                sa.select(sa.func.min(Purchase.deadline)).where(Purchase.order_id == order_id)
            ).scalar()
            if deadline is not None and aware(deadline) <= now:
                closed += cancel_order(order, "system", "payment_timeout")
        elif order.paid_at is not None:
            checkout.order_paid(order)
            settled += 1
        elif order.status in ("cancelled", "closed"):
            checkout.order_cancelled(order, "reconciled")
            settled += 1
    db.session.commit()
    seeded, found = 0, {}
    if gate.connection() is not None:
        from mallow_flashsale import admission

        found["requeued"] = admission.requeue_stale(store_id)
        # not while admitted tickets wait for their orders: the database does not hold their
        # units yet, so a seed read from it would admit as many shoppers again
        if gate.tickets_in_flight(store_id):
            found["seeding_deferred"] = True
        else:
            for sale in db.session.execute(
                sa.select(Sale).where(Sale.published.is_(True), Sale.ends_at > now)
            ).scalars():
                if sale.state(now) in ("preheat", "live"):
                    seeded += gate.seed(store_id, sale.id, refresh=True)
    return {"closed": closed, "settled": settled, "seeded": seeded, **found}
