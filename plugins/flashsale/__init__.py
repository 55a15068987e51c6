"""Flash sale (秒杀): time-boxed sales with a sale price and a dedicated quota per SKU.

A bundled plugin built only on Mallow's plugin SDK (``mallow.sdk``: the store's session, the
checkout and the other public entry points) and the ``mallow_*`` hooks (its sweep registered
through ``mallow_register_jobs``). Its hooks and its sweep run only in stores that enabled it. See
``README.md`` beside this file for the design: opting a checkout into a sale, the Redis gate and
the database truth, limits, the unpaid timeout, and the commission marker on the sale's price
adjustment.
"""

from __future__ import annotations

from markupsafe import Markup, escape

from mallow.sdk import hookimpl, purge_redis_patterns, slot_watches
from mallow_flashsale import checkout, gate
from mallow_flashsale.models import Sale, SaleItem
from mallow_flashsale.privacy import mallow_customer_data, mallow_erase_customer  # noqa: F401  (hooks)

# the ticket queue, tickets, idempotency keys and attempt rates of a store go when it is purged
purge_redis_patterns(gate.store_redis_patterns)


@hookimpl
def mallow_validate_checkout(context):
    return checkout.validate(context)


@hookimpl
def mallow_line_adjustments(context, line):
    return checkout.line_adjustments(context, line)


@hookimpl
def mallow_order_placed(order, context):
    checkout.order_placed(order, context)


@hookimpl
def mallow_order_paid(order):
    checkout.order_paid(order)


@hookimpl
def mallow_order_cancelled(order, reason):
    checkout.order_cancelled(order, reason)


@hookimpl
def mallow_register_routes(register):
    from mallow_flashsale import console, storefront

    for blueprint, area in storefront.blueprints() + console.blueprints():
        register(blueprint, area)


@hookimpl
def mallow_early_routes():
    from mallow_flashsale import early_answers

    return early_answers.routes()


@hookimpl
def mallow_register_blocks(register):
    from mallow_flashsale import blocks

    blocks.register_blocks(register)


@hookimpl
def mallow_register_jobs(register):
    from mallow_flashsale import sweep

    from mallow_flashsale import admission

    register("flashsale.sweep", sweep.sweep, every_seconds=sweep.EVERY_SECONDS)
    register("flashsale.drain", admission.drain)  # queued tickets become orders (one job per crowd)


@hookimpl
def mallow_seed_demo(now):
    from mallow_flashsale import demo

    return demo.seed(now)


@hookimpl
def mallow_console_menu(store):
    from mallow_flashsale.i18n import _

    return [{"label": _("Flash sales"), "endpoint": "manage.index"}]


@hookimpl
@slot_watches("product.after_price", Sale, SaleItem)
def mallow_template_slot(slot, context):
    """On a product page: where the product is in a sale a shopper can see now, a link to it.
    Mallow keeps the answer until a sale is written (``slot_watches``) or the next moment one of
    the product's sales previews, starts or ends (``fresh_for``); the countdown counts to an
    absolute time, so a kept answer ticks right."""
    if slot != "product.after_price":
        return None
    product = (context or {}).get("product")
    product_id = getattr(product, "id", None) if not isinstance(product, dict) else product.get("id")
    if not product_id:
        return None
    from mallow.sdk import fen_to_yuan, fresh_for
    from mallow_flashsale import sales, timing
    from mallow_flashsale.i18n import _
    from mallow_flashsale.links import storefront_url

    from mallow_flashsale.models import aware
    from mallow_flashsale.present import asset_version
    from mallow_flashsale.storefront import countdown_text

    now = timing.now()
    found, changes_at = sales.product_sales(int(product_id), now)
    if changes_at is not None:
        fresh_for(max(0.0, (changes_at - now).total_seconds()))
    if not found:
        return None
    sale, item = found[0]
    live = sale.state(now) == "live"
    text = (
        _("Flash sale ¥%(price)s: on now", price=fen_to_yuan(item.sale_price))
        if live
        else _(
            "Flash sale ¥%(price)s: starts %(time)s",
            price=fen_to_yuan(item.sale_price),
            time=timing.local_text(sale.starts_at),
        )
    )
    href = storefront_url("sale", sale_id=sale.id)
    style = storefront_url("static", filename="flashsale.css", v=asset_version("flashsale.css"))
    script = storefront_url("static", filename="countdown.js", v=asset_version("countdown.js"))
    if href is None:
        return None
    clock = Markup("")
    if live:  # printed for readers without script; the script counts down to the end itself
        ends = aware(sale.ends_at)
        seconds = max(0, int((ends - now).total_seconds()))
        clock = Markup(
            '<span class="fs-countdown" data-fs-deadline="%d" data-days-format="%s"><span>%s</span>'
            '<time class="fs-clock">%s</time></span>'
        ) % (int(ends.timestamp()), _("%(days)s d"), _("Ends in"), countdown_text(seconds))
    return Markup(
        '<link rel="stylesheet" href="%s"><p class="fs-slot"><a class="fs-ribbon" href="%s">'
        '<span>⚡ %s</span>%s</a></p><script src="%s" defer></script>'
    ) % (escape(style), escape(href), escape(text), clock, escape(script))
