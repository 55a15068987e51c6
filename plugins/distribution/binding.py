"""Who referred whom: binding a shopper to a distributor, and walking up (at most two) levels.

A shopper arrives through a distributor's link or code (kept in the session), and is bound when
the shopper is known: on opening the link or a distribution page signed in, through the API
right after sign-up (``bind``), or at the first order placed with the code. Rules:

* never self-binding, never a cycle (a shopper is never bound below someone in their own
  downline), only approved distributors;
* ``first_touch``: the first binding is permanent; ``days``: a binding lasts N days, during
  which no other link can take the shopper (protection), after which it pays nothing and the
  next link re-binds;
* the merchant can transfer a shopper to another distributor (audit-logged), same checks.

:func:`upline` is what commission uses: it walks at most ``levels`` (≤ 2) ancestors and stops
at the first repeat, so deeper or cyclic data can never pay more than two people, the buyer
never earns on their own order, and nobody is paid twice for one line.
"""

from __future__ import annotations

from datetime import datetime, timedelta, UTC

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from mallow.sdk import db
from mallow_distribution import rules
from mallow_distribution.models import Binding, Distributor

#: how far the write-time cycle check looks up (far more than anyone needs; it is not paying)
CYCLE_CHECK_DEPTH = 256


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(moment):
    return moment.replace(tzinfo=UTC) if moment is not None and moment.tzinfo is None else moment


def is_active(binding: Binding | None, now: datetime | None = None) -> bool:
    if binding is None:
        return False
    expires = _aware(binding.expires_at)
    return expires is None or expires > (now or _now())


def binding_of(customer_id: int) -> Binding | None:
    return db.session.execute(sa.select(Binding).where(Binding.customer_id == customer_id)).scalar_one_or_none()


def referrer_of(customer_id: int, now: datetime | None = None) -> Distributor | None:
    """The distributor a shopper is actively bound to (any status), or None."""
    binding = binding_of(customer_id)
    if not is_active(binding, now):
        return None
    return db.session.get(Distributor, binding.distributor_id)


def upline(buyer_id: int, levels: int, now: datetime | None = None) -> list[Distributor]:
    """The approved distributors paid for ``buyer_id``'s order: ``[level 1, level 2]`` at most.

    Walks at most ``min(levels, MAX_LEVELS)`` ancestors and stops at the first gap, repeat or
    unapproved distributor (never skips ahead to someone further up)."""
    levels = max(0, min(int(levels), rules.MAX_LEVELS))
    paid: list[Distributor] = []
    seen_customers = {buyer_id}
    customer_id = buyer_id
    for _level in range(levels):
        distributor = referrer_of(customer_id, now)
        if distributor is None or distributor.status != "approved" or distributor.customer_id in seen_customers:
            break
        paid.append(distributor)
        seen_customers.add(distributor.customer_id)
        customer_id = distributor.customer_id
    return paid


def _would_cycle(customer_id: int, distributor: Distributor) -> bool:
    """True when ``distributor`` is ``customer_id`` or somewhere below them."""
    seen: set[int] = set()
    current = distributor.customer_id
    for _step in range(CYCLE_CHECK_DEPTH):
        if current == customer_id:
            return True
        if current in seen:
            return False  # a cycle already in the data, not through this shopper
        seen.add(current)
        binding = binding_of(current)
        if binding is None:
            return False
        above = db.session.get(Distributor, binding.distributor_id)
        if above is None:
            return False
        current = above.customer_id
    return True  # unreasonably deep: refuse rather than guess


def find_code(code: str | None) -> Distributor | None:
    code = (code or "").strip().upper()
    if not code or len(code) > 16 or not code.isalnum():
        return None
    return db.session.execute(sa.select(Distributor).where(Distributor.code == code)).scalar_one_or_none()


def bind(
    customer_id: int, distributor: Distributor | None, source: str, *, now: datetime | None = None, force: bool = False
) -> tuple[bool, str]:
    """Bind a shopper to ``distributor``; returns ``(bound, reason)``. Never raises for a rule:
    the reasons are ``bound``, ``no_distributor``, ``not_approved``, ``self``, ``cycle``,
    ``already_bound``. ``force`` (the merchant's transfer) replaces an active binding."""
    now = now or _now()
    if distributor is None:
        return False, "no_distributor"
    if distributor.status != "approved":
        return False, "not_approved"
    if distributor.customer_id == customer_id:
        return False, "self"
    existing = binding_of(customer_id)
    if existing is not None and existing.distributor_id == distributor.id and is_active(existing, now):
        return False, "already_bound"
    if is_active(existing, now) and not force:
        return False, "already_bound"
    if _would_cycle(customer_id, distributor):
        return False, "cycle"
    values = rules.settings()
    expires = None
    if values.get("binding_mode") == "days":
        expires = now + timedelta(days=int(values.get("binding_days", 30)))
    try:
        with db.session.begin_nested():
            if existing is None:
                db.session.add(
                    Binding(
                        customer_id=customer_id,
                        distributor_id=distributor.id,
                        source=source,
                        bound_at=now,
                        expires_at=expires,
                    )
                )
            else:
                existing.distributor_id, existing.source = distributor.id, source
                existing.bound_at, existing.expires_at = now, expires
            db.session.flush()
    except IntegrityError:  # another request bound this shopper a moment ago: first one wins
        return False, "already_bound"
    return True, "bound"


def direct_referrals(distributor_id: int, now: datetime | None = None) -> list[Binding]:
    """The shoppers actively bound to a distributor (direct only: nobody further down)."""
    now = now or _now()
    rows = (
        db.session.execute(
            sa.select(Binding)
            .where(Binding.distributor_id == distributor_id)
            .order_by(Binding.bound_at.desc(), Binding.id.desc())
        )
        .scalars()
        .all()
    )
    return [row for row in rows if is_active(row, now)]
