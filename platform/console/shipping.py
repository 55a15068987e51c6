"""The console's shipping templates page (``/s/<slug>/console/shipping``, staff of the store): a
form in yuan that becomes the shipping service's rules in fen."""

from __future__ import annotations

from flask import redirect, request, url_for
from flask_babel import gettext as _

from mallow.accounts.guards import staff_required
from mallow.db import db
from mallow.money import MoneyError, yuan_to_fen
from mallow.shipping import service
from mallow.validation import ValidationFailed
from mallow.web import render_form
from mallow.web.blueprints import console as bp


def _fen(raw: str, field: str) -> int:
    try:
        return yuan_to_fen(raw or "0")
    except MoneyError:
        raise ValidationFailed({field: ("invalid", _("Enter an amount in yuan, e.g. 12.50."))}) from None


def _count(raw: str, field: str) -> int:
    if not (raw or "").strip().isdigit():
        raise ValidationFailed({field: ("invalid", _("Enter a whole number."))})
    return int(raw)


def _rules_from_form(form) -> list[dict]:
    """Region lines ``浙江省 上海市: 1, 6.00, 1, 1.00`` (first units, fee, extra units, fee), then
    the everywhere-else rule from its own fields."""
    rules = []
    for number, line in enumerate((form.get("regions") or "").splitlines(), 1):
        if not line.strip():
            continue
        regions, _sep, numbers = line.partition(":")
        parts = [p.strip() for p in numbers.replace("，", ",").split(",")]
        if not _sep or len(parts) != 4:
            raise ValidationFailed(
                {"regions": ("invalid", _("Line %(line)s: provinces, a colon, then four numbers.", line=number))}
            )
        rules.append(
            {
                "regions": regions.split(),
                "first": _count(parts[0], "regions"),
                "first_fee": _fen(parts[1], "regions"),
                "extra": _count(parts[2], "regions"),
                "extra_fee": _fen(parts[3], "regions"),
            }
        )
    rules.append(
        {
            "regions": ["*"],
            "first": _count(form.get("first", "1"), "first"),
            "first_fee": _fen(form.get("first_fee"), "first_fee"),
            "extra": _count(form.get("extra", "1"), "extra"),
            "extra_fee": _fen(form.get("extra_fee"), "extra_fee"),
        }
    )
    return rules


@bp.route("/shipping", methods=["GET", "POST"])
@staff_required
def shipping_templates():
    if request.method == "POST":
        try:
            free_over = request.form.get("free_over", "").strip()
            service.save(
                {
                    "name": request.form.get("name", ""),
                    "mode": request.form.get("mode", "pieces"),
                    "free_over": _fen(free_over, "free_over") if free_over else None,
                    "rules": _rules_from_form(request.form),
                    "is_default": bool(request.form.get("is_default")),
                }
            )
            db.session.commit()
        except ValidationFailed as failed:
            db.session.rollback()
            return render_form(
                "console/shipping.html",
                errors=failed,
                templates=service.all_templates(),
                default_id=service.default_template_id(),
            )
        return redirect(url_for("console.shipping_templates")), 303
    return render_form(
        "console/shipping.html", templates=service.all_templates(), default_id=service.default_template_id()
    )
