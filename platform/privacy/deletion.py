"""``deleteMyAccount``: a shopper deletes their account in the active store (PIPL art. 47).

Refused, saying which orders, while the store still owes or is owed something that needs the
shopper's details: an order that can still be paid, one paid but not shipped, one shipped but not
received, an after-sales request in progress. Otherwise, in one transaction:

* first, every plugin whose tables exist in the store erases its rows of the shopper
  (``mallow_erase_customer``, :mod:`mallow.privacy.plugin_data`), or refuses with its reasons
  (unpaid commission, a refund still owed); a plugin that fails refuses too ("<title> is
  unavailable right now"). Either way everything is rolled back: never half erased;

* the addresses and the cart are deleted, sessions and tokens revoked, SMS codes of the phone gone;
* every order keeps its numbers, lines, adjustments and totals (E-Commerce Law art. 31: records
  kept 3 years), but the address it was shipped to becomes 已注销用户 / ``***`` (region kept, street
  erased), the shopper's note is emptied, the payer's openid forgotten, the shopper's known
  values (phone, names, streets) are cut out of the merchant's notes and the after-sales texts,
  and after-sales photos are deleted; each order's timeline says the buyer deleted the account;
* the customer row stays as a tombstone: no login (its digest is one of the tombstone's own),
  an encrypted empty login, nickname 已注销用户, no password, no WeChat, inactive;
* :class:`~mallow.privacy.models.AccountDeletion` and the platform audit log say who, when, what.

Nothing undoes it: the erased values are not kept anywhere, encrypted or not.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from flask import g
from flask_babel import gettext as _

from mallow import audit
from mallow.accounts import sessions, sms
from mallow.accounts.models import Customer, SmsCode
from mallow.accounts.passwords import verify_password
from mallow.aftersales.models import OPEN_STATES, AfterSale
from mallow.cart.models import Cart
from mallow.db import db
from mallow.db.outcomes import outermost
from mallow.media.images import delete_stored
from mallow.orders.models import Address, Order, OrderEvent
from mallow.payments.models import Payment, PaymentNotification
from mallow.privacy import plugin_data, sections
from mallow.privacy.models import AccountDeletion
from mallow.security import crypto
from mallow.tenants.context import current_store
from mallow.validation import Errors, text

log = logging.getLogger("mallow.privacy")

#: what replaces a deleted shopper's names (stored data: the store's language, Chinese)
DELETED_NAME = "已注销用户"
DELETED_PHONE = "***"
REDACTED = "***"
#: the order timeline's entry, shown to the merchant on every order of the deleted shopper
EVENT_KIND = "buyer_account_deleted"
#: typed to confirm (either works, whatever the page's language)
CONFIRM_WORDS = ("注销", "DELETE")


@dataclass(frozen=True)
class Blocker:
    code: str  # unpaid | to_ship | to_receive | aftersale | plugin | plugin_failed
    message: str
    order_number: str = ""
    #: the plugin that refused (``plugin``: it still owes the shopper something; ``plugin_failed``:
    #: its erasure failed, so nothing was erased)
    plugin: str = ""


#: ``g`` key: the plugins' blockers of a deletion refused in this request, for the page that says why
PLUGIN_BLOCKERS = "mallow_privacy_plugin_blockers"
ORDER_CODES = ("unpaid", "to_ship", "to_receive", "aftersale")


class DeletionRefused(Exception):
    def __init__(self, blockers: list[Blocker]):
        super().__init__(", ".join(f"{b.code}:{b.order_number}" for b in blockers))
        self.blockers = blockers

    def as_json(self) -> dict:
        orders_only = all(b.code in ORDER_CODES for b in self.blockers)
        return {
            "error": "account_in_use",
            "message": _("Your account cannot be deleted yet: finish or cancel these orders first.")
            if orders_only
            else _("Your account cannot be deleted yet: see why below."),
            "blockers": [
                {
                    "code": b.code,
                    "order": b.order_number,
                    "message": b.message,
                    **({"plugin": b.plugin} if b.plugin else {}),
                }
                for b in self.blockers
            ],
        }


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def blockers(customer_id: int) -> list[Blocker]:
    """Why the account cannot be deleted now (empty: it can), one entry per order; after a
    deletion a plugin refused in this request, the plugins' reasons too (plugins are asked only
    inside the deletion: their check is their erasure, :func:`_erase_in_plugins`)."""
    now = datetime.now(UTC)
    found: list[Blocker] = []
    rows = db.session.execute(
        sa.select(Order.number, Order.status, Order.pay_deadline)
        .where(Order.customer_id == customer_id, Order.status.in_(("pending_payment", "paid", "shipped")))
        .order_by(Order.id)
    ).all()
    for number, status, deadline in rows:
        if status == "pending_payment" and _aware(deadline) > now:
            found.append(
                Blocker(
                    "unpaid", _("Order %(number)s is waiting for payment: pay or cancel it.", number=number), number
                )
            )
        elif status == "paid":
            found.append(
                Blocker("to_ship", _("Order %(number)s is paid and waiting to be shipped.", number=number), number)
            )
        elif status == "shipped":
            found.append(
                Blocker(
                    "to_receive",
                    _("Order %(number)s is on its way: confirm receipt first.", number=number),
                    number,
                )
            )
    for (number,) in db.session.execute(
        sa.select(Order.number)
        .join(AfterSale, AfterSale.order_id == Order.id)
        .where(AfterSale.customer_id == customer_id, AfterSale.status.in_(OPEN_STATES))
        .order_by(AfterSale.id)
    ).all():
        found.append(
            Blocker(
                "aftersale",
                _("Order %(number)s has an after-sales request in progress.", number=number),
                number,
            )
        )
    found += g.get(PLUGIN_BLOCKERS, {}).get(customer_id, [])
    return found


def proof_needed(customer: Customer) -> str:
    """How the shopper proves it is them: ``password``, ``sms`` (a phone account without a
    password), or ``session`` (a WeChat-only account: the signed-in session and the typed word)."""
    if customer.password_hash:
        return "password"
    login = crypto.decrypt(customer.login_cipher)
    return "sms" if login and "@" not in login else "session"


def check_request(customer: Customer, data) -> str:
    """The typed confirmation word and the proof; returns the proof used. ``ValidationFailed``
    on ``confirm``, ``password`` or ``code``."""
    errors = Errors()
    if text(data, "confirm", 20).upper() not in {w.upper() for w in CONFIRM_WORDS}:
        errors.add("confirm", "mismatch", _("Type 注销 to confirm."))
    proof = proof_needed(customer)
    if proof == "password" and not verify_password(customer.password_hash, data.get("password") or ""):
        errors.add("password", "wrong", _("Wrong password."))
    errors.raise_if_any()
    if proof == "sms":  # checked last: a good code is used up
        sms.verify_code(crypto.decrypt(customer.login_cipher), data.get("code"))
    return proof


def _scrub(value, secrets_: list[str]):
    """``value`` with every known personal value cut out (strings inside JSON too)."""
    if isinstance(value, str):
        for secret in secrets_:
            if secret in value:
                value = value.replace(secret, REDACTED)
        return value
    if isinstance(value, list):
        return [_scrub(v, secrets_) for v in value]
    if isinstance(value, dict):
        return {k: _scrub(v, secrets_) for k, v in value.items()}
    return value


def _known_values(customer: Customer, orders: list[Order]) -> list[str]:
    """The shopper's own values, longest first: login, nickname, WeChat openid, every address's
    and every order address's recipient, phone and street."""
    values = {crypto.decrypt(customer.login_cipher), customer.nickname, customer.wechat_openid or ""}
    for a in db.session.execute(sa.select(Address).where(Address.customer_id == customer.id)).scalars():
        values |= {crypto.decrypt(c) for c in (a.recipient_cipher, a.phone_cipher, a.detail_cipher)}
    for order in orders:
        try:
            snapshot = json.loads(crypto.decrypt(order.address_cipher))
        except ValueError:
            continue
        values |= {str(snapshot.get(k) or "") for k in ("recipient", "phone", "detail")}
    return sorted((v for v in values if v and len(v) >= 2 and v != DELETED_NAME), key=len, reverse=True)


def _anonymous_snapshot(cipher: str) -> str:
    try:
        snapshot = json.loads(crypto.decrypt(cipher))
    except ValueError:
        snapshot = {}
    kept = {k: snapshot.get(k) for k in ("province", "city", "district", "province_code", "city_code", "district_code")}
    return crypto.encrypt(
        json.dumps({**kept, "recipient": DELETED_NAME, "phone": DELETED_PHONE, "detail": ""}, ensure_ascii=False)
    )


def delete_account(customer: Customer, data, *, via: str) -> AccountDeletion:
    """Check, then erase (see the module's text). The caller commits (and ends the browser
    session). Raises ``ValidationFailed`` (confirmation, proof) or :class:`DeletionRefused`."""
    proof = check_request(customer, data)
    found = blockers(customer.id)
    if found:
        db.session.rollback()  # a good SMS code stays usable
        raise DeletionRefused(found)
    store = current_store()
    erased: dict[str, int | list[str]] = {}
    refused, asked = _erase_in_plugins(customer)
    if refused:
        db.session.rollback()  # the plugins' erasures too: all or nothing
        g.setdefault(PLUGIN_BLOCKERS, {})[customer.id] = refused
        raise DeletionRefused(refused)
    erased["plugins"] = asked.succeeded
    if asked.not_asked:
        erased["plugins_not_asked"] = asked.not_asked
        log.warning("account deletion in store %s: plugins with tables not asked: %s", store.id, asked.not_asked)
    orders = list(db.session.execute(sa.select(Order).where(Order.customer_id == customer.id)).scalars())
    known = _known_values(customer, orders)
    login = crypto.decrypt(customer.login_cipher)

    erased["addresses"] = db.session.execute(sa.delete(Address).where(Address.customer_id == customer.id)).rowcount
    erased["cart"] = db.session.execute(sa.delete(Cart).where(Cart.customer_id == customer.id)).rowcount
    if login and "@" not in login:
        db.session.execute(sa.delete(SmsCode).where(SmsCode.phone_digest == crypto.digest(login)))
    sessions.revoke_all("shopper", customer.id)

    order_ids = [o.id for o in orders]
    for order in orders:
        order.address_cipher = _anonymous_snapshot(order.address_cipher)
        order.note = ""
        order.merchant_note = _scrub(order.merchant_note, known)
        db.session.add(OrderEvent(order_id=order.id, kind=EVENT_KIND, actor=f"shopper:{customer.id}", detail={}))
    erased["orders"] = len(orders)
    if order_ids:
        for event in db.session.execute(
            sa.select(OrderEvent).where(OrderEvent.order_id.in_(order_ids), OrderEvent.kind != EVENT_KIND)
        ).scalars():
            scrubbed = _scrub(event.detail or {}, known)
            if scrubbed != (event.detail or {}):
                event.detail = scrubbed
        trade_numbers = []
        for payment in db.session.execute(sa.select(Payment).where(Payment.order_id.in_(order_ids))).scalars():
            payment.payer_openid = None
            trade_numbers.append(payment.out_trade_no)
        if trade_numbers:
            for note in db.session.execute(
                sa.select(PaymentNotification).where(PaymentNotification.out_trade_no.in_(trade_numbers))
            ).scalars():
                scrubbed = _scrub(note.detail or {}, known)
                if scrubbed != (note.detail or {}):
                    note.detail = scrubbed
    photos = []
    for aftersale in db.session.execute(sa.select(AfterSale).where(AfterSale.customer_id == customer.id)).scalars():
        photos += list(aftersale.photos or [])
        aftersale.photos = []
        aftersale.reason = _scrub(aftersale.reason, known)
        aftersale.merchant_reason = _scrub(aftersale.merchant_reason, known) if aftersale.merchant_reason else None
    erased["aftersale_photos"] = len(photos)
    for section in sections.registered():
        if section.erase is not None:
            erased[section.key] = int(section.erase(customer) or 0)

    customer.login_digest = crypto.digest(f"deleted:{store.id}:{customer.id}")
    customer.login_cipher = crypto.encrypt("")
    customer.nickname = DELETED_NAME
    customer.password_hash = None
    customer.wechat_openid = None
    customer.active = False
    deletion = AccountDeletion(customer_id=customer.id, via=via, proof=proof, orders_kept=len(orders), erased=erased)
    db.session.add(deletion)
    audit.record(
        "shopper.account_deleted",
        actor=customer,
        store_id=store.id,
        target=f"customer:{customer.id}",
        detail={"via": via, "proof": proof, "orders_kept": len(orders), "erased": erased},
    )
    db.session.flush()
    _delete_files_after_commit(photos)
    return deletion


def _erase_in_plugins(customer: Customer) -> tuple[list[Blocker], plugin_data.Asked]:
    """``mallow_erase_customer`` of every plugin whose tables exist in the store, before Mallow's
    own erasure; the blockers (empty: every plugin erased its rows). Fail closed: a plugin that
    failed is a ``plugin_failed`` blocker, and the caller rolls everything back."""
    asked = plugin_data.ask(plugin_data.ERASE_HOOK, customer)
    found = [
        Blocker("plugin", str(message), plugin=name) for name, messages in asked.answers.items() for message in messages
    ]
    for name, message in asked.failed.items():
        log.warning("account deletion refused: plugin %s failed to erase customer %s", name, customer.id)
        found.append(Blocker("plugin_failed", str(message), plugin=name))
    return found, asked


def _delete_files_after_commit(paths: list[str]) -> None:
    """The after-sales photos go once the deletion is committed (a rollback keeps them)."""
    if not paths:
        return
    session = db.session()
    pending = list(paths)

    # not ``once=True``: a savepoint's release or rollback fires these too, and must not use
    # them up; ``outermost`` waits for the transaction's own end (``pending`` emptied then)
    @sa.event.listens_for(session, "after_commit")
    @outermost
    def _gone(_session):
        for path in pending:
            try:
                delete_stored(path)
            except OSError:
                log.warning("an after-sales photo of a deleted account could not be removed")
        pending.clear()

    @sa.event.listens_for(session, "after_rollback")
    @outermost
    def _kept(_session):
        pending.clear()
