"""The store's tables of shoppers' data rights (PIPL): its privacy notices, the consents given to
them, and the account deletions done (the tombstone's record: who, when, what was erased)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from mallow.db import StoreModel, utcnow


class PrivacyNotice(StoreModel):
    """A version of the store's own privacy notice. With no published row the store shows the
    platform's default (:data:`mallow.privacy.notice.PLATFORM_NOTICE`); the newest published row
    is the one in force (a console editor that adds rows is a later step)."""

    __tablename__ = "privacy_notices"

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[str] = mapped_column(sa.String(40), unique=True)
    title_zh: Mapped[str] = mapped_column(sa.String(80))
    title_en: Mapped[str] = mapped_column(sa.String(80))
    body_zh: Mapped[str] = mapped_column(sa.Text)
    body_en: Mapped[str] = mapped_column(sa.Text)
    created_at: Mapped[sa.DateTime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    published_at: Mapped[sa.DateTime | None] = mapped_column(sa.DateTime(timezone=True), nullable=True, index=True)


#: how a consent was given: the password sign-up form or API, an SMS code that made the account,
#: 微信一键登录, or the once-only prompt of a shopper who signed up before the notice existed
CONSENT_CHANNELS = ("password", "sms", "wechat", "prompt")


class PrivacyConsent(StoreModel):
    """The shopper agreed to ``notice_version`` of the store's privacy notice at ``consented_at``
    (PIPL art. 14: what, which version, when). Kept after the account is deleted: it names no
    one but the tombstone's id."""

    __tablename__ = "privacy_consents"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(sa.ForeignKey("customers.id"), index=True)
    notice_version: Mapped[str] = mapped_column(sa.String(40))
    channel: Mapped[str] = mapped_column(sa.String(16))
    consented_at: Mapped[sa.DateTime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)

    __table_args__ = (sa.CheckConstraint("channel IN ('password', 'sms', 'wechat', 'prompt')", name="channel"),)


class AccountDeletion(StoreModel):
    """A shopper deleted their account: when, how they proved it was them, and how much was
    erased. The customer row stays as a tombstone (orders still add up); this row is what the
    merchant sees, and nothing in Mallow undoes it."""

    __tablename__ = "account_deletions"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(sa.ForeignKey("customers.id"), unique=True)
    deleted_at: Mapped[sa.DateTime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    via: Mapped[str] = mapped_column(sa.String(8))  # web | api
    proof: Mapped[str] = mapped_column(sa.String(12))  # password | sms | session (WeChat-only accounts)
    orders_kept: Mapped[int] = mapped_column(default=0)
    #: what was erased, as counts per kind ({"addresses": 2, "orders": 3, "cart": 1, ...})
    erased: Mapped[dict] = mapped_column(sa.JSON, default=dict)
