"""What the platform does to a store as a whole, over its life (the states: :data:`STORE_STATES`).

* **The merchant asks to close** (:func:`request_close`, the owner, 店铺设置 → 申请关店): an open
  store becomes ``closing`` at once: no new order through any path (the one gate is
  :func:`mallow.orders.checkout.place_order`), the storefront says the store is closing and lets
  shoppers see their orders, the console keeps fulfilling and refunding what was placed, jobs and
  sweeps go on. It becomes ``closed`` by itself once no order is open (:func:`finish_closing`,
  right away and in the ``stores.sweep``), or when an admin closes it. A store that never opened
  (``pending``) is closed at once.
* **A platform admin** suspends (reversible: :func:`suspend`, :func:`reopen`) or closes
  (:func:`close`, final) a store, always with a reason the merchant sees.
* **Closed** stores keep their data for ``MALLOW_STORE_RETENTION_DAYS`` (default 30) after
  ``closed_at`` (``purge_after``, the date the merchant is told), then :mod:`.purge` removes them.

Suspended, closed and purged stores run no jobs (:data:`mallow.tenants.models.JOBLESS_STATES`):
the runner drops a queued one and logs it. Every transition is an audit entry with its actor and
reason (``store.*``).
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta, UTC

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _

from mallow import audit
from mallow.db import db
from mallow.orders import aftersales_requests
from mallow.orders.models import Order
from mallow.qualifications.models import Qualification
from mallow.tenants.context import store_context
from mallow.tenants.models import STORE_STATES, Store
from mallow.validation import ValidationFailed

#: orders a closing store must still see through (shipped, delivered, refunded or cancelled)
OPEN_ORDER_STATES = ("pending_payment", "paid", "shipped", "delivered")
DEFAULT_RETENTION_DAYS = 30


def retention() -> timedelta:
    """How long a closed store's data are kept (``MALLOW_STORE_RETENTION_DAYS``, default 30)."""
    days = current_app.config.get("MALLOW_STORE_RETENTION_DAYS")
    if days is None:
        days = os.environ.get("MALLOW_STORE_RETENTION_DAYS") or DEFAULT_RETENTION_DAYS
    return timedelta(days=max(0, int(days)))


def _now() -> datetime:
    return datetime.now(UTC)


def _reason(reason: str | None, message: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed({"reason": ("required", message)})
    return reason[:500]


def _move(store: Store, target: str) -> str:
    """The transition, or a 409-like refusal (:class:`~mallow.statemachine.InvalidTransition`)."""
    return STORE_STATES.move(store, target)


def _record(action: str, store: Store, actor, previous: str, reason: str | None = None) -> None:
    detail: dict = {"from": previous, "to": store.status}
    if reason:
        detail["reason"] = reason
    audit.record(action, actor=actor, store_id=store.id, target=f"store:{store.slug}", detail=detail)


def suspend(store: Store, admin, reason: str) -> Store:
    reason = _reason(reason, _("Tell the merchant why the store is suspended."))
    previous = _move(store, "suspended")
    store.status_reason = reason
    _record("store.suspended", store, admin, previous, reason)
    db.session.commit()
    return store


def reopen(store: Store, admin) -> Store:
    """A suspended store, or a closing one (the admin takes the merchant's request back), opens
    again; it needs an approved qualification."""
    STORE_STATES.check(store.status, "open")
    approved = db.session.execute(
        db.select(Qualification.id).where(Qualification.store_id == store.id, Qualification.status == "approved")
    ).first()
    if approved is None:
        raise ValidationFailed(
            {"status": ("no_approved_qualification", _("The store has no approved qualification: it cannot open."))}
        )
    previous = _move(store, "open")
    store.status_reason = None
    store.close_requested_at = None
    _record("store.reopened", store, admin, previous)
    db.session.commit()
    return store


def request_close(store: Store, merchant, reason: str, confirmed: bool) -> Store:
    """The owner asks to close the store: ``closing`` (``closed`` at once when nothing is open,
    or when the store never opened)."""
    errors = {}
    try:
        reason = _reason(reason, _("Tell the platform why you close the store."))
    except ValidationFailed as failed:
        errors.update(failed.errors)
    if not confirmed:
        errors["confirm"] = ("required", _("Tick the box to confirm that the store closes."))
    if errors:
        raise ValidationFailed(errors)
    store_id = store.id
    if store.status == "pending":
        _mark_closed(store, merchant, reason, "store.close_requested")
        db.session.commit()
        return store
    previous = _move(store, "closing")
    store.status_reason = reason
    store.close_requested_at = _now()
    _record("store.close_requested", store, merchant, previous, reason)
    db.session.commit()
    finish_closing(store_id)
    db.session.refresh(store)
    return store


def close(store: Store, admin, reason: str) -> Store:
    """A platform admin closes the store now (final; the data are purged after the retention)."""
    reason = _reason(reason, _("Tell the merchant why the store is closed."))
    _mark_closed(store, admin, reason, "store.closed")
    db.session.commit()
    return store


def _mark_closed(store: Store, actor, reason: str | None, action: str) -> None:
    previous = _move(store, "closed")
    now = _now()
    store.closed_at = now
    store.purge_after = now + retention()
    if reason:
        store.status_reason = reason
    _record(action, store, actor, previous, reason)
    if action != "store.closed":  # the close request closed it at once: say so too
        audit.record(
            "store.closed",
            actor=actor,
            store_id=store.id,
            target=f"store:{store.slug}",
            detail={"from": previous, "to": "closed", "reason": reason or ""},
        )


def open_orders() -> int:
    """In the active store: orders not yet finished (unpaid, paid, shipped, delivered) or with an
    after-sales request in progress."""
    return int(
        db.session.execute(
            sa.select(sa.func.count(Order.id)).where(
                sa.or_(Order.status.in_(OPEN_ORDER_STATES), aftersales_requests.in_progress())
            )
        ).scalar_one()
    )


def finish_closing(store_id: int) -> bool:
    """Close a ``closing`` store with no open order (in its own store context); True if it closed."""
    with store_context(store_id, app=current_app._get_current_object()) as store:
        return finish_closing_here(store)


def finish_closing_here(store: Store) -> bool:
    """:func:`finish_closing` for the active store (the ``stores.sweep`` runs in its context)."""
    if store.status != "closing" or open_orders():
        return False
    _mark_closed(store, None, None, "store.closing_finished")
    db.session.commit()
    return True


def list_stores(status: str | None = None) -> list[Store]:
    query = db.select(Store).order_by(Store.id.desc())
    if status:
        query = query.where(Store.status == status)
    return list(db.session.execute(query).scalars())


def store_by_slug(slug: str) -> Store | None:
    return db.session.execute(db.select(Store).where(Store.slug == slug)).scalar_one_or_none()
