"""What the qualification check tells the domains above it: blinker signals, one per event.

The qualification domain sits below the catalogue, so it does not move products itself: it sends
an event and the catalogue, connected by ``create_app`` (``signal.connect(receiver, sender=app)``:
the connection belongs to that app), does the work and answers with the ids of the products it
moved. Receivers run in the sender's transaction; what they answer is gathered by :func:`send`.

* :data:`permits_lapsed` (``permits``: the lapsed permit kinds) — take every product on the shelf
  off it; answer their ids (the qualification check holds exactly those);
* :data:`permits_renewed` (``product_ids``: the held products) — put back those still off the
  shelf and sellable; answer their ids.
"""

from __future__ import annotations

from blinker import Namespace
from flask import current_app

_events = Namespace()

permits_lapsed = _events.signal("qualifications.permits-lapsed")
permits_renewed = _events.signal("qualifications.permits-renewed")


def send(event, **details) -> list[int]:
    """Send ``event`` from the current app; every receiver's answer (a list of ids), in order."""
    answers: list[int] = []
    for _receiver, answer in event.send(current_app._get_current_object(), **details):
        answers.extend(answer or [])
    return answers
