"""The platform's switches for a plugin, as ``mallow plugin disable|enable|withdraw`` use them:
off in one store or in every store at once (reason ``platform``: the merchant cannot switch it on
again), on again in one store, and withdrawing every approved version (which also switches it off
everywhere). Each is in the audit log with its actor and takes effect on the next request in
every process (the switch is read per request)."""

from __future__ import annotations

import sqlalchemy as sa

from mallow import audit
from mallow.db import db
from mallow.plugin_host import loader, marketplace
from mallow.plugin_host.models import PluginRelease
from mallow.tenants.context import store_context
from mallow.tenants.models import Store


class UnknownStore(LookupError):
    pass


class NothingApproved(LookupError):
    pass


def store_id_of(slug: str) -> int:
    store_id = db.session.execute(sa.select(Store.id).filter_by(slug=slug)).scalar_one_or_none()
    if store_id is None:
        raise UnknownStore(slug)
    return store_id


def switch_off(name: str, slug: str | None, actor) -> list[int]:
    """Off in store ``slug``, or in every store that has it on (``slug`` None); the stores' ids."""
    if slug:
        store_id = store_id_of(slug)
        loader.disable(store_id, name, "platform", {"by": str(actor)})
        audit.record("plugin.disabled", actor=actor, store_id=store_id, target=f"plugin:{name}")
        stores = [store_id]
    else:
        stores = loader.disable_everywhere(name, "platform", {"by": str(actor)})
        audit.record("plugin.disabled_everywhere", actor=actor, target=f"plugin:{name}", detail={"stores": stores})
    db.session.commit()
    return stores


def switch_on(name: str, slug: str, actor) -> None:
    """On in store ``slug``, also where the platform switched it off (``ValidationFailed`` when
    it is not loaded or no longer approved, or its settings do not validate)."""
    store_id = store_id_of(slug)
    db.session.commit()
    with store_context(store_id):
        loader.enable(store_id, name, by_platform=True)
        audit.record("plugin.enabled", actor=actor, store_id=store_id, target=f"plugin:{name}")
        db.session.commit()


def withdraw(name: str, version: str | None, reason: str, actor) -> list[PluginRelease]:
    """Withdraw ``version`` (or every approved version) of ``name`` and switch it off everywhere."""
    query = sa.select(PluginRelease).filter_by(name=name, status="approved")
    if version:
        query = query.filter_by(version=version)
    releases = list(db.session.execute(query).scalars())
    if not releases:
        raise NothingApproved(name)
    return [marketplace.withdraw(release, actor, reason) for release in releases]
