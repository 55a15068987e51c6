"""The platform's view of plugin faults (``/admin/plugins/faults``): per plugin, the stores
where it failed, its faults by hook and kind (``error``, ``bad_result``, ``over_budget``), its
slowest call, its last message, and the stores where the circuit breaker switched it off.
Read from :class:`~mallow.plugins.models.PluginFault` (all processes) and this process's
timings (:mod:`mallow.plugins.timings`).

Also where the breaker's audit entries and merchant notices are written once a request is
over (:func:`mallow.plugins.breaker.announce_pending`, the app's ``teardown_request``)."""

from __future__ import annotations

from dataclasses import dataclass, field

import sqlalchemy as sa
from flask import current_app, render_template, request

from mallow.accounts.guards import admin_required
from mallow.db import db
from mallow.plugins import breaker, budgets, timings
from mallow.plugins.manifests import localized
from mallow.plugins.models import PluginFault, StorePlugin
from mallow.tenants.models import Store
from mallow.web import blueprints

bp = blueprints.admin
bp.teardown_app_request(breaker.announce_pending)


@dataclass
class PluginFaults:
    """One plugin's faults on the platform."""

    name: str
    title: str
    rows: list[PluginFault] = field(default_factory=list)
    switched_off: list[tuple[Store, StorePlugin]] = field(default_factory=list)
    timing: timings.Timing | None = None

    @property
    def stores(self) -> list[int]:
        return sorted({row.store_id for row in self.rows if row.store_id is not None})

    @property
    def by_hook(self) -> list[tuple[str, str, int, int, int]]:
        """``(hook, kind, count, strikes in the window, slowest ms)``, by hook then kind."""
        found: dict[tuple[str, str], list[int]] = {}
        for row in self.rows:
            counts = found.setdefault((row.hook, row.kind), [0, 0, 0])
            counts[0] += row.count
            counts[1] += row.window_count
            counts[2] = max(counts[2], row.slowest_ms)
        return [(hook, kind, *counts) for (hook, kind), counts in sorted(found.items())]

    @property
    def total(self) -> int:
        return sum(row.count for row in self.rows)

    @property
    def slowest_ms(self) -> int:
        return max((row.slowest_ms for row in self.rows), default=0)

    @property
    def last(self) -> PluginFault | None:
        return max(self.rows, key=lambda row: row.last_seen_at, default=None)


def faults(plugin: str | None = None) -> list[PluginFaults]:
    """Every plugin with a recorded fault or a breaker stop, most faults first."""
    loaded = current_app.extensions.get("mallow.loaded_plugins", {})
    found: dict[str, PluginFaults] = {}

    def entry(name: str) -> PluginFaults:
        if name not in found:
            manifest = loaded.get(name)
            title = (localized(manifest.title) if manifest is not None and manifest.title else "") or name
            found[name] = PluginFaults(name, title)
        return found[name]

    query = sa.select(PluginFault).order_by(PluginFault.plugin, PluginFault.hook, PluginFault.kind)
    stopped = (
        sa.select(Store, StorePlugin)
        .join(StorePlugin, StorePlugin.store_id == Store.id)
        .where(StorePlugin.enabled.is_(False), StorePlugin.disabled_reason == "circuit_breaker")
        .order_by(StorePlugin.disabled_at.desc())
    )
    if plugin:
        query, stopped = query.where(PluginFault.plugin == plugin), stopped.where(StorePlugin.name == plugin)
    for row in db.session.execute(query).scalars():
        entry(row.plugin).rows.append(row)
    for store, switch in db.session.execute(stopped).all():
        entry(switch.name).switched_off.append((store, switch))
    for name, timing in timings.per_plugin(current_app).items():
        if name in found:
            found[name].timing = timing
    return sorted(found.values(), key=lambda f: (-len(f.switched_off), -f.total, f.name))


@bp.get("/plugins/faults")
@admin_required
def plugin_faults():
    plugin = (request.args.get("plugin") or "").strip()[:60] or None
    found = faults(plugin)
    store_ids = {store_id for f in found for store_id in f.stores}
    stores = (
        {s.id: s for s in db.session.execute(sa.select(Store).where(Store.id.in_(store_ids))).scalars()}
        if store_ids
        else {}
    )
    return render_template(
        "admin/plugin_faults.html",
        plugins=found,
        plugin=plugin,
        stores=stores,
        budgets=budgets.BUDGETS,
        scale=budgets.scale(),
        threshold=breaker.threshold(),
        window=current_app.config.get("MALLOW_PLUGIN_BREAKER_WINDOW_SECONDS", 300),
    )
