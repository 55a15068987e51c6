"""The merchant's share reward rule, and granting it: what a sharer gets once the first order of a
shopper they brought **completes** (never for sharing alone: WeChat forbids induced sharing).

* The rule (:func:`rule`, :func:`set_rule`): off, or a coupon worth ``amount`` fen (no threshold)
  or ``amount`` points.
* When a referred first order completes (:func:`on_completed`, from the ``mallow_order_completed``
  hook, in the completion's transaction) the rule **of that moment** is kept on the referral
  (``reward_kind``, ``reward_amount``): a rule changed later changes nothing granted or due. A
  test order (the sandbox: no money moved) is due nothing.
* :func:`grant` gives what is due exactly once: the referral is claimed by one conditional UPDATE
  (``rewarded_at IS NULL``) in the same transaction as the coupon (a private one, through
  :func:`mallow.coupons.service.grant_reward`) or the points (:func:`mallow.membership.service.grant`,
  kind ``reward``) and the sharer's 消息 (``share_reward``, keyed by the referral). Completing twice,
  a retried job or two sweeps racing grant once.
* An order refunded or cancelled before it completes never completes: nothing is ever due.
* :func:`sweep` (``sharing.sweep``, every 10 minutes) grants what a failed grant left due.

Stored texts (the coupon's name, the points entry's reason) are written in the store's default
language (Chinese): the shopper reads them later, whoever completed the order.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _

from mallow import settings
from mallow.accounts.models import Customer
from mallow.coupons import service as coupons
from mallow.db import db, utcnow
from mallow.money import fen_to_yuan
from mallow.notifications import service as notifications
from mallow.orders.models import Order
from mallow.sharing.models import ShareReferral
from mallow.validation import ValidationFailed

log = logging.getLogger("mallow.sharing")

KEY = "share_reward"
#: kinds of reward: a coupon worth ``amount`` fen off, or ``amount`` points
KINDS = ("coupon", "points")
MAX_AMOUNT = 100_000
DEFAULT = settings.DEFAULTS[KEY]


def rule() -> dict:
    """The store's rule: ``{"enabled", "kind", "amount"}`` (off until the merchant sets it), read
    through the store's settings cache (no query when the store's settings are known)."""
    value = settings.get(KEY)
    value = value if isinstance(value, dict) else {}
    return {**DEFAULT, **{k: v for k, v in value.items() if k in DEFAULT}}


def validate(data) -> dict:
    """A rule from input, or :class:`ValidationFailed` with field errors."""
    if not isinstance(data, dict):
        raise ValidationFailed({"enabled": ("invalid", _("Send the reward rule as an object."))})
    errors: dict[str, tuple[str, str]] = {}
    enabled = data.get("enabled", False)
    if not isinstance(enabled, bool):
        errors["enabled"] = ("invalid", _("Choose on or off."))
    kind = data.get("kind", "coupon")
    if kind not in KINDS:
        errors["kind"] = ("invalid", _("Choose a coupon or points."))
    amount = data.get("amount", 0)
    if isinstance(amount, bool) or not isinstance(amount, int) or not 0 <= amount <= MAX_AMOUNT:
        errors["amount"] = ("invalid", _("Enter a whole number from 0 to %(max)s.", max=MAX_AMOUNT))
    elif enabled is True and amount == 0:
        errors["amount"] = ("required", _("Enter the reward of a completed first order."))
    if errors:
        raise ValidationFailed(errors)
    return {"enabled": enabled, "kind": kind, "amount": amount}


def set_rule(data) -> dict:
    """Check and store the rule (the caller commits)."""
    value = validate(data)
    settings.put(KEY, value)
    return value


# --- granting ------------------------------------------------------------------------------------

#: referrals the sweep grants at most per run (the next run goes on)
SWEEP_BATCH = 200


def _stored_language() -> str:
    return current_app.config.get("BABEL_DEFAULT_LOCALE") or "zh_CN"


def reason() -> str:
    """The reward's reason as the shopper reads it (好友首单完成奖励), in the store's language."""
    with force_locale(_stored_language()):
        return _("Reward for a friend's completed first order")


def reward_text(kind: str | None, amount: int | None) -> str:
    """What the reward is, in the page's language: "¥5 coupon" / "200 points" ("" for none)."""
    if not kind or not amount:
        return ""
    if kind == "coupon":
        return _("¥%(amount)s coupon", amount=fen_to_yuan(amount).removesuffix(".00"))
    return _("%(points)s points", points=amount)


def on_completed(order: Order) -> ShareReferral | None:
    """The referred first order ``order`` completed: keep the rule of now on its referral (once:
    a second completion changes nothing) and grant the reward. In the completion's transaction;
    a reward that cannot be granted now is logged and left for :func:`sweep` (the order's
    completion stands). Returns the referral, or None when the order has none or completed before."""
    current = rule()
    due = current["enabled"] and current["amount"] > 0 and not order.is_test
    done = db.session.execute(
        sa.update(ShareReferral)
        .where(ShareReferral.order_id == order.id, ShareReferral.completed_at.is_(None))
        .values(
            completed_at=utcnow(),
            reward_kind=current["kind"] if due else None,
            reward_amount=current["amount"] if due else None,
        )
        .execution_options(synchronize_session=False)
    ).rowcount
    if done != 1:
        return None
    referral = db.session.execute(sa.select(ShareReferral).where(ShareReferral.order_id == order.id)).scalar_one()
    db.session.refresh(referral)
    if referral.reward_kind is not None:
        try_grant(referral)
    return referral


def try_grant(referral: ShareReferral) -> bool:
    """:func:`grant` in a savepoint: a failure is logged and rolled back (the sweep tries again)."""
    try:
        with db.session.begin_nested():
            return grant(referral)
    except Exception:  # a reward must never cost the order its completion, nor the sweep its run
        log.exception("sharing: the reward of referral %s could not be granted now", referral.id)
        return False


def grant(referral: ShareReferral, now: datetime | None = None) -> bool:
    """Give ``referral``'s sharer what is due, once: True if granted now, False if nothing is due
    or it was granted before (by this or another process). In the caller's transaction."""
    now = now or utcnow()
    claimed = db.session.execute(
        sa.update(ShareReferral)
        .where(
            ShareReferral.id == referral.id,
            ShareReferral.rewarded_at.is_(None),
            ShareReferral.completed_at.is_not(None),
            ShareReferral.reward_kind.is_not(None),
        )
        .values(rewarded_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    if claimed != 1:
        return False
    db.session.refresh(referral)
    kind, amount = referral.reward_kind, int(referral.reward_amount or 0)
    why = reason()
    if kind == "coupon":
        with force_locale(_stored_language()):
            name = _("Friend's first order reward")
        holding = coupons.grant_reward(referral.sharer_id, amount, name, why, now=now)
        referral.reward_ref = holding.id
    elif kind == "points":
        from mallow.membership import service as membership

        entry = membership.grant(referral.sharer_id, amount, "reward", why, order_id=referral.order_id)
        referral.reward_ref = entry.id
    else:
        raise ValueError(f"unknown share reward kind {kind!r}")
    with force_locale(_stored_language()):
        what = reward_text(kind, amount)
    notifications.notify_customer("share_reward", referral.sharer_id, f"share_reward:{referral.id}", {"reward": what})
    db.session.flush()
    return True


def sweep(now: datetime | None = None) -> int:
    """Grant what is due and was not granted (a grant that failed in the completion); committed.
    Returns how many were granted."""
    rows = list(
        db.session.execute(
            sa.select(ShareReferral)
            .join(Order, Order.id == ShareReferral.order_id)
            .where(
                ShareReferral.completed_at.is_not(None),
                ShareReferral.rewarded_at.is_(None),
                ShareReferral.reward_kind.is_not(None),
                Order.status == "completed",
            )
            .order_by(ShareReferral.id)
            .limit(SWEEP_BATCH)
        ).scalars()
    )
    granted = sum(1 for referral in rows if try_grant(referral))
    db.session.commit()
    return granted


# --- the sharer's invitations (我的邀请) -------------------------------------------------------


@dataclass(frozen=True)
class Invitation:
    """One first order a shopper's share brought, as the sharer may see it: no name (privacy)."""

    buyer: str  # masked
    ordered_at: datetime
    #: ``pending`` (待完成), ``rewarded`` (已奖励), ``no_reward`` (completed when no reward was set),
    #: ``ended`` (the order was cancelled or refunded: never completes)
    status: str
    reward: str


def mask(name: str | None) -> str:
    """A buyer as the sharer sees them: the first character and stars (张**), never the whole name."""
    name = (name or "").strip()
    return f"{name[:1]}**" if name else "**"


def invitations(sharer_id: int, limit: int = 100) -> list[Invitation]:
    """The first orders the sharer brought, newest first (at most ``limit``)."""
    rows = db.session.execute(
        sa.select(ShareReferral, Order.status, Order.created_at, Customer.nickname)
        .join(Order, Order.id == ShareReferral.order_id)
        .join(Customer, Customer.id == ShareReferral.buyer_id)
        .where(ShareReferral.sharer_id == sharer_id)
        .order_by(ShareReferral.id.desc())
        .limit(limit)
    ).all()
    found = []
    for referral, status, ordered_at, nickname in rows:
        if referral.rewarded_at is not None:
            state = "rewarded"
        elif referral.completed_at is not None:
            state = "no_reward" if referral.reward_kind is None else "pending"
        elif status in ("cancelled", "closed"):
            state = "ended"
        else:
            state = "pending"
        found.append(
            Invitation(mask(nickname), ordered_at, state, reward_text(referral.reward_kind, referral.reward_amount))
        )
    return found
