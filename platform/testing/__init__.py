"""Mallow's test kit, for its own tests and for plugin authors (the SDK's ``mallow.sdk.testing``
re-exports what a plugin needs).

``make_store(app)`` creates a merchant and a store through the real sign-up and, unless told
otherwise, approves it through the real review, so a test (or a plugin's test) gets a
throwaway store in its own schema in milliseconds::

    def test_my_plugin(app):
        shop = make_store(app)
        client = app.test_client()
        login_merchant(client, shop)

The kit by concern (everything below is importable from ``mallow.testing`` itself, except the
fakes of WeChat, imported from their modules):

* :mod:`.servers` -- PostgreSQL and Redis probed once, a fresh database per app, ``backend_params``;
* :mod:`.apps` -- ``build_app``, ``restart_app``, ``dispose_app`` and the test config;
* :mod:`.stores` -- ``make_store``, ``make_admin``, ``make_product``, ``Shop``;
* :mod:`.http` -- forms with their CSRF token, sign-ins, API tokens, ``make_shopper``,
  ``MerchantClient``; :mod:`.images` -- PNGs and uploads;
* :mod:`.plugins` -- ``plugin_app``, ``approve_plugin``, ``enable_plugin``, ``disable_plugin``
  (and the clear errors ``PluginNotInstalled``, ``BrokenManifest``); :mod:`.builders` --
  ``PluginBuilder`` and ``build_plugin``: throwaway installed plugins for a test;
* :mod:`.payments` -- paying in the app: the sandbox cashier, WeChat Pay and WeChat sign-in
  against the fakes, notifications, refunds;
* :mod:`.wechatpay` -- throwaway keys, forged notifications and ``FakeWeChatPayServer`` (WeChat
  Pay API v3 on 127.0.0.1); :mod:`.wechat_oauth` -- ``FakeWeChatOAuthServer`` (web
  authorisation and the JS-SDK's token and ticket); :mod:`.local_server` -- the HTTP part they share,
  and ``serving(app)``: an app behind a real HTTP server on 127.0.0.1 (browser tests).

The runtime never imports the kit: fakes of WeChat live here, not in ``mallow.payments``.
"""

from .apps import TEST_CONFIG, build_app, dispose_app, restart_app
from .http import (
    CSRF_RE,
    MerchantClient,
    bearer,
    csrf_token,
    login_admin,
    login_merchant,
    make_shopper,
    merchant_token,
    post_form,
    register_shopper,
)
from .images import image_upload, png_bytes
from .jobs import JobRecorder
from .local_server import serving
from .builders import PluginBuilder, build_plugin
from .cli import listed_line, run_cli
from .plugins import BrokenManifest, PluginNotInstalled, approve_plugin, disable_plugin, enable_plugin, plugin_app
from .servers import (
    HAVE_POSTGRES,
    HAVE_POSTGRES_POD2,
    HAVE_REDIS,
    IN_CI,
    MISSING_SERVERS,
    POSTGRES_POD2_URL,
    POSTGRES_URL,
    REDIS_URL,
    backend_params,
    drop_postgres_database,
    fresh_postgres_database,
)
from .stores import (
    PASSWORD,
    VALID_ID_NUMBER,
    VALID_USCC,
    Shop,
    make_admin,
    make_product,
    make_store,
    qualification_form,
    unique_slug,
)

__all__ = [
    "JobRecorder",
    "CSRF_RE",
    "HAVE_POSTGRES",
    "HAVE_POSTGRES_POD2",
    "HAVE_REDIS",
    "IN_CI",
    "MISSING_SERVERS",
    "BrokenManifest",
    "MerchantClient",
    "PASSWORD",
    "POSTGRES_POD2_URL",
    "POSTGRES_URL",
    "PluginBuilder",
    "PluginNotInstalled",
    "REDIS_URL",
    "Shop",
    "TEST_CONFIG",
    "VALID_ID_NUMBER",
    "VALID_USCC",
    "approve_plugin",
    "backend_params",
    "bearer",
    "build_app",
    "build_plugin",
    "csrf_token",
    "disable_plugin",
    "dispose_app",
    "drop_postgres_database",
    "enable_plugin",
    "fresh_postgres_database",
    "image_upload",
    "listed_line",
    "login_admin",
    "login_merchant",
    "make_admin",
    "make_product",
    "make_shopper",
    "make_store",
    "merchant_token",
    "plugin_app",
    "png_bytes",
    "post_form",
    "qualification_form",
    "register_shopper",
    "restart_app",
    "run_cli",
    "serving",
    "unique_slug",
]
