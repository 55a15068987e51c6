"""Flask-Login wiring: ``current_user`` is the principal of the area a page belongs to."""

from __future__ import annotations

from flask import request
from flask_login import current_user
from flask_login.utils import _user_context_processor

from mallow.accounts.guards import principal
from mallow.extensions import login_manager

#: blueprint → principal kind shown as ``current_user`` in its templates
AREAS = {
    "admin": "admin",
    "merchant": "merchant",
    "console": "merchant",
    "storefront": "shopper",
    "api": None,
    "store_api": "shopper",
    "console_api": "merchant",
    "devconsole": "developer",
    "dev_api": "developer",
}


def init_app(app) -> None:
    login_manager.login_view = None

    @login_manager.request_loader
    def load_for_area(_request):
        kind = AREAS.get((request.blueprint or "").split(".")[0])
        return principal(kind) if kind else None

    _current_user_on_demand(app)


def _current_user() -> dict:
    return {"current_user": current_user}


def _current_user_on_demand(app) -> None:
    """Templates get ``current_user`` as Flask-Login's proxy, found when a template reads it.
    Flask-Login's own context processor finds the user before every template renders (its
    session-protection check hashes the client's address and browser, then the request loader
    runs), although two templates read it (the cart, the developer console): every other page
    paid for it. The proxy answers the same object on first use (Flask-Login keeps it in
    ``g._login_user``), so a template that reads it sees what it saw before."""
    processors = app.template_context_processors[None]
    processors[:] = [_current_user if f is _user_context_processor else f for f in processors]
