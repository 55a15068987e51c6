"""Mallow's hook specifications: the one place that says what a plugin can change.

Calling conventions (pluggy): every hook returns *all* non-None results as a list unless it
says "first result wins". Implementations may accept fewer arguments than the spec names.

Money rules for every pricing hook: amounts are integer fen, discounts are negative,
surcharges positive. A plugin **proposes** :class:`~mallow.pricing.Adjustment` values; the core
decides which apply (see :mod:`mallow.pricing.pipeline`): on each line the best single
line-stage proposal wins (flash sale vs. group price vs. member price, never stacked), then
order-stage proposals, then coupons, then shipping, and no total goes below zero. The result
never depends on the order in which plugins were registered.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from mallow.orders.models import Order
    from mallow.payments.models import Refund
    from mallow.pricing.model import Adjustment, PricingContext, PricingLine, Problem

hookspec = pluggy.HookspecMarker("mallow")
hookimpl = pluggy.HookimplMarker("mallow")


@hookspec
def mallow_line_adjustments(context: "PricingContext", line: "PricingLine") -> "list[Adjustment] | None":
    """Propose price changes for one line of a cart or order.

    :param context: the whole checkout (store, shopper, lines, address province, options).
    :param line: the line to price: ``sku_id``, ``product_id``, ``unit_price``, ``quantity``.
    :returns: adjustments with ``stage="line"`` and a negative ``amount`` for the whole line
        (not per unit). The core applies only the best one per line.
    """


@hookspec
def mallow_order_adjustments(context: "PricingContext", subtotal: int) -> "list[Adjustment] | None":
    """Propose order-level changes (full-reduction 满减 with ``stage="order"``, coupons with
    ``stage="coupon"``), given the subtotal after line adjustments (fen). Proposals that share an
    ``exclusive_group`` compete: only the best of each group applies."""


@hookspec(firstresult=True)
def mallow_shipping_fee(context: "PricingContext", subtotal: int) -> "Adjustment | Problem | None":
    """The shipping fee for the order (``stage="shipping"``), or a ``Problem`` when the address
    cannot be served. First result wins; the built-in template-based implementation runs last."""


@hookspec
def mallow_validate_checkout(context: "PricingContext") -> "list[Problem] | None":
    """Refuse a checkout: return problems (``code``, ``message``, optional ``line_index``) that
    the shopper sees. Used for purchase limits, new-customer-only offers, sale windows."""


@hookspec
def mallow_order_placed(order: "Order", context: "PricingContext") -> None:
    """An order was placed (inside its database transaction: raise to refuse it)."""


@hookspec
def mallow_order_paid(order: "Order") -> None:
    """An order's payment was verified (inside the transaction that marks it paid)."""


@hookspec
def mallow_order_cancelled(order: "Order", reason: str) -> None:
    """An unpaid order was cancelled (by the shopper, the merchant or the timeout); its stock
    is back already."""


@hookspec
def mallow_order_refunded(order: "Order", refund: "Refund") -> None:
    """Money went back to the shopper (a partial or full refund succeeded)."""


@hookspec
def mallow_order_completed(order: "Order") -> None:
    """The order is completed (confirmed and past delivery)."""


# --- Extension points beyond pricing and orders --------------------------------------------


@hookspec
def mallow_register_routes(register) -> None:
    """Add Flask blueprints. Call ``register(blueprint, area)`` with ``area`` one of
    ``"storefront"``, ``"console"``, ``"store_api"``, ``"console_api"``: the blueprint is mounted
    inside the store (``/s/<slug>/…`` under the area's prefix and ``/x/<plugin>``), so the store
    is resolved before the plugin's views run, and its routes answer 404 in stores that have not
    enabled the plugin. ``console`` and ``console_api`` routes answer only to the store's staff;
    API areas take bearer tokens (no CSRF) and answer errors in JSON. Inside its templates a
    plugin links its own views with relative endpoints (``url_for(".view")``). Called once at
    start-up."""


@hookspec
def mallow_register_blocks(register) -> None:
    """Add page-builder block types: ``register(type_name, label=…, schema=…, template=…)`` with a
    JSON Schema object of the block's settings and a template path ``…/blocks/<type_name>.html``
    relative to the plugin's package; or the keywords of
    :func:`mallow.builder.blocks.register_block_type` (``settings=…, template_folder=…, resolve=…``).
    Name types ``<plugin>_<thing>``; a type registered by Mallow or another plugin is refused.
    Called once at start-up; :func:`mallow.plugins.blocks.available` tells whether a type may be
    used in the active store."""


@hookspec
def mallow_console_menu(store) -> "list[dict] | None":
    """Entries for the merchant console's menu in this store: ``{"label": …, "endpoint": …}``
    with ``endpoint`` as ``"<blueprint name>.<view>"`` of a blueprint the plugin registered (Mallow
    finds where it is mounted) and optional ``"values"`` for ``url_for``. Called only for stores
    that enabled it; an implementation that raises is logged and left out."""


@hookspec
def mallow_template_slot(slot: str, context: dict) -> "str | None":
    """Markup for a named place in storefront templates (e.g. ``"product.after_price"``,
    ``"home.top"``); return ``markupsafe.Markup`` or a string that will be escaped. ``context``
    holds what the template passed (the product page: ``product``, ``skus``). Called only for
    stores that enabled the plugin; results are joined in plugin-name order; an implementation
    that raises is logged and left out (the page still renders)."""
