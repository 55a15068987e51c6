"""Flask-Login wiring: ``current_user`` is the principal of the area a page belongs to."""

from __future__ import annotations

from flask import request

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
