"""Account tables: platform admins, merchants and plugin developers (shared), staff and customers
(per store)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from mallow.db import PlatformModel, StoreModel, utcnow


class _Principal:
    """Flask-Login's user protocol for every kind of account."""

    kind = "?"
    is_anonymous = False

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_active(self) -> bool:
        return bool(self.active)

    def get_id(self) -> str:
        return f"{self.kind}:{self.id}"


class _EmailAccount(_Principal):
    """Columns of a platform account that signs in with an e-mail address and a password."""

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(254), unique=True)
    name: Mapped[str] = mapped_column(sa.String(60))
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[sa.DateTime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)


class PlatformAdmin(_EmailAccount, PlatformModel):
    __tablename__ = "platform_admins"
    kind = "admin"


class Merchant(_EmailAccount, PlatformModel):
    """A person who sells on the platform; what they may do in a store comes from ``Staff``."""

    __tablename__ = "merchants"
    kind = "merchant"


class Developer(_EmailAccount, PlatformModel):
    """A third party who publishes plugins to the platform (:mod:`mallow.developers`); sees only
    their own plugins and how many stores enabled each, never a store's data."""

    __tablename__ = "developers"
    kind = "developer"


class AccountSession(PlatformModel):
    """A login of an admin, a merchant or a developer: a browser session or an API token."""

    __tablename__ = "account_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    secret_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    kind: Mapped[str] = mapped_column(sa.String(16))  # admin | merchant | developer
    account_id: Mapped[int] = mapped_column(index=True)
    via: Mapped[str] = mapped_column(sa.String(8))  # cookie | token
    #: a token may be limited to one store (by id); None = every store the merchant staffs
    store_id: Mapped[int | None] = mapped_column(nullable=True)
    created_at: Mapped[sa.DateTime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[sa.DateTime] = mapped_column(sa.DateTime(timezone=True))
    user_agent: Mapped[str | None] = mapped_column(sa.String(200), nullable=True)

    __table_args__ = (sa.CheckConstraint("kind IN ('admin', 'merchant', 'developer')", name="kind"),)


STAFF_ROLES = ("owner", "staff")


class Staff(StoreModel):
    """Membership of a merchant in this store. Removing the row removes the access at once."""

    __tablename__ = "staff"

    id: Mapped[int] = mapped_column(primary_key=True)
    merchant_id: Mapped[int] = mapped_column(unique=True)
    role: Mapped[str] = mapped_column(sa.String(16))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[sa.DateTime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)

    __table_args__ = (sa.CheckConstraint("role IN ('owner', 'staff')", name="role"),)


class Customer(_Principal, StoreModel):
    """A shopper of this store. The login (phone or e-mail) is personal data: it is kept
    encrypted, and found through a keyed hash of its normalised form."""

    __tablename__ = "customers"
    kind = "shopper"

    id: Mapped[int] = mapped_column(primary_key=True)
    login_digest: Mapped[str] = mapped_column(sa.String(64), unique=True)
    login_cipher: Mapped[str] = mapped_column(sa.Text)
    nickname: Mapped[str] = mapped_column(sa.String(40))
    password_hash: Mapped[str | None] = mapped_column(sa.String(255), nullable=True)
    # personal (an archive seals it: mallow.stores.archive)
    wechat_openid: Mapped[str | None] = mapped_column(
        sa.String(64), unique=True, nullable=True, info={"personal": True}
    )
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[sa.DateTime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)


class CustomerSession(StoreModel):
    """A shopper's login in this store (browser session or API token)."""

    __tablename__ = "customer_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    secret_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    customer_id: Mapped[int] = mapped_column(sa.ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    via: Mapped[str] = mapped_column(sa.String(8))
    created_at: Mapped[sa.DateTime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[sa.DateTime] = mapped_column(sa.DateTime(timezone=True))


class SmsCode(StoreModel):
    """A one-time sign-in code sent by SMS to a phone number (:mod:`mallow.accounts.sms`). The
    phone is kept as the same keyed digest as a login; the code only as an HMAC (keyed with the
    app's SECRET_KEY): neither can be read back from the table."""

    __tablename__ = "sms_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    phone_digest: Mapped[str] = mapped_column(sa.String(64), index=True)
    purpose: Mapped[str] = mapped_column(sa.String(16))  # login (sign-in and sign-up)
    code_hash: Mapped[str] = mapped_column(sa.String(64))
    created_at: Mapped[sa.DateTime] = mapped_column(sa.DateTime(timezone=True), default=utcnow, index=True)
    expires_at: Mapped[sa.DateTime] = mapped_column(sa.DateTime(timezone=True))
    attempts: Mapped[int] = mapped_column(default=0)
    used_at: Mapped[sa.DateTime | None] = mapped_column(sa.DateTime(timezone=True), nullable=True)
