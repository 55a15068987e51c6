"""Merchant self sign-up: one merchant account, one pending store with its own schema, and
the merchant as the store's owner — all of it or nothing."""

from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy.exc import IntegrityError

from mallow import audit
from mallow.accounts import staff
from mallow.accounts.models import Merchant
from mallow.accounts.passwords import PASSWORD_MESSAGES, hash_password, password_problem
from mallow.db import db
from mallow.qualifications.matrix import Category
from mallow.tenants.models import Store
from mallow.tenants.provisioning import drop_store, provision_store
from mallow.tenants.slugs import normalise_slug, slug_problem
from mallow.validation import EMAIL_RE, Errors, ValidationFailed, normalise_email, text

SLUG_MESSAGES = {
    "required": lambda: _("Choose the store's web address."),
    "invalid": lambda: _(
        "Use 3–32 lower-case letters, digits and single hyphens; start and end with a letter or digit."
    ),
    "reserved": lambda: _("This address is reserved by the platform."),
    "taken": lambda: _("This address is already taken."),
}


def validate(data) -> dict:
    errors = Errors()
    values = {
        "email": normalise_email(text(data, "email", 254)),
        "password": data.get("password") or "",
        "name": text(data, "name", 60),
        "store_name": text(data, "store_name", 61),
        "slug": normalise_slug(text(data, "slug", 40)),
        "main_category": text(data, "main_category", 40),
    }
    if not EMAIL_RE.match(values["email"]):
        errors.add("email", "invalid", _("Enter a valid e-mail address."))
    elif db.session.execute(db.select(Merchant.id).filter_by(email=values["email"])).first():
        errors.add("email", "taken", _("An account with this e-mail address exists already. Sign in instead."))
    problem = password_problem(values["password"])
    if problem:
        errors.add("password", problem, PASSWORD_MESSAGES[problem]())
    if not values["name"]:
        errors.add("name", "required", _("Enter your name."))
    if not 2 <= len(values["store_name"]) <= 60:
        errors.add("store_name", "length", _("The store name needs 2–60 characters."))
    problem = slug_problem(values["slug"])
    if problem is None and db.session.execute(db.select(Store.id).filter_by(slug=values["slug"])).first():
        problem = "taken"
    if problem:
        errors.add("slug", problem, SLUG_MESSAGES[problem]())
    category = db.session.get(Category, values["main_category"]) if values["main_category"] else None
    if category is None or not category.active:
        errors.add("main_category", "invalid", _("Choose the store's main category."))
    errors.raise_if_any()
    return values


def signup_merchant(data) -> tuple[Merchant, Store]:
    """Validate and create; raises :class:`ValidationFailed` with nothing written."""
    values = validate(data)
    merchant = Merchant(email=values["email"], name=values["name"], password_hash=hash_password(values["password"]))
    store = Store(
        slug=values["slug"], name=values["store_name"], main_category=values["main_category"], status="pending"
    )
    store.owner = merchant
    db.session.add_all([merchant, store])
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        raise ValidationFailed({"slug": ("taken", SLUG_MESSAGES["taken"]())}) from None
    try:
        provision_store(store.id, connection=db.session.connection(), seed=staff.owner_seed(merchant.id))
        audit.record("merchant.signed_up", actor=merchant, store_id=store.id, target=f"store:{store.slug}")
        db.session.commit()
    except BaseException:
        db.session.rollback()
        drop_store(store.id)
        raise
    return merchant, store
