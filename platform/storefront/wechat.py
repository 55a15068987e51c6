"""WeChat on the storefront (routes on the ``payments_pages`` blueprint): web authorisation --
linking a signed-in shopper's WeChat, and 微信一键登录 for guests -- and the JS-SDK's signed
``wx.config`` for the page a shopper shares, with ``wechat_share_script`` (an app-wide template
global: what the storefront layout loads inside WeChat) and the CSP exception for WeChat's script
on those pages.

Both callbacks check a one-time ``state`` kept in this browser's session; a guest signed in by
WeChat goes through :func:`mallow.storefront.views.sign_in_and_continue` like every sign-in.
"""

from __future__ import annotations

import hmac
import logging
import secrets
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import (
    abort,
    current_app,
    flash,
    g,
    jsonify,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _

from mallow.accounts import customers
from mallow.accounts.guards import principal, shopper_required
from mallow.accounts.models import Customer
from mallow.db import db
from mallow.extensions import limiter
from mallow.payments import wechat_jssdk, wechat_oauth
from mallow.storefront.account import inside_wechat_with_oauth
from mallow.storefront.payment_pages import bp
from mallow.storefront.views import sign_in_and_continue
from mallow.tenants.context import current_store
from mallow.tenants.resolve import ENVIRON_KEY as SUBDOMAIN_ENVIRON_KEY
from mallow.validation import ValidationFailed
from mallow.web import CSP, safe_next, safe_target

log = logging.getLogger("mallow.payments")


# --- WeChat web authorisation: link a signed-in shopper's WeChat, or sign a guest in with it -----

LINK, LOGIN = "link", "login"


def _oauth_session_key() -> str:
    return f"mallow.wechat_oauth.{current_store().id}"


def _oauth_client():
    try:
        return wechat_oauth.for_store(current_store())
    except wechat_oauth.OAuthUnavailable:
        abort(404)


def _callback_limits(view):
    """Per-IP limits on the callbacks, the same as on the login forms (one count for both)."""
    return limiter.shared_limit(
        lambda: current_app.config["LOGIN_RATE_LIMIT_IP"],
        scope="wechat-callback-ip",
        methods=["GET"],
        error_message="too many attempts",
    )(view)


def _to_wechat(purpose: str, callback_endpoint: str, consent: bool = False):
    """To WeChat's authorisation (``snsapi_base``: silent) with a fresh one-time ``state`` kept in
    this browser's session with the purpose, ``next`` (a path on this site, else 我的) and, for
    微信一键登录, whether the consent box beside the button was ticked (a new account needs it)."""
    oauth = _oauth_client()
    state = secrets.token_urlsafe(24)
    session[_oauth_session_key()] = {
        "state": state,
        "purpose": purpose,
        "next": safe_next(url_for("storefront.account")),
        "privacy_consent": consent,
    }
    return redirect(oauth.authorize_url(url_for(callback_endpoint, _external=True), state)), 302


def _back_from_wechat(purpose: str) -> tuple[str, dict]:
    """Back from WeChat: ``(openid, pending)``, ``pending`` what :func:`_to_wechat` kept (``next``,
    ``privacy_consent``). The ``state`` must be the one this browser's session
    was given for ``purpose`` (good once): otherwise 400 and the code is never exchanged. A
    refused code is a 400, WeChat failing to answer properly a 502; both end in the "try again"
    page (a guest's leads to 微信一键登录 again, with the same ``next``), without an openid."""
    pending = session.pop(_oauth_session_key(), None) or {}
    oauth = _oauth_client()
    expected = str(pending.get("state") or "")
    state = request.args.get("state", "")
    if (
        not expected
        or pending.get("purpose", LINK) != purpose
        or not hmac.compare_digest(expected.encode(), state.encode())
    ):
        abort(400)
    try:
        return oauth.exchange_code(request.args.get("code", "")), pending
    except wechat_oauth.OAuthError as error:
        log.warning("WeChat web authorisation failed for store %s: %s", current_store().id, error.code)
        retry = (
            url_for("payments_pages.wechat_login", next=safe_target(pending.get("next"), "") or None)
            if purpose == LOGIN
            else None
        )
        abort(
            make_response(
                render_template("storefront/wechat_linked.html", failed=True, retry_url=retry),
                400 if error.spent_code else 502,
            )
        )


@bp.get("/wechat/authorize")
@shopper_required
def wechat_authorize():
    """Send the signed-in shopper to WeChat's authorisation; back at :func:`wechat_callback`."""
    return _to_wechat(LINK, "payments_pages.wechat_callback")


@bp.get("/wechat/callback")
@shopper_required
@_callback_limits
def wechat_callback():
    """Link the openid to the signed-in shopper (409 when another shopper of this store has it)."""
    openid, pending = _back_from_wechat(LINK)
    target = pending.get("next")
    customer = principal("shopper")
    holder = db.session.execute(sa.select(Customer.id).where(Customer.wechat_openid == openid)).scalar_one_or_none()
    if holder is not None and holder != customer.id:
        return render_template("storefront/wechat_linked.html", taken=True), 409
    customer.wechat_openid = openid
    db.session.commit()
    return redirect(safe_target(target, url_for("storefront.account"))), 303


@bp.get("/wechat/login")
def wechat_login():
    """微信一键登录 (the button's form, ``_wechat_login.html``): send a guest to WeChat's
    authorisation, keeping whether the consent box (``privacy_consent``) was ticked; back at
    :func:`wechat_login_callback`. A shopper already signed in goes straight on to ``next``."""
    if principal("shopper") is not None:
        return redirect(safe_next(url_for("storefront.account"))), 303
    consent = customers.consented(request.args)
    return _to_wechat(LOGIN, "payments_pages.wechat_login_callback", consent=consent)


@bp.app_template_global("wechat_login_action")
def wechat_login_action() -> str:
    """The action of the 微信一键登录 form (``_wechat_login.html``). A page that shows the form
    lets it lead on to WeChat's authorisation: the CSP's ``form-action`` also names that origin
    there (browsers apply ``form-action`` to the form's redirects too)."""
    g.mallow_wechat_login_form = True
    return url_for("payments_pages.wechat_login")


def _authorize_origin() -> str:
    parts = urlsplit(current_app.config.get("WECHAT_OAUTH_AUTHORIZE_URL") or wechat_oauth.AUTHORIZE_URL)
    return f"{parts.scheme}://{parts.netloc}"


@bp.get("/wechat/login/callback")
@_callback_limits
def wechat_login_callback():
    """Sign in the shopper of this store who has this openid, or a new account made for it
    (:func:`mallow.accounts.customers.sign_in_with_wechat`), and go on to ``next``. A closed
    account is a 403 page. A new account needs the consent ticked before the tap: without it
    nothing is made and the guest lands on 注册 (with ``next``) to tick it and tap again."""
    openid, pending = _back_from_wechat(LOGIN)
    target = pending.get("next")
    consent = {customers.PRIVACY_CONSENT_FIELD: bool(pending.get("privacy_consent"))}
    try:
        customer, created = customers.sign_in_with_wechat(openid, consent)
    except customers.AccountClosed:
        db.session.rollback()
        return render_template("storefront/wechat_linked.html", closed=True), 403
    except customers.ConsentNeeded:
        db.session.rollback()  # the box on 注册 then says why (_wechat_login.html)
        back = safe_target(target, "") or None
        return redirect(url_for("storefront.register", next=back, consent="wechat")), 303
    if created:
        flash(_("Welcome! Your account is ready."), "success")
    return sign_in_and_continue(customer, target or "")


# --- WeChat JS-SDK: the signed wx.config of a storefront page inside WeChat ---------------------

#: where WeChat serves its JS-SDK (the one address the storefront's CSP adds, and only on pages
#: that load it: inside WeChat, in a store with an official account)
JSSDK_URL = "https://res.wx.qq.com/open/js/jweixin-1.6.0.js"
JSSDK_ORIGIN = "https://res.wx.qq.com"


def _this_stores_page(raw) -> str | None:
    """``raw`` when it is an http(s) URL of a page of this store on the host the request came to
    (its ``/s/<slug>`` prefix, or any path on the store's own host), else None."""
    if (
        not isinstance(raw, str)
        or not raw
        or len(raw) > 1024
        or not raw.isascii()
        or any(c.isspace() or ord(c) < 32 or c == "\\" for c in raw)
    ):
        return None
    try:
        parts = urlsplit(raw)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or "@" in parts.netloc or parts.netloc.lower() != request.host.lower():
        return None
    slug = current_store().slug
    if request.environ.get(SUBDOMAIN_ENVIRON_KEY) == slug:
        return raw
    prefix = f"/s/{slug}"
    return raw if parts.path == prefix or parts.path.startswith(prefix + "/") else None


@bp.get("/wechat/js-config")
@limiter.limit(lambda: current_app.config.get("WECHAT_JSSDK_RATE_LIMIT_IP") or "60 per minute")
def wechat_js_config():
    """``{"appId", "timestamp", "nonceStr", "signature", "jsApiList"}`` for ``wx.config`` on the
    page at ``url`` (this store's, on this host; its ``#fragment`` is not signed). 404 without an
    official account, 400 for another site's URL, 502 when WeChat hands out no ticket."""
    try:
        signer = wechat_jssdk.for_store(current_store())
    except wechat_jssdk.JsSdkUnavailable:
        abort(404)
    url = _this_stores_page(request.args.get("url"))
    if url is None:
        refused = ValidationFailed({"url": ("not_this_store", _("Give the address of a page of this store."))})
        return jsonify(refused.as_json()), 400
    try:
        config = signer.config_for(url)
    except wechat_jssdk.JsSdkError as error:
        log.warning("WeChat JS-SDK ticket refused for store %s: %s", current_store().id, error.code)
        return jsonify(error="wechat_unavailable", message=_("WeChat did not answer. Please try again later.")), 502
    response = jsonify(config)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.app_template_global("wechat_share_script")
def wechat_share_script() -> dict | None:
    """For the storefront layout: inside WeChat, in an open store with an official account,
    ``{"config_url", "sdk_url"}`` for ``wechat-share.js`` (and this page's CSP lets the JS-SDK
    load); else None, and the page loads nothing of WeChat's."""
    store = current_store()
    if store is None or not store.is_open or not inside_wechat_with_oauth("payments_pages.wechat_js_config"):
        return None
    g.mallow_wechat_jssdk = True
    return {"config_url": url_for("payments_pages.wechat_js_config"), "sdk_url": JSSDK_URL}


@bp.after_app_request
def _allow_wechat(response):
    """On a page that loads WeChat's JS-SDK, the CSP's ``script-src`` names its origin too; on a
    page with the 微信一键登录 form, ``form-action`` names WeChat's authorisation."""
    jssdk, login_form = g.get("mallow_wechat_jssdk"), g.get("mallow_wechat_login_form")
    if (jssdk or login_form) and response.mimetype == "text/html":
        policy = response.headers.get("Content-Security-Policy", CSP)
        if jssdk:
            policy = policy.replace("script-src 'self'", f"script-src 'self' {JSSDK_ORIGIN}", 1)
        if login_form:
            policy = policy.replace("form-action 'self'", f"form-action 'self' {_authorize_origin()}", 1)
        response.headers["Content-Security-Policy"] = policy
    return response
