"""Group buy (拼团): a bundled Mallow plugin built only on the public plugin API.

Campaigns sell a product's options at a ladder of group prices by headcount. A shopper opens a
group by *paying*; others join through the group's share link until it is full (success: members
are settled at the final tier and their orders go on to shipping) or its window ends (failure:
every paid member is refunded in full through the payment provider by the sweep, stock returns).
Nothing is ever shown that did not happen: no invented members, nicknames, avatars or counters.

Modules: :mod:`.money` (arithmetic and rounding), :mod:`.models`, :mod:`.campaigns`,
:mod:`.checkout` (options, price, checks, reservations), :mod:`.lifecycle` (groups and members),
:mod:`.refunds` (money owed, retried), :mod:`.jobs` (the sweep), :mod:`.views`, :mod:`.blocks`,
:mod:`.product_slot` (the product page's slot, kept by Mallow until campaigns or groups change).
"""

from __future__ import annotations

from mallow.sdk import hookimpl, slot_watches
from mallow_groupbuy import checkout, lifecycle, present, product_slot
from mallow_groupbuy.i18n import _
from mallow_groupbuy.models import Campaign, Group


@hookimpl
def mallow_line_adjustments(context, line):
    return checkout.line_adjustments(context, line)


@hookimpl
def mallow_validate_checkout(context):
    return checkout.validate(context)


@hookimpl
def mallow_order_placed(order, context):
    checkout.placed(order, context)


@hookimpl
def mallow_order_paid(order):
    lifecycle.on_paid(order)


@hookimpl
def mallow_order_cancelled(order, reason):
    lifecycle.on_cancelled(order, reason)


@hookimpl
def mallow_order_refunded(order, refund):
    lifecycle.on_refunded(order, refund)


@hookimpl
def mallow_order_status_label(order):
    from mallow_groupbuy import labels

    return labels.order_status_label(order)


@hookimpl
def mallow_order_event_label(event):
    from mallow_groupbuy import labels

    return labels.order_event_label(event)


@hookimpl
def mallow_after_payment_url(order):
    from mallow_groupbuy import labels

    return labels.after_payment_url(order)


@hookimpl
def mallow_register_routes(register):
    from mallow_groupbuy.views import register_all

    register_all(register)


@hookimpl
def mallow_register_blocks(register):
    from mallow_groupbuy.blocks import register_blocks

    register_blocks(register)


@hookimpl
def mallow_register_jobs(register):
    from mallow_groupbuy.jobs import register_jobs

    register_jobs(register)


@hookimpl
def mallow_seed_demo(now):
    from mallow_groupbuy import demo

    return demo.seed(now)


@hookimpl
def mallow_console_menu(store):
    return [{"label": _("Group buys"), "endpoint": "console.campaign_list"}]


@hookimpl
@slot_watches("product.after_price", Campaign, Group)
def mallow_template_slot(slot, context):
    """Under a product's price: a link to its running campaign (real figures only), kept by
    Mallow until a campaign or group changes (:mod:`.product_slot`)."""
    if slot != product_slot.SLOT:
        return None
    return product_slot.render(context)


@hookimpl
def mallow_share_target(kind, ref):
    """A group is shared like a product: Mallow draws its poster and makes its link with the
    sharer's code (the group page's 分享 button, :func:`mallow.sdk.share_sheet`)."""
    if kind != present.SHARE_KIND:
        return None
    return present.share_target(ref)


@hookimpl
def mallow_customer_data(customer):
    """The shopper's memberships, units and refunds (the export)."""
    from mallow_groupbuy import privacy

    return privacy.customer_data(customer)


@hookimpl
def mallow_erase_customer(customer):
    """Refused while a group of theirs is open or a refund is owed; else erased (``privacy``)."""
    from mallow_groupbuy import privacy

    return privacy.erase_customer(customer)
