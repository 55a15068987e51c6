"""店铺设置 (``/s/<slug>/console/store``): the store's state as the platform sees it, and the
owner's request to close the store (申请关店: a reason and a confirmation; see
:mod:`mallow.stores.lifecycle`). Only the owner sees and sends it."""

from __future__ import annotations

from flask import redirect, request, url_for
from flask_babel import gettext as _

from mallow.accounts.guards import principal, staff_required
from mallow.statemachine import InvalidTransition
from mallow.stores import lifecycle
from mallow.tenants.context import current_store
from mallow.validation import ValidationFailed
from mallow.web import blueprints, render_form

bp = blueprints.console


def _page(errors: ValidationFailed | None = None, status: int = 200):
    store = current_store()
    open_orders = lifecycle.open_orders() if store.status == "closing" else 0
    return render_form(
        "console/store_settings.html",
        status,
        errors,
        open_orders=open_orders,
        retention_days=lifecycle.retention().days,
    )


@bp.get("/store")
@staff_required(owner=True)
def store_settings():
    return _page()


@bp.post("/store/close")
@staff_required(owner=True)
def request_store_close():
    try:
        lifecycle.request_close(
            current_store(), principal("merchant"), request.form.get("reason", ""), request.form.get("confirm") == "yes"
        )
    except ValidationFailed as failed:
        return _page(failed)
    except InvalidTransition:
        failed = ValidationFailed({"status": ("not_open", _("Only an open store can ask to close."))})
        page, _status = _page(failed)
        return page, 409
    return redirect(url_for("console.store_settings")), 303
