"""What a store's owner does with plugins: see them in the marketplace listing, enable, disable,
configure.

Every change is in the audit log and takes effect on the store's next request. Disabling keeps
the settings and the plugin's tables; enabling again keeps the settings. A plugin can be off for
three reasons, and the merchant is told which (``StorePlugin.disabled_reason``):

* ``merchant``: the store's owner switched it off; enabling it again is theirs to do.
* ``circuit_breaker``: it kept failing in this store and the platform switched it off here; the
  merchant may enable it again (the breaker's count starts afresh).
* ``platform``: the platform switched it off in this store or withdrew it everywhere; only the
  platform can bring it back, so enabling is refused with a message.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from mallow import audit
from mallow.db import db
from mallow.plugin_host import listing, loader
from mallow.plugin_host.discovery import Manifest
from mallow.plugins import breaker
from mallow.plugins.manifests import localized, permission_label
from mallow.plugins.models import StorePlugin
from mallow.plugins.stores import settings_with_defaults
from mallow.validation import ValidationFailed


#: what went wrong, in words, for the circuit breaker's notice (``PluginFault.kind``)
FAULT_KINDS = {
    "error": _l("it raised an error"),
    "bad_result": _l("it gave an answer of the wrong kind"),
    "over_budget": _l("it took too long"),
}
#: the codes of ``ValidationFailed({"plugin": …})`` when the platform keeps a plugin off
REFUSALS = ("withdrawn", "platform_disabled", "not_available", "switched_off")


@dataclass
class Offer:
    """A plugin as one store sees it in the marketplace listing.

    ``loaded``: the platform runs it now (approved and imported at start); ``release``: the review
    state of this version (``withdrawn`` once the platform took it back, even before a restart).
    """

    manifest: Manifest
    row: StorePlugin | None
    loaded: bool = True
    release: str | None = "approved"
    store_count: int = 0
    releases: list[listing.PublishedRelease] | None = None

    @property
    def name(self) -> str:
        return self.manifest.name

    @property
    def enabled(self) -> bool:
        return bool(self.loaded and self.row and self.row.enabled)

    @property
    def settings(self) -> dict:
        return settings_with_defaults(self.manifest, self.row.settings if self.row else {})

    @property
    def title(self) -> str:
        return localized(self.manifest.title) or self.name

    @property
    def description(self) -> str:
        return localized(self.manifest.description)

    @property
    def permissions(self) -> list[tuple[str, str]]:
        return [(code, permission_label(code)) for code in self.manifest.permissions]

    @property
    def screenshots(self) -> list[str]:
        return listing.screenshots(self.manifest) if self.loaded else []

    @property
    def withdrawn(self) -> bool:
        return self.release == "withdrawn"

    @property
    def disabled_reason(self) -> str | None:
        """Why it is off here (``merchant``, ``platform``, ``circuit_breaker``), ``None`` when on
        or never used; a plugin the platform took back is off for the ``platform``."""
        if self.enabled:
            return None
        if not self.loaded or self.withdrawn:
            return "platform"
        return self.row.disabled_reason if self.row is not None else None

    @property
    def blocked(self) -> str | None:
        """Why the merchant cannot turn it on, in words; ``None`` when they can."""
        if self.withdrawn:
            return _("The platform has taken this plugin off the marketplace.")
        if not self.loaded:
            return _("The platform is not running this plugin at the moment.")
        if self.row is not None and not self.row.enabled and self.row.disabled_reason == "platform":
            return _("The platform has switched this plugin off in your store.")
        return None

    @property
    def notice(self) -> str | None:
        """What the listing says about it being off, when somebody other than the merchant did it."""
        if self.blocked:
            return self.blocked
        if self.disabled_reason == "circuit_breaker":
            detail = self.row.disabled_detail or {}
            kind = FAULT_KINDS.get(detail.get("kind"))
            message = str(detail.get("last_message") or detail.get("message") or "").strip()[:200]
            last = "：".join(str(part) for part in (kind, message) if part) or _("an error")
            return _(
                "This plugin kept failing, so the platform switched it off in your store (last: %(last)s). "
                "You may turn it on again; if it keeps failing, contact its developer.",
                last=last,
            )
        return None

    @property
    def can_enable(self) -> bool:
        return not self.enabled and self.blocked is None

    def screenshot_url(self, path: str) -> str:
        """Where the console serves one of its screenshots (the version busts caches)."""
        return url_for("console.plugin_screenshot", name=self.name, path=path, v=self.manifest.version)

    def as_json(self) -> dict:
        data = {
            "name": self.name,
            "version": self.manifest.version,
            "title": self.title,
            "author": self.manifest.author,
            "description": self.description,
            "permissions": [{"code": code, "label": label} for code, label in self.permissions],
            "settings_schema": self.manifest.settings_schema,
            "enabled": self.enabled,
            "settings": self.settings,
            "available": self.can_enable or self.enabled,
            "disabled_reason": self.disabled_reason,
            "notice": self.notice,
            "store_count": self.store_count,
            "screenshots": [self.screenshot_url(path) for path in self.screenshots],
        }
        if self.releases is not None:
            data["releases"] = [release.as_json() for release in self.releases]
        return data


def _rows(store_id: int) -> dict[str, StorePlugin]:
    query = db.select(StorePlugin).where(StorePlugin.store_id == store_id)
    return {row.name: row for row in db.session.execute(query).scalars()}


def _loaded() -> dict[str, Manifest]:
    return current_app.extensions.get("mallow.loaded_plugins", {})


def _not_loaded(name: str, row: StorePlugin | None, counts: dict[str, int]) -> Offer | None:
    """A plugin this store used that the platform does not run now (withdrawn, or held back)."""
    manifest = listing.last_published_manifest(name)
    if manifest is None:
        return None
    status = listing.release_status(name, manifest.version)
    return Offer(manifest, row, loaded=False, release=status, store_count=counts.get(name, 0))


def offers(store_id: int) -> list[Offer]:
    """Every plugin this platform runs (approved and loaded), with the store's state of it, then
    the ones this store used that the platform no longer runs (shown with the reason)."""
    rows, loaded, counts = _rows(store_id), _loaded(), listing.store_counts()
    found = [
        Offer(
            manifest,
            rows.get(name),
            release=listing.release_status(name, manifest.version),
            store_count=counts.get(name, 0),
        )
        for name, manifest in sorted(loaded.items())
    ]
    gone = (_not_loaded(name, row, counts) for name, row in sorted(rows.items()) if name not in loaded)
    return found + [offer for offer in gone if offer is not None]


def offer(store_id: int, name: str, history: bool = False) -> Offer | None:
    """One plugin as the store sees it (``None`` when the platform never ran it and the store
    never used it); ``history``: with its approved and withdrawn versions."""
    manifest = _loaded().get(name)
    row = loader.store_plugin(store_id, name)
    if manifest is not None:
        found = Offer(
            manifest, row, release=listing.release_status(name, manifest.version), store_count=listing.store_count(name)
        )
    elif row is not None:
        found = _not_loaded(name, row, listing.store_counts())
    else:
        return None
    if found is not None and history:
        found.releases = listing.history(name)
    return found


def _done(action: str, store, actor, name: str, detail: dict | None = None) -> Offer:
    audit.record(action, actor=actor, store_id=store.id, target=f"plugin:{name}", detail=detail or {})
    db.session.commit()
    return offer(store.id, name)


def enable(store, name: str, actor, settings: dict | None = None) -> Offer:
    """Turn a plugin on in the store, unless the platform keeps it off (then ``ValidationFailed``
    with the reason). After a circuit breaker stop this starts its count afresh."""
    found = offer(store.id, name)
    if found is not None and found.blocked:
        code = "withdrawn" if found.withdrawn or not found.loaded else "platform_disabled"
        raise ValidationFailed({"plugin": (code, found.blocked)})
    was = found.row.disabled_reason if found is not None and found.row is not None else None
    loader.enable(store.id, name, settings)  # clears who switched it off
    if was == "circuit_breaker":
        breaker.reset(store.id, name)  # its fault window starts afresh, its notice is resolved
    return _done("plugin.enabled", store, actor, name, {"after": was} if was else None)


def disable(store, name: str, actor) -> Offer:
    """Turn it off in the store, for the merchant's reason. A plugin that is off already keeps
    the reason it has (the merchant cannot take over the platform's or the breaker's stop)."""
    row = loader.store_plugin(store.id, name)
    if row is None or not row.enabled:
        return offer(store.id, name)
    loader.disable(store.id, name, "merchant")
    return _done("plugin.disabled", store, actor, name)


def update_settings(store, name: str, actor, settings: dict) -> Offer:
    loader.save_settings(store.id, name, settings)
    return _done("plugin.settings_changed", store, actor, name, {"keys": sorted(settings)})
