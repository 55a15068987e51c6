"""The circuit breaker: a plugin that keeps failing (or keeps taking far longer than its
budget) in a store is switched off in that store, and only there.

Every fault of a plugin's hook call is counted (:mod:`mallow.plugins.faultlog`); once the
plugin has ``MALLOW_PLUGIN_BREAKER_FAULTS`` strikes (default 5) in the store within
``MALLOW_PLUGIN_BREAKER_WINDOW_SECONDS`` (default 300), the breaker opens:

* ``StorePlugin.enabled`` becomes False with ``disabled_reason="circuit_breaker"`` and
  ``disabled_detail`` (hook, kind, count, last message), committed at once on a connection of its
  own, so the request that tripped it cannot roll it back;
* the rest of the current request no longer calls the plugin (its name leaves the request's
  cached ``g.mallow_enabled_plugins``);
* the platform is told: a log line at ERROR, an audit entry ``plugin.circuit_open`` and the
  admin faults page; the merchant is told: a console notice naming the plugin.

The audit entry and the notice are written once the request is over (its transaction may hold
the store's SQLite file), or at once outside a request. The merchant may turn the plugin on
again (the console's enable path), which calls :func:`reset`: the window starts afresh.
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from flask import Flask, current_app, g, has_request_context
from flask_babel import force_locale
from flask_babel import gettext as _

from mallow import audit, notices
from mallow.db import db
from mallow.plugins import faultlog
from mallow.plugins.manifests import localized
from mallow.plugins.models import StorePlugin
from mallow.tenants.context import store_context

log = logging.getLogger("mallow.plugins")
#: the kind of the merchant's notice (its key is the plugin's name)
NOTICE_KIND = "plugin_breaker"


def threshold(app: Flask | None = None) -> int:
    return max(int((app or current_app).config.get("MALLOW_PLUGIN_BREAKER_FAULTS", 5)), 1)


def fault(store_id: int | None, plugin: str, hook: str, kind: str, message: str, ms: float, strike: bool) -> None:
    """Record one fault of ``plugin`` and open the breaker when it has had enough strikes."""
    app = current_app._get_current_object()
    strikes = faultlog.record(app, store_id, plugin, hook, kind, message, ms, strike)
    if store_id is None or not strike or strikes is None or strikes < threshold(app):
        return
    detail = {"hook": hook, "kind": kind, "count": int(strikes), "last_message": message[:200]}
    if not faultlog.switch_off(app, store_id, plugin, detail):
        return  # off already (another request tripped it a moment ago)
    log.error(
        "plugin %s switched off in store %s by the circuit breaker: %s faults within %s s (last: %s in %s: %s)",
        plugin,
        store_id,
        strikes,
        faultlog.window_seconds(app),
        kind,
        hook,
        message[:200],
    )
    if g.get("mallow_store_id") == store_id and "mallow_enabled_plugins" in g:
        g.mallow_enabled_plugins = {name: s for name, s in g.mallow_enabled_plugins.items() if name != plugin}
    if has_request_context():
        g.setdefault("mallow_breaker_pending", []).append((store_id, plugin, detail))
    else:
        same_file = db.engine.dialect.name == "sqlite" and g.get("mallow_store_id") == store_id
        _announce(app, store_id, plugin, detail, in_this_session=same_file)


def announce_pending(_error: BaseException | None = None) -> None:
    """Write the audit entries and notices of breakers opened during this request (registered
    as the app's ``teardown_request`` by the admin faults page)."""
    pending = g.pop("mallow_breaker_pending", None)
    if not pending:
        return
    app = current_app._get_current_object()
    try:
        db.session.rollback()  # the request is over: let go of anything it still holds
    except Exception:
        log.exception("could not end the request's transaction before the breaker's notices")
    for store_id, plugin, detail in pending:
        _announce(app, store_id, plugin, detail)


def notice_message(plugin: str) -> str:
    manifest = current_app.extensions.get("mallow.loaded_plugins", {}).get(plugin)
    title = (localized(manifest.title) if manifest is not None and manifest.title else "") or plugin
    return _(
        "The plugin “%(title)s” kept failing and has been switched off automatically. Contact its developer; "
        "once it is fixed you can turn it on again on the plugins page.",
        title=title,
    )


def _announce(app: Flask, store_id: int, plugin: str, detail: dict, in_this_session: bool = False) -> None:
    def write() -> None:
        with force_locale(app.config.get("BABEL_DEFAULT_LOCALE", "zh_CN")):
            message = notice_message(plugin)
        audit.record("plugin.circuit_open", store_id=store_id, target=f"plugin:{plugin}", detail=detail)
        notices.raise_notice(NOTICE_KIND, plugin, message, {"plugin": plugin, **detail})

    try:
        if in_this_session:
            write()  # committed with the job that tripped it (SQLite: its transaction holds the file)
            return
        with store_context(store_id, app=app):
            write()
            db.session.commit()
    except Exception:
        log.exception("plugin %s: the circuit breaker's notice for store %s could not be written", plugin, store_id)


def reset(store_id: int, plugin: str) -> None:
    """The merchant turned ``plugin`` on again in the store: its fault window starts afresh, the
    breaker's reason is cleared and its notice resolved. Runs in the caller's session (the
    console's enable path commits it)."""
    faultlog.forget_window(store_id, plugin)
    db.session.execute(
        sa.update(StorePlugin)
        .where(
            StorePlugin.store_id == store_id,
            StorePlugin.name == plugin,
            StorePlugin.disabled_reason == "circuit_breaker",
        )
        .values(disabled_reason=None, disabled_detail=None, disabled_at=None)
    )
    if g.get("mallow_store_id") == store_id:
        notices.resolve(NOTICE_KIND, plugin)
