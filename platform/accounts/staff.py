"""A store's team: the owner adds and removes staff (merchant accounts) in the store's own
``staff`` table. Removing a member ends their access on their next request."""

from __future__ import annotations

from flask_babel import gettext as _

from mallow import audit
from mallow.accounts.models import Merchant, Staff
from mallow.accounts.passwords import PASSWORD_MESSAGES, hash_password, password_problem
from mallow.db import db, utcnow
from mallow.validation import EMAIL_RE, Errors, ValidationFailed, normalise_email, text


def owner_seed(merchant_id: int):
    """What a new store's schema is seeded with (:func:`mallow.tenants.provisioning.provision_store`):
    merchant ``merchant_id`` as its owner, in the provisioning transaction."""

    def seed(connection) -> None:
        connection.execute(
            Staff.__table__.insert().values(merchant_id=merchant_id, role="owner", active=True, created_at=utcnow())
        )

    return seed


def members() -> list[tuple[Staff, Merchant | None]]:
    rows = list(db.session.execute(db.select(Staff).order_by(Staff.id)).scalars())
    accounts = (
        {
            m.id: m
            for m in db.session.execute(
                db.select(Merchant).where(Merchant.id.in_([r.merchant_id for r in rows]))
            ).scalars()
        }
        if rows
        else {}
    )
    return [(row, accounts.get(row.merchant_id)) for row in rows]


def add(store, owner, data) -> Staff:
    """Add a staff member by e-mail; a new account needs an initial password from the owner."""
    errors = Errors()
    email = normalise_email(text(data, "email", 254))
    if not EMAIL_RE.match(email):
        errors.add("email", "invalid", _("Enter a valid e-mail address."))
    errors.raise_if_any()
    merchant = db.session.execute(db.select(Merchant).filter_by(email=email)).scalar_one_or_none()
    if merchant is None:
        password = data.get("password") or ""
        problem = password_problem(password)
        if problem:
            raise ValidationFailed({"password": (problem, PASSWORD_MESSAGES[problem]())})
        merchant = Merchant(
            email=email, name=text(data, "name", 60) or email.split("@")[0], password_hash=hash_password(password)
        )
        db.session.add(merchant)
        db.session.flush()
    if db.session.execute(db.select(Staff.id).filter_by(merchant_id=merchant.id)).first():
        raise ValidationFailed({"email": ("taken", _("This person is in the team already."))})
    staff = Staff(merchant_id=merchant.id, role="staff")
    db.session.add(staff)
    audit.record("staff.added", actor=owner, store_id=store.id, target=f"merchant:{merchant.id}")
    db.session.commit()
    return staff


def remove(store, owner, staff_id: int) -> None:
    staff = db.session.get(Staff, staff_id)
    if staff is None:
        raise LookupError(staff_id)
    if staff.role == "owner":
        raise ValidationFailed({"staff": ("owner", _("The owner cannot be removed."))})
    db.session.delete(staff)
    audit.record("staff.removed", actor=owner, store_id=store.id, target=f"merchant:{staff.merchant_id}")
    db.session.commit()
