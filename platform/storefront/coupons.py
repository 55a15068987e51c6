"""The shopper's coupon pages (routes on the ``storefront`` blueprint): the claim centre
(领券中心, ``/coupons``), claiming (a POST form with the CSRF token: works without JavaScript;
``coupons.js`` claims in place and reads the JSON answer), 我的 → 优惠券 (``/account/coupons``,
tabs 可使用 / 已使用 / 已过期) and the cards the product page's 领券 row and the checkout show.

The rules and the state live in :mod:`mallow.coupons`; this module only words them: the offer
(:func:`mallow.coupons.rules.describe`), where it applies, how long it is valid.
"""

from __future__ import annotations

from datetime import datetime, UTC

import sqlalchemy as sa
from flask import flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _

from mallow.accounts.guards import principal, shopper_required
from mallow.catalog.models import ProductCategory
from mallow.coupons import rules, service
from mallow.coupons.models import USABLE_STATES, Coupon, CustomerCoupon
from mallow.db import db
from mallow.web import safe_next
from mallow.web.blueprints import storefront as bp
from mallow.web.filters import order_time

#: 我的 → 优惠券: tab → the holding states it shows
TABS = {"usable": USABLE_STATES, "used": ("used", "locked"), "expired": ("expired",)}


def _aware(moment: datetime | None) -> datetime | None:
    return moment.replace(tzinfo=UTC) if moment is not None and moment.tzinfo is None else moment


def scope_text(coupon: Coupon, names: dict[int, str] | None = None) -> str:
    """Where the coupon applies, in words."""
    if coupon.scope == "categories":
        listed = [names[i] for i in coupon.scope_ids or () if names and i in names]
        if listed:
            return _("Only in: %(names)s", names="、".join(listed[:3]) + ("…" if len(listed) > 3 else ""))
        return _("Only in some categories")
    if coupon.scope == "products":
        return _("Only on selected products")
    return _("All products")


def category_names(coupons) -> dict[int, str]:
    """The names of the categories the ``categories`` scopes name (one SELECT, none without)."""
    ids = {int(i) for c in coupons if c.scope == "categories" for i in c.scope_ids or ()}
    if not ids:
        return {}
    rows = db.session.execute(sa.select(ProductCategory.id, ProductCategory.name).where(ProductCategory.id.in_(ids)))
    return dict(rows.all())


def offer_validity(coupon: Coupon) -> str:
    """How long a coupon one claims now is valid."""
    if coupon.validity == "days_after_claim":
        return _("Valid for %(days)s days after claiming", days=coupon.valid_days or 1)
    if coupon.ends_at is not None:
        return _("Valid until %(when)s", when=order_time(_aware(coupon.ends_at)))
    return ""


def card(coupon: Coupon, names: dict[int, str] | None = None, held: int = 0) -> dict:
    """A coupon on offer: its words and the claim button's state (``claim`` / ``claimed`` /
    ``gone``) for a shopper who holds ``held`` of it."""
    if held >= coupon.per_shopper_limit:
        state = "claimed"
    elif coupon.issued_count >= coupon.total_quantity:
        state = "gone"
    else:
        state = "claim"
    return {
        "id": coupon.id,
        "name": coupon.name,
        "description": coupon.description or "",
        "offer": rules.describe(coupon),
        "scope": scope_text(coupon, names),
        "validity": offer_validity(coupon),
        "state": state,
        "held": held,
        "claim_url": url_for("storefront.claim_coupon", coupon_id=coupon.id),
    }


def held_counts(customer_id: int | None, coupon_ids) -> dict[int, int]:
    """How many of each coupon the shopper holds (one SELECT; none for a guest)."""
    ids = sorted(set(coupon_ids))
    if customer_id is None or not ids:
        return {}
    rows = db.session.execute(
        sa.select(CustomerCoupon.coupon_id, sa.func.count(CustomerCoupon.id))
        .where(CustomerCoupon.customer_id == customer_id, CustomerCoupon.coupon_id.in_(ids))
        .group_by(CustomerCoupon.coupon_id)
    )
    return dict(rows.all())


def offers(coupons) -> list[dict]:
    coupons = list(coupons)
    shopper = principal("shopper")
    held = held_counts(shopper.id if shopper is not None else None, [c.id for c in coupons])
    names = category_names(coupons)
    return [card(c, names, held.get(c.id, 0)) for c in coupons]


def product_coupons(product) -> list[dict]:
    """The 领券 row of a product page: the claimable coupons that apply to ``product`` (registered
    with :func:`mallow.builder.catalogue_views.register_product_coupons` by ``create_app``)."""
    line = rules.CartLine(0, product.id, product.category_id, 1)
    ids = [o.id for o in service.offered() if rules.in_scope(o, line)]  # kept under the store's stamp
    if not ids:
        return []  # nothing on offer for this product: no statement
    return offers(c for c in service.on_offer() if c.id in ids)


def holding_card(holding: CustomerCoupon, names: dict[int, str] | None = None) -> dict:
    coupon = holding.coupon
    return {
        "id": holding.id,
        "status": holding.status,
        "name": coupon.name,
        "description": coupon.description or "",
        "offer": rules.describe(coupon),
        "scope": scope_text(coupon, names),
        "valid_from": order_time(_aware(holding.valid_from)),
        "valid_until": order_time(_aware(holding.valid_until)),
        "order_id": holding.order_id,
        "coupon_id": coupon.id,
        "use_url": use_url(coupon),
    }


def use_url(coupon: Coupon) -> str:
    """去使用: the one product or the first category the coupon is for, else the store's home."""
    ids = [int(i) for i in coupon.scope_ids or ()]
    if coupon.scope == "products" and len(ids) == 1:
        return url_for("storefront.product", product_id=ids[0])
    if coupon.scope == "categories" and ids:
        return url_for("storefront.category", category_id=ids[0])
    return url_for("storefront.home")


@bp.get("/coupons")
def claim_centre():
    """领券中心: every coupon the shopper can claim now (guests see them and sign in to claim)."""
    return render_template("storefront/coupons.html", offers=offers(service.on_offer()))


def _wants_json() -> bool:
    return request.accept_mimetypes.best == "application/json"


@bp.post("/coupons/<int:coupon_id>/claim")
@shopper_required
def claim_coupon(coupon_id: int):
    """Claim one coupon (the form's CSRF token is checked like every form's): back to where the
    shopper was (``next``) with a message; ``coupons.js`` asks for JSON and updates the button."""
    shopper = principal("shopper")
    back = safe_next(request.form.get("next") or url_for("storefront.claim_centre"))
    try:
        service.claim(shopper.id, coupon_id)
    except service.ClaimRefused as refused:
        if _wants_json():
            status = 404 if refused.code == "not_found" else 409
            return jsonify({"ok": False, "error": refused.code, "message": refused.message}), status
        flash(refused.message, "error")
        return redirect(back), 303
    coupon = db.session.get(Coupon, coupon_id)
    held = held_counts(shopper.id, [coupon_id]).get(coupon_id, 0)
    state = card(coupon, None, held)["state"]
    message = _("Coupon claimed: %(name)s", name=coupon.name)
    if _wants_json():
        return jsonify({"ok": True, "message": message, "state": state})
    flash(message, "success")
    return redirect(back), 303


@bp.get("/account/coupons")
@shopper_required
def my_coupons():
    """我的 → 优惠券: 可使用 (soonest to expire first) / 已使用 / 已过期."""
    tab = request.args.get("tab", "usable")
    if tab not in TABS:
        tab = "usable"
    shopper = principal("shopper")
    holdings = [h for h in service.my_coupons(shopper.id) if h.status in TABS[tab]]
    now = datetime.now(UTC)
    if tab == "usable":  # not swept yet but past its validity: already 已过期 to the shopper
        holdings = [h for h in holdings if _aware(h.valid_until) > now]
    elif tab == "expired":
        late = [h for h in service.my_coupons(shopper.id, None) if h.status in USABLE_STATES]
        holdings += [h for h in late if _aware(h.valid_until) <= now]
    names = category_names([h.coupon for h in holdings])
    tabs = [("usable", _("Usable")), ("used", _("Used")), ("expired", _("Expired"))]
    return render_template(
        "storefront/my_coupons.html",
        tab=tab,
        tabs=tabs,
        cards=[holding_card(h, names) for h in holdings],
    )


def usable_count(customer_id: int) -> int:
    """我的's 优惠券 badge: the shopper's coupons usable now (one SELECT)."""
    return int(
        db.session.execute(
            sa.select(sa.func.count(CustomerCoupon.id)).where(
                CustomerCoupon.customer_id == customer_id,
                CustomerCoupon.status.in_(USABLE_STATES),
                CustomerCoupon.valid_until > datetime.now(UTC),
            )
        ).scalar()
        or 0
    )
