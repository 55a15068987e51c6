"""What a plugin imports from Mallow: the stable surface of the plugin platform.

    from mallow.plugins.api import hookimpl, plugin_model_base, plugin_settings, Adjustment, Problem

* :func:`plugin_model_base` — a declarative base for the plugin's own tables. They live in each
  store's schema (placeholder schema ``store``, like core store tables) but in the plugin's own
  metadata, migrated by the plugin's own Alembic chain (``<package>/migrations/versions``,
  version table ``alembic_version_<plugin>``), created when a store enables the plugin and kept
  when it disables it. Query them with ``mallow.db.db.session`` inside a store request or job.
* :func:`store_sql` — raw SQL on the active store's tables, written ``{table}``, on both backends
  (:func:`store_table` qualifies one name); platform tables, schema names and connection
  settings (``SET``, ``ATTACH``, ``PRAGMA``…) are refused. Never ``SET search_path``.
* :func:`plugin_settings` — the active store's settings for a plugin (validated against the
  manifest's ``settings_schema``, defaults filled in).
* hooks: ``hookimpl`` and every ``mallow_*`` hook of :mod:`mallow.plugins.hookspecs`; a plugin's
  hooks run only for stores that enabled it.
* jobs and schedules: the ``mallow_register_jobs(register)`` hook (see :mod:`mallow.plugins.jobs`);
  store jobs and schedules run only in the stores that enabled the plugin.
* :func:`plugin_enabled` tells whether the active store has a plugin on.
* API operations: ``api_route(blueprint, method, rule, operation_id, summary, auth=…, body=…,
  responses=…)`` on the blueprint registered for ``store_api`` / ``console_api`` declares an
  operation like Mallow's own: ``auth`` (``"shopper"``, ``"merchant"`` = staff of the store, or
  ``None``) is checked first, a JSON ``body`` schema validates requests (422 with field errors), and
  the operation is in ``/api/openapi.json`` tagged with the plugin's name, with the statuses the
  platform answers for it. Describe success bodies with ``returns(description, shape({...}))``
  (also ``obj``, ``string``, ``nullable``, ``ID``); name operationIds after the plugin.
* redirects: :func:`safe_target` (``safe_target(value, default)``) and :func:`safe_next`
  (the request's ``next``) — the only way to redirect to a target that came with the request
  (``next``, ``back``, a ``Referer``…): anything that is not a path on this site becomes the default.
* orders: :func:`cashier_url` — the one cashier (收银台) for an order of any kind: redirect the
  shopper there right after a checkout; never pick a payment provider yourself.
* the storefront look: :func:`storefront_theme` (the store's active theme for a plugin's own
  pages: the page root's classes, custom properties and stylesheets) and :func:`static_version`
  (a content hash for ``?v=`` on the plugin's static files).
* ids: :data:`ID_MAX` and :func:`id_value` — an id from a query string or form (``None`` unless
  it is a whole number from 1 to the id columns' maximum); ``<int:…>`` URL parts are already
  bounded by the app's ``int`` converter.

A plugin package ships ``plugin.json`` (its manifest) next to its ``__init__.py``; Mallow reads it
without importing the package, and imports the package only once a platform admin has approved
that version.
"""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase

from mallow.api.registry import ID, api_route, nullable, obj, returns, shape, string  # noqa: F401  (for plugins)
from mallow.db import NAMING
from mallow.db.session import STORE_BIND, STORE_SCHEMA
from mallow.db.store_sql import StoreSQLRefused, store_sql, store_table  # noqa: F401  (re-exported for plugins)
from mallow.plugins.hookspecs import hookimpl  # noqa: F401  (re-exported for plugins)
from mallow.pricing.model import Adjustment, PricingContext, PricingLine, Problem  # noqa: F401
from mallow.web.ids import ID_MAX, id_value  # noqa: F401  (re-exported for plugins)
from mallow.web.redirects import safe_next, safe_target  # noqa: F401  (re-exported for plugins)

_BASES: dict[str, type] = {}


def plugin_model_base(plugin: str) -> type:
    """The declarative base of ``plugin``'s store tables (one per plugin, created once).

    Name tables ``<plugin>_<thing>`` so they never clash with core tables or other plugins.
    """
    if plugin not in _BASES:
        metadata = sa.MetaData(schema=STORE_SCHEMA, naming_convention=NAMING,
                               info={"bind_key": STORE_BIND, "plugin": plugin})
        _BASES[plugin] = type(f"{plugin.title()}Base", (DeclarativeBase,), {"metadata": metadata, "__abstract__": True})
    return _BASES[plugin]


def plugin_metadata(plugin: str) -> sa.MetaData:
    return plugin_model_base(plugin).metadata


def plugin_settings(plugin: str) -> dict:
    """The active store's settings for ``plugin`` (manifest defaults where unset)."""
    from mallow.plugins.stores import settings_for

    return settings_for(plugin)


def cashier_url(order, *, external: bool = False) -> str:
    """The store's cashier (收银台) for ``order`` (an ``Order`` or its id): the one place every
    order is paid, whatever placed it. Send the shopper there right after your checkout
    (``return redirect(cashier_url(order)), 303``); it offers the methods the store really has and
    lands the shopper on the order, or where ``mallow_after_payment_url`` says, once paid."""
    from flask import url_for

    return url_for("storefront.pay_order", order_id=getattr(order, "id", order), _external=external)


def plugin_enabled(plugin: str) -> bool:
    """Whether the active store has ``plugin`` enabled (False outside a store)."""
    from mallow.plugins.stores import enabled_plugins

    return plugin in enabled_plugins()


def store_schema() -> str:
    """Inside a plugin's migration script: the real schema of the store being migrated
    (``store_<id>`` on PostgreSQL, the attached ``store`` on SQLite). Give it as ``schema=`` to
    every operation: Alembic's ``ALTER TABLE`` operations (``add_column``, ``alter_column``,
    ``drop_column``…) do not apply the ``store`` → ``store_<id>`` translation."""
    from alembic import context

    return context.config.attributes["version_table_schema"]


def storefront_theme() -> dict:
    """The active store's page-builder theme, for a plugin's own storefront pages so they look
    like the store's home page in every theme: ``{"name", "classes", "style", "stylesheets"}``
    (the classes and custom properties of the theme's page root ``.mp``, and its stylesheet URLs)."""
    from mallow.builder.render import stylesheet_urls
    from mallow.builder.service import current_theme
    from mallow.builder.themes import theme_set

    name, settings = current_theme()
    theme = theme_set().get(name)
    style, classes = theme.css(settings)
    return {"name": theme.name, "classes": f"mp mp-theme-{theme.name} {classes}".strip(), "style": style,
            "stylesheets": stylesheet_urls(theme)}


_STATIC_VERSIONS: dict[tuple[str, float], str] = {}


def static_version(static_dir, name: str) -> str:
    """A short content hash of the file ``name`` in ``static_dir`` (a plugin's static folder), for
    ``?v=`` so browsers never keep an old copy after an upgrade; ``""`` when there is no such file.
    Read again only when the file changes."""
    import hashlib
    from pathlib import Path

    path = Path(static_dir) / name
    try:
        stamp = path.stat().st_mtime
    except OSError:
        return ""
    key = (str(path), stamp)
    if key not in _STATIC_VERSIONS:
        _STATIC_VERSIONS[key] = hashlib.sha256(path.read_bytes()).hexdigest()[:10]
    return _STATIC_VERSIONS[key]
