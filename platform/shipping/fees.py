"""Built-in shipping fees from the store's templates (registered as a plugin, runs last)."""

from __future__ import annotations

from flask_babel import gettext as _

from mallow import settings
from mallow.db import db
from mallow.plugins.hookspecs import hookimpl
from mallow.pricing.model import Adjustment, PricingContext, Problem
from mallow.shipping.models import ShippingTemplate


def _rule_for(template: ShippingTemplate, province: str | None) -> dict | None:
    fallback = None
    for rule in template.rules or []:
        regions = rule.get("regions") or ["*"]
        if province and province in regions:
            return rule
        if "*" in regions and fallback is None:
            fallback = rule
    return fallback


def template_fee(template: ShippingTemplate, units: int, subtotal: int, province: str | None) -> int | None:
    """Fee in fen for ``units`` (pieces or grams) to ``province``; None = not delivered there."""
    if template.free_over is not None and subtotal >= template.free_over:
        return 0
    rule = _rule_for(template, province)
    if rule is None:
        return None
    first, extra = int(rule.get("first", 1)), max(int(rule.get("extra", 1)), 1)
    fee = int(rule.get("first_fee", 0))
    if units > first:
        fee += -(-(units - first) // extra) * int(rule.get("extra_fee", 0))  # ceil, in integers
    return fee


@hookimpl
def mallow_shipping_fee(context: PricingContext, subtotal: int):
    """The templates' fee (runs after every plugin), a ``not_deliverable`` problem, or None when
    there is nothing to charge (the label is translated only for a fee that is shown)."""
    fallback = settings.get("default_shipping_template")
    by_template: dict[int, list] = {}
    for line in context.lines:
        template_id = line.shipping_template_id or fallback
        if template_id is not None:
            by_template.setdefault(template_id, []).append(line)
    total = 0
    for template_id, lines in sorted(by_template.items()):
        template = db.session.get(ShippingTemplate, template_id)
        if template is None:
            continue
        units = sum(line.quantity if template.mode == "pieces" else line.weight_g * line.quantity for line in lines)
        fee = template_fee(template, units, subtotal, context.province)
        if fee is None:
            return Problem(
                "not_deliverable",
                _("Some items cannot be delivered to %(province)s.", province=context.province or "?"),
                lines[0].index,
            )
        total += fee
    if not total:  # nothing to charge: no adjustment (the pipeline keeps none of 0 fen either)
        return None
    return Adjustment("shipping", "core", "shipping", _("Shipping"), total)
