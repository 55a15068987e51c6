"""The storefront of one store (``/s/<slug>/`` or ``<slug>.<store domain>/``)."""

from __future__ import annotations

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from mallow.accounts import customers, sessions, sms
from mallow.accounts.authenticate import login_limits, sms_send_limits
from mallow.builder.storefront import published_page_response
from mallow.cart import current as current_cart
from mallow.db import db
from mallow.edge import cacheable
from mallow.qualifications import service
from mallow.security import crypto
from mallow.storefront.account import wechat_login_url
from mallow.storefront.catalogue import home_context
from mallow.tenants.context import current_store
from mallow.validation import ValidationFailed
from mallow.web import blueprints, render_form, safe_next, safe_target

bp = blueprints.storefront  # the shopper's area; closed stores answer 503 there (web.blueprints)


@bp.get("/")
@cacheable
def home():
    built = published_page_response("home")  # the published home page, when the merchant made one
    if built is not None:
        return built
    store = current_store()
    approved = next((q for q in service.history(store.id) if q.status == "approved"), None)
    return render_template("storefront/home.html", licence=approved, **home_context())


# --- signing in and up: SMS code (the phone way) or password --------------------------------------


def _auth_page(page: str, status: int = 200, errors: ValidationFailed | None = None, **context):
    """The sign-in or sign-up page, every way on it: 微信一键登录 inside WeChat (where the store has
    an official account), the SMS code form and the password form. ``next`` (a path on this
    site, else dropped) is carried through every step."""
    next_value = safe_next("")
    linking = (
        next_value.startswith(url_for("payments_pages.wechat_authorize"))
        if "payments_pages.wechat_authorize" in current_app.view_functions
        else False
    )
    context.setdefault("sms_sent", False)
    return render_form(
        f"storefront/{page}.html",
        status=status,
        errors=errors,
        page=page,
        next=next_value,
        wechat_url=None if linking else wechat_login_url(next_value),
        linking_wechat=linking,
        resend_seconds=sms.RESEND_SECONDS,
        **context,
    )


def sign_in_and_continue(customer, target: str | None = None):
    """Start ``customer``'s browser session (a new one), bring the guest cart along, commit, and
    go on to ``target`` (checked again here), else the request's ``next``, else 我的. Every way of
    signing in ends here: password, SMS code, WeChat (:mod:`mallow.storefront.wechat`)."""
    sessions.login_browser(customer, current_store().id)
    current_cart.signed_in(customer)
    db.session.commit()
    default = url_for("storefront.account")
    return redirect(safe_target(target, default) if target is not None else safe_next(default)), 303


def _sms_page() -> str:
    return "register" if request.form.get("page") == "register" else "login"


@bp.route("/register", methods=["GET", "POST"])
def register():
    if request.method == "POST":  # with a password (the SMS way posts to login_with_code)
        try:
            customer = customers.register(request.form)
        except ValidationFailed as failed:
            return _auth_page("register", errors=failed)
        return sign_in_and_continue(customer)
    return _auth_page("register")


@bp.route("/login", methods=["GET", "POST"])
@login_limits
def login():
    if request.method == "POST":  # with a password
        customer = customers.authenticate(request.form.get("login", ""), request.form.get("password", ""))
        if customer is None:
            return _auth_page(
                "login", errors=ValidationFailed({"password": ("invalid", _("Wrong account or password."))})
            )
        return sign_in_and_continue(customer)
    return _auth_page("login")


@bp.post("/login/code")
@sms_send_limits
def send_login_code():
    """Send a sign-in code to ``phone`` and show the page again, ready for the code."""
    page = _sms_page()
    try:
        phone = sms.send_code(request.form.get("phone"))
    except ValidationFailed as failed:
        return _auth_page(page, errors=failed)
    except sms.SendLimited as limited:
        body, _status = _auth_page(page, errors=ValidationFailed({"phone": ("too_many_codes", limited.message)}))
        return body, 429, {"Retry-After": str(limited.retry_after)}
    except sms.SmsUnavailable:
        body, _status = _auth_page(
            page,
            errors=ValidationFailed(
                {"phone": ("sms_unavailable", _("The SMS could not be sent. Try again in a minute."))}
            ),
        )
        return body, 503
    db.session.commit()
    return _auth_page(page, sms_sent=True, sent_to=crypto.mask(phone))


@bp.post("/login/sms")
@login_limits
def login_with_code():
    """Sign in with the code; a number the store does not know yet becomes a new account."""
    try:
        customer, created = customers.sign_in_with_code(request.form)
    except ValidationFailed as failed:
        db.session.rollback()
        return _auth_page(_sms_page(), errors=failed, sms_sent=True)
    if created:
        flash(_("Welcome! Your account is ready."), "success")
    return sign_in_and_continue(customer)


@bp.post("/logout")
def logout():
    sessions.logout_browser("shopper", current_store().id)
    db.session.commit()
    return redirect(url_for("storefront.home")), 303
