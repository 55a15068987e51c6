"""What shoppers and merchants read about group-buy orders and groups, never a raw key: the order
state while the group still forms (待成团), the timeline entries the plugin writes on orders, the
group log of the console, and where the shopper lands once a group-buy order is paid (the group,
with its invite action)."""

from __future__ import annotations


from mallow.sdk import fen_to_yuan
from mallow_groupbuy.i18n import _


def _member(order_id: int):
    from mallow_groupbuy.lifecycle import member_of

    return member_of(order_id)


def order_status_label(order) -> str | None:
    """待成团 for a paid order whose group still waits for members (it ships once the group
    succeeds); None for every other order (Mallow's own label)."""
    if getattr(order, "status", None) != "paid":
        return None
    member = _member(order.id)
    if member is None or member.status != "joined" or member.group_id is None:
        return None
    from mallow.sdk import db
    from mallow_groupbuy.models import Group

    group = db.session.get(Group, member.group_id)
    if group is None or group.status != "open":
        return None
    return _("Waiting for the group")


def _people(detail: dict) -> str:
    if detail.get("headcount") and detail.get("size"):
        return _("%(headcount)s of %(size)s people", headcount=detail["headcount"], size=detail["size"])
    return ""


def order_event_label(event) -> str | None:
    """The order timeline's entries the plugin writes, and Mallow's ``cancelled`` when the group
    closed before the order was paid."""
    detail = event.detail or {}
    kind = event.kind
    if kind == "cancelled":
        return _("Cancelled: the group closed before payment") if detail.get("reason") == "groupbuy_closed" else None
    if kind == "groupbuy_opened":
        size = detail.get("size")
        return _("Group opened (group of %(size)s)", size=size) if size else _("Group opened")
    if kind == "groupbuy_joined":
        people = _people(detail)
        return _("Joined the group (%(people)s)", people=people) if people else _("Joined the group")
    if kind == "groupbuy_succeeded":
        headcount = detail.get("headcount")
        return (
            _("Group complete with %(n)s people: the order goes on to shipping", n=headcount)
            if headcount
            else _("Group complete: the order goes on to shipping")
        )
    if kind == "groupbuy_left":
        return _("Left the group with a refund")
    if kind == "groupbuy_refunding":
        return _("The group did not complete: a full refund is on its way")
    return None


def after_payment_url(order) -> str | None:
    """A paid group-buy order: the shopper's group (its invite action and countdown)."""
    member = _member(order.id)
    if member is None or member.group_id is None:
        return None
    from mallow_groupbuy import present

    return present.shop_url("group", group_id=member.group_id, paid=1)


# --- the console's group log (groupbuy_events) ------------------------------------------------


def log_labels() -> dict[str, str]:
    return {
        "member_ordered": _("Member ordered"),
        "member_joined": _("Member paid and joined"),
        "group_opened": _("Group opened"),
        "member_dropped": _("Unpaid order closed, seat freed"),
        "paid_after_close": _("Paid after the group closed: refunded in full"),
        "member_refunded_after_close": _("Refunded: the group had closed"),
        "member_left": _("Member refunded and left"),
        "leader_handed_over": _("Leadership handed on"),
        "group_cancelled": _("Group closed: everyone left"),
        "group_succeeded": _("Group succeeded"),
        "group_failed": _("Group failed: not enough people in time"),
        "refund_owed": _("Refund owed"),
        "refund_requested": _("Refund sent to the payment service"),
        "refund_done": _("Refund done"),
        "refund_failed": _("Refund failed: needs attention"),
        "refund_retry_scheduled": _("Refund to be retried"),
        "refund_retry_requested": _("Refund retry requested"),
    }


def log_label(kind: str) -> str:
    return log_labels().get(kind) or _("Group updated")


def log_detail(detail: dict | None) -> str:
    """The facts of a log entry people read (money in yuan, headcount, attempts), not its JSON."""
    detail = detail or {}
    parts = []
    if isinstance(detail.get("amount"), int):
        parts.append(f"¥{fen_to_yuan(detail['amount'])}")
    if detail.get("refund_kind") in ("full", "difference"):
        parts.append(_("full refund") if detail["refund_kind"] == "full" else _("price difference"))
    people = _people(detail)
    if people:
        parts.append(people)
    if isinstance(detail.get("attempts"), int) and detail["attempts"]:
        parts.append(_("attempt %(n)s", n=detail["attempts"]))
    return " · ".join(parts)


def refund_error_label(code: str | None) -> str:
    """Why a refund has to be retried, for the merchant (the provider's code stays in the log)."""
    if not code:
        return ""
    if code == "closed_by_provider":
        return _("The payment service closed the refund")
    return _("The payment service refused the refund")
