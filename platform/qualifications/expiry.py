"""Valid-until dates: what lapses, what it takes off sale, what the merchant is told.

Every qualification carries a valid-until date for the business licence (or none: 长期) and one
per permit. :func:`check_store` runs in a store's context, daily for every store (``jobs.py``)
and right after an approval, and brings the store in line with its documents as of ``today``:

* a lapsed **business licence** (everything needs it): the qualification becomes ``expired``
  and an open store is suspended (``status_reason = "qualification_expired"``);
* a lapsed **permit** that the store's category needs (a requirement group of the matrix that no
  still-valid permit meets any more): every product on the shelf goes off it, held in
  :class:`~mallow.qualifications.holds.ShelfHold`; the storefront stays open;
* all requirements met again (a renewed document approved): exactly the held products return;
* a document that lapses within :data:`WARN_BEFORE`: a reminder.

A store's products are all of its main platform category (the one its qualification was
submitted and approved for: products have no platform category of their own). Each state is a
console notice (raised once while it lasts, resolved when it no longer applies) and each change
an audit entry.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, UTC
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import current_app
from flask_babel import force_locale, gettext as _

from mallow import audit, notices
from mallow.db import db
from mallow.qualifications.holds import hold_on_shelf_products, release_holds
from mallow.qualifications.matrix import Category, permit_kinds, permit_names, unmet_groups
from mallow.qualifications.models import QUALIFICATION_STATES, Qualification
from mallow.tenants.context import store_context
from mallow.tenants.models import STORE_STATES, Store

WARN_BEFORE = timedelta(days=30)
NOTICE_KIND = "qualification"
LAPSED_REASON = "qualification_expired"


def local_today(now: datetime | None = None) -> date:
    """The calendar date in the platform's time zone (valid-until dates are Chinese dates)."""
    now = now or datetime.now(UTC)
    return now.astimezone(ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])).date()


def current_qualification(store_id: int) -> Qualification | None:
    """The newest approved or expired qualification: what the store's documents are now."""
    return db.session.execute(
        sa.select(Qualification)
        .where(Qualification.store_id == store_id, Qualification.status.in_(("approved", "expired")))
        .order_by(Qualification.revision.desc())
        .limit(1)
    ).scalar_one_or_none()


def lapsed_requirements(
    qualification: Qualification, today: date, category: str | None = None
) -> tuple[list[str], list[list[str]]]:
    """``(lapsed permit kinds, requirement groups they leave unmet)`` for ``category`` (a platform
    category code; the qualification's own by default)."""
    lapsed = sorted({p.kind for p in qualification.permits if p.valid_until is not None and p.valid_until < today})
    row = db.session.get(Category, category or qualification.category)
    if not lapsed or row is None:
        return lapsed, []
    valid = {p.kind for p in qualification.permits if p.valid_until is None or p.valid_until >= today}
    return lapsed, [group for group in unmet_groups(row, valid) if set(group) & set(lapsed)]


def blocking_permits(qualification: Qualification, today: date, category: str | None = None) -> list[str]:
    """The lapsed permit kinds that leave a requirement of ``category`` (the qualification's own by
    default) unmet on ``today``: while there are any, nothing of that category may be on sale. The
    one rule behind the sweep and :mod:`.selling` (every shelf write and checkout)."""
    lapsed, unmet = lapsed_requirements(qualification, today, category)
    needed = {kind for group in unmet for kind in group}
    return [kind for kind in lapsed if kind in needed]


def _documents(qualification: Qualification) -> list[tuple[str, str, date | None]]:
    """``(key, name, valid until)`` of the licence and each permit."""
    kinds = permit_kinds()
    documents = [("licence", _("business licence"), qualification.licence_valid_until)]
    for permit in qualification.permits:
        name = kinds[permit.kind].name_zh if permit.kind in kinds else permit.kind
        documents.append((f"permit:{permit.kind}", name, permit.valid_until))
    return documents


def check_store(store: Store, today: date) -> dict:
    """Apply the store's documents as of ``today`` (idempotent); returns what changed."""
    with force_locale(current_app.config["BABEL_DEFAULT_LOCALE"]):  # notices are for the merchant
        return _check(store, today)


def _check(store: Store, today: date) -> dict:
    result = {"suspended": False, "held": [], "restored": []}
    wanted: dict[str, tuple[str, dict] | None] = {}  # notice key → (message, detail); None: keep as is
    qualification = current_qualification(store.id)
    if (
        qualification is not None
        and qualification.status == "approved"
        and _lapsed(qualification.licence_valid_until, today)
    ):
        result["suspended"] = _expire(store, qualification)
    if qualification is not None and qualification.status == "expired":
        until = qualification.licence_valid_until
        wanted[f"q{qualification.id}:licence_lapsed"] = (
            _(
                "Your business licence expired on %(date)s: the storefront is closed until a renewed licence is "
                "submitted and approved.",
                date=until.isoformat() if until else "—",
            ),
            {"document": "licence"},
        )
    elif qualification is not None:  # approved
        wanted.update(_apply_permits(store, qualification, today, result))
        wanted.update(_reminders(qualification, today))
        resubmit = f"q{qualification.id}:resubmit"
        if notices.is_open(NOTICE_KIND, resubmit):
            wanted[resubmit] = None  # asked by the platform: open until a newer submission is approved
    _reconcile_notices(store, wanted)
    return result


def _expire(store: Store, qualification: Qualification) -> bool:
    """The business licence lapsed: the qualification expires and an open store is suspended."""
    QUALIFICATION_STATES.move(qualification, "expired")
    audit.record(
        "qualification.expired",
        store_id=store.id,
        target=f"qualification:{qualification.id}",
        detail={"document": "licence", "valid_until": qualification.licence_valid_until.isoformat()},
    )
    if store.status != "open":
        return False
    STORE_STATES.move(store, "suspended")
    store.status_reason = LAPSED_REASON
    audit.record("store.suspended", store_id=store.id, target=f"store:{store.slug}", detail={"reason": LAPSED_REASON})
    return True


def _apply_permits(store: Store, qualification: Qualification, today: date, result: dict) -> dict:
    """Hold the products while a lapsed permit leaves a requirement unmet, release them after."""
    lapsed = blocking_permits(qualification, today)
    if not lapsed:
        result["restored"] = release_holds()
        if result["restored"]:
            audit.record(
                "qualification.products_restored",
                store_id=store.id,
                target=f"qualification:{qualification.id}",
                detail={"products": result["restored"]},
            )
        return {}
    result["held"] = hold_on_shelf_products(lapsed)
    if result["held"]:
        audit.record(
            "qualification.permit_lapsed",
            store_id=store.id,
            target=f"qualification:{qualification.id}",
            detail={"permits": lapsed, "products": result["held"]},
        )
    return {f"q{qualification.id}:permit_lapsed": (lapsed_message(lapsed), {"permits": lapsed})}


def lapsed_message(permits: list[str]) -> str:
    """For the merchant: the lapsed permits (named) keep the products off the shelf until renewed."""
    return _(
        "%(permits)s expired: your products are off the shelf until a renewed permit is submitted and approved.",
        permits=permit_names(permits),
    )


def _reminders(qualification: Qualification, today: date) -> dict:
    """A notice for each document that lapses within :data:`WARN_BEFORE`."""
    return {
        f"q{qualification.id}:expiring:{key}": (
            _(
                "Your %(document)s expires on %(date)s (in %(days)s days): submit the renewed document in time.",
                document=name,
                date=until.isoformat(),
                days=(until - today).days,
            ),
            {"document": key},
        )
        for key, name, until in _documents(qualification)
        if until is not None and today <= until <= today + WARN_BEFORE
    }


def _lapsed(until: date | None, today: date) -> bool:
    return until is not None and until < today


def _reconcile_notices(store: Store, wanted: dict) -> None:
    """Raise the wanted qualification notices (audited when new), resolve the others."""
    for notice in notices.open_notices(kind=NOTICE_KIND):
        if notice.key not in wanted:
            notices.resolve(NOTICE_KIND, notice.key)
    for key, value in wanted.items():
        if value is None:
            continue
        message, detail = value
        if not notices.is_open(NOTICE_KIND, key):
            audit.record(
                "qualification.notice",
                store_id=store.id,
                target=f"store:{store.slug}",
                detail={"notice": key, **detail},
            )
        notices.raise_notice(NOTICE_KIND, key, message, detail)


def check_now(store_id: int) -> dict:
    """Run :func:`check_store` for one store at once (after a decision), in its own context."""
    app = current_app._get_current_object()
    with store_context(store_id, app=app) as store:
        result = check_store(store, local_today())
        db.session.commit()
    return result
