"""What the pages call the events and channels (the page's language, through Flask-Babel)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

EVENT_LABELS = {
    "order_paid": _l("New paid order"),
    "aftersale_requested": _l("New after-sales request"),
    "qualification_approved": _l("Qualification approved"),
    "qualification_rejected": _l("Qualification rejected"),
    "qualification_expiring": _l("Qualification expiring"),
    "low_stock": _l("Low stock"),
    "order_shipped": _l("Order shipped"),
    "refund_done": _l("Refund done"),
    "group_succeeded": _l("Group complete"),
    "group_failed": _l("Group not complete"),
    "share_reward": _l("Referral reward"),
    "coupon_expiring": _l("Coupon expiring"),
}
CHANNEL_LABELS = {
    "in_app": _l("In-app message"),
    "email": _l("E-mail"),
    "sms": _l("SMS"),
    "wechat": _l("WeChat message"),
}
LANGUAGE_LABELS = {"zh_CN": "简体中文", "en": "English"}


def event_label(name: str) -> str:
    return str(EVENT_LABELS.get(name, name))


def channel_label(name: str) -> str:
    return str(CHANNEL_LABELS.get(name, name))
