"""The console's membership and points (营销 → 会员, ``/s/<slug>/console/membership``, staff of the
store): the programme form (on/off, points earned per ¥1, points worth ¥1, the cap per order, the
validity, what levels are measured by) with its field errors beside the fields, the member levels
(create, edit, delete: the threshold in yuan for a spend basis or in points, the member discount
as 折, free shipping, the birthday coupon chosen from the store's coupons) and the members (search
by mobile number, e-mail, nickname or customer id; level, points, growth) with a manual points
adjustment (a signed amount and a reason, both required; audited by the service).

The rules live in :mod:`mallow.membership.service`; this module turns the forms into its input
(yuan → fen, 折 → percent) and its field names back into the forms'.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal, InvalidOperation

import sqlalchemy as sa
from flask import abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _

from mallow.accounts import customers
from mallow.accounts.guards import principal, staff_required
from mallow.accounts.models import Customer
from mallow.coupons import rules as coupon_rules, service as coupons
from mallow.db import db
from mallow.membership import service
from mallow.membership.models import LEVEL_BASES, Member, MemberLevel
from mallow.money import MoneyError, fen_to_price, fen_to_yuan, yuan_to_fen
from mallow.security import crypto
from mallow.validation import Errors, ValidationFailed
from mallow.web.blueprints import console as bp

PER_PAGE = 20
#: the service's level fields → the form's
FORM_NAMES = {"discount_percent": "discount"}
#: the programme form's whole-number fields
PROGRAM_NUMBERS = ("earn_per_yuan", "points_per_yuan", "redeem_cap_percent", "validity_days")
_INT = re.compile(r"^[+-]?\d{1,12}$")


def basis_labels() -> dict[str, str]:
    return {"spend": _("Completed spend (yuan)"), "points": _("Points earned")}


def discount_text(percent: int) -> str:
    """A member discount as 折: 95 → ``9.5折``, 80 → ``8折``, 100 → ``No discount``."""
    if percent >= 100:
        return _("No discount")
    whole, tenth = divmod(int(percent), 10)
    zhe = f"{whole}.{tenth}" if tenth else str(whole)
    return _("%(zhe)s折", zhe=zhe)


def threshold_text(value: int, basis: str) -> str:
    return _("%(points)s points", points=value) if basis == "points" else fen_to_price(value)


def _render(template: str, errors: ValidationFailed | None, form, **context):
    """A form page with ``form``'s values (the stored ones on a first view, the posted ones
    after a refusal) and, with ``errors``, every field's message beside it (HTTP 422)."""
    if errors is not None:
        g.form_errors = errors.errors
    return render_template(template, form=form, **context), 422 if errors is not None else 200


def _whole(raw: str | None) -> int | None:
    """A whole number typed in a form (full-width digits and spaces forgiven), else None."""
    value = (raw or "").strip().replace(",", "").replace("，", "")
    value = value.translate({0xFF10 + i: 0x30 + i for i in range(10)})
    return int(value) if _INT.match(value) else None


# --- the programme and the levels -------------------------------------------------------------


def _program_from_form(form) -> dict:
    """The service's input from the programme form (it checks every number's range)."""
    data: dict = {"enabled": bool(form.get("enabled")), "level_basis": form.get("level_basis", "")}
    for name in PROGRAM_NUMBERS:
        value = _whole(form.get(name))
        data[name] = value if value is not None else (form.get(name) or "")
    return data


def _program_form(program: dict) -> dict:
    return {name: str(program.get(name, "")) for name in PROGRAM_NUMBERS} | {
        "enabled": "1" if program.get("enabled") else "",
        "level_basis": program.get("level_basis", "spend"),
    }


def _coupon_names() -> dict[int, str]:
    return {c.id: c.name for c in coupons.list_coupons()}


def _level_rows(program: dict) -> list[dict]:
    names = _coupon_names()
    basis = program.get("level_basis", "spend")
    return [
        {
            "level": level,
            "threshold": threshold_text(level.threshold, basis),
            "discount": discount_text(level.discount_percent),
            "coupon": names.get(level.birthday_coupon_id) if level.birthday_coupon_id else None,
        }
        for level in service.list_levels()
    ]


def _render_settings(errors: ValidationFailed | None = None, form=None):
    program = service.program()
    return _render(
        "console/membership.html",
        errors,
        form if form is not None else _program_form(program),
        program=program,
        levels=_level_rows(program),
        bases=[(key, basis_labels()[key]) for key in LEVEL_BASES],
    )


@bp.get("/membership")
@staff_required
def membership_settings():
    """营销 → 会员: the programme form and the levels."""
    return _render_settings()


@bp.post("/membership")
@staff_required
def membership_save():
    try:
        service.update_program(_program_from_form(request.form))
    except ValidationFailed as failed:
        db.session.rollback()
        return _render_settings(failed, request.form)
    db.session.commit()
    flash(_("Membership settings saved."), "success")
    return redirect(url_for("console.membership_settings")), 303


def _level_from_form(form, basis: str) -> tuple[dict, Errors]:
    """The service's input from the level form: the threshold in yuan (spend) or points, the
    discount as 折 (``9.5`` → 95; empty: none), the birthday coupon's id or None; and the errors
    of what could not be read (those fields are left out of the input)."""
    errors = Errors()
    data: dict = {"name": form.get("name", ""), "free_shipping": bool(form.get("free_shipping"))}
    raw = (form.get("threshold") or "").strip()
    if basis == "points":
        value = _whole(raw)
        if value is None or value < 0:
            errors.add("threshold", "invalid", _("Enter a whole number of points."))
        else:
            data["threshold"] = value
    else:
        try:
            data["threshold"] = yuan_to_fen(raw) if raw else 0
        except MoneyError:
            errors.add("threshold", "invalid", _("Enter an amount in yuan, e.g. 12.50."))
    zhe = (form.get("discount") or "").strip().removesuffix("折")
    if not zhe:
        data["discount_percent"] = 100
    else:
        try:
            tenths = Decimal(zhe) * 10
        except InvalidOperation:
            tenths = Decimal("NaN")
        if not tenths.is_finite() or tenths != tenths.to_integral_value() or not 50 <= tenths <= 100:
            errors.add("discount", "invalid", _("Enter a discount from 5 to 10 折: 9.5 is 95 percent of the price."))
        else:
            data["discount_percent"] = int(tenths)
    coupon = (form.get("birthday_coupon_id") or "").strip()
    if not coupon:
        data["birthday_coupon_id"] = None
    elif _whole(coupon) is None:
        errors.add("birthday_coupon_id", "invalid", _("Choose one of your coupons."))
    else:
        data["birthday_coupon_id"] = _whole(coupon)
    return data, errors


def _save_level(level: MemberLevel | None) -> MemberLevel:
    """Save the posted level. The service checks what the form could read even when something
    could not be read, so every field's error shows at once; nothing is kept unless all is well."""
    data, unread = _level_from_form(request.form, service.program().get("level_basis", "spend"))
    try:
        saved = service.save_level(data, level)
    except ValidationFailed as failed:
        raise ValidationFailed(failed.errors | unread.errors) from None
    unread.raise_if_any()
    return saved


def _level_errors(failed: ValidationFailed) -> ValidationFailed:
    """The service's field names as the form's (``discount_percent`` → ``discount``)."""
    return ValidationFailed({FORM_NAMES.get(key, key): value for key, value in failed.errors.items()})


def _level_form(level: MemberLevel, basis: str) -> dict:
    percent = level.discount_percent
    return {
        "name": level.name,
        "threshold": str(level.threshold) if basis == "points" else fen_to_yuan(level.threshold),
        "discount": "" if percent >= 100 else discount_text(percent).removesuffix("折"),
        "free_shipping": "1" if level.free_shipping else "",
        "birthday_coupon_id": str(level.birthday_coupon_id or ""),
    }


def _render_level(level: MemberLevel | None, errors: ValidationFailed | None = None):
    program = service.program()
    basis = program.get("level_basis", "spend")
    if errors is None and request.method == "GET":
        form = _level_form(level, basis) if level is not None else {"discount": "", "threshold": ""}
    else:
        form = request.form
    choices = [c for c in coupons.list_coupons() if c.status != "ended" or (level and c.id == level.birthday_coupon_id)]
    return _render(
        "console/membership_level.html",
        errors,
        form,
        level=level,
        basis=basis,
        coupons=[(c.id, c.name, coupon_rules.describe(c)) for c in choices],
    )


@bp.route("/membership/levels/new", methods=["GET", "POST"])
@staff_required
def member_level_new():
    if request.method == "GET":
        return _render_level(None)
    try:
        level = _save_level(None)
    except ValidationFailed as failed:
        db.session.rollback()
        return _render_level(None, _level_errors(failed))
    db.session.commit()
    flash(_("Member level saved: %(name)s", name=level.name), "success")
    return redirect(url_for("console.membership_settings")), 303


def _level_or_404(level_id: int) -> MemberLevel:
    level = service.get_level(level_id)
    if level is None:
        abort(404)
    return level


@bp.route("/membership/levels/<int:level_id>", methods=["GET", "POST"])
@staff_required
def member_level_edit(level_id: int):
    level = _level_or_404(level_id)
    if request.method == "GET":
        return _render_level(level)
    try:
        _save_level(level)
    except ValidationFailed as failed:
        db.session.rollback()
        return _render_level(_level_or_404(level_id), _level_errors(failed))
    db.session.commit()
    flash(_("Member level saved: %(name)s", name=level.name), "success")
    return redirect(url_for("console.membership_settings")), 303


@bp.post("/membership/levels/<int:level_id>/delete")
@staff_required
def member_level_delete(level_id: int):
    level = _level_or_404(level_id)
    name = level.name
    service.delete_level(level)
    db.session.commit()
    flash(_("Member level deleted: %(name)s", name=name), "success")
    return redirect(url_for("console.membership_settings")), 303


# --- the members --------------------------------------------------------------------------------


def _search(query: str):
    """The WHERE clause of the members search: a mobile number or e-mail (exact, by its keyed
    digest: logins are stored encrypted), a customer id, or part of a nickname."""
    login = customers.normalise_login(query)
    if login is not None:
        return Customer.login_digest == crypto.digest(login)
    if query.isascii() and query.isdigit() and len(query) < 10:
        return sa.or_(Customer.id == int(query), Customer.nickname.contains(query, autoescape=True))
    return Customer.nickname.contains(query, autoescape=True)


def _shown_login(customer: Customer) -> str:
    login = crypto.decrypt(customer.login_cipher) if customer.login_cipher else ""
    if not login:
        return _("WeChat") if customer.wechat_openid else ""
    return crypto.mask_email(login) if "@" in login else crypto.mask(login)


def _page() -> int:
    raw = request.args.get("page", "1")
    return int(raw) if raw.isascii() and raw.isdigit() and 0 < len(raw) < 6 and int(raw) > 0 else 1


@bp.get("/membership/members")
@staff_required
def members_list():
    """The members: every shopper of the store with their level, points and growth."""
    query = (request.args.get("q") or "").strip()[:60]
    page = _page()
    where = _search(query) if query else sa.true()
    total = int(db.session.execute(sa.select(sa.func.count(Customer.id)).where(where)).scalar() or 0)
    pages = max(1, math.ceil(total / PER_PAGE))
    page = min(page, pages)
    rows = db.session.execute(
        sa.select(Customer, Member, MemberLevel.name)
        .outerjoin(Member, Member.customer_id == Customer.id)
        .outerjoin(MemberLevel, MemberLevel.id == Member.level_id)
        .where(where)
        .order_by(sa.func.coalesce(Member.balance, 0).desc(), Customer.id.desc())
        .limit(PER_PAGE)
        .offset((page - 1) * PER_PAGE)
    ).all()
    basis = service.program().get("level_basis", "spend")
    members = [
        {
            "id": customer.id,
            "nickname": customer.nickname,
            "login": _shown_login(customer),
            "level": level_name or "",
            "points": member.balance if member is not None else 0,
            "growth": threshold_text(member.growth if member is not None else 0, basis),
        }
        for customer, member, level_name in rows
    ]
    pager = None
    if pages > 1:
        pager = {
            "page": page,
            "pages": pages,
            "prev": url_for("console.members_list", q=query or None, page=page - 1) if page > 1 else None,
            "next": url_for("console.members_list", q=query or None, page=page + 1) if page < pages else None,
        }
    return render_template("console/membership_members.html", members=members, q=query, total=total, pager=pager)


def _customer_or_404(customer_id: int) -> Customer:
    customer = db.session.get(Customer, customer_id)
    if customer is None:
        abort(404)
    return customer


def _render_member(customer: Customer, errors: ValidationFailed | None = None):
    program = service.program()
    found = service.membership_of(customer.id)
    entries, total = service.ledger(customer.id, page=1, per_page=PER_PAGE)
    basis = program.get("level_basis", "spend")
    return _render(
        "console/membership_member.html",
        errors,
        request.form if errors is not None else {},
        customer=customer,
        login=_shown_login(customer),
        membership=found,
        growth=threshold_text(found.growth, basis),
        entries=entries,
        total=total,
    )


@bp.route("/membership/members/<int:customer_id>", methods=["GET", "POST"])
@staff_required
def member_detail(customer_id: int):
    """A member: level, points, growth, the latest ledger entries and the adjustment form (a
    signed number of points and a reason the shopper reads in 积分明细)."""
    customer = _customer_or_404(customer_id)
    if request.method == "GET":
        return _render_member(customer)
    errors = Errors()
    points = _whole(request.form.get("points"))
    if points is None or points == 0:
        errors.add("points", "invalid", _("Enter a whole number of points, e.g. 100 or -50."))
    reason = (request.form.get("reason") or "").strip()
    if not reason:
        errors.add("reason", "required", _("Enter the reason (the shopper sees it)."))
    try:
        errors.raise_if_any()
        service.adjust(customer.id, points or 0, reason, principal("merchant"))
    except ValidationFailed as failed:
        db.session.rollback()
        return _render_member(_customer_or_404(customer_id), failed)
    db.session.commit()
    signed = f"{points:+d}"
    flash(_("Points adjusted: %(points)s", points=signed), "success")
    return redirect(url_for("console.member_detail", customer_id=customer_id)), 303
