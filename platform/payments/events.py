"""What payments tell the domains above them: blinker signals, one per event.

Payments sit below after-sales, so they do not call it: they send an event, and ``create_app``
connects the receivers (``signal.connect(receiver, sender=app)``: the connection belongs to that
app). Receivers run inside the transaction that recorded the event.

* :data:`refund_succeeded` (``refund``: the :class:`~mallow.payments.models.Refund`) -- the money
  went back: after-sales moves the request the refund was made for to ``refunded``.
"""

from __future__ import annotations

from blinker import Namespace
from flask import current_app

_events = Namespace()

refund_succeeded = _events.signal("payments.refund-succeeded")


def send(event, **details) -> None:
    """Send ``event`` from the current app to the receivers connected for it."""
    event.send(current_app._get_current_object(), **details)
