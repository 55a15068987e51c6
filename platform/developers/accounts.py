"""A developer signs up with an e-mail address, a password (hashed like a merchant's) and the
name shown to reviewers; signing in and tokens go through :mod:`mallow.accounts`."""

from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy.exc import IntegrityError

from mallow import audit
from mallow.accounts.models import Developer
from mallow.accounts.passwords import PASSWORD_MESSAGES, hash_password, password_problem
from mallow.db import db
from mallow.validation import EMAIL_RE, Errors, ValidationFailed, normalise_email, text


def _email_taken() -> ValidationFailed:
    return ValidationFailed(
        {"email": ("taken", _("An account with this e-mail address exists already. Sign in instead."))}
    )


def signup_developer(data) -> Developer:
    """Validate and create (committed); raises :class:`ValidationFailed` with nothing written."""
    errors = Errors()
    email, password, name = (
        normalise_email(text(data, "email", 254)),
        data.get("password") or "",
        text(data, "name", 60),
    )
    if not EMAIL_RE.match(email):
        errors.add("email", "invalid", _("Enter a valid e-mail address."))
    elif db.session.execute(db.select(Developer.id).filter_by(email=email)).first():
        errors.add("email", *_email_taken().errors["email"])
    problem = password_problem(password if isinstance(password, str) else "")
    if problem:
        errors.add("password", problem, PASSWORD_MESSAGES[problem]())
    if not name:
        errors.add("name", "required", _("Enter the name reviewers and merchants will see."))
    errors.raise_if_any()
    developer = Developer(email=email, name=name, password_hash=hash_password(password))
    db.session.add(developer)
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        raise _email_taken() from None
    audit.record("developer.signed_up", actor=developer, target=f"developer:{developer.id}")
    db.session.commit()
    return developer
