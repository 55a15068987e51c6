"""Password hashing (werkzeug's scrypt by default) and the rules a new password must meet."""

from __future__ import annotations

from flask import current_app
from flask_babel import gettext as _
from werkzeug.security import check_password_hash, generate_password_hash

MIN_LENGTH = 8
#: what each :func:`password_problem` code tells the person choosing the password
PASSWORD_MESSAGES = {
    "required": lambda: _("Enter a password."),
    "too_short": lambda: _("Use at least 8 characters."),
    "too_long": lambda: _("Use at most 128 characters."),
    "too_simple": lambda: _("Mix letters with digits or symbols."),
}

# Checked against so that an unknown account costs as much time as a wrong password.
_DUMMY_HASH: dict[str, str] = {}


def hash_password(password: str) -> str:
    return generate_password_hash(password, method=current_app.config["PASSWORD_HASH_METHOD"])


def verify_password(password_hash: str | None, password: str) -> bool:
    if not password_hash:
        method = current_app.config["PASSWORD_HASH_METHOD"]
        if method not in _DUMMY_HASH:
            _DUMMY_HASH[method] = generate_password_hash("x" * 12, method=method)
        check_password_hash(_DUMMY_HASH[method], password)
        return False
    return check_password_hash(password_hash, password)


def password_problem(password: str | None) -> str | None:
    if not password:
        return "required"
    if len(password) < MIN_LENGTH:
        return "too_short"
    if len(password) > 128:
        return "too_long"
    if password.isdigit() or password.isalpha():
        return "too_simple"
    return None
