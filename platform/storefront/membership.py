"""The shopper's membership pages (routes on the ``storefront`` blueprint): 我的 → 会员中心
(``/account/member``: the level and its benefits, the growth and what the next level still
needs, the points balance with the soonest expiry, the birthday, set once) and 积分明细
(``/account/points``: the ledger, newest first, paginated), plus the 会员 card on 我的 (the
template global ``member_card``) and the words of the checkout's 积分 row (:func:`points_row`).

The rules and the numbers live in :mod:`mallow.membership.service`; this module only words them.
A store whose programme is off has no card and its pages answer 404 (before asking a guest to
sign in: there is nothing to sign in for). Every form carries the CSRF token.
"""

from __future__ import annotations

import math
import re
from datetime import date, datetime, UTC
from functools import wraps

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import format_datetime, gettext as _

from mallow.accounts.guards import principal, shopper_required
from mallow.db import db
from mallow.membership import service
from mallow.money import fen_to_price
from mallow.validation import ValidationFailed
from mallow.web import render_form
from mallow.web.blueprints import storefront as bp

PER_PAGE = 20
_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")


def program_on() -> bool:
    """Whether the active store runs its membership programme."""
    return bool(service.program().get("enabled"))


def member_pages(view):
    """A membership page: 404 while the store's programme is off (checked before the sign-in)."""

    @wraps(view)
    def wrapped(*args, **kwargs):
        if not program_on():
            abort(404)
        return view(*args, **kwargs)

    return wrapped


def _aware(moment: datetime | None) -> datetime | None:
    return moment.replace(tzinfo=UTC) if moment is not None and moment.tzinfo is None else moment


def day(moment: datetime | None) -> str:
    """A stored UTC time as the store's date (``2025-03-01``)."""
    return format_datetime(_aware(moment), "yyyy-MM-dd") if moment else ""


def growth_text(value: int | None, basis: str) -> str:
    """Growth (or a threshold) in the unit levels are measured by: ``¥1,280.00`` of spend or
    ``1280 points``."""
    if value is None:
        return ""
    if basis == "points":
        return _("%(points)s points", points=value)
    return fen_to_price(value)


def kind_labels() -> dict[str, str]:
    return {
        "earn": _("Earned on an order"),
        "redeem": _("Used at checkout"),
        "return": _("Returned"),
        "clawback": _("Taken back after a refund"),
        "expire": _("Expired"),
        "adjust": _("Adjusted by the store"),
        "reward": _("Reward"),
    }


def summary(customer_id: int) -> dict:
    """The shopper's membership in words (会员中心 and the card on 我的)."""
    rules = service.program()
    found = service.membership_of(customer_id)
    basis = rules.get("level_basis", "spend")
    expiring = None
    if found.expiring and found.expiring_at is not None:
        expiring = _("%(points)s points expire on %(date)s", points=found.expiring, date=day(found.expiring_at))
    progress = 100
    if found.next_level is not None and found.next_level.threshold > 0:
        progress = max(0, min(100, math.floor(found.growth * 100 / found.next_level.threshold)))
    return {
        "level": found.level.name if found.level is not None else _("Member"),
        "has_level": found.level is not None,
        "benefits": list(found.benefits),
        "next_level": found.next_level.name if found.next_level is not None else None,
        "growth": growth_text(found.growth, basis),
        "to_next": growth_text(found.to_next, basis) if found.to_next is not None else None,
        "progress": progress,
        "basis": basis,
        "points": found.points,
        "points_value": fen_to_price(service.points_value(max(found.points, 0))) if found.points > 0 else None,
        "expiring": expiring,
        "birthday": found.birthday,
        "earn_per_yuan": int(rules.get("earn_per_yuan") or 0),
        "points_per_yuan": int(rules.get("points_per_yuan") or 0),
    }


@bp.app_template_global("member_card")
def member_card() -> dict | None:
    """我的's 会员 card: the signed-in shopper's level, points and expiry; None when the store's
    programme is off or nobody is signed in."""
    shopper = principal("shopper")
    if shopper is None or not program_on():
        return None
    return summary(shopper.id) | {
        "url": url_for("storefront.account_member"),
        "points_url": url_for("storefront.account_points"),
    }


def _render_centre(customer_id: int, errors: ValidationFailed | None = None):
    member = summary(customer_id)
    return render_form(
        "storefront/membership.html",
        errors=errors,
        member=member,
        levels=[
            {"name": level.name, "threshold": growth_text(level.threshold, member["basis"])}
            for level in service.list_levels()
        ],
        today=date.today().isoformat(),
    )


@bp.get("/account/member")
@member_pages
@shopper_required
def account_member():
    """会员中心: the level and its benefits, the growth and the next level, points, birthday."""
    return _render_centre(principal("shopper").id)


def parse_day(raw: str) -> date:
    """``YYYY-MM-DD`` (the date input's value) → a date; ValidationFailed on ``birthday``."""
    found = _DATE.match((raw or "").strip())
    if found is None:
        raise ValidationFailed({"birthday": ("invalid", _("Choose your birthday."))})
    try:
        return date(int(found.group(1)), int(found.group(2)), int(found.group(3)))
    except ValueError:
        raise ValidationFailed({"birthday": ("invalid", _("Choose your birthday."))}) from None


@bp.post("/account/member/birthday")
@member_pages
@shopper_required
def account_member_birthday():
    """Set the birthday (once: the birthday coupon is given once a year on it)."""
    customer_id = principal("shopper").id
    try:
        service.set_birthday(customer_id, parse_day(request.form.get("birthday", "")))
    except ValidationFailed as failed:
        db.session.rollback()
        return _render_centre(customer_id, failed)
    db.session.commit()
    flash(_("Your birthday was saved."), "success")
    return redirect(url_for("storefront.account_member")), 303


def page_number() -> int:
    raw = request.args.get("page", "1")
    return int(raw) if raw.isascii() and raw.isdigit() and 0 < len(raw) < 6 and int(raw) > 0 else 1


def pager(page: int, total: int, per_page: int, endpoint: str, **args) -> dict | None:
    """The storefront pager (``_pager.html``): None on a single page."""
    pages = max(1, math.ceil(total / per_page))
    if pages <= 1:
        return None
    return {
        "page": page,
        "pages": pages,
        "prev": url_for(endpoint, page=page - 1, **args) if page > 1 else None,
        "next": url_for(endpoint, page=page + 1, **args) if page < pages else None,
    }


def entry_view(entry, labels: dict[str, str]) -> dict:
    return {
        "id": entry.id,
        "kind": entry.kind,
        "label": labels.get(entry.kind, ""),
        "points": entry.points,
        "signed": f"+{entry.points}" if entry.points > 0 else str(entry.points),
        "balance_after": entry.balance_after,
        "reason": entry.reason or labels.get(entry.kind, ""),
        "order_url": url_for("storefront.order_detail", order_id=entry.order_id) if entry.order_id else None,
        "when": format_datetime(_aware(entry.created_at), "yyyy-MM-dd HH:mm") if entry.created_at else "",
        "expires": day(entry.expires_at) if entry.expires_at is not None and entry.points > 0 else None,
    }


@bp.get("/account/points")
@member_pages
@shopper_required
def account_points():
    """积分明细: each entry with its sign, reason, order, date and, for a lot, its expiry."""
    customer_id = principal("shopper").id
    page = page_number()
    entries, total = service.ledger(customer_id, page=page, per_page=PER_PAGE)
    if not entries and page > 1 and total:
        return redirect(url_for("storefront.account_points")), 303
    labels = kind_labels()
    return render_template(
        "storefront/points.html",
        member=summary(customer_id),
        entries=[entry_view(e, labels) for e in entries],
        total=total,
        listing={"pager": pager(page, total, PER_PAGE, "storefront.account_points")},
    )


# --- the checkout's 积分 row ---------------------------------------------------------------------

#: the checkout's pricing option (``options["points"]``: a number of points, ``"max"``, or absent)
POINTS_OPTION = "points"
#: the pricing stage and source of the points' adjustment
POINTS_STAGE, POINTS_SOURCE = "points", "membership"


def points_choice(raw: str | None, placing: bool) -> str:
    """The points a checkout request asks for: ``"none"``, ``"max"`` or a number of points. The
    page carries the number it priced with (hidden ``points``): placing the order uses exactly
    that number; re-pricing it (another coupon, another address) asks for ``"max"`` again, since
    what the cap allows moves with the goods payable."""
    value = (raw or "").strip()
    if value == "max":
        return "max"
    if value.isascii() and value.isdigit() and 0 < len(value) < 10 and int(value) > 0:
        return value if placing else "max"
    return "none"


def points_options(choice: str) -> dict:
    """The pricing options of a points choice (none: no option at all)."""
    if choice == "max":
        return {POINTS_OPTION: "max"}
    if choice.isdigit():
        return {POINTS_OPTION: int(choice)}
    return {}


def _points_adjustment(priced):
    return next(
        (a for a in priced.adjustments if a.stage == POINTS_STAGE and a.source == POINTS_SOURCE),
        None,
    )


def points_used(priced, points_per_yuan: int) -> int:
    """How many points a priced order uses: the number its points adjustment names
    (``points:<n>``), else its value at the programme's rate."""
    adjustment = _points_adjustment(priced)
    if adjustment is None:
        return 0
    named = adjustment.code.partition(":")[2]
    if adjustment.code.startswith("points:") and named.isdigit():
        return int(named)
    return -adjustment.amount * points_per_yuan // 100 if points_per_yuan > 0 else 0


def points_row(customer_id: int, priced) -> dict | None:
    """The checkout's 积分 row: the balance, the most points this order may use and their value,
    whether they are used (the switch) and the number the page priced with; None when the
    programme is off or the shopper has no points."""
    rules = service.program()
    if not rules.get("enabled"):
        return None
    adjustment = _points_adjustment(priced)
    before = priced.items_total + sum(
        a.amount for a in priced.all_adjustments if a.stage not in (POINTS_STAGE, "shipping")
    )
    found = service.redeemable(customer_id, max(before, 0))
    if found.balance <= 0 and adjustment is None:
        return None
    used = points_used(priced, found.points_per_yuan)
    return {
        "balance": found.balance,
        "max_points": found.max_points,
        "max_value": found.max_value_fen,
        "on": adjustment is not None,
        "used": used,
        "saving": -adjustment.amount if adjustment is not None else 0,
        "value": str(used) if used else "none",
    }
