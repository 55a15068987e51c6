"""What the platform does to a store as a whole: suspend it, reopen it, close it (platform admins)."""

from __future__ import annotations

from flask_babel import gettext as _

from mallow import audit
from mallow.db import db
from mallow.qualifications.models import Qualification
from mallow.tenants.models import STORE_STATES, Store
from mallow.validation import ValidationFailed


def suspend(store: Store, admin, reason: str) -> Store:
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed({"reason": ("required", _("Tell the merchant why the store is suspended."))})
    STORE_STATES.move(store, "suspended")
    store.status_reason = reason[:500]
    audit.record(
        "store.suspended", actor=admin, store_id=store.id, target=f"store:{store.slug}", detail={"reason": reason}
    )
    db.session.commit()
    return store


def reopen(store: Store, admin) -> Store:
    approved = db.session.execute(
        db.select(Qualification.id).where(Qualification.store_id == store.id, Qualification.status == "approved")
    ).first()
    if approved is None:
        raise ValidationFailed(
            {"status": ("no_approved_qualification", _("The store has no approved qualification: it cannot open."))}
        )
    STORE_STATES.move(store, "open")
    store.status_reason = None
    audit.record("store.reopened", actor=admin, store_id=store.id, target=f"store:{store.slug}")
    db.session.commit()
    return store


def list_stores(status: str | None = None) -> list[Store]:
    query = db.select(Store).order_by(Store.id.desc())
    if status:
        query = query.where(Store.status == status)
    return list(db.session.execute(query).scalars())
