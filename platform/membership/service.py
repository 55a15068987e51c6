"""Membership and points: the store's programme (earning rate, redemption rate and cap, validity,
what levels are measured by), member levels and their benefits, each shopper's member row and
points ledger.

The ledger is made of *lots*: every positive entry (``earn``, ``return``, ``reward``, ``adjust`` > 0)
carries ``remaining`` and ``expires_at``; spending (``redeem``, ``clawback``, ``adjust`` < 0,
``expire``) consumes lots soonest-expiring first (never-expiring lots last). The balance lives on
the member row (:class:`~mallow.membership.models.Member`) and changes only through conditional
UPDATEs (``balance = balance + n WHERE balance + n >= 0`` for a spend): two concurrent redemptions
can never overdraw it. A clawback larger than the balance leaves it negative rather than inventing
points: a negative balance blocks redemption until points are earned again.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from math import gcd
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import aliased

from mallow import audit, compliance, settings
from mallow.accounts.models import Customer
from mallow.coupons.models import Coupon
from mallow.db import db, sqltext
from mallow.membership.models import LEVEL_BASES, LOT_KINDS, Member, MemberLevel, PointEntry
from mallow.tenants.context import current_store
from mallow.validation import Errors, ValidationFailed
from mallow.web.ids import id_value

__all__ = [
    "Membership",
    "MemberLevel",
    "PointEntry",
    "Redeemable",
    "adjust",
    "delete_level",
    "grant",
    "ledger",
    "list_levels",
    "membership_of",
    "program",
    "redeemable",
    "save_level",
    "set_birthday",
    "update_program",
]


@dataclass(frozen=True)
class Membership:
    """What a shopper sees of their membership (我的 → 会员中心)."""

    level: MemberLevel | None
    next_level: MemberLevel | None
    #: the value levels are measured by: fen of completed spend, or points earned (``level_basis``)
    growth: int
    #: what is still needed for ``next_level`` (None: at the top)
    to_next: int | None
    #: the points balance (may be negative after a clawback)
    points: int
    #: the soonest-expiring lot's remaining points and its date, if it expires within 30 days
    expiring: int
    expiring_at: datetime | None
    birthday: date | None
    #: the level's benefits as translated texts ("会员价 9.5折", "包邮", "生日券")
    benefits: list[str]


@dataclass(frozen=True)
class Redeemable:
    """What the checkout may offer: the balance, the most points usable on this order (the cap
    and the rate applied; whole-fen steps only) and what they are worth."""

    balance: int
    max_points: int
    max_value_fen: int
    #: points worth ¥1 (so a page can show the value of any number)
    points_per_yuan: int


#: the store setting that holds the programme
KEY = "membership"
#: China time: birthdays and "this year" are local
LOCAL = ZoneInfo("Asia/Shanghai")
MAX_POINTS = 100_000_000
MAX_THRESHOLD = 10_000_000_00
MAX_VALIDITY_DAYS = 3650
#: a lot "expires soon" (shown in 我的) within this
EXPIRING_WITHIN = timedelta(days=30)
#: the lots the expiry sweep handles at most per run (the next run goes on)
EXPIRIES_PER_RUN = 2000


class PointsRefused(Exception):
    """A spend the balance cannot cover (the caller turns it into a field error or a problem)."""


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(moment: datetime | None) -> datetime | None:
    return moment.replace(tzinfo=UTC) if moment is not None and moment.tzinfo is None else moment


# --- the programme -------------------------------------------------------------------------


def program() -> dict:
    """The store's membership & points rules (the store setting ``membership``, its defaults when
    never set): ``{"enabled": bool, "earn_per_yuan": int (points per ¥1 paid for goods on a
    completed order, 0 = off), "points_per_yuan": int (points worth ¥1 at checkout, e.g. 100),
    "redeem_cap_percent": int 1..100 (the most of the goods payable points may pay),
    "validity_days": int (0 = never expire; else a lot expires that many days after it was
    added), "level_basis": "spend" | "points"}``."""
    stored = settings.get(KEY)
    merged = dict(settings.DEFAULTS[KEY])
    if isinstance(stored, dict):
        merged.update({k: v for k, v in stored.items() if k in merged})
    return merged


def _whole(data, key: str, errors: Errors, low: int, high: int) -> int | None:
    raw = data.get(key)
    value = None
    if isinstance(raw, int) and not isinstance(raw, bool):
        value = raw
    elif isinstance(raw, str) and raw.strip().isascii() and raw.strip().isdigit():
        value = int(raw.strip())
    if value is None or not low <= value <= high:
        errors.add(key, "invalid", _("Enter a whole number from %(low)s to %(high)s.", low=low, high=high))
        return None
    return value


def _flag(raw) -> bool | None:
    if isinstance(raw, bool):
        return raw
    if raw in ("1", "true", "on", "yes", 1):
        return True
    if raw in ("0", "false", "off", "no", "", 0, None):
        return False
    return None


def update_program(data: dict) -> dict:
    """Check and store the keys of ``data`` that are sent (the others keep their value); raises
    :class:`~mallow.validation.ValidationFailed` with field errors; the caller commits. Returns
    the programme as :func:`program` answers it after the commit."""
    if not isinstance(data, dict):
        raise ValidationFailed({"enabled": ("invalid", _("This value is not valid."))})
    errors = Errors()
    values = program()
    if "enabled" in data:
        flag = _flag(data.get("enabled"))
        if flag is None:
            errors.add("enabled", "invalid", _("This value is not valid."))
        else:
            values["enabled"] = flag
    limits = {
        "earn_per_yuan": (0, 10_000),
        "points_per_yuan": (1, 100_000),
        "redeem_cap_percent": (1, 100),
        "validity_days": (0, MAX_VALIDITY_DAYS),
    }
    for key, (low, high) in limits.items():
        if key in data:
            value = _whole(data, key, errors, low, high)
            if value is not None:
                values[key] = value
    if "level_basis" in data:
        if data.get("level_basis") not in LEVEL_BASES:
            errors.add("level_basis", "invalid", _("Choose what member levels are measured by."))
        else:
            values["level_basis"] = data["level_basis"]
    errors.raise_if_any()
    settings.put(KEY, values)
    return dict(values)  # (the store's kept settings change with the commit)


# --- levels --------------------------------------------------------------------------------


def list_levels() -> list[MemberLevel]:
    """The store's levels, lowest threshold first."""
    return list(db.session.execute(sa.select(MemberLevel).order_by(MemberLevel.threshold)).scalars())


def get_level(level_id) -> MemberLevel | None:
    """The level with this id (any form of id; None when not found)."""
    value = id_value(level_id)
    return db.session.get(MemberLevel, value) if value is not None else None


def _screen(name: str) -> None:
    """A level's name is shown to shoppers as a claim (会员价): screened for Advertising-Law
    terms like a coupon's name; every term refuses it."""
    store = current_store()
    found = compliance.check_fields({"name": name}, category=store.main_category if store is not None else None)
    if found:
        raise ValidationFailed(
            {
                "name": (
                    "prohibited_term",
                    _(
                        "Remove “%(terms)s”: %(reason)s",
                        terms="、".join(dict.fromkeys(item.term for item in found)),
                        reason=found[0].reason,
                    ),
                )
            }
        )


def save_level(data: dict, level: MemberLevel | None = None) -> MemberLevel:
    """Create (``level`` None) or edit a level from ``name`` (≤ 20 characters, screened for
    Advertising-Law terms like coupon names), ``threshold`` (int ≥ 0, unique in the store),
    ``discount_percent`` (50..100), ``free_shipping`` (bool) and ``birthday_coupon_id`` (a coupon of
    the store, or None); an edit changes only what was sent. Raises ValidationFailed; flushed,
    the caller commits. Members' levels are recomputed."""
    if not isinstance(data, dict):
        raise ValidationFailed({"name": ("invalid", _("This value is not valid."))})
    errors = Errors()
    creating = level is None
    present = (lambda key: True) if creating else (lambda key: key in data)
    values: dict = {}
    if present("name"):
        raw = data.get("name")
        name = raw.replace("\x00", "").strip() if isinstance(raw, str) else ""
        if not name:
            errors.add("name", "required", _("Enter a name."))
        elif len(name) > 20:
            errors.add("name", "too_long", _("At most %(max)s characters.", max=20))
        values["name"] = name
    if present("threshold"):
        threshold = _whole(data, "threshold", errors, 0, MAX_THRESHOLD)
        if threshold is not None:
            clash = db.session.execute(
                sa.select(MemberLevel.id).where(
                    MemberLevel.threshold == threshold, MemberLevel.id != (level.id if level is not None else 0)
                )
            ).first()
            if clash is not None:
                errors.add("threshold", "taken", _("Another level has this threshold."))
            values["threshold"] = threshold
    if present("discount_percent"):
        if creating and data.get("discount_percent") in (None, ""):
            values["discount_percent"] = 100
        else:
            percent = _whole(data, "discount_percent", errors, 50, 100)
            if percent is not None:
                values["discount_percent"] = percent
    if present("free_shipping"):
        flag = _flag(data.get("free_shipping"))
        if flag is None:
            errors.add("free_shipping", "invalid", _("This value is not valid."))
        else:
            values["free_shipping"] = flag
    if present("birthday_coupon_id"):
        raw = data.get("birthday_coupon_id")
        if raw in (None, ""):
            values["birthday_coupon_id"] = None
        else:
            coupon_id = id_value(raw)
            if coupon_id is None or db.session.get(Coupon, coupon_id) is None:
                errors.add("birthday_coupon_id", "invalid", _("Choose one of the store's coupons."))
            else:
                values["birthday_coupon_id"] = coupon_id
    errors.raise_if_any()
    if values.get("name"):
        _screen(values["name"])
    if level is None:
        level = MemberLevel(**values)
        db.session.add(level)
    else:
        for key, value in values.items():
            setattr(level, key, value)
    db.session.flush()
    _recompute_levels()
    return level


def delete_level(level: MemberLevel) -> None:
    """Delete a level; its members drop to the level their growth reaches now. The caller commits."""
    db.session.delete(level)
    db.session.flush()
    _recompute_levels()


def _level_query(growth):
    """The id of the highest level ``growth`` reaches (a scalar subquery)."""
    level = aliased(MemberLevel)  # never correlated with an outer query's levels
    return (
        sa.select(level.id).where(level.threshold <= growth).order_by(level.threshold.desc()).limit(1).scalar_subquery()
    )


def _recompute_levels(customer_id: int | None = None) -> None:
    """Every member's level (or one member's) from their growth, in one UPDATE."""
    statement = sa.update(Member).values(level_id=_level_query(Member.growth))
    if customer_id is not None:
        statement = statement.where(Member.customer_id == customer_id)
    db.session.execute(statement.execution_options(synchronize_session=False))
    if customer_id is None:
        db.session.expire_all()  # the levels of members loaded before


# --- the member row and the ledger -----------------------------------------------------------


def _ensure_member(customer_id: int) -> None:
    """The shopper's member row, inserted if missing (a concurrent insert is no error)."""
    values = {"customer_id": customer_id, "balance": 0, "growth": 0, "created_at": _now()}
    dialect = db.session.connection(bind_arguments={"clause": Member.__table__}).dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    db.session.execute(insert(Member).values(**values).on_conflict_do_nothing(index_elements=["customer_id"]))


def change_balance(customer_id: int, delta: int, *, overdraw: bool = False) -> int | None:
    """Add ``delta`` to the balance in one conditional UPDATE (which holds the member's row until
    the commit on PostgreSQL: two spends of one shopper queue there); the new balance, or None
    when a spend would overdraw it (and ``overdraw`` is False). A spend needs no row made first:
    a shopper without one has nothing to spend (the UPDATE finds no row: refused)."""
    if delta > 0 or overdraw:
        _ensure_member(customer_id)
    statement = sa.update(Member).where(Member.customer_id == customer_id)
    if delta < 0 and not overdraw:
        statement = statement.where(Member.balance + delta >= 0)
    row = db.session.execute(
        statement.values(balance=Member.balance + delta)
        .returning(Member.balance)
        .execution_options(synchronize_session=False)
    ).first()
    return None if row is None else int(row[0])


def change_growth(customer_id: int, delta: int) -> None:
    if not delta:
        return
    _ensure_member(customer_id)
    db.session.execute(
        sa.update(Member)
        .where(Member.customer_id == customer_id)
        .values(growth=sa.case((Member.growth + delta < 0, 0), else_=Member.growth + delta))
        .execution_options(synchronize_session=False)
    )
    _recompute_levels(customer_id)


def _expiry(now: datetime) -> datetime | None:
    days = int(program()["validity_days"] or 0)
    return now + timedelta(days=days) if days > 0 else None


def _consume(customer_id: int, points: int) -> None:
    """Take ``points`` out of the shopper's lots, soonest-expiring first (never-expiring last);
    what no lot covers is the negative balance's share (a clawback)."""
    left = points
    lots = db.session.execute(
        sa.select(PointEntry.id, PointEntry.remaining)
        .where(PointEntry.customer_id == customer_id, PointEntry.remaining > 0)
        .order_by(PointEntry.expires_at.is_(None), PointEntry.expires_at, PointEntry.id)
    ).all()
    for lot_id, remaining in lots:
        if left <= 0:
            break
        take = min(int(remaining), left)
        db.session.execute(
            sa.update(PointEntry)
            .where(PointEntry.id == lot_id)
            .values(remaining=PointEntry.remaining - take)
            .execution_options(synchronize_session=False)
        )
        left -= take


def write_entry(
    customer_id: int,
    kind: str,
    points: int,
    reason: str,
    *,
    order_id: int | None = None,
    overdraw: bool = False,
    growth: int = 0,
    basis: int = 0,
    now: datetime | None = None,
) -> PointEntry:
    """One ledger entry and its balance change (lots made or spent); :class:`PointsRefused` when
    a spend would overdraw and ``overdraw`` is False. In the caller's transaction (flushed)."""
    now = now or _now()
    balance = change_balance(customer_id, points, overdraw=overdraw)
    if balance is None:
        raise PointsRefused(customer_id)
    remaining, expires_at = 0, None
    if points > 0 and kind in LOT_KINDS:
        # a balance that a clawback left negative is paid off first: lots cover only what is left
        remaining, expires_at = max(0, min(points, balance)), _expiry(now)
    elif points < 0:
        _consume(customer_id, -points)
    entry = PointEntry(
        customer_id=customer_id,
        kind=kind,
        points=points,
        balance_after=balance,
        order_id=order_id,
        reason=(reason or "")[:120],
        remaining=remaining,
        expires_at=expires_at,
        growth=growth,
        basis=basis,
        created_at=now,
    )
    db.session.add(entry)
    db.session.flush()
    return entry


def _member(customer_id: int) -> Member | None:
    return db.session.get(Member, customer_id, populate_existing=True)


# --- the shopper's membership --------------------------------------------------------------


def level_benefits(level: MemberLevel | None) -> list[str]:
    """A level's benefits as translated texts ("会员价 9.5折", "包邮", "生日券")."""
    if level is None:
        return []
    found = []
    if level.discount_percent < 100:
        whole, tenth = divmod(int(level.discount_percent), 10)  # 95 → 9.5折, 90 → 9折
        rate = f"{whole}.{tenth}" if tenth else str(whole)
        found.append(_("Member price %(rate)s折", rate=rate))
    if level.free_shipping:
        found.append(_("Free shipping"))
    if level.birthday_coupon_id is not None:
        found.append(_("Birthday coupon"))
    return found


def membership_of(customer_id: int, now: datetime | None = None) -> Membership:
    """The shopper's membership as :class:`Membership` (a shopper without a member row yet is a
    member at zero: nothing is written)."""
    now = now or _now()
    member = _member(customer_id)
    levels = list_levels()
    growth = int(member.growth) if member is not None else 0
    reached = [lv for lv in levels if lv.threshold <= growth]  # the growth decides (level_id mirrors it)
    level = reached[-1] if reached else None
    floor = max(growth, level.threshold if level is not None else -1)
    next_level = next((lv for lv in levels if lv.threshold > floor), None)
    soonest = db.session.execute(
        sa.select(PointEntry.remaining, PointEntry.expires_at)
        .where(
            PointEntry.customer_id == customer_id,
            PointEntry.remaining > 0,
            PointEntry.expires_at.is_not(None),
            PointEntry.expires_at <= now + EXPIRING_WITHIN,
        )
        .order_by(PointEntry.expires_at, PointEntry.id)
        .limit(1)
    ).first()
    return Membership(
        level=level,
        next_level=next_level,
        growth=growth,
        to_next=max(0, next_level.threshold - growth) if next_level is not None else None,
        points=int(member.balance) if member is not None else 0,
        expiring=int(soonest[0]) if soonest is not None else 0,
        expiring_at=_aware(soonest[1]) if soonest is not None else None,
        birthday=member.birthday if member is not None else None,
        benefits=level_benefits(level),
    )


def level_of(customer_id: int | None) -> MemberLevel | None:
    """The shopper's level: the highest their growth reaches (a shopper with no member row yet has
    0, so a level from 0 is every signed-in shopper's); None for a guest or below every level."""
    if customer_id is None:
        return None
    growth = sa.func.coalesce(sa.select(Member.growth).where(Member.customer_id == customer_id).scalar_subquery(), 0)
    return db.session.execute(
        sa.select(MemberLevel).where(MemberLevel.threshold <= growth).order_by(MemberLevel.threshold.desc()).limit(1)
    ).scalar()


@dataclass(frozen=True, slots=True)
class LevelTerms:
    """What pricing needs of a shopper's level (:func:`level_terms`): its id, name, member price
    (``discount_percent``) and free shipping, read as plain columns."""

    id: int
    name: str
    discount_percent: int
    free_shipping: bool


def level_terms_select(customer_id: sa.ColumnElement) -> sa.Select:
    """:func:`level_of`'s query of the columns pricing reads (:class:`LevelTerms`), for the
    shopper ``customer_id`` (a bound parameter, or any SQL expression of the id)."""
    members, levels = Member.__table__, MemberLevel.__table__
    growth = sa.func.coalesce(
        sa.select(members.c.growth).where(members.c.customer_id == customer_id).scalar_subquery(), 0
    )
    return (
        sa.select(levels.c.id, levels.c.name, levels.c.discount_percent, levels.c.free_shipping)
        .where(levels.c.threshold <= growth)
        .order_by(levels.c.threshold.desc())
        .limit(1)
    )


@functools.cache
def _level_terms_query() -> sa.Select:
    """:func:`level_terms_select` of the parameter ``customer_id``, built once (its SQL compiled
    once per process: :func:`mallow.db.sqltext.rows`)."""
    return level_terms_select(sa.bindparam("customer_id", type_=sa.Integer))


def level_terms(customer_id: int | None) -> LevelTerms | None:
    """:func:`level_of` as pricing needs it (every checkout and quote asks): the same level, as
    :class:`LevelTerms`, with no ORM object built or statement compiled per call."""
    if customer_id is None:
        return None
    connection = db.session.connection(bind_arguments={"clause": MemberLevel.__table__})
    found = sqltext.rows(connection, _level_terms_query(), {"customer_id": customer_id})
    if not found:
        return None
    level_id, name, percent, free_shipping = found[0]
    return LevelTerms(level_id, name, int(percent), bool(free_shipping))


def ledger(customer_id: int, page: int = 1, per_page: int = 20) -> tuple[list[PointEntry], int]:
    """The shopper's points ledger, newest first: one page and the total number of entries
    (entries of 0 points, which only record an order's growth, are not shown)."""
    page, per_page = max(1, int(page)), min(max(1, int(per_page)), 100)
    mine = sa.and_(PointEntry.customer_id == customer_id, PointEntry.points != 0)
    total = db.session.execute(sa.select(sa.func.count(PointEntry.id)).where(mine)).scalar_one()
    rows = db.session.execute(
        sa.select(PointEntry).where(mine).order_by(PointEntry.id.desc()).offset((page - 1) * per_page).limit(per_page)
    ).scalars()
    return list(rows), int(total)


def _reason(reason, errors: Errors) -> str:
    value = reason.replace("\x00", "").strip() if isinstance(reason, str) else ""
    if not value:
        errors.add("reason", "required", _("Enter a reason the shopper will see."))
    elif len(value) > 120:
        errors.add("reason", "too_long", _("At most %(max)s characters.", max=120))
    return value


def _points(points, errors: Errors) -> int:
    if isinstance(points, bool) or not isinstance(points, int) or points == 0 or abs(points) > MAX_POINTS:
        errors.add("points", "invalid", _("Enter a whole number of points other than 0."))
        return 0
    return points


def _customer_or_fail(customer_id) -> int:
    value = id_value(customer_id)
    if value is None or db.session.get(Customer, value) is None:
        raise ValidationFailed({"customer_id": ("invalid", _("No such shopper."))})
    return value


def grant(customer_id: int, points: int, kind: str, reason: str, order_id: int | None = None) -> PointEntry:
    """Add (or, for ``adjust`` only, take) points: ``kind`` is ``"reward"`` (points > 0, e.g. a
    share reward) or ``"adjust"``. Positive points make a new lot expiring after the programme's
    ``validity_days``; negative ones spend lots, and are refused (ValidationFailed on ``points``)
    when the balance is short. In the caller's transaction (flushed; the caller commits)."""
    errors = Errors()
    if kind not in ("reward", "adjust"):
        errors.add("kind", "invalid", _("This value is not valid."))
    points = _points(points, errors)
    if kind == "reward" and points < 0:
        errors.add("points", "invalid", _("A reward adds points."))
    reason = _reason(reason, errors)
    errors.raise_if_any()
    customer_id = _customer_or_fail(customer_id)
    try:
        return write_entry(customer_id, kind, points, reason, order_id=order_id)
    except PointsRefused:
        raise ValidationFailed({"points": ("insufficient", _("The shopper does not have that many points."))}) from None


def adjust(customer_id: int, points: int, reason: str, actor) -> PointEntry:
    """The merchant's manual change (signed, not 0; the reason is required, ≤ 120 characters and
    shown to the shopper), recorded in the audit log as ``membership.points_adjusted`` by
    ``actor``. ValidationFailed on bad input or a balance too short; the caller commits."""
    entry = grant(customer_id, points, "adjust", reason)
    store = current_store()
    audit.record(
        "membership.points_adjusted",
        actor=actor,
        store_id=store.id if store is not None else None,
        target=f"customer:{entry.customer_id}",
        detail={"points": entry.points, "balance_after": entry.balance_after, "entry_id": entry.id},
    )
    return entry


def set_birthday(customer_id: int, value: date | None) -> None:
    """Set the shopper's birthday (for the birthday coupon). It can be set once: a second change
    is refused with a field error on ``birthday`` (setting the same date again is no change).
    A date in the future or before 1900 is refused. The caller commits."""
    if isinstance(value, datetime):
        value = value.date()
    if value is not None and not isinstance(value, date):
        raise ValidationFailed({"birthday": ("invalid", _("Enter a date like 1990-05-20."))})
    today = _now().astimezone(LOCAL).date()
    if value is not None and not date(1900, 1, 1) <= value <= today:
        raise ValidationFailed({"birthday": ("invalid", _("Enter your real date of birth."))})
    _ensure_member(customer_id)
    member = _member(customer_id)
    assert member is not None
    if member.birthday == value:
        return
    if member.birthday_set_at is not None:
        raise ValidationFailed({"birthday": ("locked", _("Your birthday was set already: it can be set only once."))})
    if value is None:
        return
    member.birthday, member.birthday_set_at = value, _now()
    db.session.flush()


def points_value(points: int, points_per_yuan: int | None = None) -> int:
    """What ``points`` are worth at checkout, in fen (rounded down)."""
    rate = int(points_per_yuan or program()["points_per_yuan"])
    return max(0, int(points)) * 100 // rate


def _step(points_per_yuan: int) -> int:
    """The smallest number of points worth a whole number of fen."""
    return points_per_yuan // gcd(points_per_yuan, 100)


def usable_points(points: int, points_per_yuan: int) -> int:
    """``points`` rounded down to whole fen (no point is spent on a fraction of a fen)."""
    step = _step(points_per_yuan)
    return max(0, int(points)) // step * step


def balance_select(customer_id: sa.ColumnElement) -> sa.ScalarSelect:
    """The shopper's points balance (NULL without a member row) as a scalar subquery."""
    return sa.select(Member.__table__.c.balance).where(Member.__table__.c.customer_id == customer_id).scalar_subquery()


def redeemable(customer_id: int | None, goods_payable_fen: int, balance: int | None = None) -> Redeemable:
    """What the shopper may redeem on an order whose goods cost ``goods_payable_fen`` after every
    discount (shipping excluded): at most ``redeem_cap_percent`` of it, at most the balance, in
    whole fen. All zero when the programme is off, for a guest, or with a balance ≤ 0. ``balance``:
    the balance read already in this transaction (the order's read), else it is read here."""
    rules = program()
    rate = int(rules["points_per_yuan"])
    if customer_id is None or not rules["enabled"]:
        return Redeemable(0, 0, 0, rate)
    if balance is None:
        balance = db.session.execute(sa.select(Member.balance).where(Member.customer_id == customer_id)).scalar()
    balance = int(balance or 0)
    cap_fen = max(0, int(goods_payable_fen)) * int(rules["redeem_cap_percent"]) // 100
    most = usable_points(min(max(balance, 0), cap_fen * rate // 100), rate)
    return Redeemable(balance, most, points_value(most, rate), rate)


# --- the sweeps ----------------------------------------------------------------------------


def expire_points(now: datetime | None = None) -> int:
    """Expire what is left of every lot past its ``expires_at`` (an ``expire`` entry per lot);
    committed. Each lot is claimed with a conditional UPDATE (``remaining`` as read), so a second
    run, or two racing, expire nothing twice. Returns how many points expired."""
    now = now or _now()
    lots = db.session.execute(
        sa.select(PointEntry.id, PointEntry.customer_id, PointEntry.remaining)
        .where(PointEntry.remaining > 0, PointEntry.expires_at.is_not(None), PointEntry.expires_at <= now)
        .order_by(PointEntry.expires_at, PointEntry.id)
        .limit(EXPIRIES_PER_RUN)
    ).all()
    expired = 0
    for lot_id, customer_id, remaining in lots:
        claimed = db.session.execute(
            sa.update(PointEntry)
            .where(PointEntry.id == lot_id, PointEntry.remaining == remaining)
            .values(remaining=0)
            .execution_options(synchronize_session=False)
        ).rowcount
        if claimed != 1:
            continue
        balance = change_balance(customer_id, -int(remaining), overdraw=True)
        db.session.add(
            PointEntry(
                customer_id=customer_id,
                kind="expire",
                points=-int(remaining),
                balance_after=int(balance or 0),
                reason=_("Points expired"),
                remaining=0,
                created_at=now,
            )
        )
        expired += int(remaining)
    db.session.commit()
    return expired


def birthday_coupons(now: datetime | None = None) -> int:
    """Give each member whose birthday is today (China time; 29 February on 28 February of other
    years) their level's birthday coupon, once a year (``birthday_coupon_year``, and the coupon's
    issue batch ``birthday:<year>`` for a retried run); committed. Returns how many were given."""
    from mallow.coupons import service as coupons

    today = (now or _now()).astimezone(LOCAL).date()
    days = [today.day]
    if today.month == 2 and today.day == 28 and not _leap(today.year):
        days.append(29)
    rows = db.session.execute(
        sa.select(Member.customer_id, MemberLevel.birthday_coupon_id)
        .join(MemberLevel, MemberLevel.id == _level_query(Member.growth))
        .where(
            MemberLevel.birthday_coupon_id.is_not(None),
            Member.birthday.is_not(None),
            sa.extract("month", Member.birthday) == today.month,
            sa.extract("day", Member.birthday).in_(days),
            sa.or_(Member.birthday_coupon_year.is_(None), Member.birthday_coupon_year < today.year),
        )
        .order_by(Member.customer_id)
    ).all()
    given = 0
    for customer_id, coupon_id in rows:
        result = coupons.issue(int(coupon_id), [int(customer_id)], batch=f"birthday:{today.year}", limit_per_batch=True)
        if customer_id not in result.issued:
            continue  # the coupon ran out or ended: tried again on the next run today
        db.session.execute(
            sa.update(Member)
            .where(Member.customer_id == customer_id)
            .values(birthday_coupon_year=today.year)
            .execution_options(synchronize_session=False)
        )
        db.session.commit()
        given += 1
    return given


def _leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
