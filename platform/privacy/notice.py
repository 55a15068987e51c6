"""The store's privacy notice (隐私政策) and the shoppers' consents to it.

A store shows the newest :class:`~mallow.privacy.models.PrivacyNotice` it published, else the
platform's default below (Chinese and English, one version). Every sign-up path records the
version the shopper agreed to (:func:`record_consent`, registered with
:mod:`mallow.accounts.customers` by :func:`install`: accounts sit below this layer).
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from flask import Flask
from flask_babel import get_locale

from mallow.accounts import customers
from mallow.accounts.models import Customer
from mallow.db import db
from mallow.privacy.models import CONSENT_CHANNELS, PrivacyConsent, PrivacyNotice


@dataclass(frozen=True)
class Notice:
    version: str
    title_zh: str
    title_en: str
    body_zh: str
    body_en: str
    platform_default: bool = False

    @property
    def title(self) -> str:
        return self.title_en if _english() else self.title_zh

    @property
    def body(self) -> str:
        return self.body_en if _english() else self.body_zh

    @property
    def paragraphs(self) -> list[str]:
        return [p.strip() for p in self.body.split("\n\n") if p.strip()]


def _english() -> bool:
    locale = get_locale()
    return locale is not None and locale.language == "en"


PLATFORM_NOTICE = Notice(
    version="platform-2026-12",
    title_zh="隐私政策",
    title_en="Privacy notice",
    body_zh="""本店（以下简称"我们"）依据《中华人民共和国个人信息保护法》处理您的个人信息。本政策说明我们收集哪些信息、为何收集、保存多久，以及您享有的权利。

一、我们收集的信息。为完成网上购物所必需：您的账号手机号（或电子邮箱）；收货人姓名、收货地址和联系电话；支付时间、金额和支付方式。您通过微信登录时，我们获得您在本店公众号下的 openid。昵称等其他信息由您自愿提供，拒绝提供不影响购物。

二、使用目的。仅用于账号登录、下单、发货、支付、售后和必要的客户服务。未经您单独同意，我们不会将您的个人信息提供给第三方（为履行合同所必需的除外，例如将收货信息交给快递公司）。

三、保存与安全。手机号、地址等信息加密存储，在列表和日志中以掩码显示（如 138****5678）。依照《电子商务法》第三十一条，交易记录自交易完成之日起保存不少于三年。

四、您的权利。您可以在"我的 → 账号与隐私"中查看、下载您的数据，或注销账号。注销后，我们删除或匿名化您的个人信息，仅保留法律要求的交易记录，并停止其他一切处理。

五、联系我们。如有疑问，可通过店铺客服与我们联系。""",
    body_en="""This store ("we") processes your personal information under the Personal Information Protection Law of the PRC. This notice says what we collect, why, for how long, and what rights you have.

1. What we collect. What online shopping needs: your account's mobile number (or e-mail address); the recipient's name, address and phone number; the time, amount and method of payment. When you sign in with WeChat we receive your openid for this store's official account. Anything else, such as a nickname, is optional, and refusing it never stops you from buying.

2. Why. Only to sign you in, take, ship and charge your orders, handle after-sales and answer you. We do not share your personal information with third parties without your separate consent, except where the contract needs it (for example the delivery address given to the carrier).

3. Keeping it safe. Phone numbers and addresses are encrypted at rest and masked in lists and logs (138****5678). Under art. 31 of the E-Commerce Law, transaction records are kept for at least three years after the transaction.

4. Your rights. In Me → Account and privacy you can view and download your data, or delete your account. After deletion we erase or anonymise your personal information, keep only the transaction records the law requires, and stop all other processing.

5. Contact. Ask the store's customer service.""",
    platform_default=True,
)


def current() -> Notice:
    """The notice in force in the active store: its newest published version, else the platform's."""
    row = db.session.execute(
        sa.select(PrivacyNotice)
        .where(PrivacyNotice.published_at.is_not(None))
        .order_by(PrivacyNotice.published_at.desc(), PrivacyNotice.id.desc())
        .limit(1)
    ).scalar_one_or_none()
    if row is None:
        return PLATFORM_NOTICE
    return Notice(row.version, row.title_zh, row.title_en, row.body_zh, row.body_en)


def record_consent(customer: Customer, channel: str) -> PrivacyConsent:
    """The shopper agreed to the notice in force now (same transaction as the sign-up)."""
    if channel not in CONSENT_CHANNELS:
        raise ValueError(f"unknown consent channel {channel!r}")
    consent = PrivacyConsent(customer_id=customer.id, notice_version=current().version, channel=channel)
    db.session.add(consent)
    return consent


def consents_of(customer_id: int) -> list[PrivacyConsent]:
    return list(
        db.session.execute(
            sa.select(PrivacyConsent).where(PrivacyConsent.customer_id == customer_id).order_by(PrivacyConsent.id)
        ).scalars()
    )


def needs_consent(customer_id: int) -> bool:
    """A shopper who signed up before the store asked (no consent at all): asked once, on 我的."""
    return (
        db.session.execute(
            sa.select(PrivacyConsent.id).where(PrivacyConsent.customer_id == customer_id).limit(1)
        ).first()
        is None
    )


def install(app: Flask) -> None:
    """Let the sign-up paths of :mod:`mallow.accounts.customers` record consents here."""
    customers.register_consent_recorder(app, record_consent)
