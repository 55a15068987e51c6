"""Bundled plugin: distribution commission (分销), built only on Mallow's plugin API.

Shoppers apply to promote the store (free: no fee, no purchase); each approved distributor has a
referral link and code; shoppers who arrive through it are bound to that distributor. When a
bound shopper's order is paid, the referrer earns a commission on what was actually paid for
each line, and — only if the store pays two levels — the referrer's own referrer too. **Never
more than two levels**, never pay for recruiting (see :mod:`.rules`). Commission is frozen
through the after-sales window, settled by a periodic job, reversed pro rata on refunds, and
withdrawn with the merchant's approval.

Everything runs through ``mallow.sdk`` and the ``mallow_*`` hooks below; Mallow calls
them only for stores that enabled the plugin.
"""

from __future__ import annotations

import logging

from mallow.sdk import db, hookimpl

log = logging.getLogger("mallow.plugins.distribution")


@hookimpl
def mallow_order_placed(order, context):
    """Bind the buyer through the referral code they arrived with (session, or the order's
    ``options``), before the order is paid. Never refuses an order. Without a code (an API
    order with no ``distribution`` option and no session holding a referral: the usual case)
    there is nothing to bind: no savepoint, no statement."""
    from mallow_distribution import referrals

    try:
        code = referrals.code_from_options(getattr(context, "options", None))
        if not code and referrals.remembered() is None:
            return
        with db.session.begin_nested():
            if code:
                referrals.capture(order.customer_id, code, "order")
            else:
                referrals.capture_from_session(order.customer_id, "order")
    except Exception:  # a referral must never cost the shopper their order
        log.exception("distribution: referral capture failed for order %s", order.id)


@hookimpl
def mallow_order_paid(order):
    """Accrue the order's commissions (pending). A failure here never undoes the payment (it runs
    in a savepoint of the transaction that marks the order paid): it is logged and the order is
    remembered, in that same transaction, for the settlement sweep to accrue."""
    from mallow_distribution import commission

    try:
        with db.session.begin_nested():
            commission.accrue(order)
    except Exception:
        log.exception("distribution: commission for order %s could not be written; the sweep retries", order.id)
        commission.accrue_later(order)


@hookimpl
def mallow_seed_demo(shopper):
    from mallow_distribution import demo

    return demo.seed(shopper)


@hookimpl
def mallow_order_refunded(order, refund):
    """Reverse commission in proportion to what was refunded (claw back if settled already). If
    this fails, Mallow logs it and the refund stands; the settlement sweep catches up."""
    from mallow_distribution import commission

    commission.reverse_for_refund(order)


@hookimpl
def mallow_order_completed(order):
    """Completion comes after delivery: freeze what is still pending, settle what is due (or the
    settlement sweep does, should this fail)."""
    from mallow_distribution import commission

    commission.freeze_order(order)
    commission.settle_order(order.id)


@hookimpl
def mallow_register_routes(register):
    from mallow_distribution import console, merchant_api, shopper_api, storefront

    register(storefront.blueprint(), "storefront")
    register(console.blueprint(), "console")
    register(shopper_api.store_api(), "store_api")
    register(merchant_api.console_api(), "console_api")


@hookimpl
def mallow_register_blocks(register):
    from mallow_distribution.blocks import register_block

    register_block(register)


@hookimpl
def mallow_register_jobs(register):
    from mallow_distribution.jobs import register_jobs

    register_jobs(register)


@hookimpl
def mallow_console_menu(store):
    from mallow_distribution.blocks import console_menu

    return console_menu()


@hookimpl
def mallow_account_entries(store, customer):
    from mallow_distribution.blocks import account_entries

    return account_entries()


@hookimpl
def mallow_share_code(customer, target):
    """An approved distributor shares with their own code: the share link is their referral link
    landing on ``target``, so a visitor who comes through it is bound to them (not a share
    reward: a distributor earns commission)."""
    from mallow_distribution import distributors
    from mallow_distribution.web import referral_link

    distributor = distributors.of_customer(customer.id)
    if distributor is None or distributor.status != "approved":
        return None
    return {"code": distributor.code, "url": referral_link(distributor, target)}


@hookimpl
def mallow_template_slot(slot, context):
    from mallow_distribution.blocks import template_slot

    return template_slot(slot, context)


@hookimpl
def mallow_customer_data(customer):
    """The shopper's distributor record, commissions, withdrawals and referral (the export)."""
    from mallow_distribution import privacy

    return privacy.customer_data(customer)


@hookimpl
def mallow_erase_customer(customer):
    """Refused while the store owes the distributor commission; else erased (``privacy``)."""
    from mallow_distribution import privacy

    return privacy.erase_customer(customer)
