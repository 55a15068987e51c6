"""May the store sell now? One rule, asked by every write that puts a product on sale and by checkout.

A permit whose valid-until date is past counts as lapsed at once: the daily sweep (:mod:`.expiry`)
takes the products off the shelf and tells the merchant, but nothing waits for it.

* :func:`lapsed_permits` the rule: the lapsed permits that stop the store selling in a category
  (:func:`.expiry.blocking_permits`, which the sweep applies too); :func:`may_sell` as a yes/no;
* :func:`refuse_on_shelf` every status change to ``on_shelf`` (:mod:`mallow.catalog.products`:
  console form and list, API create and update, anything else that writes through it);
* :func:`refuse_purchase` what a shopper may buy (:func:`mallow.cart.service.sellable_sku`: the
  cart and every checkout, the plugins' included).

Products have no platform category of their own: all of a store's products are of the category
its qualification was approved for, so the rule takes the store and, optionally, a category code.
"""

from __future__ import annotations

from datetime import date

from flask import current_app, g
from flask_babel import gettext as _

from mallow.qualifications.expiry import blocking_permits, current_qualification, lapsed_message, local_today
from mallow.qualifications.holds import held_message, hold_of
from mallow.qualifications.matrix import permit_names
from mallow.tenants.context import current_store
from mallow.validation import ValidationFailed

MEMORY = "mallow.lapsed_permits"
MAX_KEPT = 20_000


def lapsed_permits(store, category: str | None = None, today: date | None = None) -> list[str]:
    """The lapsed permit kinds that stop ``store`` selling in ``category`` (a platform category code;
    the one its documents were approved for by default) now; ``[]`` when nothing stops it.

    Asked by every cart write and order: for the store of the request, the answer is kept in this
    process per day under the store's stamp (:mod:`mallow.tenants.stamps`), which a change of its
    qualification or permits moves, and a change of the category matrix moves for every store."""
    today = today or local_today()
    active = store is None or store is g.get("mallow_store")
    store_id = g.get("mallow_store_id") if active else store.id
    stamp = g.get("mallow_store_stamp") if active else None
    key = (store_id, category, today)
    memory = current_app.extensions.setdefault(MEMORY, {})
    kept = memory.get(key) if stamp is not None else None
    if kept is not None and kept[0] == stamp:
        return list(kept[1])
    qualification = current_qualification(store_id)
    # nothing approved yet: the store is not open, nothing is sold
    lapsed = [] if qualification is None else blocking_permits(qualification, today, category)
    if stamp is not None:
        if len(memory) >= MAX_KEPT:
            memory.clear()
        memory[key] = (stamp, tuple(lapsed))
    return lapsed


def may_sell(store, category: str | None = None) -> bool:
    return not lapsed_permits(store, category)


def refuse_on_shelf(product, store=None) -> None:
    """Putting ``product`` on the shelf is refused (field ``status``, code ``permit_lapsed``) while
    the qualification check holds it or a permit its category needs has lapsed, naming the permits."""
    hold = hold_of(product)
    if hold is not None:
        raise ValidationFailed({"status": ("permit_lapsed", held_message(hold.permits))})
    lapsed = lapsed_permits(store or current_store())
    if lapsed:
        raise ValidationFailed({"status": ("permit_lapsed", lapsed_message(lapsed))})


def refuse_purchase(store=None, field: str = "sku_id") -> None:
    """Buying from the store is refused (``field``, code ``permit_lapsed``) while a permit its
    category needs has lapsed, even before the sweep took the products off the shelf."""
    lapsed = lapsed_permits(store)
    if lapsed:
        raise ValidationFailed(
            {
                field: (
                    "permit_lapsed",
                    _(
                        "This product is not for sale at the moment: the store's %(permits)s expired.",
                        permits=permit_names(lapsed),
                    ),
                )
            }
        )
