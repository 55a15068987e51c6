"""The application factory and composition root: an ordered list of ``init_app`` steps.

Everything the app is made of is listed here: every page blueprint and the modules whose pages
join the shared ones (:func:`_register_pages`), every module that declares jobs
(:func:`_register_jobs`) or API operations (:func:`_register_api`), the page builder (its block
types) and then the plugins. Registries belong to the app (``app.extensions``):
importing a module registers nothing. Imports
inside :func:`create_app` are deliberate: building the app is what imports the parts, in this
order, and importing ``mallow.app`` itself loads nothing.
"""

from __future__ import annotations

from pathlib import Path

import mallow_themes
from flask import Flask
from jinja2 import ChoiceLoader, FileSystemLoader

from mallow import config as config_module

THEMES = Path(mallow_themes.__file__).parent


def create_app(config: dict | None = None) -> Flask:
    app = Flask(__name__)
    from mallow.web import ids

    ids.init_app(app)  # first: every <int:…> of core and plugins is a bounded id (1..2^31-1), else 404
    app.config.update(config_module.from_environment(config))
    app.jinja_loader = ChoiceLoader([app.jinja_loader, FileSystemLoader(str(THEMES / "default" / "templates"))])

    from mallow import models  # noqa: F401  (every table known before anything else runs)
    from mallow.db import db
    from mallow.extensions import babel, csrf, install_template_gettext, limiter, locale_selector, login_manager

    db.init_app(app)
    csrf.init_app(app)
    babel.init_app(app, locale_selector=locale_selector, default_translation_directories="translations")
    install_template_gettext(app)  # the templates' gettext: the request's translations found once
    app.config.setdefault("RATELIMIT_STORAGE_URI", _limiter_storage(app))
    # Redis down must not turn every login into a 500: limits fall back to this process's memory
    app.config.setdefault("RATELIMIT_IN_MEMORY_FALLBACK_ENABLED", True)
    limiter.init_app(app)
    login_manager.init_app(app)

    with app.app_context():
        from mallow.tenants.engines import StoreEngines, configure_sqlite

        platform_engine = db.engine
        if platform_engine.dialect.name == "sqlite":
            configure_sqlite(platform_engine)
        app.extensions["mallow.store_engines"] = StoreEngines(
            platform_engine, app.config["MALLOW_DATA_DIR"], app.config["MALLOW_SQLITE_ENGINE_CACHE"]
        )
        from mallow.tenants import recycling

        # a PostgreSQL connection that served that many store schemas closes (its catalogue cache)
        recycling.install(platform_engine, app.config["MALLOW_PG_SCHEMAS_PER_CONNECTION"])

    from mallow import edge
    from mallow.tenants import resolve

    # the front door answers kept pages and plugins' early answers before Flask; the guest cart's
    # cookie (mallow.cart.current.cookie_name) makes a request personal
    edge.init_app(app, personal_cookies=("mallow_cart_",))
    resolve.init_app(app)  # the store of a request is resolved here and nowhere else

    from mallow.accounts import loader, session_memory
    from mallow.web import filters, init_app as init_web

    session_memory.init_app(app)  # a shopper's session from memory while the store's sessions stamp holds

    loader.init_app(app)
    init_web(app)  # error pages, security headers, template helpers
    filters.init_app(app)  # the money filters (yuan, fen_to_yuan) for every template
    _register_pages(app)
    from mallow.analytics import init_app as init_analytics

    init_analytics(app)  # events buffered, the beacon's script (registered after the door's keep)

    from mallow.plugins.manager import make_manager
    from mallow.analytics import recording as analytics_recording  # order placed / paid events
    from mallow.coupons import pricing as coupon_pricing
    from mallow.membership import pricing as membership_pricing
    from mallow.sharing import referrals as share_referrals
    from mallow.shipping import fees as shipping_fees

    # the core's own hook implementations, registered first so that plugins' answers come first
    from mallow.pricing import pipeline as pricing_pipeline

    pricing_pipeline.register_payment_stage(app, "membership", membership_pricing.points_stage)  # 积分抵扣
    app.extensions["mallow.plugins"] = make_manager(
        {
            "mallow.shipping": shipping_fees,
            "mallow.sharing": share_referrals,
            "mallow.coupons": coupon_pricing,
            "mallow.membership": membership_pricing,  # after shipping: its free shipping is asked first
            "mallow.analytics": analytics_recording,
        }
    )

    from mallow.jobs.runners import make_runner

    _register_jobs(app)
    app.extensions["mallow.jobs"] = make_runner(app)
    _register_payment_providers(app)

    from mallow.builder import init_app as init_builder

    init_builder(app)  # page builder: its block types, themes, render cache, editor pages
    _watch_what_pages_show(app)  # commits that change them move the store's stamp

    _connect_domains(app)  # how a domain asks or tells the domains above it

    _register_api(app)

    # --- plugins are available below this line ------------------------------------------------
    from mallow.api.errors import install as json_errors
    from mallow.plugin_host import loader as plugin_loader
    from mallow.sdk.writes import guard_core_rows

    guard_core_rows()  # Mallow's rows are read-only to plugin code (assignments refused)
    plugin_loader.init_app(app, json_errors)  # plugin routes: guarded per store, API areas answer JSON
    _plugin_environment(app)  # approved uploads are installed there: discoverable before loading
    plugin_loader.load_approved(app)
    _one_default_template_context(app)  # every blueprint registered by now, plugins' too
    _observe(app)  # last: the request id, metrics and JSON logs see every answer, the front door's too
    _behind_proxies(app)
    return app


def _one_default_template_context(app: Flask) -> None:
    """Flask gives every blueprint, as it gives the app, its default template context processor
    (``request``, ``session``, ``g``), and registering the blueprint copies it into the app's
    processors for that blueprint: a page of a blueprint ran it twice (the app's, then the
    blueprint's), the second time putting the same three objects in again. The copies under
    blueprint names are dropped; the app's own runs for every template, as before."""
    from flask.templating import _default_template_ctx_processor

    for name, processors in app.template_context_processors.items():
        if name is not None:
            processors[:] = [f for f in processors if f is not _default_template_ctx_processor]


def _behind_proxies(app: Flask) -> None:
    """Behind ``MALLOW_PROXY_HOPS`` reverse proxies (nginx), the client's address and scheme are
    the ones they forwarded (werkzeug's ProxyFix, outermost: the front door, the rate limits per
    address, the audit log and the payment's client IP all see the shopper, not the proxy).
    Without it, forwarded headers are ignored: a client cannot pick the address it is limited by."""
    hops = int(app.config.get("MALLOW_PROXY_HOPS") or 0)
    if hops > 0:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]


def _observe(app: Flask) -> None:
    """Observability (:mod:`mallow.observability`): the outermost middleware, /metrics' collectors,
    the JSON logs, and /readyz's checks with the one it cannot make itself: both migration chains
    at the code's head (the store chain: the oldest and the newest store that are not purged,
    read at most every ``MALLOW_READYZ_CACHE_SECONDS``)."""
    from mallow import observability
    from mallow.observability import readiness

    observability.init_app(app)
    seconds = float(app.config.get("MALLOW_READYZ_CACHE_SECONDS", 10))
    readiness.register(app, "migrations", _migrations_at_head, cache_seconds=seconds)


def _migrations_at_head() -> tuple[bool, str]:
    import sqlalchemy as sa
    from alembic.migration import MigrationContext

    from mallow.db import db
    from mallow.db.migrate import head
    from mallow.tenants.models import Store
    from mallow.tenants.provisioning import store_revisions

    with db.engine.connect() as connection:
        platform = MigrationContext.configure(connection).get_current_revision()
        oldest, newest = connection.execute(
            sa.select(sa.func.min(Store.id), sa.func.max(Store.id)).where(Store.status != "purged")
        ).one()
    if platform != head("platform"):
        return False, f"platform chain at {platform}, the code's head is {head('platform')}"
    sampled = sorted({i for i in (oldest, newest) if i is not None})
    behind = [revision for revision in store_revisions(sampled).values() if revision != head("store")]
    if behind:
        return False, f"store chain at {behind[0]}, the code's head is {head('store')}: run `mallow db upgrade`"
    return True, "at head"


def _watch_what_pages_show(app: Flask) -> None:
    """What a storefront page, a plugin slot or a cached store row shows: a commit that flushes
    one of these moves the store's stamp (:mod:`mallow.tenants.stamps`), so every process drops
    what it kept of the store. The catalogue and the classes plugin blocks watch come from the
    builder's list, the classes plugin slots watch from the slot memory; orders, carts and
    payments are not here (pages do not show them)."""
    from mallow.builder.invalidation import watched_classes
    from mallow.builder.models import BuilderState, Page, PageVersion
    from mallow.coupons.models import Coupon
    from mallow.payments.models import PaymentConfig
    from mallow.plugins.models import StorePlugin
    from mallow.plugins.slot_cache import watched_classes as slot_classes
    from mallow.qualifications.matrix import Category, PermitKind
    from mallow.qualifications.models import Qualification, QualificationPermit
    from mallow.settings import StoreSetting
    from mallow.shipping.models import ShippingTemplate
    from mallow.tenants.stamps import ALL, EXTENSION

    stamps = app.extensions[EXTENSION]
    stamps.watch_classes(watched_classes)
    stamps.watch_classes(slot_classes)  # what plugins' kept slots show (sdk.slot_watches)
    for cls in (BuilderState, Page, PageVersion, PaymentConfig, ShippingTemplate, StoreSetting):
        stamps.watch(cls)
    stamps.watch(Coupon)  # the product page's 领券 row (a coupon made, edited, paused, ended)
    stamps.watch(StorePlugin, lambda row: row.store_id)
    stamps.watch(Qualification, lambda row: row.store_id)
    stamps.watch(QualificationPermit, lambda row: row.qualification.store_id)
    for cls in (Category, PermitKind):  # the platform's matrix: what every store may sell
        stamps.watch(cls, lambda _row: ALL)


def _register_pages(app: Flask) -> None:
    """Every page blueprint. The storefront, console and admin areas are shared
    (:mod:`mallow.web.blueprints`): each page module of the shells below puts its routes on them;
    payments, compliance and merchant sign-up have blueprints of their own."""
    from mallow.admin import compliance as admin_compliance  # (absolute terms, statements, findings queue)
    from mallow.admin import views as _admin_pages  # noqa: F401  (sign-in, review, stores)
    from mallow.builder.catalogue_views import register_product_coupons
    from mallow.builder.storefront import register_frame
    from mallow.console import aftersales as _console_aftersales  # noqa: F401  (the after-sales queue)
    from mallow.console import chat as _console_chat  # noqa: F401  (客服: conversations, answers, settings)
    from mallow.analytics import beacon as _beacon  # noqa: F401  (/a/b: the storefront's view beacon)
    from mallow.console import analytics as _console_analytics  # noqa: F401  (概况: figures, charts, segments, CSV)
    from mallow.console import catalogue as _console_catalogue  # noqa: F401  (products, categories, bulk edit)
    from mallow.console import compliance as console_compliance  # (the store's findings)
    from mallow.console import notifications as _console_notifications  # noqa: F401  (站内信, preferences)
    from mallow.console import coupons as _console_coupons  # noqa: F401  (营销 → 优惠券)
    from mallow.console import media as _console_media  # noqa: F401  (the media library)
    from mallow.console import membership as _console_membership  # noqa: F401  (营销 → 会员: programme, levels, members)
    from mallow.console import orders as _console_orders  # noqa: F401  (list, detail, ship, CSV)
    from mallow.console import payments as console_payments  # (WeChat Pay keys, the sandbox switch)
    from mallow.console import shipping as _console_shipping  # noqa: F401  (shipping templates)
    from mallow.console import store_export as _console_store_export  # noqa: F401  (数据导出: the store's archive)
    from mallow.console import store_settings as _console_store  # noqa: F401  (店铺设置, 申请关店)
    from mallow.console import views as _console_pages  # noqa: F401  (dashboard, qualification, staff)
    from mallow.devconsole import simple as plugin_index, views as developer_pages  # (/dev/…, /simple/)
    from mallow.merchants import views as merchant_pages
    from mallow.plugin_host import admin_views as _plugin_review  # noqa: F401  (approve releases)
    from mallow.plugin_host import console_views as _plugin_console  # noqa: F401  (a store's plugins)
    from mallow.plugin_host import fault_views as _plugin_faults  # noqa: F401  (faults, circuit breaker)
    from mallow.storefront import account as _account_pages  # noqa: F401  (我的, addresses)
    from mallow.storefront import aftersales as _aftersale_pages  # noqa: F401  (the request form)
    from mallow.storefront import cart as _cart_pages  # noqa: F401  (cart, buy now)
    from mallow.storefront import cashier as _cashier  # noqa: F401  (the one cashier)
    from mallow.storefront import catalogue as _catalogue_pages  # noqa: F401  (search, categories, products)
    from mallow.storefront import chat as _chat_pages  # noqa: F401  (客服: the shopper's chat)
    from mallow.storefront import checkout as _checkout_pages  # noqa: F401
    from mallow.storefront import coupons as coupon_pages  # (领券中心, 我的 → 优惠券, the 领券 row)
    from mallow.storefront import chrome as _chrome  # noqa: F401  (tab bar, shopper, assets on every page)
    from mallow.storefront import frame as storefront_frame  # (the frame around published pages)
    from mallow.storefront import messages as _message_pages  # noqa: F401  (我的 → 消息, preferences)
    from mallow.storefront import membership as _member_pages  # noqa: F401  (我的 → 会员中心, 积分明细)
    from mallow.storefront import orders as _order_pages  # noqa: F401  (the shopper's orders, order labels)
    from mallow.storefront import payment_pages  # (the payments_pages blueprint: sandbox cashier, WeChat)
    from mallow.storefront import sandbox as _sandbox  # noqa: F401  (the sandbox's simulated cashier)
    from mallow.storefront import views as _storefront_pages  # noqa: F401  (home, sign-in)
    from mallow.storefront import wechat as _wechat  # noqa: F401  (WeChat sign-in and link, wx.config)
    from mallow.sharing import views as _share_pages  # noqa: F401  (share posters, links, visits)
    from mallow.web import blueprints, home

    register_product_coupons(app, coupon_pages.product_coupons)  # the product page's 领券 row
    register_frame(app, storefront_frame.draw)  # the frame around published pages, kept per what it shows
    for blueprint in (
        home.bp,
        blueprints.admin,
        admin_compliance.bp,
        merchant_pages.bp,
        blueprints.console,
        console_compliance.bp,
        console_payments.bp,
        blueprints.storefront,
        payment_pages.bp,
        developer_pages.bp,
        plugin_index.bp,
    ):
        app.register_blueprint(blueprint)


def _register_jobs(app: Flask) -> None:
    """The app's job registry, with every module that declares jobs (``@job``, ``@store_sweep``);
    plugins add theirs through ``mallow_register_jobs`` when they load."""
    from mallow.aftersales import jobs as aftersale_jobs
    from mallow.analytics import jobs as analytics_jobs
    from mallow.chat import jobs as chat_jobs
    from mallow.coupons import jobs as coupon_jobs
    from mallow.inventory import alerts as inventory_alerts
    from mallow.jobs import registry
    from mallow.notifications import delivery as notification_delivery, watch as notification_watch
    from mallow.orders import jobs as order_jobs
    from mallow.payments import jobs as payment_jobs
    from mallow.qualifications import jobs as qualification_jobs

    registry.init_app(
        app, [aftersale_jobs, chat_jobs, coupon_jobs, inventory_alerts, order_jobs, payment_jobs, qualification_jobs]
    )
    registry.jobs_of(app).install(analytics_jobs)  # the analytics rollup sweep and cached figures
    registry.jobs_of(app).install(notification_delivery)  # sending notifications, their sweep
    registry.jobs_of(app).install(notification_watch)  # a qualification decision → the store's staff
    from mallow.membership import jobs as membership_jobs

    registry.jobs_of(app).install(membership_jobs)  # points expiry, birthday coupons
    from mallow.stores import jobs as store_jobs

    registry.jobs_of(app).install(store_jobs)  # closing stores close, closed ones are purged
    from mallow.stores.archive import merchant_exports

    registry.jobs_of(app).install(merchant_exports)  # 数据导出: the merchant's own store archive
    from mallow.sharing import jobs as sharing_jobs

    registry.jobs_of(app).install(sharing_jobs)  # share rewards a completion could not grant at once
    from mallow.tenants import pool as store_pool

    # tenants sits below jobs: its periodic job (the store pool's top-up) is declared here; like the
    # every-store sweeps it is not retried (its next run is the retry)
    registry.jobs_of(app).add(
        registry.JobSpec("tenants.top_up_pool", store_pool.top_up, store=False, every_seconds=store_pool.TOP_UP_SECONDS)
    )


def _connect_domains(app: Flask) -> None:
    """What a domain learns from the domains above it, through a registration instead of an
    import (docs/architecture.md, "Events and registrations")."""
    from mallow.accounts import customers
    from mallow.aftersales.models import open_order_ids
    from mallow.aftersales.service import refund_succeeded
    from mallow.builder.media_uses import pages_using
    from mallow.catalog import events as catalogue_events, shelf_holds
    from mallow.catalog.media_uses import products_using
    from mallow.compliance import screen_product
    from mallow.coupons.service import issue_to_new_member as new_member_coupons
    from mallow.developers import installer
    from mallow.inventory import stock
    from mallow.media import usage
    from mallow.membership import pricing as membership_pricing
    from mallow.orders import aftersales_requests, checkout
    from mallow.payments import events as payment_events
    from mallow.plugin_host.marketplace import release_decided
    from mallow.privacy import notice as privacy_notice
    from mallow.qualifications import events as qualification_events

    usage.register(app, pages_using)  # an image shown by a page, then by a product, cannot be deleted
    usage.register(app, products_using)
    # a product's save is screened for absolute terms (极限词: may refuse it); stock the merchant
    # sets by hand goes into the stock ledger
    catalogue_events.product_saved.connect(lambda _app, product: screen_product(product), sender=app, weak=False)
    catalogue_events.stock_adjusted.connect(stock.record_adjustments, sender=app)
    payment_events.refund_succeeded.connect(refund_succeeded, sender=app)  # the after-sale is refunded
    # a lapsed permit takes the products off the shelf; the renewed one puts back those it held
    qualification_events.permits_lapsed.connect(shelf_holds.take_off_shelf, sender=app)
    qualification_events.permits_renewed.connect(shelf_holds.put_back_on_shelf, sender=app)
    aftersales_requests.register(app, open_order_ids)  # 售后中: the order timers wait, the shopper is told
    checkout.register_read(app, membership_pricing.LEVEL_READ)  # the member's level and points: read with the order
    # an approved uploaded plugin is installed into the plugin environment (runs from the next reload)
    release_decided.connect(installer.on_release_decided, weak=False)
    privacy_notice.install(app)  # every sign-up records the consent to the store's privacy notice
    from mallow.analytics import privacy as analytics_privacy
    from mallow.chat import privacy as chat_privacy
    from mallow.membership import privacy as membership_privacy
    from mallow.notifications import privacy as notifications_privacy
    from mallow.privacy import sections as privacy_sections

    # what later capabilities hold about a shopper joins the data export and the account's deletion
    for part in (analytics_privacy, chat_privacy, membership_privacy, notifications_privacy):
        privacy_sections.register(app, part.KEY, collect=part.collect, erase=part.erase)
    from mallow.notifications import watch as notification_events

    notification_events.install(app)  # orders paid/shipped/refunded, after-sales, notices, reviews → notifications
    from mallow.coupons import events as coupon_events
    from mallow.notifications.service import on_coupon_expiring

    coupon_events.coupon_expiring.connect(on_coupon_expiring, sender=app)  # 消息: a held coupon expires tomorrow
    customers.member_joined.connect(lambda _app, customer, **_: new_member_coupons(customer), sender=app, weak=False)


def _register_api(app: Flask) -> None:
    """The app's API registry, with every module that declares API operations (``@operation``)
    and the OpenAPI document; plugins' operations come with the API blueprints they mount."""
    from mallow.api import (
        addresses,
        admin,
        aftersales,
        analytics as store_analytics,
        cart,
        catalog,
        catalog_console,
        chat,
        console,
        coupons,
        developers,
        init_app as init_api,
        media_library,
        membership,
        orders,
        pages,
        payments,
        platform,
        plugins,
        notifications,
        privacy,
        sharing,
        shipping,
        store,
    )

    init_api(
        app,
        [
            addresses,
            admin,
            aftersales,
            store_analytics,  # getStoreAnalytics (概况)
            cart,
            catalog,
            catalog_console,
            chat,  # 客服: listConversations, sendChatMessage, listChatMessages, markConversationRead…
            console,
            coupons,  # the console's coupons, the claim centre, the shopper's coupons
            developers,  # /dev/api/…: `mallow plugin publish`
            media_library,
            membership,  # getMyMembership, listMyPoints; the console's programme, levels, points
            orders,
            pages,
            payments,
            platform,
            plugins,
            notifications,  # 站内信 / 消息, preferences, WeChat subscribe-message acceptances
            privacy,  # the shopper's data rights: privacy notice, exportMyData, deleteMyAccount
            sharing,
            shipping,
            store,
        ],
    )


def _register_payment_providers(app: Flask) -> None:
    """The payment providers the app offers (each store's settings decide which are live)."""
    from mallow.payments import providers, sandbox, wechat

    providers.install(app, {sandbox.NAME: sandbox.factory, wechat.NAME: wechat.factory})


def _plugin_environment(app: Flask) -> None:
    """Put the plugin environment (``MALLOW_PLUGIN_DIR``, where approved uploads are unpacked by
    :mod:`mallow.developers.installer`) on ``sys.path``, after the installed packages, so that
    ``importlib.metadata`` finds their entry points when plugins are discovered. Only an existing
    folder: it appears with the first install, which takes effect on the next start anyway."""
    import importlib
    import sys

    folder = app.config.get("MALLOW_PLUGIN_DIR")
    if folder and Path(folder).is_dir() and str(folder) not in sys.path:
        sys.path.append(str(folder))
        importlib.invalidate_caches()


def _limiter_storage(app: Flask) -> str:
    return app.config["REDIS_URL"] or "memory://"
