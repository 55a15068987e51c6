"""The group-buy log (``groupbuy_events``, shown in the console) and the order timeline entries
the plugin adds, so merchants and shoppers see on the order itself where its group stands."""

from __future__ import annotations

import logging

from mallow.sdk import add_order_event, db
from mallow_groupbuy.models import Event

log = logging.getLogger("mallow.plugins.groupbuy")
ACTOR = "plugin:groupbuy"


def log_event(kind: str, /, *, campaign_id=None, group_id=None, member_id=None, order_id=None, **detail) -> None:
    db.session.add(
        Event(
            kind=kind, campaign_id=campaign_id, group_id=group_id, member_id=member_id, order_id=order_id, detail=detail
        )
    )
    log.info("groupbuy %s group=%s member=%s order=%s %s", kind, group_id, member_id, order_id, detail)


def order_event(order_id: int, kind: str, **detail) -> None:
    """A timeline entry on the order (``groupbuy_opened``, ``groupbuy_joined``, …)."""
    add_order_event(order_id, kind, **detail)  # its actor is ACTOR
