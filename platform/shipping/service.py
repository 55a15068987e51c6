"""Managing a store's shipping-fee templates (see :class:`~mallow.shipping.models.ShippingTemplate`)."""

from __future__ import annotations

import sqlalchemy as sa
from flask_babel import gettext as _

from mallow import settings
from mallow.catalog.models import Product
from mallow.db import db
from mallow.shipping.models import ShippingTemplate
from mallow.validation import Errors, ValidationFailed, text

MAX_RULES = 40
MAX_FEE = 100_000_00  # fen


def _whole(value, errors: Errors, field: str, minimum: int, maximum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        errors.add(field, "invalid", _("Enter a whole number."))
        return 0
    if not minimum <= value <= maximum:
        errors.add(field, "range", _("Enter a number from %(min)s to %(max)s.", min=minimum, max=maximum))
    return value


def clean(data) -> dict:
    """``{"name", "mode", "free_over" (fen or null), "rules": [{"regions", "first", "first_fee",
    "extra", "extra_fee"}]}`` → the values to store; field errors otherwise."""
    errors = Errors()
    name = text(data, "name", 41)
    if not name or len(name) > 40:
        errors.add("name", "required", _("Name the template (at most 40 characters)."))
    mode = data.get("mode", "pieces")
    if mode not in ("pieces", "weight"):
        errors.add("mode", "invalid", _("Charge by pieces or by weight."))
    free_over = data.get("free_over")
    if free_over is not None:
        free_over = _whole(free_over, errors, "free_over", 0, MAX_FEE * 100)
    rules = data.get("rules")
    if not isinstance(rules, list) or not 1 <= len(rules) <= MAX_RULES:
        errors.add("rules", "invalid", _("Give between 1 and %(max)s rules.", max=MAX_RULES))
        rules = []
    cleaned = []
    for i, rule in enumerate(rules):
        field = f"rules.{i}"
        if not isinstance(rule, dict):
            errors.add(field, "invalid", _("Each rule is an object."))
            continue
        regions = rule.get("regions") or ["*"]
        if not isinstance(regions, list) or not all(isinstance(r, str) and 0 < len(r) <= 20 for r in regions):
            errors.add(f"{field}.regions", "invalid", _("Regions are province names, or * for everywhere else."))
            regions = ["*"]
        cleaned.append(
            {
                "regions": regions,
                "first": _whole(rule.get("first", 1), errors, f"{field}.first", 1, 1_000_000),
                "first_fee": _whole(rule.get("first_fee", 0), errors, f"{field}.first_fee", 0, MAX_FEE),
                "extra": _whole(rule.get("extra", 1), errors, f"{field}.extra", 1, 1_000_000),
                "extra_fee": _whole(rule.get("extra_fee", 0), errors, f"{field}.extra_fee", 0, MAX_FEE),
            }
        )
    errors.raise_if_any()
    return {"name": name, "mode": mode, "free_over": free_over, "rules": cleaned}


def save(data, template: ShippingTemplate | None = None) -> ShippingTemplate:
    values = clean(data)
    if template is None:
        template = ShippingTemplate()
        db.session.add(template)
    for key, value in values.items():
        setattr(template, key, value)
    db.session.flush()
    if data.get("is_default"):
        settings.put("default_shipping_template", template.id)
    return template


def all_templates() -> list[ShippingTemplate]:
    return list(db.session.execute(sa.select(ShippingTemplate).order_by(ShippingTemplate.id)).scalars())


def default_template_id() -> int | None:
    return settings.get("default_shipping_template")


def delete(template: ShippingTemplate) -> None:
    if db.session.execute(sa.select(Product.id).where(Product.shipping_template_id == template.id)).first():
        raise ValidationFailed({"template": ("in_use", _("Products use this template: give them another first."))})
    if default_template_id() == template.id:
        settings.put("default_shipping_template", None)
    db.session.delete(template)


def as_json(template: ShippingTemplate) -> dict:
    return {
        "id": template.id,
        "name": template.name,
        "mode": template.mode,
        "free_over": template.free_over,
        "rules": template.rules,
        "is_default": default_template_id() == template.id,
    }
