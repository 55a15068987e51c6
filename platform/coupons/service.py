"""Coupons: the merchant's side (create, edit, activate, pause, end: names and descriptions
screened for Advertising-Law terms), the shopper's (claim, list, the best coupon for a cart) and
the issuing paths (a list of shoppers, new members, expiry).

Claims never over-issue: the coupon's ``issued_count`` goes up in ONE conditional UPDATE
(``… WHERE issued_count < total_quantity``); on PostgreSQL that UPDATE also holds the coupon's row
until the commit, so the per-shopper count read after it sees every earlier claim committed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, UTC
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import current_app, g
from flask_babel import gettext as _

from mallow import compliance
from mallow.accounts.models import Customer
from mallow.catalog.models import Product, ProductCategory
from mallow.coupons import events, rules
from mallow.coupons.models import (
    AUTO_ISSUE,
    COUPON_STATES,
    CUSTOMER_COUPON_STATES,
    DEFAULT_STACKS_WITH,
    KINDS,
    MARKETING_PLUGINS,
    SCOPES,
    USABLE_STATES,
    VALIDITIES,
    Coupon,
    CustomerCoupon,
)
from mallow.db import db
from mallow.statemachine import InvalidTransition
from mallow.tenants.context import current_store
from mallow.validation import Errors, ValidationFailed
from mallow.web.ids import id_value

#: a merchant's naive date-times are China time
LOCAL = ZoneInfo("Asia/Shanghai")
MAX_FEN = 10_000_000_00  # ¥10,000,000
MAX_QUANTITY = 1_000_000
MAX_VALID_DAYS = 365
#: how long before its end a held, unused coupon is "expiring": a day leaves the shopper time to
#: use it and, with the sweep every 10 minutes, the warning comes 23 h 50 min to 24 h before
EXPIRY_WARNING = timedelta(hours=24)
#: the held coupons the sweep warns at most per run (the next run goes on)
WARNINGS_PER_RUN = 500
#: what can still change once a coupon was issued (the rest is a promise to its holders)
EDITABLE_AFTER_ISSUE = ("name", "description", "total_quantity", "per_shopper_limit", "ends_at", "auto_issue")


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(moment: datetime | None) -> datetime | None:
    return moment.replace(tzinfo=UTC) if moment is not None and moment.tzinfo is None else moment


class ClaimRefused(Exception):
    """A claim or an issue that cannot be made: ``code`` and a message for the shopper."""

    def __init__(self, code: str, message: str):
        super().__init__(code)
        self.code, self.message = code, message


# --- the merchant's coupons ------------------------------------------------------------------


def _int(data, key: str, errors: Errors, low: int, high: int, *, required: bool = True) -> int | None:
    raw = data.get(key)
    if raw is None or raw == "":
        if required:
            errors.add(key, "required", _("Enter a whole number from %(low)s to %(high)s.", low=low, high=high))
        return None
    value = None
    if isinstance(raw, int) and not isinstance(raw, bool):
        value = raw
    elif isinstance(raw, str) and raw.strip().isascii() and raw.strip().isdigit():
        value = int(raw.strip())
    if value is None or not low <= value <= high:
        errors.add(key, "invalid", _("Enter a whole number from %(low)s to %(high)s.", low=low, high=high))
        return None
    return value


def _moment(data, key: str, errors: Errors, *, required: bool) -> datetime | None:
    raw = data.get(key)
    if raw is None or raw == "":
        if required:
            errors.add(key, "required", _("Enter a date and time."))
        return None
    if isinstance(raw, datetime):
        moment = raw
    else:
        try:
            moment = datetime.fromisoformat(str(raw).strip())
        except ValueError:
            errors.add(key, "invalid", _("Enter a date and time like 2026-12-31T23:59."))
            return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=LOCAL)
    return moment.astimezone(UTC)


def _text(data, key: str, limit: int, errors: Errors, *, required: bool) -> str:
    raw = data.get(key)
    value = raw.strip() if isinstance(raw, str) else ""
    if raw is not None and not isinstance(raw, str):
        errors.add(key, "invalid", _("Enter text."))
    elif required and not value:
        errors.add(key, "required", _("Enter a name."))
    elif len(value) > limit:
        errors.add(key, "too_long", _("At most %(max)s characters.", max=limit))
    return value


def _id_list(data, key: str, errors: Errors) -> list[int]:
    raw = data.get(key)
    if raw is None:
        return []
    if isinstance(raw, str):
        raw = [part for part in raw.replace("，", ",").split(",") if part.strip()]
    if not isinstance(raw, list) or len(raw) > 500:
        errors.add(key, "invalid", _("Choose at most 500."))
        return []
    ids = [id_value(item) for item in raw]
    if any(i is None for i in ids):
        errors.add(key, "invalid", _("This value is not valid."))
        return []
    return sorted(set(ids))  # type: ignore[arg-type]


def _screen(fields: dict[str, str]) -> None:
    """Advertising-Law screening of a coupon's texts: a coupon's name and description are price
    claims shown as they are in the claim centre and at checkout, so every term of the platform's
    list refuses them (a product's flagged term is only reviewed); the platform's own message."""
    store = current_store()
    found = compliance.check_fields(fields, category=store.main_category if store is not None else None)
    refused: dict[str, list] = {}
    for item in found:
        refused.setdefault(item.field, []).append(item)
    if refused:
        raise ValidationFailed(
            {
                name: (
                    "prohibited_term",
                    _(
                        "Remove “%(terms)s”: %(reason)s",
                        terms="、".join(dict.fromkeys(item.term for item in items)),
                        reason=items[0].reason,
                    ),
                )
                for name, items in refused.items()
            }
        )


def _values(data, coupon: Coupon | None) -> dict:
    """The checked values of a create (``coupon`` None) or an edit; raises ValidationFailed."""
    errors = Errors()
    issued = coupon is not None and coupon.issued_count > 0
    present = (lambda key: key in data) if coupon is not None else (lambda key: True)
    values: dict = {}
    if present("name"):
        values["name"] = _text(data, "name", 40, errors, required=True)
    if present("description"):
        values["description"] = _text(data, "description", 200, errors, required=False)
    kind = data.get("kind") if present("kind") else coupon.kind  # type: ignore[union-attr]
    if kind not in KINDS:
        errors.add("kind", "invalid", _("Choose a kind of coupon."))
    else:
        values["kind"] = kind
        if kind == "amount_off":
            values["threshold_fen"] = _int(data, "threshold_fen", errors, 1, MAX_FEN)
            values["amount_fen"] = _int(data, "amount_fen", errors, 1, MAX_FEN)
            values["percent"] = values["cap_fen"] = None
            if values["threshold_fen"] and values["amount_fen"] and values["amount_fen"] > values["threshold_fen"]:
                errors.add("amount_fen", "above_threshold", _("The amount off cannot be more than the threshold."))
        elif kind == "percent_off":
            values["percent"] = _int(data, "percent", errors, 1, 99)
            values["cap_fen"] = _int(data, "cap_fen", errors, 1, MAX_FEN, required=False)
            values["threshold_fen"], values["amount_fen"] = 0, None
        else:
            values["amount_fen"] = _int(data, "amount_fen", errors, 1, MAX_FEN)
            values["threshold_fen"], values["percent"], values["cap_fen"] = 0, None, None
    if coupon is not None and not present("kind"):  # an edit that leaves the offer alone
        for key in ("kind", "threshold_fen", "amount_fen", "percent", "cap_fen"):
            if key not in data:
                values.pop(key, None)
    scope = data.get("scope", "store") if present("scope") else coupon.scope  # type: ignore[union-attr]
    if scope not in SCOPES:
        errors.add("scope", "invalid", _("Choose where the coupon applies."))
    elif present("scope") or present("scope_ids"):
        ids = _id_list(data, "scope_ids", errors) if scope != "store" else []
        if scope != "store" and "scope_ids" not in errors:
            model = ProductCategory if scope == "categories" else Product
            found = set(db.session.execute(sa.select(model.id).where(model.id.in_(ids))).scalars()) if ids else set()
            if not ids or found != set(ids):
                errors.add("scope_ids", "invalid", _("Choose existing categories or products."))
        values["scope"], values["scope_ids"] = scope, ids
    validity = data.get("validity", "fixed") if present("validity") else coupon.validity  # type: ignore[union-attr]
    if validity not in VALIDITIES:
        errors.add("validity", "invalid", _("Choose how long the coupon is valid."))
    else:
        if present("validity"):
            values["validity"] = validity
        fixed = validity == "fixed"
        if present("starts_at"):
            values["starts_at"] = _moment(data, "starts_at", errors, required=fixed and coupon is None)
        if present("ends_at"):
            values["ends_at"] = _moment(data, "ends_at", errors, required=fixed and coupon is None)
        starts = values.get("starts_at", coupon.starts_at if coupon is not None else None)
        ends = values.get("ends_at", coupon.ends_at if coupon is not None else None)
        if starts is not None and ends is not None and _aware(ends) <= _aware(starts):
            errors.add("ends_at", "before_start", _("The end must be after the start."))
        if fixed:
            values["valid_days"] = None
        elif present("valid_days"):
            values["valid_days"] = _int(data, "valid_days", errors, 1, MAX_VALID_DAYS)
    if present("total_quantity"):
        values["total_quantity"] = _int(data, "total_quantity", errors, 1, MAX_QUANTITY)
        if (
            coupon is not None
            and values["total_quantity"] is not None
            and values["total_quantity"] < coupon.issued_count
        ):
            errors.add(
                "total_quantity",
                "below_issued",
                _("%(count)s were given out already: the total cannot be less.", count=coupon.issued_count),
            )
    if present("per_shopper_limit"):
        values["per_shopper_limit"] = _int(data, "per_shopper_limit", errors, 1, 100, required=False) or 1
    if present("stacks_with"):
        raw = data.get("stacks_with")
        raw = list(DEFAULT_STACKS_WITH) if raw is None else raw
        if isinstance(raw, str):
            raw = [part.strip() for part in raw.split(",") if part.strip()]
        if not isinstance(raw, list) or any(name not in MARKETING_PLUGINS for name in raw):
            errors.add("stacks_with", "invalid", _("Choose among: %(names)s.", names=", ".join(MARKETING_PLUGINS)))
        else:
            values["stacks_with"] = sorted(set(raw))
    if present("auto_issue"):
        auto = data.get("auto_issue") or None
        if auto is not None and auto not in AUTO_ISSUE:
            errors.add("auto_issue", "invalid", _("This value is not valid."))
        values["auto_issue"] = auto
    if issued:
        for key in values:
            if key not in EDITABLE_AFTER_ISSUE and values[key] != getattr(coupon, key):
                errors.add(key, "locked", _("Shoppers hold this coupon already: this cannot change."))
    errors.raise_if_any()
    _screen({key: values[key] for key in ("name", "description") if values.get(key)})
    return values


def create_coupon(data) -> Coupon:
    """A new coupon (``draft``, or ``active`` with ``"status": "active"``); committed."""
    values = _values(data, None)
    status = data.get("status") or "draft"
    if status not in ("draft", "active"):
        raise ValidationFailed({"status": ("invalid", _("A new coupon is a draft or active."))})
    coupon = Coupon(issued_count=0, used_count=0, status=status, **values)
    db.session.add(coupon)
    db.session.commit()
    return coupon


def update_coupon(coupon: Coupon, data) -> Coupon:
    """Change what was sent (once issued, only :data:`EDITABLE_AFTER_ISSUE`); committed."""
    for key, value in _values(data, coupon).items():
        setattr(coupon, key, value)
    db.session.commit()
    return coupon


def set_status(coupon: Coupon, target: str) -> Coupon:
    """``active`` (start or resume claiming), ``paused`` or ``ended``. Holders keep their coupons
    either way: pausing or ending stops claims and issues, not orders."""
    try:
        COUPON_STATES.move(coupon, target)
    except InvalidTransition:
        raise ValidationFailed(
            {
                "status": (
                    "invalid_transition",
                    _("A %(current)s coupon cannot become %(target)s.", current=coupon.status, target=target),
                )
            }
        ) from None
    db.session.commit()
    return coupon


def get_coupon(coupon_id) -> Coupon | None:
    """The merchant's coupon ``coupon_id``; None for a private one (a share reward's: Mallow's own)."""
    value = id_value(coupon_id)
    coupon = db.session.get(Coupon, value) if value is not None else None
    return None if coupon is None or coupon.private else coupon


def list_coupons(status: str | None = None) -> list[Coupon]:
    query = sa.select(Coupon).where(Coupon.private.is_(False)).order_by(Coupon.id.desc()).limit(500)
    if status:
        query = query.where(Coupon.status == status)
    return list(db.session.execute(query).scalars())


# --- claiming and issuing ------------------------------------------------------------------


def claimable(now: datetime | None = None) -> list[Coupon]:
    """The claim centre: active coupons in their claim window with some left."""
    now = now or _now()
    query = (
        sa.select(Coupon)
        .where(
            Coupon.status == "active",
            Coupon.private.is_(False),
            Coupon.issued_count < Coupon.total_quantity,
            sa.or_(Coupon.starts_at.is_(None), Coupon.starts_at <= now),
            sa.or_(Coupon.ends_at.is_(None), Coupon.ends_at > now),
        )
        .order_by(Coupon.id.desc())
        .limit(200)
    )
    return list(db.session.execute(query).scalars())


@dataclass(frozen=True)
class Offered:
    """What a product page needs to know of a coupon on offer before it reads the row: when it is
    offered and where it applies (:func:`mallow.coupons.rules.in_scope` reads ``scope``/``scope_ids``)."""

    id: int
    scope: str
    scope_ids: tuple
    starts_at: datetime | None
    ends_at: datetime | None

    def offered_at(self, now: datetime) -> bool:
        return (self.starts_at is None or self.starts_at <= now) and (self.ends_at is None or self.ends_at > now)


#: how long the active coupons a process read stay true at most (a coupon's claim window opens
#: and closes by the clock, which moves no stamp; every write to a coupon moves the store's stamp)
OFFERED_SECONDS = 60
_OFFERED = "mallow.coupons.offered"


def offered(now: datetime | None = None) -> list[Offered]:
    """The store's active coupons offered now, as :class:`Offered`, kept per process under the
    store's stamp for at most :data:`OFFERED_SECONDS`: a product page of a store with no coupon on
    offer runs no statement for its 领券 row."""
    now = now or _now()
    store_id, stamp = g.get("mallow_store_id"), g.get("mallow_store_stamp")
    memory = current_app.extensions.setdefault(_OFFERED, {})
    kept = memory.get(store_id) if stamp is not None else None
    if kept is None or kept[0] != stamp or kept[1] <= now:
        rows = db.session.execute(
            sa.select(Coupon.id, Coupon.scope, Coupon.scope_ids, Coupon.starts_at, Coupon.ends_at).where(
                Coupon.status == "active", Coupon.private.is_(False)
            )
        ).all()
        found = [Offered(i, scope, tuple(ids or ()), _aware(start), _aware(end)) for i, scope, ids, start, end in rows]
        kept = (stamp, now + timedelta(seconds=OFFERED_SECONDS), found)
        if stamp is not None:
            if len(memory) >= 20_000:
                memory.clear()
            memory[store_id] = kept
    return [o for o in kept[2] if o.offered_at(now)]


def on_offer(now: datetime | None = None) -> list[Coupon]:
    """What the claim centre shows: active coupons in their claim window, those all claimed too
    (已领完: the shopper sees the offer is gone rather than wonder where it went)."""
    now = now or _now()
    query = (
        sa.select(Coupon)
        .where(
            Coupon.status == "active",
            Coupon.private.is_(False),
            sa.or_(Coupon.starts_at.is_(None), Coupon.starts_at <= now),
            sa.or_(Coupon.ends_at.is_(None), Coupon.ends_at > now),
        )
        .order_by((Coupon.issued_count >= Coupon.total_quantity).asc(), Coupon.id.desc())
        .limit(200)
    )
    return list(db.session.execute(query).scalars())


def _validity(coupon: Coupon, now: datetime) -> tuple[datetime, datetime]:
    if coupon.validity == "fixed":
        return _aware(coupon.starts_at) or now, _aware(coupon.ends_at) or now
    return now, now + timedelta(days=int(coupon.valid_days or 1))


def _grant(
    coupon: Coupon,
    customer_id: int,
    source: str,
    now: datetime,
    batch: str | None = None,
    limit_per_batch: bool = False,
) -> CustomerCoupon:
    """Give ``coupon`` to the shopper in the caller's transaction, or raise :class:`ClaimRefused`
    (the caller rolls back: the count's increment goes with it). The per-shopper limit counts
    every holding of the coupon, or with ``limit_per_batch`` those of ``batch`` only (a coupon
    given again every year, such as a birthday coupon)."""
    if coupon.validity == "fixed" and coupon.ends_at is not None and now >= _aware(coupon.ends_at):
        raise ClaimRefused("ended", _("This coupon has ended."))
    taken = db.session.execute(
        sa.update(Coupon)
        .where(Coupon.id == coupon.id, Coupon.status == "active", Coupon.issued_count < Coupon.total_quantity)
        .values(issued_count=Coupon.issued_count + 1)
        .execution_options(synchronize_session=False)
    ).rowcount
    if taken != 1:
        if coupon.status != "active":
            raise ClaimRefused("not_active", _("This coupon cannot be claimed now."))
        raise ClaimRefused("sold_out", _("All of these coupons have been claimed."))
    mine = sa.select(sa.func.count(CustomerCoupon.id)).where(
        CustomerCoupon.coupon_id == coupon.id, CustomerCoupon.customer_id == customer_id
    )
    if limit_per_batch and batch:
        mine = mine.where(CustomerCoupon.batch == batch)
    held = db.session.execute(mine).scalar_one()
    if held >= coupon.per_shopper_limit:
        raise ClaimRefused(
            "limit_reached", _("You can hold at most %(limit)s of this coupon.", limit=coupon.per_shopper_limit)
        )
    valid_from, valid_until = _validity(coupon, now)
    holding = CustomerCoupon(
        coupon_id=coupon.id,
        customer_id=customer_id,
        status="available",
        valid_from=valid_from,
        valid_until=valid_until,
        source=source,
        batch=batch,
        claimed_at=now,
    )
    db.session.add(holding)
    db.session.flush()
    return holding


def claim(customer_id: int, coupon_id, now: datetime | None = None) -> CustomerCoupon:
    """The shopper claims a coupon in the claim centre (its window, what is left, their limit);
    committed, or :class:`ClaimRefused` with nothing written."""
    now = now or _now()
    coupon = get_coupon(coupon_id)
    if coupon is None or coupon.status not in ("active", "paused", "ended"):
        raise ClaimRefused("not_found", _("This coupon cannot be found."))
    if coupon.starts_at is not None and now < _aware(coupon.starts_at):
        raise ClaimRefused("not_started", _("This coupon cannot be claimed yet."))
    if coupon.ends_at is not None and now >= _aware(coupon.ends_at):
        raise ClaimRefused("ended", _("This coupon has ended."))
    try:
        holding = _grant(coupon, customer_id, "claim", now)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return holding


@dataclass
class IssueResult:
    issued: list[int] = field(default_factory=list)  # customer ids
    refused: dict[int, str] = field(default_factory=dict)  # customer id → reason code

    def as_dict(self) -> dict:
        return {"issued": len(self.issued), "refused": {str(k): v for k, v in self.refused.items()}}


def issue(
    coupon_id: int,
    customer_ids: list[int],
    *,
    batch: str | None = None,
    limit_per_batch: bool = False,
    now: datetime | None = None,
) -> IssueResult:
    """Give the coupon to each of ``customer_ids`` (a merchant's list or an analytics segment):
    its total and the per-shopper limit hold, each shopper in a savepoint; committed. With a
    ``batch``, shoppers who got the coupon in that batch are skipped (a retried job); with
    ``limit_per_batch`` too, the per-shopper limit counts that batch only (given every year)."""
    now = now or _now()
    result = IssueResult()
    coupon = db.session.get(Coupon, coupon_id)
    wanted = sorted({int(i) for i in customer_ids if id_value(i) is not None})
    if coupon is None or coupon.private:
        result.refused = {i: "not_found" for i in wanted}
        return result
    known = (
        set(db.session.execute(sa.select(Customer.id).where(Customer.id.in_(wanted))).scalars()) if wanted else set()
    )
    done: set[int] = set()
    if batch:
        done = set(
            db.session.execute(
                sa.select(CustomerCoupon.customer_id).where(
                    CustomerCoupon.coupon_id == coupon.id, CustomerCoupon.batch == batch
                )
            ).scalars()
        )
    for customer_id in wanted:
        if customer_id not in known:
            result.refused[customer_id] = "no_such_shopper"
            continue
        if customer_id in done:
            result.issued.append(customer_id)
            continue
        savepoint = db.session.begin_nested()
        try:
            _grant(coupon, customer_id, "issue", now, batch, limit_per_batch)
        except ClaimRefused as refused:
            savepoint.rollback()
            result.refused[customer_id] = refused.code
            continue
        savepoint.commit()
        result.issued.append(customer_id)
    db.session.commit()
    return result


def issue_to_new_member(customer: Customer, now: datetime | None = None) -> list[CustomerCoupon]:
    """Every active ``auto_issue = "new_member"`` coupon for a shopper who just signed up, in the
    sign-up's transaction (a coupon that ran out is skipped, not the sign-up): one SELECT when
    the store has none."""
    now = now or _now()
    coupons = db.session.execute(
        sa.select(Coupon).where(Coupon.status == "active", Coupon.auto_issue == "new_member").order_by(Coupon.id)
    ).scalars()
    granted = []
    for coupon in list(coupons):
        savepoint = db.session.begin_nested()
        try:
            granted.append(_grant(coupon, customer.id, "new_member", now))
        except ClaimRefused:
            savepoint.rollback()
            continue
        savepoint.commit()
    return granted


#: a share reward coupon is valid this many days from its grant
REWARD_VALID_DAYS = 30
#: a private coupon is never "all given out" nor limited per shopper (the reward rule decides)
_UNLIMITED = 2**31 - 1


def grant_reward(customer_id: int, amount_fen: int, name: str, description: str = "", now: datetime | None = None):
    """Give the shopper a coupon worth ``amount_fen`` off, without a threshold, valid
    :data:`REWARD_VALID_DAYS` days (a share reward): a **private** coupon of that amount and name,
    made the first time (never in the claim centre, the 领券 row or the console's list). In the
    caller's transaction (flushed; the caller commits); :class:`ClaimRefused` if it cannot be given."""
    now = now or _now()
    amount = int(amount_fen)
    if not 1 <= amount <= MAX_FEN:
        raise ClaimRefused("invalid", _("This value is not valid."))
    coupon = db.session.execute(
        sa.select(Coupon)
        .where(Coupon.private.is_(True), Coupon.status == "active", Coupon.amount_fen == amount, Coupon.name == name)
        .order_by(Coupon.id)
        .limit(1)
    ).scalar_one_or_none()
    if coupon is None:
        coupon = Coupon(
            name=name[:40],
            description=description[:200],
            kind="no_threshold",
            threshold_fen=0,
            amount_fen=amount,
            scope="store",
            scope_ids=[],
            validity="days_after_claim",
            valid_days=REWARD_VALID_DAYS,
            total_quantity=_UNLIMITED,
            per_shopper_limit=_UNLIMITED,
            issued_count=0,
            used_count=0,
            stacks_with=list(DEFAULT_STACKS_WITH),
            status="active",
            private=True,
        )
        db.session.add(coupon)
        db.session.flush()
    return _grant(coupon, customer_id, "reward", now)


def expire(now: datetime | None = None) -> int:
    """Mark the shoppers' unused coupons past their validity ``expired``, and end fixed-window
    coupons past their end (the sweep); committed. Returns how many holdings expired."""
    now = now or _now()
    expired = db.session.execute(
        sa.update(CustomerCoupon)
        .where(CustomerCoupon.status.in_(USABLE_STATES), CustomerCoupon.valid_until <= now)
        .values(status="expired")
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.execute(
        sa.update(Coupon)
        .where(Coupon.status.in_(("draft", "active", "paused")), Coupon.ends_at.is_not(None), Coupon.ends_at <= now)
        .values(status="ended")
        .execution_options(synchronize_session=False)
    )
    warn_expiring(now)
    db.session.commit()
    return int(expired or 0)


def warn_expiring(now: datetime) -> int:
    """Send :data:`~mallow.coupons.events.coupon_expiring` once per held, unused coupon that
    expires within :data:`EXPIRY_WARNING` of ``now`` (the receivers write in this transaction;
    the caller commits). A holding claimed less than the window before its end is marked and not
    warned (the shopper took it knowing). Each holding is claimed with a conditional UPDATE, so two
    sweeps racing warn once. Returns how many warnings were sent."""
    rows = db.session.execute(
        sa.select(
            CustomerCoupon.id,
            CustomerCoupon.customer_id,
            CustomerCoupon.valid_until,
            CustomerCoupon.claimed_at,
            Coupon.name,
        )
        .join(Coupon, Coupon.id == CustomerCoupon.coupon_id)
        .where(
            CustomerCoupon.status.in_(USABLE_STATES),
            CustomerCoupon.expiry_warned_at.is_(None),
            CustomerCoupon.valid_until > now,
            CustomerCoupon.valid_until <= now + EXPIRY_WARNING,
        )
        .order_by(CustomerCoupon.valid_until, CustomerCoupon.id)
        .limit(WARNINGS_PER_RUN)
    ).all()
    sent = 0
    for holding_id, customer_id, valid_until, claimed_at, name in rows:
        claimed = db.session.execute(
            sa.update(CustomerCoupon)
            .where(CustomerCoupon.id == holding_id, CustomerCoupon.expiry_warned_at.is_(None))
            .values(expiry_warned_at=now)
            .execution_options(synchronize_session=False)
        ).rowcount
        ends = _aware(valid_until)
        if not claimed or _aware(claimed_at) > ends - EXPIRY_WARNING:
            continue
        events.send(
            events.coupon_expiring,
            customer_id=customer_id,
            customer_coupon_id=holding_id,
            name=name,
            expires_at=ends.astimezone(LOCAL),
        )
        sent += 1
    return sent


# --- the shopper's coupons -----------------------------------------------------------------


def my_coupons(customer_id: int, status: str | None = None) -> list[CustomerCoupon]:
    """The shopper's coupons, usable first (soonest to expire first), then the rest newest first."""
    query = sa.select(CustomerCoupon).where(CustomerCoupon.customer_id == customer_id)
    if status:
        query = query.where(CustomerCoupon.status == status)
    rows = list(db.session.execute(query.order_by(CustomerCoupon.id.desc()).limit(500)).scalars())
    usable = sorted((r for r in rows if r.status in USABLE_STATES), key=lambda r: (_aware(r.valid_until), r.id))
    return usable + [r for r in rows if r.status not in USABLE_STATES]


def usable_holdings(customer_id: int) -> list[CustomerCoupon]:
    return list(
        db.session.execute(
            sa.select(CustomerCoupon)
            .where(CustomerCoupon.customer_id == customer_id, CustomerCoupon.status.in_(USABLE_STATES))
            .order_by(CustomerCoupon.id)
        ).scalars()
    )


@dataclass
class Option:
    """One of the shopper's coupons against a cart."""

    holding: CustomerCoupon
    verdict: rules.Verdict


@dataclass
class Choices:
    """The shopper's coupons for a cart: the usable ones, best first, and the others with why."""

    usable: list[Option]
    unusable: list[Option]

    @property
    def best(self) -> Option | None:
        return self.usable[0] if self.usable else None


def choices(customer_id: int | None, lines: list[rules.CartLine], now: datetime | None = None) -> Choices:
    """Every usable coupon of the shopper evaluated against the priced ``lines``: the biggest
    saving first (then the one expiring first), the others with their reason."""
    if customer_id is None:
        return Choices([], [])
    now = now or _now()
    usable, unusable = [], []
    for holding in usable_holdings(customer_id):
        verdict = rules.evaluate(holding.coupon, holding.valid_from, holding.valid_until, lines, now)
        (usable if verdict.usable else unusable).append(Option(holding, verdict))
    usable.sort(key=lambda o: (-o.verdict.saving, _aware(o.holding.valid_until), o.holding.id))
    return Choices(usable, unusable)


def move_holding(holding: CustomerCoupon, target: str) -> None:
    """A checked state change of a shopper's coupon (the order events use conditional UPDATEs)."""
    CUSTOMER_COUPON_STATES.move(holding, target)


def queue_issue(coupon_id: int, customer_ids: list[int]) -> str:
    """Have a job give the coupon to ``customer_ids`` (after the caller's commit); returns the batch."""
    import uuid

    from flask import current_app

    batch = uuid.uuid4().hex
    current_app.extensions["mallow.jobs"].enqueue(
        "coupons.issue",
        store_id=current_store().id,
        coupon_id=int(coupon_id),
        customer_ids=[int(i) for i in customer_ids],
        batch=batch,
    )
    return batch
