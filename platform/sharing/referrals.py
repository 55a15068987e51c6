"""Who referred a new shopper: the referral code of the share link a visitor came through is
kept in their session (per store, :data:`MAX_AGE`); when that visitor places their first order,
the order keeps its sharer (:class:`ShareReferral`), written in the order's transaction.

Mallow's own implementations of two hooks (registered as core hooks by ``create_app``):
``mallow_order_placed`` records the referral, ``mallow_order_completed`` grants the sharer the
merchant's reward (:mod:`mallow.sharing.rewards`). An order placed without a remembered code
costs nothing here: no statement.
"""

from __future__ import annotations

import logging
import time

import pluggy
import sqlalchemy as sa
from flask import has_request_context, session

from mallow.db import db
from mallow.orders.models import Order
from mallow.sharing import rewards
from mallow.sharing.models import ShareCode, ShareReferral
from mallow.tenants.context import current_store

log = logging.getLogger("mallow.sharing")
hookimpl = pluggy.HookimplMarker("mallow")

#: a referral code waits this long in the visitor's session for their first order
MAX_AGE = 30 * 86400


def _key() -> str:
    return f"mallow.share.ref.{current_store().id}"


def remember(code: str) -> None:
    session[_key()] = {"code": code, "at": int(time.time())}


def remembered() -> str | None:
    if not has_request_context() or current_store() is None:
        return None
    found = session.get(_key())
    if not isinstance(found, dict) or not isinstance(found.get("code"), str):
        return None
    if time.time() - int(found.get("at") or 0) > MAX_AGE:
        session.pop(_key(), None)
        return None
    return found["code"]


def forget() -> None:
    if has_request_context() and current_store() is not None:
        session.pop(_key(), None)


def code_from_options(options) -> str | None:
    """A referral code sent with an order by an API client: ``{"share_ref": …}``."""
    code = options.get("share_ref") if isinstance(options, dict) else None
    return code if isinstance(code, str) else None


def record(order: Order, code: str) -> ShareReferral | None:
    """Keep ``code``'s sharer on ``order`` when it is its buyer's first order in the store (and
    the buyer is not the sharer). Returns the referral, or None."""
    sharer = db.session.execute(sa.select(ShareCode.customer_id).where(ShareCode.code == code)).scalar_one_or_none()
    if sharer is None or sharer == order.customer_id:
        return None
    earlier = db.session.execute(
        sa.select(Order.id).where(Order.customer_id == order.customer_id, Order.id != order.id).limit(1)
    ).first()
    if earlier is not None:
        return None  # not a new shopper
    referral = ShareReferral(buyer_id=order.customer_id, order_id=order.id, sharer_id=sharer, code=code)
    db.session.add(referral)
    db.session.flush()
    return referral


@hookimpl
def mallow_order_placed(order, context):
    """The first order of a shopper who came through a share link keeps who shared it. Never
    refuses an order: a failure is logged and the order goes on without its referral."""
    from_options = code_from_options(getattr(context, "options", None))
    code = from_options or remembered()
    if code is None:
        return
    try:
        with db.session.begin_nested():
            record(order, code)
    except Exception:  # a referral must never cost the shopper their order
        log.exception("sharing: the referral of order %s could not be recorded", order.id)
    if not from_options:
        forget()  # spent: this was the shopper's first order, or they are not new


@hookimpl
def mallow_order_completed(order):
    """The referred first order completed: its sharer gets the reward of the merchant's rule of
    now, once (:func:`mallow.sharing.rewards.on_completed`)."""
    rewards.on_completed(order)


def referral_of(order_id: int) -> ShareReferral | None:
    return db.session.execute(sa.select(ShareReferral).where(ShareReferral.order_id == order_id)).scalar_one_or_none()
