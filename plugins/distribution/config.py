"""The merchant's rules: store settings, grades and product rates. Every change is checked
against the legal limits (:mod:`.rules`) and written to the audit log with before and after."""

from __future__ import annotations

import sqlalchemy as sa

from mallow.sdk import (
    Customer,
    Errors,
    Product,
    ValidationFailed,
    current_store,
    db,
    form_text,
    id_value,
    record_audit,
    save_plugin_settings,
)
from mallow_distribution import rules
from mallow_distribution.i18n import _
from mallow_distribution.models import Distributor, Grade, ProductRule

FLAGS = ("auto_approve", "include_flashsale", "include_groupbuy")
MIN_WITHDRAWAL = (100, 100_000_000)  # fen: 1 yuan to 1,000,000 yuan


def _flag(data, name: str) -> bool:
    value = data.get(name) if hasattr(data, "get") else None
    return value in (True, "1", "on", "true", "yes")


def _int(data, name: str, errors: Errors, low: int, high: int, message) -> int | None:
    raw = data.get(name) if hasattr(data, "get") else None
    if isinstance(raw, bool):
        raw = None
    value = raw if isinstance(raw, int) else None
    if isinstance(raw, str) and raw.strip().isdigit():
        value = int(raw.strip())
    if value is None or not low <= value <= high:
        errors.add(name, "invalid", message)
        return None
    return value


def parse_settings(data) -> dict:
    """Form or JSON → settings. Levels above :data:`rules.MAX_LEVELS` are refused outright."""
    errors = Errors()
    levels_raw = data.get("levels") if hasattr(data, "get") else None
    levels = (
        levels_raw
        if isinstance(levels_raw, int) and not isinstance(levels_raw, bool)
        else (int(levels_raw) if isinstance(levels_raw, str) and levels_raw.strip().isdigit() else None)
    )
    if levels is None or not 1 <= levels <= rules.MAX_LEVELS:
        errors.add(
            "levels",
            "too_many_levels" if isinstance(levels, int) and levels > rules.MAX_LEVELS else "invalid",
            _("Commission is paid on one or two levels, never more."),
        )
    level1 = rules.parse_percent(data.get("level1_rate"), "level1_rate", errors)
    level2 = rules.parse_percent(data.get("level2_rate"), "level2_rate", errors, optional=True) or 0
    if level1 is not None:
        rules.check_rates(level1, level2 if levels == 2 else 0, errors)
    mode = form_text(data, "binding_mode", 20)
    if mode not in rules.BINDING_MODES:
        errors.add("binding_mode", "invalid", _("Choose how long a referral lasts."))
    days = (
        _int(data, "binding_days", errors, 1, 3650, _("Enter a number of days from 1 to 3650."))
        if mode == "days"
        else int(rules.settings().get("binding_days", 30))
    )
    minimum = rules.parse_yuan(data.get("min_withdrawal"), "min_withdrawal", errors)
    if minimum is not None and not MIN_WITHDRAWAL[0] <= minimum <= MIN_WITHDRAWAL[1]:
        errors.add("min_withdrawal", "out_of_range", _("Enter a minimum from 1 to 1,000,000 yuan."))
    errors.raise_if_any()
    return {
        "levels": levels,
        "level1_rate_bp": level1,
        "level2_rate_bp": level2,
        "binding_mode": mode,
        "binding_days": days,
        "min_withdrawal": minimum,
        **{flag: _flag(data, flag) for flag in FLAGS},
    }


def save_settings(data, staff_actor) -> dict:
    """Validate and store the settings through the platform's own path, audit-logged."""
    values = parse_settings(data)
    before = rules.settings()
    store = current_store()
    save_plugin_settings(rules.PLUGIN, values)  # the platform's own path: the manifest's schema is checked too
    changed = {key: {"from": before.get(key), "to": value} for key, value in values.items() if before.get(key) != value}
    record_audit(
        "distribution.settings_changed",
        actor=staff_actor,
        store_id=store.id,
        target="plugin:distribution",
        detail={"changed": changed},
    )
    db.session.commit()
    return values


# --- Grades -----------------------------------------------------------------------------------


def _rates(data, errors: Errors) -> tuple[int | None, int | None]:
    level1 = rules.parse_percent(data.get("level1_rate"), "level1_rate", errors, optional=True)
    level2 = rules.parse_percent(data.get("level2_rate"), "level2_rate", errors, optional=True)
    if "level1_rate" not in errors and "level2_rate" not in errors:
        rules.check_rates(level1, level2, errors)
    return level1, level2


def save_grade(data, staff_actor, grade: Grade | None = None) -> Grade:
    errors = Errors()
    name = form_text(data, "name", 31)
    if not name:
        errors.add("name", "required", _("Name the grade."))
    elif len(name) > 30:
        errors.add("name", "too_long", _("Use at most %(max)s characters.", max=30))
    level1, level2 = _rates(data, errors)
    errors.raise_if_any()
    before = (
        None
        if grade is None
        else {"name": grade.name, "level1_rate_bp": grade.level1_rate_bp, "level2_rate_bp": grade.level2_rate_bp}
    )
    if grade is None:
        grade = Grade()
        db.session.add(grade)
    grade.name, grade.level1_rate_bp, grade.level2_rate_bp = name, level1, level2
    db.session.flush()
    record_audit(
        "distribution.grade_saved",
        actor=staff_actor,
        store_id=current_store().id,
        target=f"grade:{grade.id}",
        detail={"from": before, "to": {"name": name, "level1_rate_bp": level1, "level2_rate_bp": level2}},
    )
    db.session.commit()
    return grade


def delete_grade(grade: Grade, staff_actor) -> None:
    db.session.execute(
        sa.update(Distributor)
        .where(Distributor.grade_id == grade.id)
        .values(grade_id=None)
        .execution_options(synchronize_session=False)
    )
    record_audit(
        "distribution.grade_deleted",
        actor=staff_actor,
        store_id=current_store().id,
        target=f"grade:{grade.id}",
        detail={"name": grade.name, "level1_rate_bp": grade.level1_rate_bp, "level2_rate_bp": grade.level2_rate_bp},
    )
    db.session.delete(grade)
    db.session.commit()


# --- Product rules ----------------------------------------------------------------------------


def save_product_rule(data, staff_actor) -> ProductRule | None:
    """Set a product's own rates or exclude it; with no rates and not excluded the rule goes."""
    errors = Errors()
    product_id = id_value(data.get("product_id") if hasattr(data, "get") else None)
    if product_id is None or db.session.get(Product, product_id) is None:
        errors.add("product_id", "invalid", _("Choose a product of this store."))
    excluded = _flag(data, "excluded")
    level1, level2 = _rates(data, errors)
    errors.raise_if_any()
    rule = db.session.get(ProductRule, product_id)
    before = (
        None
        if rule is None
        else {"excluded": rule.excluded, "level1_rate_bp": rule.level1_rate_bp, "level2_rate_bp": rule.level2_rate_bp}
    )
    after = {"excluded": excluded, "level1_rate_bp": level1, "level2_rate_bp": level2}
    if not excluded and level1 is None and level2 is None:
        if rule is not None:
            db.session.delete(rule)
        rule, after = None, None
    else:
        if rule is None:
            rule = ProductRule(product_id=product_id)
            db.session.add(rule)
        rule.excluded, rule.level1_rate_bp, rule.level2_rate_bp = excluded, level1, level2
    record_audit(
        "distribution.product_rule_saved",
        actor=staff_actor,
        store_id=current_store().id,
        target=f"product:{product_id}",
        detail={"from": before, "to": after},
    )
    db.session.commit()
    return rule


def transfer(customer_id: int, distributor: Distributor, staff_actor) -> None:
    """The merchant moves a shopper to another distributor (same rules: no self, no cycle)."""
    from mallow_distribution import binding

    if id_value(customer_id) is None or db.session.get(Customer, customer_id) is None:
        raise ValidationFailed({"customer_id": ("invalid", _("Choose a shopper of this store."))})
    before = binding.binding_of(customer_id)
    before_id = before.distributor_id if before is not None else None
    bound, reason = binding.bind(customer_id, distributor, "transfer", force=True)
    if not bound:
        raise ValidationFailed({"distributor": (reason, binding_message(reason))})
    record_audit(
        "distribution.binding_transferred",
        actor=staff_actor,
        store_id=current_store().id,
        target=f"customer:{customer_id}",
        detail={"from": before_id, "to": distributor.id},
    )
    db.session.commit()


def binding_message(reason: str) -> str:
    return {
        "self": _("A distributor cannot refer themselves."),
        "cycle": _("This would make a referral loop."),
        "not_approved": _("That distributor is not approved."),
        "already_bound": _("This shopper is bound to that distributor already."),
        "no_distributor": _("No distributor has that code."),
    }.get(reason, reason)
