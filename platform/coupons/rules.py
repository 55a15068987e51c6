"""The coupon rules, as pure functions of a coupon and the priced lines of a checkout.

A coupon takes off a share of its *eligible* lines: the lines in its scope (the store, some
categories, some products) that are not priced by a marketing plugin it does not stack with (a
flash-sale line takes no coupon unless ``stacks_with`` names ``flashsale``; a member-priced line
always takes one: :data:`ALWAYS_STACKS`). Their total is
counted after their line adjustments (the flash-sale or group price, not the list price):

* ``amount_off`` (满减): ``amount_fen`` off once the eligible total reaches ``threshold_fen``;
* ``percent_off``: ``percent`` % of the eligible total (rounded down to the fen), at most ``cap_fen``;
* ``no_threshold``: ``amount_fen`` off.

Never more than the eligible total: a coupon never makes an order cost less than zero. When a
coupon cannot be used, :func:`evaluate` says why with a code and a message the shopper reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, UTC

from flask_babel import gettext as _

from mallow.money import fen_to_price

#: line prices every coupon stacks with: the member price (会员价) is the store's own standing
#: price for a level, not a campaign (the brief's order: member price → full reduction → coupon)
ALWAYS_STACKS = frozenset({"membership"})

#: why a coupon cannot be used on a cart (the ``code`` of :class:`Verdict`)
REASONS = ("not_yet_valid", "expired", "not_in_scope", "campaign_lines", "below_threshold", "nothing_to_discount")


@dataclass(frozen=True)
class CartLine:
    """A priced line as the coupon rules see it."""

    index: int
    product_id: int
    category_id: int | None
    total: int  # after the line's own adjustment (flash-sale, group price…)
    sources: frozenset[str] = frozenset()  # the plugins whose line adjustment priced it


@dataclass(frozen=True)
class Verdict:
    saving: int  # fen off (positive), 0 when it cannot be used
    code: str | None = None  # why not (:data:`REASONS`), None when usable
    message: str = ""
    eligible_total: int = 0
    eligible_lines: tuple[int, ...] = ()

    @property
    def usable(self) -> bool:
        return self.code is None and self.saving > 0


def _aware(moment: datetime | None) -> datetime | None:
    return moment.replace(tzinfo=UTC) if moment is not None and moment.tzinfo is None else moment


def _plugin_label(name: str) -> str:
    labels = {"flashsale": _("flash-sale"), "groupbuy": _("group-buy"), "distribution": _("distribution")}
    return labels.get(name, name)


def in_scope(coupon, line: CartLine) -> bool:
    ids = {int(i) for i in coupon.scope_ids or ()}
    if coupon.scope == "categories":
        return line.category_id is not None and line.category_id in ids
    if coupon.scope == "products":
        return line.product_id in ids
    return True


def saving_on(coupon, eligible_total: int) -> int:
    """Fen the coupon takes off ``eligible_total`` (0 below a 满减 threshold)."""
    if eligible_total <= 0:
        return 0
    if coupon.kind == "percent_off":
        saving = eligible_total * int(coupon.percent or 0) // 100
        if coupon.cap_fen is not None:
            saving = min(saving, int(coupon.cap_fen))
    elif coupon.kind == "amount_off" and eligible_total < int(coupon.threshold_fen or 0):
        return 0
    else:
        saving = int(coupon.amount_fen or 0)
    return max(0, min(saving, eligible_total))


def evaluate(coupon, valid_from: datetime, valid_until: datetime, lines: list[CartLine], now: datetime) -> Verdict:
    """What the coupon (held from ``valid_from`` until ``valid_until``) takes off ``lines`` now."""
    now = _aware(now)
    if now < _aware(valid_from):
        when = _aware(valid_from).strftime("%Y-%m-%d %H:%M")
        return Verdict(0, "not_yet_valid", _("Not valid yet: usable from %(when)s (UTC).", when=when))
    if now >= _aware(valid_until):
        return Verdict(0, "expired", _("This coupon has expired."))
    scoped = [line for line in lines if in_scope(coupon, line)]
    if not scoped:
        return Verdict(0, "not_in_scope", _("None of these items is covered by this coupon."))
    allowed = set(coupon.stacks_with or ()) | ALWAYS_STACKS
    eligible = [line for line in scoped if line.sources <= allowed]
    if not eligible:
        names = sorted({name for line in scoped for name in line.sources - allowed})
        labels = "、".join(_plugin_label(name) for name in names)
        return Verdict(0, "campaign_lines", _("Cannot be used on %(campaigns)s items.", campaigns=labels))
    total = sum(max(0, line.total) for line in eligible)
    indexes = tuple(line.index for line in eligible)
    threshold = int(coupon.threshold_fen or 0) if coupon.kind == "amount_off" else 0
    if total < threshold:
        short = fen_to_price(threshold - total)
        message = _("Spend %(amount)s more on eligible items to use it.", amount=short)
        return Verdict(0, "below_threshold", message, total, indexes)
    saving = saving_on(coupon, total)
    if saving <= 0:
        return Verdict(0, "nothing_to_discount", _("Nothing to take off."), total, indexes)
    return Verdict(saving, None, "", total, indexes)


def describe(coupon) -> str:
    """The coupon's offer in a few words: 满 ¥100 减 ¥10, 八折 (up to ¥20), ¥5 off."""
    if coupon.kind == "amount_off":
        return _(
            "%(amount)s off orders over %(threshold)s",
            amount=fen_to_price(coupon.amount_fen or 0),
            threshold=fen_to_price(coupon.threshold_fen or 0),
        )
    if coupon.kind == "percent_off":
        if coupon.cap_fen is not None:
            return _("%(percent)s%% off, up to %(cap)s", percent=coupon.percent, cap=fen_to_price(coupon.cap_fen))
        return _("%(percent)s%% off", percent=coupon.percent)
    return _("%(amount)s off, no minimum", amount=fen_to_price(coupon.amount_fen or 0))
