"""Signing in and out with an e-mail and a password in a browser: the one flow behind the
platform admin's, the merchant's and the plugin developer's sign-in pages (each view adds its
rate limit, ``login_limits``, and names its template and where a signed-in account lands)."""

from __future__ import annotations

from flask import redirect, request, url_for
from flask_babel import gettext as _

from mallow.accounts import sessions
from mallow.accounts.authenticate import authenticate
from mallow.db import db
from mallow.validation import ValidationFailed
from mallow.web import render_form
from mallow.web.redirects import safe_next


def password_sign_in(kind: str, template: str, home_endpoint: str, **context):
    """The sign-in page of ``kind`` (``admin`` | ``merchant`` | ``developer``): the form, or on a
    POST the account signed in and sent on (to a safe ``next`` or ``home_endpoint``); a wrong
    e-mail or password is a field error on the password, never which of the two was wrong."""
    if request.method != "POST":
        return render_form(template, **context)
    account = authenticate(kind, request.form.get("email"), request.form.get("password"))
    if account is None:
        problem = ValidationFailed({"password": ("invalid", _("Wrong e-mail address or password."))})
        return render_form(template, errors=problem, **context)
    sessions.login_browser(account)
    db.session.commit()
    return redirect(safe_next(url_for(home_endpoint))), 303


def sign_out(kind: str, login_endpoint: str):
    """End the browser session of ``kind`` and show its sign-in page."""
    sessions.logout_browser(kind)
    db.session.commit()
    return redirect(url_for(login_endpoint)), 303
