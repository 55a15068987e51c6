"""The shopper's 我的 → 消息 (routes on the ``storefront`` blueprint): their messages, newest
first (opening one marks it read), and which channels they want per notification. The rules are in
:mod:`mallow.notifications`."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from mallow.accounts.guards import principal, shopper_required
from mallow.db import db
from mallow.notifications import labels, service
from mallow.validation import ValidationFailed
from mallow.web.blueprints import storefront as bp


def link_of(row) -> str | None:
    order_id = (row.params or {}).get("order_id")
    if row.event in ("order_shipped", "refund_done") and order_id:
        return url_for("storefront.order_detail", order_id=order_id)
    return None


@bp.get("/account/messages")
@shopper_required
def messages():
    customer = principal("shopper")
    return render_template(
        "storefront/messages.html",
        items=service.inbox("customer", customer.id),
        unread=service.unread_count("customer", customer.id),
        event_label=labels.event_label,
    )


@bp.get("/account/messages/<int:notification_id>")
@shopper_required
def message_detail(notification_id):
    customer = principal("shopper")
    row = service.get_own("customer", customer.id, notification_id)
    if row is None:
        abort(404)
    if row.read_at is None:
        service.mark_read("customer", customer.id, notification_id)
        db.session.commit()
        db.session.refresh(row)
    return render_template("storefront/message.html", item=row, link=link_of(row), event_label=labels.event_label)


@bp.route("/account/messages/settings", methods=["GET", "POST"])
@shopper_required
def message_settings():
    customer = principal("shopper")
    errors = {}
    if request.method == "POST":
        try:
            service.save_preferences_form("customer", customer.id, request.form)
            db.session.commit()
            flash(_("Your notification settings are saved."), "ok")
            return redirect(url_for("storefront.message_settings")), 303
        except ValidationFailed as failed:
            db.session.rollback()
            errors = failed.errors
    return render_template(
        "storefront/message_settings.html",
        prefs=service.preferences("customer", customer.id),
        errors=errors,
        event_label=labels.event_label,
        channel_label=labels.channel_label,
        languages=labels.LANGUAGE_LABELS,
    ), (422 if errors else 200)
