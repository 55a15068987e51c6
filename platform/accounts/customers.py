"""Shopper accounts of one store: sign-up and sign-in by phone number or e-mail address, or by
the shopper's WeChat (the openid of the store's official account).

:data:`member_joined` (``customer``, ``channel``: ``password`` / ``sms`` / ``wechat``) is sent once
for every account made, in the sign-up's transaction, right after its consent is recorded: the
domains above accounts (coupons' new-member gifts…) connect to it in ``create_app``.
"""

from __future__ import annotations

import hashlib

from blinker import Namespace
from flask import Flask, current_app
from flask_babel import gettext as _
from sqlalchemy.exc import IntegrityError

from mallow.accounts import sms
from mallow.accounts.models import Customer
from mallow.accounts.passwords import PASSWORD_MESSAGES, hash_password, password_problem, verify_password
from mallow.db import db
from mallow.security import crypto
from mallow.validation import CN_MOBILE_RE, EMAIL_RE, Errors, ValidationFailed, text

_events = Namespace()
#: a new shopper account exists (``customer``, ``channel``): sent by :func:`joined`, once per
#: account, inside the sign-up's transaction (a receiver's rows commit or roll back with it)
member_joined = _events.signal("accounts.member-joined")


def joined(customer: Customer, channel: str) -> None:
    """THE place every sign-up path tells the domains above accounts that an account was made."""
    member_joined.send(current_app._get_current_object(), customer=customer, channel=channel)


def normalise_login(raw: str) -> str | None:
    value = (raw or "").strip().lower().replace(" ", "").replace("-", "")
    if value.startswith("+86"):
        value = value[3:]
    return value if CN_MOBILE_RE.match(value) or EMAIL_RE.match(value) else None


def register(data) -> Customer:
    errors = Errors()
    login = normalise_login(text(data, "login", 254))
    if login is None:
        errors.add("login", "invalid", _("Enter a mainland mobile number or an e-mail address."))
    password = data.get("password") or ""
    problem = password_problem(password)
    if problem:
        errors.add("password", problem, PASSWORD_MESSAGES[problem]())
    nickname = text(data, "nickname", 40)
    consent_problem(data, errors)
    errors.raise_if_any()
    digest = crypto.digest(login)
    if db.session.execute(db.select(Customer.id).filter_by(login_digest=digest)).first():
        raise ValidationFailed({"login": ("taken", _("This account exists already. Sign in instead."))})
    customer = Customer(
        login_digest=digest,
        login_cipher=crypto.encrypt(login),
        nickname=nickname or crypto.mask(login),
        password_hash=hash_password(password),
    )
    db.session.add(customer)
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        raise ValidationFailed({"login": ("taken", _("This account exists already. Sign in instead."))}) from None
    record_privacy_consent(customer, data, "password")
    joined(customer, "password")
    return customer


def authenticate(login: str, password: str) -> Customer | None:
    normalised = normalise_login(login)
    customer = None
    if normalised:
        customer = db.session.execute(
            db.select(Customer).filter_by(login_digest=crypto.digest(normalised))
        ).scalar_one_or_none()
    if not verify_password(customer.password_hash if customer else None, password) or not (
        customer and customer.active
    ):
        return None
    return customer


def sign_in_with_code(data) -> tuple[Customer, bool]:
    """Sign in, or sign up, with the phone's SMS code (:func:`mallow.accounts.sms.verify_code`):
    returns ``(customer, created)``. The first good code for a number this store does not know
    creates the shopper (``nickname`` optional, no password: they can always sign in by code).
    The caller commits and starts the session."""
    phone = sms.verify_code(data.get("phone"), data.get("code"))
    digest = crypto.digest(phone)
    customer = db.session.execute(db.select(Customer).filter_by(login_digest=digest)).scalar_one_or_none()
    if customer is not None:
        if not customer.active:
            raise ValidationFailed({"phone": ("inactive", _("This account is closed. Contact the store."))})
        return customer, False
    errors = Errors()
    consent_problem(data, errors)  # a new account: the consent first (the code is rolled back with it)
    errors.raise_if_any()
    nickname = text(data, "nickname", 40)
    customer = Customer(
        login_digest=digest,
        login_cipher=crypto.encrypt(phone),
        nickname=nickname or crypto.mask(phone),
        password_hash=None,
    )
    db.session.add(customer)
    try:
        with db.session.begin_nested():
            db.session.flush()
    except IntegrityError:  # signed up with a password meanwhile: that account
        customer = db.session.execute(db.select(Customer).filter_by(login_digest=digest)).scalar_one()
        return customer, False
    record_privacy_consent(customer, data, "sms")
    joined(customer, "sms")
    return customer, True


#: the login digest of an account made by WeChat sign-in is taken of this + the openid: never a
#: phone number or an e-mail address, so no password or SMS sign-in finds that account
WECHAT_LOGIN_PREFIX = "wechat:"


class AccountClosed(Exception):
    """The shopper's account exists, but the store has closed it."""


class ConsentNeeded(Exception):
    """A sign-up (a new account) without the consent to the store's privacy notice."""


def sign_in_with_wechat(openid: str, data=None) -> tuple[Customer, bool]:
    """The shopper of this store whose WeChat is ``openid`` (from web authorisation), or a new
    one: returns ``(customer, created)``. A new account needs the consent ticked beside the
    微信一键登录 button (``data``: what the button's form sent, kept through the OAuth round trip):
    without it :class:`ConsentNeeded` is raised and nothing is made; a shopper who has an account
    is never asked. A new account has no phone, no e-mail and no password
    (it signs in with WeChat) and a nickname like 微信用户0427. It stays its own account: signing in
    later by SMS with a phone that another account holds signs into *that* account, and the two
    are never merged. Raises :class:`AccountClosed` for a closed account. The caller commits and
    starts the session."""
    customer = db.session.execute(db.select(Customer).filter_by(wechat_openid=openid)).scalar_one_or_none()
    created = False
    if customer is None:
        if not consented(data or {}):
            raise ConsentNeeded()
        customer = Customer(
            login_digest=crypto.digest(WECHAT_LOGIN_PREFIX + openid),
            login_cipher=crypto.encrypt(""),
            nickname=_wechat_nickname(openid),
            password_hash=None,
            wechat_openid=openid,
        )
        db.session.add(customer)
        try:
            with db.session.begin_nested():
                db.session.flush()
        except IntegrityError:  # the same WeChat signed in meanwhile (another tab): that account
            customer = db.session.execute(db.select(Customer).filter_by(wechat_openid=openid)).scalar_one()
        else:
            created = True
            record_privacy_consent(customer, data, "wechat")
            joined(customer, "wechat")
    if not customer.active:
        raise AccountClosed(customer.id)
    return customer, created


def _wechat_nickname(openid: str) -> str:
    """微信用户 and four digits taken from the openid (the same WeChat, the same digits)."""
    digits = int(hashlib.sha256(openid.encode()).hexdigest()[:8], 16) % 10000
    padded = f"{digits:04d}"
    return _("WeChat user %(digits)s", digits=padded)


#: the form field / API property of the consent to the store's privacy notice
PRIVACY_CONSENT_FIELD = "privacy_consent"
_CONSENT_RECORDER = "mallow.accounts.privacy_consent"


def register_consent_recorder(app: Flask, recorder) -> None:
    """``recorder(customer, channel)`` stores a consent to the notice in force (``create_app``
    registers :func:`mallow.privacy.notice.record_consent`: privacy sits above accounts)."""
    app.extensions[_CONSENT_RECORDER] = recorder


def consented(data) -> bool:
    """Whether ``data`` (a form or a JSON body) ticks the consent box."""
    value = data.get(PRIVACY_CONSENT_FIELD) if hasattr(data, "get") else None
    return value is True or (isinstance(value, str) and value.strip().lower() in ("1", "on", "true", "yes"))


def consent_problem(data, errors: Errors) -> None:
    """A field error on ``privacy_consent`` when a sign-up does not tick the box (PIPL: no account
    without the shopper's consent to the notice; every sign-up path asks, there is no switch)."""
    if not consented(data):
        errors.add(
            PRIVACY_CONSENT_FIELD,
            "required",
            _("Read and agree to the store's privacy notice to create an account."),
        )


def record_privacy_consent(customer: Customer, data, channel: str) -> None:
    """THE place where signing up records the shopper's consent to the store's privacy notice
    (PIPL art. 13/14: what was agreed to, which version, when). Every sign-up path calls it —
    :func:`register` (password), :func:`sign_in_with_code` (SMS) and :func:`sign_in_with_wechat`
    (WeChat: its consent box is beside the 微信一键登录 button) — right after the account row
    exists, in the same transaction. The row itself belongs to :mod:`mallow.privacy` (registered
    with :func:`register_consent_recorder`). A shopper who signed up before the store asked has
    no consent row and is asked once on 我的."""
    recorder = current_app.extensions.get(_CONSENT_RECORDER)
    if recorder is not None and consented(data):
        recorder(customer, channel)


def update_profile(customer: Customer, data) -> None:
    """The shopper's own profile: the nickname (1–40 characters)."""
    nickname = text(data, "nickname", 40)
    if not nickname:
        raise ValidationFailed({"nickname": ("required", _("Enter a nickname."))})
    customer.nickname = nickname
