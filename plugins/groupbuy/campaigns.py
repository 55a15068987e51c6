"""Campaigns: reading and checking what a merchant enters (form or JSON), and finding them.

Input is the same for the console form and the console API: ``title``, ``product_id``,
``sku_ids`` (empty: every option), ``group_size``, ``tiers`` (``[{"size", "percent"}]``),
``leader_discount_percent``, ``window_hours``, ``starts_at``/``ends_at`` (ISO 8601; without a
zone: the store's time zone), ``quota``, ``per_order_limit``, ``per_shopper_limit``,
``new_customers_only``, ``auto_complete_percent`` (empty: off).
"""

from __future__ import annotations

from datetime import datetime, timedelta, UTC
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask_babel import get_timezone

from mallow.sdk import ID_MAX, Errors, Product, Sku, ValidationFailed, db, fresh_for
from mallow_groupbuy import money
from mallow_groupbuy.i18n import _
from mallow_groupbuy.models import Campaign, Group, Member, RefundTask

MAX_TIERS = 5
MAX_GROUP_SIZE = 100
MAX_WINDOW_HOURS = 7 * 24


def store_zone() -> ZoneInfo:
    """The store's time zone (the app's Babel time zone, Asia/Shanghai by default)."""
    zone = get_timezone()
    return ZoneInfo(getattr(zone, "zone", None) or str(zone or "Asia/Shanghai"))


def now() -> datetime:
    return datetime.now(UTC)


def aware(moment: datetime | None) -> datetime | None:
    """SQLite hands back naive UTC datetimes; PostgreSQL aware ones."""
    return moment.replace(tzinfo=UTC) if moment is not None and moment.tzinfo is None else moment


def get(campaign_id) -> Campaign | None:
    try:
        return db.session.get(Campaign, int(campaign_id))
    except (TypeError, ValueError):
        return None


def is_live(campaign: Campaign, at: datetime | None = None) -> bool:
    at = at or now()
    return campaign.status == "active" and aware(campaign.starts_at) <= at < aware(campaign.ends_at)


def phase(campaign: Campaign, at: datetime | None = None) -> str:
    """``scheduled`` | ``active`` | ``expired`` | ``ended`` (ended by the merchant)."""
    at = at or now()
    if campaign.status == "ended":
        return "ended"
    if at < aware(campaign.starts_at):
        return "scheduled"
    return "active" if at < aware(campaign.ends_at) else "expired"


def live_campaigns(product_id: int | None = None, limit: int = 50) -> list[Campaign]:
    at = now()
    query = (
        sa.select(Campaign)
        .where(Campaign.status == "active", Campaign.starts_at <= at, Campaign.ends_at > at)
        .order_by(Campaign.ends_at, Campaign.id)
        .limit(limit)
    )
    if product_id is not None:
        query = query.where(Campaign.product_id == product_id)
    return list(db.session.execute(query).scalars())


def next_start(product_id: int | None = None) -> datetime | None:
    """When the next campaign (of ``product_id``) starts: what is live changes then."""
    query = sa.select(sa.func.min(Campaign.starts_at)).where(Campaign.status == "active", Campaign.starts_at > now())
    if product_id is not None:
        query = query.where(Campaign.product_id == product_id)
    return aware(db.session.execute(query).scalar())


def true_until(*moments: datetime | None) -> None:
    """What is being shown changes at the soonest of ``moments`` (a campaign's end, a group's
    deadline, the next start): pages and slots Mallow keeps are kept no longer (``fresh_for``)."""
    soonest = min((aware(moment) for moment in moments if moment is not None), default=None)
    if soonest is not None:
        fresh_for(max(0.0, (soonest - now()).total_seconds()))


def skus_of(campaign: Campaign) -> list[Sku]:
    query = sa.select(Sku).where(Sku.product_id == campaign.product_id, Sku.active.is_(True)).order_by(Sku.id)
    return [sku for sku in db.session.execute(query).scalars() if campaign.covers(sku.id)]


# --- input ------------------------------------------------------------------------------------


def _values(data, key: str) -> list:
    if hasattr(data, "getlist"):
        return data.getlist(key)
    value = data.get(key) if hasattr(data, "get") else None
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _raw(data, key: str):
    value = data.get(key) if hasattr(data, "get") else None
    return value.strip() if isinstance(value, str) else value


def _int(
    data, key: str, errors: Errors, *, minimum: int, maximum: int, required: bool = True, default: int | None = None
) -> int | None:
    raw = _raw(data, key)
    if raw in (None, ""):
        if required and default is None:
            errors.add(key, "required", _("Fill this in."))
        return default
    if isinstance(raw, bool):
        raw = None
    try:
        value = int(raw) if not isinstance(raw, float) or raw.is_integer() else None
    except (TypeError, ValueError):
        value = None
    if value is None:
        errors.add(key, "type", _("Enter a whole number."))
        return None
    if not minimum <= value <= maximum:
        errors.add(key, "range", _("Enter a number from %(min)s to %(max)s.", min=minimum, max=maximum))
        return None
    return value


def _bool(data, key: str) -> bool:
    raw = _raw(data, key)
    if hasattr(data, "getlist"):
        return "1" in data.getlist(key) or raw in ("on", "true")
    return raw is True or raw in ("1", "true", "on", 1)


def _percent_bp(raw, key: str, errors: Errors, *, minimum: int, maximum: int) -> int | None:
    bp = money.parse_percent(raw)
    if bp is None:
        errors.add(key, "type", _("Enter a percentage such as 95 or 92.5."))
        return None
    if not minimum <= bp <= maximum:
        errors.add(
            key,
            "range",
            _(
                "Enter a percentage from %(min)s to %(max)s.",
                min=money.percent_text(minimum),
                max=money.percent_text(maximum),
            ),
        )
        return None
    return bp


def _moment(data, key: str, errors: Errors) -> datetime | None:
    raw = _raw(data, key)
    if not raw:
        errors.add(key, "required", _("Fill this in."))
        return None
    try:
        moment = datetime.fromisoformat(str(raw))
    except ValueError:
        errors.add(key, "type", _("Enter a date and time."))
        return None
    if moment.tzinfo is None:  # a datetime-local field: the store's time zone
        moment = moment.replace(tzinfo=store_zone())
    return moment.astimezone(UTC)


def _tiers(data, errors: Errors) -> list[dict]:
    rows = []
    if hasattr(data, "getlist"):  # the form: tier_size / tier_percent pairs, blanks skipped
        for size, percent in zip(data.getlist("tier_size"), data.getlist("tier_percent"), strict=False):
            if str(size).strip() or str(percent).strip():
                rows.append({"size": size, "percent": percent})
    else:
        raw = data.get("tiers")
        rows = raw if isinstance(raw, list) else []
    if not rows:
        errors.add("tiers", "required", _("Give at least one tier of the price ladder."))
        return []
    if len(rows) > MAX_TIERS:
        errors.add("tiers", "too_many", _("A ladder has at most %(max)s tiers.", max=MAX_TIERS))
        return []
    tiers = []
    for row in rows:
        if not isinstance(row, dict):
            errors.add("tiers", "type", _("Each tier needs a headcount and a percentage."))
            return []
        try:
            size = int(str(row.get("size", "")).strip())
        except ValueError:
            errors.add("tiers", "type", _("Each tier needs a headcount and a percentage."))
            return []
        bp = _percent_bp(row.get("percent"), "tiers", errors, minimum=1, maximum=9999)
        if bp is None:
            return []
        tiers.append({"size": size, "bp": bp})
    tiers.sort(key=lambda tier: tier["size"])
    return tiers


def _check_tiers(tiers: list[dict], group_size: int | None, errors: Errors) -> None:
    if not tiers or group_size is None:
        return
    sizes = [tier["size"] for tier in tiers]
    if len(set(sizes)) != len(sizes) or sizes[0] < 2 or sizes[-1] > group_size:
        errors.add(
            "tiers",
            "sizes",
            _("Tier headcounts must be different, from 2 up to the group size (%(size)s).", size=group_size),
        )
    elif any(later["bp"] > earlier["bp"] for earlier, later in zip(tiers, tiers[1:], strict=False)):
        errors.add("tiers", "order", _("A tier for more people cannot cost more than a tier for fewer."))


def parse(data, campaign: Campaign | None = None) -> dict:
    """Checked values for a campaign (raises ValidationFailed with every field's problem)."""
    errors = Errors()
    title = str(_raw(data, "title") or "")
    if not title:
        errors.add("title", "required", _("Fill this in."))
    elif len(title) > 60:
        errors.add("title", "too_long", _("Use %(max)s characters or fewer.", max=60))
    product_id = _int(data, "product_id", errors, minimum=1, maximum=ID_MAX)
    product = db.session.get(Product, product_id) if product_id else None
    if product_id and product is None:
        errors.add("product_id", "unknown", _("Choose a product of this store."))
    skus = list(product.skus) if product is not None else []
    sku_ids = []
    for raw in _values(data, "sku_ids"):
        try:
            sku_ids.append(int(raw))
        except (TypeError, ValueError):
            errors.add("sku_ids", "type", _("Choose options of the product."))
    if sku_ids and product is not None and not set(sku_ids) <= {sku.id for sku in skus}:
        errors.add("sku_ids", "unknown", _("Choose options of the product."))
    group_size = _int(data, "group_size", errors, minimum=2, maximum=MAX_GROUP_SIZE)
    tiers = _tiers(data, errors)
    _check_tiers(tiers, group_size, errors)
    leader_raw = _raw(data, "leader_discount_percent")
    leader_bp = (
        0
        if leader_raw in (None, "", 0)
        else _percent_bp(leader_raw, "leader_discount_percent", errors, minimum=0, maximum=5000)
    )
    window_hours = _int(data, "window_hours", errors, minimum=1, maximum=MAX_WINDOW_HOURS, default=24)
    starts_at, ends_at = _moment(data, "starts_at", errors), _moment(data, "ends_at", errors)
    if starts_at and ends_at and ends_at <= starts_at:
        errors.add("ends_at", "order", _("The end must come after the start."))
    quota = _int(data, "quota", errors, minimum=1, maximum=10**7)
    if quota is not None and product is not None:
        stock = sum(sku.stock for sku in skus if not sku_ids or sku.id in sku_ids)
        sold = campaign.sold if campaign is not None else 0
        if quota > stock + sold:
            errors.add("quota", "stock", _("At most the stock of the chosen options (%(stock)s).", stock=stock + sold))
        elif quota < sold:
            errors.add("quota", "sold", _("At least the units already sold (%(sold)s).", sold=sold))
    per_order = _int(data, "per_order_limit", errors, minimum=1, maximum=999, required=False)
    per_shopper = _int(data, "per_shopper_limit", errors, minimum=1, maximum=10**6, required=False)
    if per_order and per_shopper and per_order > per_shopper:
        errors.add("per_order_limit", "range", _("The limit per order cannot exceed the limit per shopper."))
    auto_raw = _raw(data, "auto_complete_percent")
    auto_percent = None
    if hasattr(data, "getlist") and not _bool(data, "auto_complete"):
        auto_raw = None  # the form's box is unticked: off, whatever the number says
    if auto_raw not in (None, ""):
        auto_percent = _int(data, "auto_complete_percent", errors, minimum=50, maximum=99)
    errors.raise_if_any()
    return {
        "title": title,
        "product_id": product_id,
        "sku_ids": sorted(set(sku_ids)),
        "group_size": group_size,
        "tiers": tiers,
        "leader_bp": leader_bp,
        "window_minutes": window_hours * 60,
        "starts_at": starts_at,
        "ends_at": ends_at,
        "quota": quota,
        "per_order_limit": per_order,
        "per_shopper_limit": per_shopper,
        "new_customers_only": _bool(data, "new_customers_only"),
        "auto_complete_percent": auto_percent,
    }


def create(data) -> Campaign:
    campaign = Campaign(**parse(data), sold=0, status="active")
    db.session.add(campaign)
    db.session.flush()
    return campaign


def update(campaign: Campaign, data) -> Campaign:
    """Change a campaign. Groups already open keep the size and ladder they opened with."""
    values = parse(data, campaign)
    if campaign.sold and values["product_id"] != campaign.product_id:
        raise ValidationFailed({"product_id": ("locked", _("The product cannot change once units are sold."))})
    for key, value in values.items():
        setattr(campaign, key, value)
    db.session.flush()
    return campaign


def end(campaign: Campaign) -> None:
    campaign.status = "ended"


def delete(campaign: Campaign) -> None:
    used = db.session.execute(
        sa.select(sa.func.count()).select_from(Member).where(Member.campaign_id == campaign.id)
    ).scalar_one()
    if used:
        raise ValidationFailed({"campaign": ("in_use", _("Shoppers have ordered in this campaign: end it instead."))})
    db.session.delete(campaign)


# --- statistics ---------------------------------------------------------------------------------


def stats(campaign_ids: list[int]) -> dict[int, dict]:
    """Per campaign: groups by state, paying members, refunds owed or stuck (real rows only)."""
    result = {
        cid: {
            "open": 0,
            "succeeded": 0,
            "failed": 0,
            "cancelled": 0,
            "members": 0,
            "refunds_owed": 0,
            "refunds_failed": 0,
        }
        for cid in campaign_ids
    }
    if not campaign_ids:
        return result
    for cid, status, count in db.session.execute(
        sa.select(Group.campaign_id, Group.status, sa.func.count())
        .where(Group.campaign_id.in_(campaign_ids))
        .group_by(Group.campaign_id, Group.status)
    ):
        result[cid][status] = count
    for cid, count in db.session.execute(
        sa.select(Member.campaign_id, sa.func.count())
        .where(Member.campaign_id.in_(campaign_ids), Member.joined_at.is_not(None))
        .group_by(Member.campaign_id)
    ):
        result[cid]["members"] = count
    for cid, status, count in db.session.execute(
        sa.select(Member.campaign_id, RefundTask.status, sa.func.count())
        .join(Member, Member.id == RefundTask.member_id)
        .where(Member.campaign_id.in_(campaign_ids), RefundTask.status.in_(("due", "processing", "failed")))
        .group_by(Member.campaign_id, RefundTask.status)
    ):
        result[cid]["refunds_failed" if status == "failed" else "refunds_owed"] += count
    for row in result.values():
        closed = row["succeeded"] + row["failed"]
        row["success_rate"] = f"{round(100 * row['succeeded'] / closed)}%" if closed else "—"
    return result


def as_json(campaign: Campaign, *, private: bool = False) -> dict:
    data = {
        "id": campaign.id,
        "title": campaign.title,
        "product_id": campaign.product_id,
        "sku_ids": list(campaign.sku_ids or []),
        "group_size": campaign.group_size,
        "tiers": [{"size": t["size"], "percent": money.percent_text(t["bp"]), "bp": t["bp"]} for t in campaign.tiers],
        "leader_discount_percent": money.percent_text(campaign.leader_bp) if campaign.leader_bp else None,
        "window_hours": campaign.window_minutes // 60,
        "starts_at": aware(campaign.starts_at).isoformat(),
        "ends_at": aware(campaign.ends_at).isoformat(),
        "quota": campaign.quota,
        "remaining": max(0, campaign.quota - campaign.sold),
        "per_order_limit": campaign.per_order_limit,
        "per_shopper_limit": campaign.per_shopper_limit,
        "new_customers_only": campaign.new_customers_only,
        "phase": phase(campaign),
    }
    if private:
        data.update(sold=campaign.sold, status=campaign.status, auto_complete_percent=campaign.auto_complete_percent)
    return data


def default_form_values() -> dict:
    start = now().astimezone(store_zone()).replace(second=0, microsecond=0)
    return {
        "starts_at": start.strftime("%Y-%m-%dT%H:%M"),
        "ends_at": (start + timedelta(days=7)).strftime("%Y-%m-%dT%H:%M"),
        "window_hours": "24",
        "group_size": "3",
        "tier_size": ["2", "3", ""],
        "tier_percent": ["95", "90", ""],
    }
