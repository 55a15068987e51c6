"""The merchant console's 站内信 (routes on the ``console`` blueprint, staff of the store): the
inbox with its unread count (also in the console's nav), a message (opening it marks it read),
and the staff member's notification preferences. The rules are in :mod:`mallow.notifications`."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from mallow.accounts.guards import current_staff, staff_required
from mallow.db import db
from mallow.notifications import labels, service
from mallow.validation import ValidationFailed
from mallow.web.blueprints import console as bp


@bp.context_processor
def _unread():
    """``notifications_unread()`` for the nav: counted only when a page's nav asks for it."""

    def unread() -> int:
        staff = current_staff()
        return service.unread_count("staff", staff.id) if staff is not None else 0

    return {"notifications_unread": unread}


def link_of(row) -> str | None:
    """Where a message points in the console."""
    order_id = (row.params or {}).get("order_id")
    if row.event == "order_paid" and order_id:
        return url_for("console.order_detail", order_id=order_id)
    if row.event == "aftersale_requested":
        return url_for("console.aftersales_list", status="requested")
    if row.event.startswith("qualification_"):
        return url_for("console.qualification")
    if row.event == "low_stock":
        return url_for("console.products_list")
    return None


@bp.get("/notifications")
@staff_required
def notifications_list():
    staff = current_staff()
    unread_only = request.args.get("unread") == "1"
    rows = service.inbox("staff", staff.id, unread_only=unread_only)
    return render_template(
        "console/notifications.html",
        items=rows,
        unread=service.unread_count("staff", staff.id),
        unread_only=unread_only,
        event_label=labels.event_label,
    )


@bp.get("/notifications/<int:notification_id>")
@staff_required
def notification_detail(notification_id):
    staff = current_staff()
    row = service.get_own("staff", staff.id, notification_id)
    if row is None:
        abort(404)
    if row.read_at is None:
        service.mark_read("staff", staff.id, notification_id)
        db.session.commit()
        db.session.refresh(row)
    return render_template("console/notification.html", item=row, link=link_of(row), event_label=labels.event_label)


@bp.post("/notifications/read-all")
@staff_required
def notifications_read_all():
    service.mark_read("staff", current_staff().id)
    db.session.commit()
    flash(_("All messages are marked read."), "ok")
    return redirect(url_for("console.notifications_list")), 303


@bp.route("/notifications/preferences", methods=["GET", "POST"])
@staff_required
def notification_preferences():
    staff = current_staff()
    errors = {}
    if request.method == "POST":
        try:
            service.save_preferences_form("staff", staff.id, request.form)
            db.session.commit()
            flash(_("Your notification settings are saved."), "ok")
            return redirect(url_for("console.notification_preferences")), 303
        except ValidationFailed as failed:
            db.session.rollback()
            errors = failed.errors
    return render_template(
        "console/notification_preferences.html",
        prefs=service.preferences("staff", staff.id),
        errors=errors,
        smtp=service.smtp_configured(),
        event_label=labels.event_label,
        channel_label=labels.channel_label,
        languages=labels.LANGUAGE_LABELS,
    ), (422 if errors else 200)
