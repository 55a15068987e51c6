"""The plugin author's test kit: a real Mallow platform in a temp folder, on SQLite or
PostgreSQL, with the plugin approved and loaded, and throwaway stores in milliseconds.

    import pytest
    from mallow.sdk.testing import backend_params, bearer, enable_plugin, make_product, make_store, plugin_app

    @pytest.fixture(scope="session", params=backend_params())
    def app(request, tmp_path_factory):
        app = plugin_app(tmp_path_factory, request.param, ["my_plugin"])
        yield app
        dispose_app(app)

* throwaway plugins: :func:`build_plugin` (a :class:`PluginBuilder` installed for a block:
  ``with build_plugin(tmp_path_factory) as plugins: plugins.add("limit_two", code, hooks=[…])``);
* clear errors: :class:`PluginNotInstalled` (``pip install -e .`` forgotten),
  :class:`BrokenManifest` (``plugin.json`` unreadable: the file and the JSON problem);
* platforms: :func:`plugin_app`, :func:`restart_app` (a new release or config), :func:`dispose_app`,
  :func:`backend_params` (``sqlite``, and ``postgresql`` when its server answers);
* stores and people: :func:`make_store` (``shop.prefix`` is the store's URL prefix),
  :func:`enable_plugin` / :func:`disable_plugin`, :func:`make_product` (its SKU ids),
  :func:`make_shopper` (an API token and an address id), :func:`merchant_token`, :func:`bearer`;
* browser-style forms: :func:`login_merchant`, :func:`register_shopper`, :func:`csrf_token`,
  :func:`post_form`;
* paying and time: :func:`pay_with_sandbox` (an order paid through the sandbox cashier, as a
  shopper would), :func:`run_job` (a job or a schedule's one-store run, e.g. at a chosen ``now``);
* the page builder: :func:`block_registered` (``block_registered(type, app)``) and
  :func:`block_label` (its label in the request's language, as the builder shows it);
* reading a store's tables in a test: ``with store_context(shop.store_id, app=app): …``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mallow.builder.blocks import types_of
from mallow.jobs.registry import execute
from mallow.testing.payments import pay_with_sandbox  # noqa: F401
from mallow.tenants.context import store_context  # noqa: F401
from mallow.testing import (
    BrokenManifest,
    PluginBuilder,
    PluginNotInstalled,
    backend_params,
    bearer,
    build_plugin,
    csrf_token,
    disable_plugin,
    dispose_app,  # noqa: F401
    enable_plugin,
    login_merchant,
    make_product,
    make_shopper,
    make_store,
    merchant_token,
    plugin_app,
    post_form,
    register_shopper,
    restart_app,
)

if TYPE_CHECKING:
    from flask import Flask


def run_job(app: Flask, name: str, **kwargs: Any) -> Any:
    """Run job ``name`` now, in this process, as the worker would (``store_id=…`` for a store job;
    ``now=<ISO time>`` for a schedule's ``<name>_store`` run); returns what the job returned."""
    return execute(app, name, kwargs)


def block_registered(type_name: str, app: Flask | None = None) -> bool:
    """Whether ``app`` (default: the current app) has a page-builder block type ``type_name``
    (Mallow's or one of its loaded plugins'): each app has its own block types."""
    return types_of(app).get(type_name) is not None


def block_label(type_name: str, app: Flask | None = None) -> str:
    """The label of block type ``type_name`` in the current request's language (inside
    ``app.test_request_context("/")``: Chinese first, ``"/?lang=en"`` for English)."""
    found = types_of(app).get(type_name)
    if found is None:
        raise KeyError(f"no block type {type_name!r} in this app (is the plugin approved and loaded?)")
    return str(found.label)


__all__ = [
    "BrokenManifest",
    "PluginBuilder",
    "PluginNotInstalled",
    "backend_params",
    "bearer",
    "block_label",
    "block_registered",
    "build_plugin",
    "csrf_token",
    "disable_plugin",
    "dispose_app",
    "enable_plugin",
    "login_merchant",
    "make_product",
    "make_shopper",
    "make_store",
    "merchant_token",
    "pay_with_sandbox",
    "plugin_app",
    "post_form",
    "register_shopper",
    "restart_app",
    "run_job",
    "store_context",
]
