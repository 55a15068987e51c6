"""The merchant's share reward rule: what a sharer gets once the first order of a shopper they
brought **completes** (never for sharing alone: WeChat forbids induced sharing). The rule and the
referrals (:class:`~mallow.sharing.models.ShareReferral`, due from ``completed_at``) are stored
now; granting the reward (a coupon, points) comes with coupons and points."""

from __future__ import annotations

from flask_babel import gettext as _

from mallow import settings
from mallow.validation import ValidationFailed

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
