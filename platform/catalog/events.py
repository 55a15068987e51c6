"""What the catalogue tells the domains above it: blinker signals, one per event.

The catalogue sits low (inventory, shipping and compliance build on it), so it does not call
them: it sends an event, and ``create_app`` connects their receivers
(``signal.connect(receiver, sender=app)``: the connection belongs to that app). Receivers run
inside the save's transaction (flushed, not committed); an exception they raise undoes the save.

* :data:`product_saved` (``product``) -- a product was created or changed: compliance screens its
  texts for absolute terms (极限词) and may refuse the save (``ValidationFailed``).
* :data:`stock_adjusted` (``changes``: ``[(sku, delta)]``, every SKU flushed, so it has its id)
  -- the merchant set SKU stock by hand (the product form, the API, the bulk edit): the
  inventory's stock ledger records it.
"""

from __future__ import annotations

from blinker import Namespace
from flask import current_app

_events = Namespace()

product_saved = _events.signal("catalog.product-saved")
stock_adjusted = _events.signal("catalog.stock-adjusted")


def send(event, **details) -> None:
    """Send ``event`` from the current app to the receivers connected for it."""
    event.send(current_app._get_current_object(), **details)
