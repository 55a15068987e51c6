"""The plugin SDK: everything a plugin may import from Mallow, in one place.

    from mallow.sdk import hookimpl, db, plugin_model_base, plugin_settings, Adjustment, Problem

A plugin imports ``mallow.sdk`` (and its submodules ``mallow.sdk.blocks`` for page-builder block
settings and ``mallow.sdk.testing`` for its tests) and nothing else of Mallow: the bundled
plugins are held to it by an import-linter contract (``pyproject.toml``, "Bundled plugins import
only the SDK"), and what is listed here keeps working within a major :data:`SDK_VERSION`. Every
name is in the table of docs/plugins.md (*The plugin SDK*) with the version it came in.

* hooks: :data:`hookimpl` and the ``mallow_*`` hooks of :mod:`mallow.plugins.hookspecs`; a
  plugin's hooks run only for stores that enabled it.
* the plugin in its store: :func:`plugin_settings`, :func:`save_plugin_settings`,
  :func:`plugin_enabled`, :func:`plugin_endpoint`, :func:`current_store`, :func:`store_setting`,
  :func:`enqueue_job`.
* data: :func:`plugin_model_base` (the plugin's store tables), :data:`db` (``db.session`` is the
  active store's session, checked against the manifest's permissions: :mod:`mallow.sdk.data`,
  refusals raise :class:`StoreAccessRefused`), :func:`add_order_event`, :func:`utcnow`,
  :class:`StateMachine`, :func:`store_sql` / :func:`store_table` (raw SQL on the store's own
  tables), :func:`store_schema` (in migrations),
  and the core models a plugin reads: :class:`Customer`, :class:`Product`, :class:`ProductImage`,
  :class:`Sku`, :class:`Order`, :class:`OrderEvent`, :class:`Refund`, :class:`AfterSale`.
* money: integer fen; :func:`fen_to_yuan`, :func:`yuan_to_fen`, :class:`MoneyError`.
* validation: :class:`ValidationFailed` (422 with field errors), :class:`Errors`, :func:`form_text`.
* pricing, checkout and payment: :class:`Adjustment`, :class:`Problem`, :class:`PricingContext`,
  :class:`PricingLine`; :func:`quote_order`, :func:`place_order` with :class:`CheckoutProblems`,
  :class:`SoldOut`, :class:`IdempotencyConflict`; :func:`cashier_url`; :func:`cancel_order`, :func:`shorten_pay_deadline`,
  :func:`release_stock`, :func:`refund_order`, :func:`refundable_amount`, :class:`PaymentProblem`.
* who is asking: :func:`principal`, :func:`shopper_required`, :func:`staff_required`;
  :func:`record_audit` for the audit log.
* pages: :func:`render_form`, :func:`safe_target`, :func:`safe_next`, :func:`id_value`,
  :data:`ID_MAX`, :func:`storefront_theme`, :func:`static_version`, :func:`image_url`,
  :func:`address_book`; template slots through the ``mallow_template_slot`` hook.
* API operations: :func:`api_route` with :func:`returns`, :func:`shape`, :func:`obj`,
  :func:`string`, :func:`nullable`, :data:`ID`.
* translations: :class:`PluginTranslations` (the plugin's own Babel domain and catalogue).
* early answers (``mallow_early_routes``): a handler takes an :class:`EarlyRequest` and answers
  an :class:`EarlyAnswer` or None, before Flask dispatches the request (:mod:`mallow.plugins.early`).
* freshness (:mod:`mallow.sdk.freshness`): :func:`slot_watches` (a template slot Mallow may keep
  until a write to what it shows), :func:`fresh_for` (the slot or page is true for so many
  seconds more), :func:`mark_changed` (an ``UPDATE`` statement changed what pages show),
  :func:`cacheable` (a storefront page the same for every anonymous visitor: the front door
  keeps it under the store's stamp).
* shopper tokens before Flask: :func:`shopper_session_mirror` (``app`` → a ``SessionMirror`` with
  the Redis ``url`` and the ``key(secret)`` whose value is ``"<store id>:<customer id>"`` while the
  token is valid, or None without ``REDIS_URL``; :mod:`mallow.accounts.mirror`).
* notifications: :func:`notify` tells a shopper of ``group_succeeded`` / ``group_failed`` (消息 and
  the channels they chose), in the current transaction, once per event key
  (:mod:`mallow.sdk.notifications`).
* sharing (1.7): the ``mallow_share_target`` hook declares a thing of the plugin's that shoppers
  share like a product; :func:`share_sheet` gives its page's 分享 button the share sheet's
  addresses (poster and link with the sharer's code, :mod:`mallow.sdk.sharing`).
* a purged store's Redis keys (1.8): :func:`purge_redis_patterns` declares a function
  ``(app, store_id) → [SCAN pattern]`` of the keys the plugin keeps per store outside the
  ``{<store id>:…}`` hash tag the platform finds itself; purging a store removes them
  (:mod:`mallow.stores.purge`).
"""

from __future__ import annotations

from mallow.accounts.guards import shopper_required, staff_required
from mallow.accounts.models import Customer
from mallow.aftersales.models import AfterSale
from mallow.api.registry import ID, api_route, nullable, obj, returns, shape, string
from mallow.audit import record as record_audit
from mallow.catalog.models import Product, ProductImage, Sku
from mallow.db import utcnow
from mallow.tenants.store_sql import StoreSQLRefused, store_sql, store_table
from mallow.inventory.stock import release as release_stock
from mallow.money import MoneyError, fen_to_yuan, yuan_to_fen
from mallow.orders.checkout import CheckoutProblems, IdempotencyConflict, SoldOut, place_order
from mallow.orders.checkout import quote as quote_order
from mallow.orders.models import Order, OrderEvent
from mallow.orders.service import cancel as cancel_order
from mallow.orders.service import shorten_pay_deadline
from mallow.payments.models import Refund
from mallow.payments.attempts import PaymentProblem
from mallow.payments.refunds import refund as refund_order
from mallow.payments.refunds import refundable as refundable_amount
from mallow.plugins.early import EarlyAnswer, EarlyRequest
from mallow.plugins.hookspecs import hookimpl
from mallow.plugins.tables import plugin_metadata, plugin_model_base, store_schema
from mallow.pricing.model import Adjustment, PricingContext, PricingLine, Problem
from mallow.sdk.data import PrincipalView, add_order_event, current_store, db, principal
from mallow.tenants.views import StoreView
from mallow.sdk.jobs import enqueue_job
from mallow.sdk.reach import StoreAccessRefused
from mallow.sdk.settings import plugin_enabled, plugin_endpoint, plugin_settings, save_plugin_settings
from mallow.sdk.storefront import address_book, cashier_url, image_url, static_version, storefront_theme
from mallow.sdk.translations import PluginTranslations
from mallow.settings import get as store_setting
from mallow.statemachine import StateMachine
from mallow.validation import Errors, ValidationFailed
from mallow.validation import text as form_text
from mallow.web import render_form
from mallow.web.ids import ID_MAX, id_value
from mallow.web.redirects import safe_next, safe_target

# freshness: what pages and slots show, kept until it changes
from mallow.edge import cacheable, fresh_for
from mallow.plugins.slot_cache import slot_watches
from mallow.sdk.freshness import mark_changed

# a job placing many orders: one flush to disk for the batch (group commit)
from mallow.sdk.flash_batch import flush_commits, relax_next_commit

# a statement run once per order (the drain's), sent as the core's hot statements are
from mallow.sdk.hot import rows as hot_rows

# who is asking, before Flask: the Redis mirror of shopper tokens
from mallow.accounts.mirror import mirror_of as shopper_session_mirror

# telling a shopper what the plugin did (消息 and the channels they chose)
from mallow.sdk.notifications import notify

# sharing a plugin's own thing like a product (分享海报, share links with the sharer's code)
from mallow.sdk.sharing import share_sheet

# a store's Redis keys the plugin keeps: removed when the store is purged
from mallow.stores.purge import add_plugin_redis_patterns as purge_redis_patterns

#: The SDK's version: a minor release adds names, a major one may change or remove them.
SDK_VERSION = "1.9"

__all__ = [
    "SDK_VERSION",
    # hooks and the plugin in its store
    "hookimpl",
    "plugin_settings",
    "save_plugin_settings",
    "plugin_enabled",
    "plugin_endpoint",
    "current_store",
    "store_setting",
    "enqueue_job",
    # data
    "plugin_model_base",
    "plugin_metadata",
    "store_schema",
    "db",
    "utcnow",
    "StateMachine",
    "store_sql",
    "store_table",
    "StoreSQLRefused",
    "StoreAccessRefused",
    "add_order_event",
    "StoreView",
    "PrincipalView",
    "Customer",
    "Product",
    "ProductImage",
    "Sku",
    "Order",
    "OrderEvent",
    "Refund",
    "AfterSale",
    # money and validation
    "fen_to_yuan",
    "yuan_to_fen",
    "MoneyError",
    "ValidationFailed",
    "Errors",
    "form_text",
    # pricing, checkout, payment
    "Adjustment",
    "Problem",
    "PricingContext",
    "PricingLine",
    "quote_order",
    "place_order",
    "CheckoutProblems",
    "SoldOut",
    "IdempotencyConflict",
    "cashier_url",
    "cancel_order",
    "shorten_pay_deadline",
    "release_stock",
    "refund_order",
    "refundable_amount",
    "PaymentProblem",
    # who is asking
    "principal",
    "shopper_required",
    "staff_required",
    "record_audit",
    # pages and API operations
    "render_form",
    "safe_target",
    "safe_next",
    "id_value",
    "ID_MAX",
    "storefront_theme",
    "static_version",
    "image_url",
    "address_book",
    "api_route",
    "returns",
    "shape",
    "obj",
    "string",
    "nullable",
    "ID",
    # translations
    "PluginTranslations",
    # early answers
    "EarlyAnswer",
    "EarlyRequest",
    # freshness
    "slot_watches",
    "fresh_for",
    "cacheable",
    "mark_changed",
    "relax_next_commit",
    "hot_rows",
    "flush_commits",
    # shopper tokens before Flask (1.3)
    "shopper_session_mirror",
    # notifications (1.6)
    "notify",
    # sharing (1.7)
    "share_sheet",
    # a purged store's Redis keys (1.8)
    "purge_redis_patterns",
]
