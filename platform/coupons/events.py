"""What the coupons tell the capabilities beside them: blinker signals, one per event.

The coupons and the notifications sit in the same layer, so neither imports the other: the
coupons send an event and ``create_app`` (``_connect_domains``) connects the receiver
(``signal.connect(receiver, sender=app)``: the connection belongs to that app). Receivers run
inside the transaction of the job that sent the event.

* :data:`coupon_expiring` (``customer_id``, ``customer_coupon_id``, ``name``: the coupon's name,
  ``expires_at``: an aware ``datetime`` in China time) -- a coupon a shopper holds, unused, expires
  within :data:`mallow.coupons.service.EXPIRY_WARNING`; sent once per held coupon by the expiry
  sweep: the notifications tell the shopper (消息).
"""

from __future__ import annotations

from blinker import Namespace
from flask import current_app

_events = Namespace()

coupon_expiring = _events.signal("coupons.coupon-expiring")


def send(event, **details) -> None:
    """Send ``event`` from the current app to the receivers connected for it."""
    event.send(current_app._get_current_object(), **details)
