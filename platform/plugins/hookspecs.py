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

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime

    from flask import Blueprint

    from mallow.accounts.models import Customer
    from mallow.orders.models import Order, OrderEvent
    from mallow.payments.models import Refund
    from mallow.pricing.model import Adjustment, PricingContext, PricingLine, Problem
    from mallow.tenants.views import StoreView

hookspec = pluggy.HookspecMarker("mallow")
hookimpl = pluggy.HookimplMarker("mallow")


@hookspec
def mallow_line_adjustments(context: PricingContext, line: PricingLine) -> list[Adjustment] | None:
    """Propose price changes for one line of a cart or order.

    :param context: the whole checkout (store, shopper, lines, address province, options).
    :param line: the line to price: ``sku_id``, ``product_id``, ``unit_price``, ``quantity``.
    :returns: adjustments with ``stage="line"`` and a negative ``amount`` for the whole line
        (not per unit). The core applies only the best one per line.
    """


@hookspec
def mallow_order_adjustments(context: PricingContext, subtotal: int) -> list[Adjustment | Problem] | None:
    """Propose order-level changes (full-reduction 满减 with ``stage="order"``, coupons with
    ``stage="coupon"``), given the subtotal after line adjustments (fen); ``context.priced_lines``
    holds each line as the line stage priced it. Proposals that share an ``exclusive_group``
    compete: only the best of each group applies. An answer may also hold a ``Problem`` (an offer
    the shopper named that cannot apply to these lines): the checkout shows it and refuses."""


@hookspec(firstresult=True)
def mallow_shipping_fee(context: PricingContext, subtotal: int) -> Adjustment | Problem | None:
    """The shipping fee for the order (``stage="shipping"``), or a ``Problem`` when the address
    cannot be served. The first accepted answer wins: plugins in name order, the built-in
    template-based implementation last. A plugin's answer needs the ``pricing`` permission and is never
    negative (docs/plugins.md, *Adjustment rules*)."""


@hookspec
def mallow_validate_checkout(context: PricingContext) -> list[Problem] | None:
    """Refuse a checkout: return problems (``code``, ``message``, optional ``line_index``) that
    the shopper sees. Used for purchase limits, new-customer-only offers, sale windows. A hook may
    also shorten the order's payment window here: ``context.pay_within(deadline)`` (the earliest
    asked wins; written with the order)."""


@hookspec
def mallow_order_placed(order: Order, context: PricingContext) -> None:
    """An order was placed (inside its database transaction). Raise
    ``mallow.orders.checkout.CheckoutProblems([...])`` (or ``SoldOut``) to refuse it with a
    message; any other exception refuses it as ``plugin_failed``. Nothing is written either way."""


# Order lifecycle events: what happened already. Each implementation runs in its own savepoint
# of the transaction that made the change; one that raises is logged with its plugin's name and
# its writes are rolled back, but the order's change stands (catch up from a sweep).


@hookspec
def mallow_order_paid(order: Order) -> None:
    """An order's payment was verified (inside the transaction that marks it paid; raising
    cannot undo the payment). ``order.is_test``: a test order (paid through the sandbox, no money
    moved), for which nothing of value should be granted."""


@hookspec
def mallow_order_cancelled(order: Order, reason: str) -> None:
    """An unpaid order was cancelled: ``reason`` is ``"shopper"``, ``"payment_timeout"`` or the
    canceller's own (e.g. a plugin's); its stock is back already."""


@hookspec
def mallow_order_refunded(order: Order, refund: Refund) -> None:
    """Money went back to the shopper (a partial or full refund succeeded)."""


@hookspec
def mallow_order_completed(order: Order) -> None:
    """The order is completed (delivered and past the store's auto-complete delay)."""


# --- Extension points beyond pricing and orders --------------------------------------------


@hookspec
def mallow_register_routes(register: Callable[[Blueprint, str], None]) -> None:
    """Add Flask blueprints. Call ``register(blueprint, area)`` with ``area`` one of
    ``"storefront"``, ``"console"``, ``"store_api"``, ``"console_api"``: the blueprint is mounted
    inside the store (``/s/<slug>/…`` under the area's prefix and ``/x/<plugin>``), so the store
    is resolved before the plugin's views run, and its routes answer 404 in stores that have not
    enabled the plugin. ``console`` and ``console_api`` routes answer only to the store's staff;
    API areas take bearer tokens (no CSRF) and answer errors in JSON. Inside its templates a
    plugin links its own views with relative endpoints (``url_for(".view")``). Called once at
    start-up."""


@hookspec
def mallow_register_blocks(register: Callable[..., object]) -> None:
    """Add page-builder block types: ``register(type_name, label=…, schema=…, template=…)`` with a
    JSON Schema object of the block's settings and a template path ``…/blocks/<type_name>.html``
    relative to the plugin's package; or the keywords of
    :func:`mallow.builder.blocks.block_type` (``settings=…, template_folder=…, resolve=…``).
    Name types ``<plugin>_<thing>``; a type registered by Mallow or another plugin is refused.
    Called once per app the plugin is loaded into (its types go into that app's registry); :func:`mallow.plugin_host.blocks.available` tells whether a type may be
    used in the active store."""


@hookspec
def mallow_register_jobs(register: Callable[..., None]) -> None:
    """Add background jobs and schedules: ``register(name, func, every_seconds=None, store=True,
    idempotent=False)`` with ``name`` as ``"<plugin>.<job>"``.

    * a store job (the default): ``func(store, **kwargs)``, enqueued with ``store_id=…``; it runs
      only where the store has the plugin enabled (elsewhere it does nothing);
    * with ``every_seconds``: a schedule (an idempotent sweep), job ``name`` every
      ``every_seconds`` over the stores that have the plugin enabled, calling ``func(store, now)``
      in each (one store's failure is logged and does not stop the others); ``name + "_store"``
      runs it for one store;
    * ``store=False``: a platform job ``func(**kwargs)`` (periodic with ``every_seconds``);
    * ``idempotent=True``: a failed run may be retried.

    Arguments are JSON. Called once at start-up; a name that is taken is refused then."""


@hookspec
def mallow_console_menu(store: StoreView) -> list[dict[str, Any]] | None:
    """Entries for the merchant console's menu in this store: ``{"label": …, "endpoint": …}``
    with ``endpoint`` as ``"<blueprint name>.<view>"`` of a blueprint the plugin registered (Mallow
    finds where it is mounted) and optional ``"values"`` for ``url_for``. Called only for stores
    that enabled it; an implementation that raises is logged and left out."""


@hookspec
def mallow_template_slot(slot: str, context: dict[str, Any]) -> str | None:
    """Markup for a named place in the storefront templates (both themes: the promo theme uses
    the default theme's pages). Return ``markupsafe.Markup`` (escape what you put in it) or a
    string, which is escaped; ``None`` adds nothing. The slots and what ``context`` holds:

    * ``home.top`` -- the home page, under the store's name; ``{}``;
    * ``product.after_price`` -- the product page, under the price; ``product``, ``skus``;
    * ``cart.after_subtotal`` -- the cart (购物车), under the subtotal ("再买 ¥X 可减 ¥20");
      ``rows`` (the cart's lines: ``sku_id``, ``sku``, ``product``, ``quantity``, ``available``,
      ``short``), ``subtotal`` (fen: the lines that can be bought, after line discounts);
    * ``checkout.after_receipt`` -- checkout (确认订单), under the itemised receipt; ``total``
      (fen), ``problems`` (what stops the order);
    * ``order.after_status`` -- the shopper's order page, under the status banner; ``order``;
    * ``account.top`` -- the account page (我的), under the shopper's name; ``customer``.

    Called only for stores that enabled the plugin; results are joined in plugin-name order; an
    implementation that raises is logged and left out (the page still renders)."""


@hookspec
def mallow_account_entries(store: StoreView, customer: Customer) -> list[dict[str, Any]] | None:
    """Entries for the shopper's account page (我的) in this store: ``{"label": …, "endpoint": …}``
    with ``endpoint`` as ``"<blueprint name>.<view>"`` of a blueprint the plugin registered (Mallow
    finds where it is mounted; core endpoints such as ``"storefront.orders_list"`` work too),
    optional ``"values"`` for ``url_for``, ``"badge"`` (a short count or word shown on the entry)
    and ``"icon"`` (one or two characters shown in the entry's circle; default: the label's
    first). ``customer`` is the signed-in shopper. Called only for stores that enabled the
    plugin; results are shown in plugin-name order after Mallow's own entries; an
    implementation that raises, or an entry whose endpoint is not found, is logged and left out."""


@hookspec
def mallow_validate_settings(settings: dict[str, Any]) -> dict[str, str] | None:
    """Check a store's settings of *this* plugin as a whole, after they passed the manifest's
    ``settings_schema`` (types, ranges, required: one field at a time), before they are saved by
    the console, the API or ``save_plugin_settings``: return ``{field: message}`` for what does
    not fit together (满 200 减 300: ``{"reduction": "减的金额须小于门槛"}``), or ``None``.

    ``settings`` is a copy with defaults filled in (money in fen). Only the plugin whose settings
    are saved is called, never the others; a message for a field that is not a property of the
    schema is shown for the settings as a whole. An implementation that raises (or returns
    something else than a dict) is logged with its plugin's name and the save is refused with a
    general message. Runs on a merchant's request: keep it quick, pure and free of writes."""


# --- What shoppers read about an order: labels and where paying ends -------------------------


@hookspec(firstresult=True)
def mallow_after_payment_url(order: Order) -> str | None:
    """Where the shopper lands once ``order`` is paid (the sandbox cashier's success, the return
    from WeChat Pay H5, the success page after JSAPI): a path on this site, e.g. the group the
    order opened with an invite action. First non-None wins (in plugin-name order); anything that
    is not a path on this site is ignored. Without an answer the shopper sees Mallow's success
    page with 查看订单. Called only for stores that enabled the plugin; an implementation that
    raises is logged and left out."""


@hookspec(firstresult=True)
def mallow_order_status_label(order: Order) -> str | None:
    """A translated label shown instead of Mallow's own for ``order``'s state on the shopper's
    order page and order list (e.g. ``"待成团"`` for a paid order whose group still waits for
    members). First non-None wins (in plugin-name order); ``None`` keeps Mallow's label. An
    after-sales request in progress (售后中) is shown before any plugin label. Called only for
    stores that enabled the plugin; an implementation that raises is logged and left out."""


@hookspec(firstresult=True)
def mallow_order_event_label(event: OrderEvent) -> str | None:
    """A translated label for an order timeline entry (``event.kind``, ``event.actor``,
    ``event.detail``): the kinds the plugin writes (``groupbuy_opened``…), and Mallow's
    ``cancelled`` when its ``detail["reason"]`` is the plugin's own (``groupbuy_closed``). Mallow
    labels its own kinds and reasons itself and asks plugins only about the others; first
    non-None wins (in plugin-name order); with no answer the entry reads "Order updated", never
    the raw kind. Called only for stores that enabled the plugin; an implementation that raises
    is logged and left out."""


# --- Sharing: the sharer's code in share links and posters -------------------------------------


@hookspec(firstresult=True)
def mallow_share_code(store: StoreView, customer: Customer, target: str) -> dict[str, str] | None:
    """The sharer's own code when a plugin gives ``customer`` one (a distributor's referral code),
    for the share links and posters (分享海报) of this store: ``{"code": …, "url": …}``, where
    ``url`` is an absolute link on this site that records the code for the visitor and then
    lands on ``target`` (a path on this site: the shared product or page), e.g. the plugin's
    referral route with ``?next=<target>``. ``None``: Mallow's own referral code of the shopper
    is used. First answer wins (in plugin-name order); an answer that is not such a dict is
    ignored. Called only for stores that enabled the plugin, for a signed-in shopper, once per
    share link or poster drawn: keep it to one query. An implementation that raises is logged
    and left out."""


@hookspec
def mallow_share_target(store: StoreView, kind: str, ref: str) -> dict[str, Any] | None:
    """Something of the plugin's that shoppers share like a product (a group of a group buy):
    Mallow draws its share poster (分享海报) and makes its share link with the sharer's code
    (``/share/r/<code>/x/<kind>/<ref>``: the visit is remembered for the buyer's first order, then
    lands on the page). ``kind`` is the plugin's own, named ``<plugin>_<thing>``
    (``groupbuy_group``): only the plugin whose name starts it is asked to answer (the others'
    answers are ignored). ``ref`` is the plugin's id of the thing (letters, digits, ``-`` and ``_``,
    at most 64). Answer ``None`` when there is no such thing to share in this store, else a dict:
    ``title`` (str, required), ``path`` (str, required: the page's address on this site, a path or
    an absolute URL of this host), ``price`` (int fen, optional, shown in ¥), ``image`` (optional:
    a stored product picture, ``ProductImage.path``), ``caption`` (str, optional, a short line
    beside the price such as "3人团 · 还差 2 人"). Real figures only: never invented members or
    counters. Called for every share link, poster and visit of the kind: keep it to a query or two.
    The mallow.sdk :func:`~mallow.sdk.share_sheet` gives the page's 分享 button its addresses."""


# --- Shoppers' data rights (PIPL): the export and the erasure of a plugin's own rows -------------


@hookspec
def mallow_customer_data(store: StoreView, customer: Customer) -> dict[str, Any] | None:
    """The plugin's section of the shopper's data export (``exportMyData``, PIPL art. 45): what
    the plugin's own tables hold about ``customer`` in this store (what they typed, what
    identifies them, what they bought or earned through it), as plain JSON values (str, int,
    float, bool, None, lists and dicts of them; times as ISO strings, money in fen). It becomes
    ``export["plugins"][<plugin name>]``; ``None`` adds nothing. Read only.

    Called for every plugin whose tables exist in the store (enabled now, or enabled once and
    switched off since: its rows are still there). An implementation that raises or answers
    something that is not a JSON object is logged and its section reads
    ``{"unavailable": "<message>"}``: the shopper is told the export is incomplete."""


@hookspec
def mallow_erase_customer(store: StoreView, customer: Customer) -> list[str] | None:
    """Erase or anonymise the plugin's rows of ``customer`` when the shopper deletes their
    account (``deleteMyAccount``, PIPL art. 47): delete what only served them, blank or replace
    (已注销用户, ``***``) what they typed or what identifies them, keep what bookkeeping needs
    (amounts, order numbers, ids). Runs inside the deletion's transaction, before the commit and
    before Mallow's own erasure (``customer`` is still as it was).

    Return ``None`` when done, or a list of translated messages (blockers) to refuse the
    deletion while the plugin still owes the shopper something it cannot settle without their
    details (unpaid commission, a refund still due): write nothing then. The shopper sees the
    messages; nothing of the deletion is written.

    Called for every plugin whose tables exist in the store (enabled or switched off since).
    **Fail closed**: an implementation that raises, answers something else than a list of
    strings, or whose savepoint had to be rolled back (a swallowed database error) refuses the
    whole deletion ("<title> is unavailable right now"): nothing is erased, never half."""


# --- The demo store ----------------------------------------------------------------------------


@hookspec
def mallow_seed_demo(store: StoreView, shopper: Customer, now: datetime) -> dict[str, str] | None:
    """Show the plugin at work in the demo store (``mallow demo``), once the plugin is enabled
    there: create what a visitor should find (a campaign, a sale, a distributor…) through the
    plugin's own services, from the demo catalogue (find products by title).

    :param store: the demo store, active (``db.session`` reaches its tables).
    :param shopper: the demo shopper (a ``Customer`` of the store), to make them a member of
        something.
    :param now: the time the demo is seeded (UTC, whole minutes): start things from here.
    :returns: ``{label: path inside the store}`` of pages worth opening (``{"group buy":
        "/x/groupbuy/c/1"}``), printed by ``mallow demo``; or ``None``.

    Must be idempotent: ``mallow demo`` runs it again on every call, so find what is there
    already (by title) before creating anything. Mallow commits after all plugins ran; an
    implementation that raises is logged with its plugin's name and left out (the demo goes on). All results are collected.
    Called only for stores that enabled the plugin.
    """


# --- Early answers: before Flask dispatches the request ---------------------------------------


@hookspec
def mallow_early_routes() -> list[tuple[str, str, Callable[..., Any]]] | None:
    """Routes of the plugin's own that it may answer *before* Flask dispatches the request: no
    request context, no session, no ORM, so an answer costs next to nothing (a flash sale's
    "sold out" to a crowd). Return ``[(method, rule, handler)]`` where ``rule`` is a werkzeug
    rule inside the store under one of the plugin's own public prefixes (``/x/<plugin>/…`` or
    ``/api/x/<plugin>/…``, e.g. ``"/api/x/flashsale/sales/<int:sale_id>/buy"``) and
    ``handler(request)`` takes a :class:`mallow.plugins.early.EarlyRequest` (store id and slug,
    the matched ``args``, method, headers, query, remote address, the body bytes, the locale)
    and answers a :class:`mallow.plugins.early.EarlyAnswer` (JSON) or ``None``: go on to the
    normal route, which must give the same answer to the same request.

    Called once per app (in an app context: capture what the handlers need then). A handler
    runs only in stores that enabled the plugin and are open, as the plugin, timed against
    :data:`mallow.plugins.early.ANSWER_BUDGET_MS`; one that raises or answers something else is
    blamed like a hook (the request goes on to the normal route). See :mod:`mallow.plugins.early`."""
