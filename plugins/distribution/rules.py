"""The rules that keep distribution legal, in code rather than in a setting.

* At most **two** levels are ever paid: the shopper's referrer (level 1) and that referrer's own
  referrer (level 2). :data:`MAX_LEVELS` is not configurable; the store picks 1 (default) or 2,
  the manifest's schema refuses anything else, and :func:`levels` clamps whatever is stored.
* Level 1 % + level 2 % never exceeds the platform cap (``MALLOW_DISTRIBUTION_MAX_RATE_BP``,
  default 30 %, itself never above 100 %) of a line's paid amount.
* No fee or purchase to join, no pay for recruiting, no grade earned by headcount: there is
  simply no code path that could pay for any of them.

Rates are integer basis points (``1050`` = 10.5 %); commission is ``base × rate // 10000`` fen.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from flask import current_app

from mallow.sdk import Errors, plugin_settings
from mallow_distribution.i18n import _

PLUGIN = "distribution"
MAX_LEVELS = 2
FULL_BP = 10_000
DEFAULT_CAP_BP = 3_000
#: order adjustments whose source marks a line as a campaign line (no commission by default)
CAMPAIGN_SOURCES = {"flashsale": "include_flashsale", "groupbuy": "include_groupbuy"}
BINDING_MODES = ("first_touch", "days")
PAYOUT_METHODS = ("wechat_transfer", "bank_transfer", "alipay", "cash", "other")


def settings() -> dict:
    """The active store's settings for this plugin (defaults filled in; empty when disabled)."""
    return plugin_settings(PLUGIN)


def enabled() -> bool:
    return bool(settings())


def levels(values: dict | None = None) -> int:
    """How many levels this store pays: its setting, never more than :data:`MAX_LEVELS`."""
    values = settings() if values is None else values
    try:
        wanted = int(values.get("levels", 1))
    except (TypeError, ValueError):
        wanted = 1
    return max(1, min(wanted, MAX_LEVELS))


def cap_bp() -> int:
    """The platform's cap on level 1 + level 2 of a line (basis points, at most 100 %)."""
    try:
        configured = int(current_app.config.get("MALLOW_DISTRIBUTION_MAX_RATE_BP", DEFAULT_CAP_BP))
    except (TypeError, ValueError):
        configured = DEFAULT_CAP_BP
    return max(0, min(configured, FULL_BP))


def clamp_rates(level1_bp: int, level2_bp: int) -> tuple[int, int]:
    """The rates actually paid: each non-negative, and together within the cap."""
    cap = cap_bp()
    first = max(0, min(int(level1_bp), cap))
    second = max(0, min(int(level2_bp), cap - first))
    return first, second


def commission_for(base: int, rate_bp: int) -> int:
    """Integer fen, rounded down: never more than the rate of the base."""
    if base <= 0 or rate_bp <= 0:
        return 0
    return base * rate_bp // FULL_BP


# --- Reading rates from forms and checking a set of rates ------------------------------------

PERCENT_RE = re.compile(r"^\d{1,3}(\.\d{1,2})?$")


def parse_percent(raw, field: str, errors: Errors, *, optional: bool = False) -> int | None:
    """``"10.5"`` (a percentage with at most two decimals) → ``1050`` basis points."""
    if isinstance(raw, bool):
        raw = None
    if isinstance(raw, (int, float)) and not isinstance(raw, bool):
        raw = str(raw)
    value = (raw or "").strip() if isinstance(raw, str) else ""
    if not value:
        if optional:
            return None
        errors.add(field, "required", _("Enter a percentage."))
        return None
    try:
        if not PERCENT_RE.match(value):
            raise InvalidOperation
        bp = int(Decimal(value) * 100)
    except InvalidOperation:
        errors.add(field, "invalid", _("Enter a percentage such as 10 or 7.5."))
        return None
    if bp > FULL_BP:
        errors.add(field, "too_high", _("A rate cannot be above 100%."))
        return None
    return bp


AMOUNT_RE = re.compile(r"^\d{1,9}(\.\d{1,2})?$")


def parse_yuan(raw, field: str, errors: Errors) -> int | None:
    """``"12.5"`` yuan (a form) → ``1250`` fen; an integer (JSON) is taken as fen already."""
    if isinstance(raw, int) and not isinstance(raw, bool):
        return raw
    value = raw.strip() if isinstance(raw, str) else ""
    if not AMOUNT_RE.match(value):
        errors.add(field, "invalid", _("Enter an amount in yuan, such as 50 or 12.80."))
        return None
    whole, _dot, part = value.partition(".")
    return int(whole) * 100 + int((part + "00")[:2])


def check_rates(level1_bp: int | None, level2_bp: int | None, errors: Errors, *, field: str = "level2_rate") -> None:
    """Refuse a pair of rates whose sum is above the platform cap (and so above 100 %)."""
    cap = cap_bp()
    for name, value in (("level1_rate", level1_bp), ("level2_rate", level2_bp)):
        if value is not None and value > cap:
            errors.add(
                name, "above_cap", _("The platform allows at most %(cap)s%% commission on a line.", cap=format_bp(cap))
            )
    if (level1_bp or 0) + (level2_bp or 0) > cap:
        errors.add(
            field,
            "above_cap",
            _("Level 1 and level 2 together may be at most %(cap)s%% of the paid amount.", cap=format_bp(cap)),
        )


def format_bp(bp: int | None) -> str:
    """``1050`` → ``"10.5"`` (for forms and pages; the sign is added by the caller)."""
    if bp is None:
        return ""
    whole, part = divmod(int(bp), 100)
    return f"{whole}" if part == 0 else f"{whole}.{part:02d}".rstrip("0")
