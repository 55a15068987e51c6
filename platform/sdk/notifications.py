"""Telling a shopper what a plugin did: ``notify`` writes the notification in the current
transaction; after the commit Mallow sends it on the channels the shopper chose (in-app always;
SMS, e-mail or a WeChat subscribe message when chosen and possible), once.

    from mallow.sdk import notify

    notify("group_succeeded", member.customer_id, key=f"group:{group.id}", title=product.title)

``event`` is one of :data:`EVENTS` (the message templates, in Chinese and English, are Mallow's);
``key`` names what happened within the plugin: the same event and key for the same shopper is
notified once, however often ``notify`` is called (a job run twice, a retried callback).
"""

from __future__ import annotations

from mallow.notifications import service
from mallow.plugins.acting import current_plugin

#: the events a plugin may notify a shopper of
EVENTS: tuple[str, ...] = service.PLUGIN_EVENTS


def notify(event: str, customer_id: int, *, key: str, **params: str | int) -> bool:
    """Notify shopper ``customer_id`` of the active store of ``event`` (``params`` fill the
    template: ``title`` for a group's product). Returns False when this shopper was already
    notified of ``key``. Raises ``ValueError`` for an event plugins may not send."""
    if event not in EVENTS:
        raise ValueError(f"a plugin may notify only of {', '.join(EVENTS)}, not {event!r}")
    source = current_plugin() or "plugin"
    return service.notify_customer(event, int(customer_id), f"{source}:{event}:{key}"[:100], dict(params))
