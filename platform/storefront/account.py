"""The shopper's own pages (routes on the ``storefront`` blueprint): 我的 (the account page), the
profile, the address book with its 省/市/区 cascade, and the cascade's JSON.

Server-rendered and complete without JavaScript: the address form's three selects are filled
step by step (choosing a province and pressing 下一步 shows its cities, and so on); ``account.js``
does the same in place from ``/regions/<code>.json``. Every form carries the CSRF token.

The account page's grid has Mallow's own entries (优惠券, 消息 and 客服 with their unread counts,
收货地址, 个人资料, 账号与隐私) and those plugins add through ``mallow_account_entries`` (points,
the distribution centre…).
"""

from __future__ import annotations

import logging
import re

import sqlalchemy as sa
from flask import abort, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _

from mallow import regions
from mallow.accounts import customers, sessions, sms
from mallow.accounts.authenticate import sms_send_limits
from mallow.accounts.guards import principal, shopper_required
from mallow.aftersales.models import OPEN_STATES, AfterSale
from mallow.cart.current import count_badge
from mallow.chat import service as chat_service
from mallow.db import db
from mallow.notifications import service as notifications
from mallow.orders import addresses
from mallow.orders.models import Order
from mallow.payments import wechat
from mallow.plugins.web import plugin_links
from mallow.privacy import deletion, export as privacy_export, notice as privacy_notice_text
from mallow.security import crypto
from mallow.storefront.coupons import usable_count as usable_coupons
from mallow.web.blueprints import storefront as bp
from mallow.tenants.context import current_store
from mallow.tenants.views import store_view
from mallow.validation import ValidationFailed
from mallow.web import render_form, safe_next

log = logging.getLogger("mallow.accounts")
_CODE = re.compile(r"^[1-9][0-9]{5}$")


# --- 我的 -------------------------------------------------------------------------------------


def order_counts(customer_id: int) -> dict[str, int]:
    """The account page's badges: orders to pay, to ship, to receive, and orders with an
    after-sales request in progress."""
    by_status = dict(
        db.session.execute(
            sa.select(Order.status, sa.func.count(Order.id))
            .where(Order.customer_id == customer_id)
            .group_by(Order.status)
        ).all()
    )
    aftersale = (
        db.session.execute(
            sa.select(sa.func.count(sa.distinct(AfterSale.order_id))).where(
                AfterSale.customer_id == customer_id, AfterSale.status.in_(OPEN_STATES)
            )
        ).scalar()
        or 0
    )
    return {
        "unpaid": by_status.get("pending_payment", 0),
        "to_ship": by_status.get("paid", 0),
        "to_receive": by_status.get("shipped", 0),
        "aftersale": aftersale,
    }


def plugin_entries(customer) -> list[dict]:
    """What plugins add to the account page (``mallow_account_entries``), as ``{"label", "url",
    "badge", "icon", "plugin"}``; entries without a label or with an endpoint not found are
    logged and left out."""
    entries = []
    for plugin, item, url in plugin_links(
        "mallow_account_entries", "an account entry", store=store_view(current_store()), customer=customer
    ):
        label = str(item["label"])
        entries.append(
            {
                "label": label,
                "url": url,
                "badge": str(item.get("badge") or "")[:4],
                "icon": str(item.get("icon") or label[:1])[:2],
                "plugin": plugin,
            }
        )
    return entries


def inside_wechat_with_oauth(endpoint: str) -> bool:
    """Inside WeChat (``MicroMessenger`` in the user agent), where the store has set up WeChat
    web authorisation (its official account's AppID/AppSecret) and ``endpoint`` is mounted."""
    if "MicroMessenger" not in (request.user_agent.string or ""):
        return False
    if endpoint not in current_app.view_functions:
        return False
    try:
        return wechat.oauth_credentials() is not None
    except Exception:  # a broken payment setting must not take the sign-in page down
        log.exception("WeChat OAuth settings of store %s could not be read", current_store().id)
        return False


def wechat_link_url(customer=None) -> str | None:
    """Inside WeChat, where the store has web authorisation: the way to link the signed-in
    shopper's WeChat (``payments_pages.wechat_authorize``), unless it is linked; else None."""
    if customer is not None and customer.wechat_openid:
        return None
    if not inside_wechat_with_oauth("payments_pages.wechat_authorize"):
        return None
    return url_for("payments_pages.wechat_authorize", next=safe_next(url_for("storefront.account")))


def wechat_login_url(next_value: str = "") -> str | None:
    """Inside WeChat, where the store has web authorisation: 微信一键登录 for a guest
    (``payments_pages.wechat_login``), on to ``next_value`` afterwards; else None (never outside
    WeChat)."""
    if not inside_wechat_with_oauth("payments_pages.wechat_login"):
        return None
    return url_for("payments_pages.wechat_login", next=next_value or None)


@bp.get("/account")
@shopper_required
def account():
    customer = principal("shopper")
    login = crypto.decrypt(customer.login_cipher)
    counts = order_counts(customer.id)
    orders = [
        {
            "key": key,
            "label": label,
            "url": url_for("storefront.orders_list", tab=key),
            "count": counts[key],
            "badge": count_badge(int(counts[key] or 0)),
        }
        for key, label in (
            ("unpaid", _("To pay")),
            ("to_ship", _("To ship")),
            ("to_receive", _("To receive")),
            ("aftersale", _("Refunds / after-sales")),
        )
    ]
    entries = [
        {
            "label": _("Coupons"),
            "url": url_for("storefront.my_coupons"),
            "icon": "券",
            "badge": count_badge(usable_coupons(customer.id)),
            "key": "coupons",
        },
        {
            "label": _("Messages"),
            "url": url_for("storefront.messages"),
            "icon": "信",
            "badge": count_badge(notifications.unread_count("customer", customer.id)),
            "key": "messages",
        },
        {
            "key": "chat",
            "label": _("Contact customer service"),
            "icon": "客",
            "url": url_for("storefront.chat"),
            "badge": count_badge(chat_service.shopper_unread(customer.id)),
        },
        {
            "label": _("Addresses"),
            "url": url_for("storefront.address_book"),
            "icon": "址",
            "badge": "",
            "key": "addresses",
        },
        {"label": _("Profile"), "url": url_for("storefront.profile"), "icon": "资", "badge": "", "key": "profile"},
        {
            "label": _("Account and privacy"),
            "url": url_for("storefront.account_privacy"),
            "icon": "私",
            "badge": "",
            "key": "privacy",
        },
    ]
    entries += plugin_entries(customer)
    shown_login = crypto.mask_email(login) if "@" in login else crypto.mask(login)
    if not login and customer.wechat_openid:  # made by 微信一键登录: no phone, no e-mail
        shown_login = _("Signed in with WeChat")
    return render_template(
        "storefront/account.html",
        customer=customer,
        login=shown_login,
        orders=orders,
        entries=entries,
        wechat_url=wechat_link_url(customer),
        consent_notice=privacy_notice_text.current() if privacy_notice_text.needs_consent(customer.id) else None,
    )


@bp.route("/account/profile", methods=["GET", "POST"])
@shopper_required
def profile():
    customer = principal("shopper")
    if request.method == "POST":
        try:
            customers.update_profile(customer, request.form)
        except ValidationFailed as failed:
            db.session.rollback()
            return render_form("storefront/profile.html", errors=failed, customer=customer)
        db.session.commit()
        flash(_("Your profile was saved."), "success")
        return redirect(url_for("storefront.account")), 303
    return render_form("storefront/profile.html", customer=customer)


# --- the privacy notice, 账号与隐私: consent, export, deleting the account (mallow.privacy) ---------


@bp.get("/privacy")
def privacy_notice():
    """The store's privacy notice in force (linked from every sign-up form)."""
    return render_template("storefront/privacy_notice.html", notice=privacy_notice_text.current())


@bp.get("/account/privacy")
@shopper_required
def account_privacy():
    customer = principal("shopper")
    return render_template(
        "storefront/account_privacy.html",
        customer=customer,
        notice=privacy_notice_text.current(),
        consents=privacy_notice_text.consents_of(customer.id),
    )


@bp.post("/account/privacy/consent")
@shopper_required
def agree_to_privacy_notice():
    """A shopper who signed up before the store asked agrees once (the banner on 我的)."""
    customer = principal("shopper")
    if privacy_notice_text.needs_consent(customer.id):
        privacy_notice_text.record_consent(customer, "prompt")
        db.session.commit()
    flash(_("Thank you. Your consent was recorded."), "success")
    return redirect(safe_next(url_for("storefront.account"))), 303


@bp.get("/account/privacy/export")
@privacy_export.export_limits
@shopper_required
def export_my_data():
    """下载我的数据: the same JSON file as the API's ``exportMyData``."""
    customer = principal("shopper")
    response = jsonify(privacy_export.export(customer))
    response.headers["Content-Disposition"] = f'attachment; filename="{privacy_export.filename(customer)}"'
    response.headers["Cache-Control"] = "no-store"
    return response


def _delete_page(customer, status: int = 200, errors: ValidationFailed | None = None, **context):
    context.setdefault("sms_sent", False)
    page, code = render_form(
        "storefront/account_delete.html",
        errors=errors,
        customer=customer,
        blockers=deletion.blockers(customer.id),
        proof=deletion.proof_needed(customer),
        **context,
    )
    return page, status if errors is None else code


@bp.route("/account/delete", methods=["GET", "POST"])
@shopper_required
def delete_account():
    """注销账号: refused while orders are open (which, and why); else the shopper types 注销 and
    gives the password (or an SMS code), and is signed out of a deleted account."""
    customer = principal("shopper")
    if request.method == "GET":
        return _delete_page(customer)
    try:
        deletion.delete_account(customer, request.form, via="web")
    except ValidationFailed as failed:
        db.session.rollback()
        return _delete_page(customer, errors=failed, sms_sent=bool(request.form.get("code")))
    except deletion.DeletionRefused:
        return _delete_page(customer, status=409)
    sessions.logout_browser("shopper", current_store().id)
    db.session.commit()
    flash(_("Your account was deleted. Thank you for shopping with us."), "success")
    return redirect(url_for("storefront.home")), 303


@bp.post("/account/delete/code")
@sms_send_limits
@shopper_required
def send_delete_code():
    """An SMS code to the account's own phone, for an account without a password."""
    customer = principal("shopper")
    if deletion.proof_needed(customer) != "sms":
        abort(404)
    try:
        sms.send_code(crypto.decrypt(customer.login_cipher))
    except sms.SendLimited as limited:
        body, _status = _delete_page(customer, errors=ValidationFailed({"code": ("too_many_codes", limited.message)}))
        return body, 429, {"Retry-After": str(limited.retry_after)}
    except sms.SmsUnavailable:
        failed = ValidationFailed({"code": ("sms_unavailable", _("The SMS could not be sent. Try again in a minute."))})
        body, _status = _delete_page(customer, errors=failed)
        return body, 503
    db.session.commit()
    return _delete_page(customer, sms_sent=True, sent_to=crypto.mask(crypto.decrypt(customer.login_cipher)))


# --- the address book ---------------------------------------------------------------------------


@bp.get("/regions/<code>.json")
def region_children(code):
    """The divisions under ``code`` (``000000``: the provinces), for the address form's cascade:
    ``{"code", "name", "children": [{"code", "name", "leaf"}]}``; 404 for a code that is not there."""
    if code == "000000":
        found, name = regions.provinces(), ""
    else:
        division = regions.get(code) if _CODE.match(code) else None
        if division is None:
            abort(404)
        found, name = regions.children(code), division.name
    response = jsonify(
        code=code,
        name=name,
        version=regions.dataset().version,
        children=[{"code": d.code, "name": d.name, "leaf": not d.children} for d in found],
    )
    response.headers["Cache-Control"] = "public, max-age=86400"
    return response


def region_choices(values) -> dict:
    """The options of the three selects for the codes chosen so far (the no-JavaScript steps)."""
    province = regions.get(values.get("province_code") or "")
    province = province if province is not None and province.level == 1 else None
    cities = regions.children(province.code) if province else []
    city = regions.get(values.get("city_code") or "")
    city = city if city is not None and province is not None and city.parent == province.code else None
    districts = regions.children(city.code) if city else []
    return {
        "provinces": regions.provinces(),
        "cities": cities,
        "districts": districts,
        "chosen": {
            "province_code": province.code if province else "",
            "city_code": city.code if city else "",
            "district_code": values.get("district_code") or "",
        },
        "has_cities": bool(cities) or province is None,
        "has_districts": bool(districts) or city is None,
    }


def _address_values(address) -> dict:
    """A saved address as form values (codes found from the names for addresses saved before codes)."""
    values = addresses.as_dict(address, masked=False)
    if not values.get("province_code"):
        chain, _problems = regions.resolve_names(address.province, address.city, address.district)
        if chain is not None:
            values.update(chain.codes)
    values["is_default"] = "1" if address.is_default else ""
    return {k: ("" if v is None else v) for k, v in values.items()}


def _render_address_form(address=None, errors=None, values=None):
    values = values if values is not None else (_address_values(address) if address else request.form)
    return render_form(
        "storefront/address_form.html",
        errors=errors,
        address=address,
        values=values,
        next=safe_next(""),
        **region_choices(values),
    )


def _after_save():
    return redirect(safe_next(url_for("storefront.address_book"))), 303


def _own_address(address_id: int):
    found = addresses.own(principal("shopper").id, address_id)
    if found is None:
        abort(404)
    return found


@bp.get("/account/addresses")
@shopper_required
def address_book():
    saved = [addresses.as_dict(a) for a in addresses.of_customer(principal("shopper").id)]
    return render_template("storefront/addresses.html", saved=saved, next=safe_next(""), limit=addresses.MAX_ADDRESSES)


@bp.route("/account/addresses/new", methods=["GET", "POST"])
@shopper_required
def new_address():
    if request.method == "GET":
        return _render_address_form(values={})
    if request.form.get("action") == "region":  # the no-JavaScript cascade: show the next level
        return _render_address_form()
    try:
        addresses.create(principal("shopper").id, request.form)
    except ValidationFailed as failed:
        db.session.rollback()
        return _render_address_form(errors=failed)
    db.session.commit()
    flash(_("Address saved."), "success")
    return _after_save()


@bp.route("/account/addresses/<int:address_id>", methods=["GET", "POST"])
@shopper_required
def edit_address(address_id):
    address = _own_address(address_id)
    if request.method == "GET":
        return _render_address_form(address)
    if request.form.get("action") == "region":
        return _render_address_form(address, values=request.form)
    try:
        addresses.update(address, request.form)
    except ValidationFailed as failed:
        db.session.rollback()
        return _render_address_form(address, errors=failed, values=request.form)
    db.session.commit()
    flash(_("Address saved."), "success")
    return _after_save()


@bp.post("/account/addresses/<int:address_id>/default")
@shopper_required
def default_address(address_id):
    addresses.make_default(_own_address(address_id))
    db.session.commit()
    flash(_("Default address changed."), "success")
    return _after_save()


@bp.post("/account/addresses/<int:address_id>/delete")
@shopper_required
def delete_address(address_id):
    addresses.delete(_own_address(address_id))
    db.session.commit()
    flash(_("Address deleted."), "success")
    return _after_save()
