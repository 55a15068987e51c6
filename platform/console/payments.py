"""The store's WeChat Pay keys and the sandbox switch in the console
(``/s/<slug>/console/payments``, the ``payments_console`` blueprint, the store's owner only).
"""

from __future__ import annotations

from flask import Blueprint, redirect, request, url_for

from mallow.accounts.guards import current_staff, staff_required
from mallow.db import db
from mallow.payments import sandbox, wechat
from mallow.payments.notify_urls import notify_url
from mallow.tenants.resolve import store_url_prefix
from mallow.validation import ValidationFailed
from mallow.web import render_form

bp = Blueprint("payments_console", __name__, url_prefix=store_url_prefix("/console/payments"))


def _console_context():
    reason = sandbox.availability()
    return {
        "wechat": wechat.summary(),
        "sandbox_enabled": reason is None,
        "sandbox_reason": reason,
        "sandbox_refusal": sandbox.refusal(reason) if reason else "",
        "notify_url": notify_url(wechat.NAME),
    }


@bp.route("/", methods=["GET", "POST"])
@staff_required(owner=True)
def settings():
    if request.method == "POST":
        try:
            wechat.save(request.form, f"staff:{current_staff().merchant_id}")
        except ValidationFailed as failed:
            db.session.rollback()
            return render_form("console/payments.html", errors=failed, **_console_context())
        db.session.commit()
        return redirect(url_for("payments_console.settings", saved=1)), 303
    return render_form("console/payments.html", saved=request.args.get("saved") == "1", **_console_context())


@bp.post("/sandbox")
@staff_required(owner=True)
def sandbox_switch():
    sandbox.set_enabled(request.form.get("enabled") == "1", f"staff:{current_staff().merchant_id}")
    db.session.commit()
    return redirect(url_for("payments_console.settings")), 303
