"""What changed in a release since the last approved version of the plugin: the files added,
changed and removed (by their hashes). The developer sees it on the release page; the reviewer's
page (:mod:`mallow.plugin_host.admin_views`) computes the same with
:func:`mallow.plugin_host.fingerprint.changed`."""

from __future__ import annotations

import sqlalchemy as sa

from mallow.db import db
from mallow.plugin_host.fingerprint import changed
from mallow.plugin_host.models import PluginRelease


def last_approved_before(release: PluginRelease) -> PluginRelease | None:
    """The newest approved release of the same plugin recorded before ``release``."""
    return db.session.execute(
        sa.select(PluginRelease)
        .where(
            PluginRelease.name == release.name,
            PluginRelease.status == "approved",
            PluginRelease.id < release.id,
        )
        .order_by(PluginRelease.id.desc())
        .limit(1)
    ).scalar_one_or_none()


def since_approved(release: PluginRelease) -> dict:
    """``{"base": version or None, "added": […], "changed": […], "removed": […]}``; without an
    approved version before it, every file is new."""
    base = last_approved_before(release)
    difference = changed(base.files or {} if base else {}, release.files or {})
    return {"base": base.version if base else None, **difference}
