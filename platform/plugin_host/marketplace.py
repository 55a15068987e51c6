"""The platform's plugin marketplace: installed releases recorded for review, and the review.

``sync()`` records the manifest of every installed plugin version it has not seen as a
``submitted`` release. It reads manifests from the file system and never imports a plugin.
A platform admin then approves or rejects each version with a reason (every decision is in the
audit log); an approved release is imported at the app's **next start**, a withdrawn one is no
longer imported from the next start on.
"""

from __future__ import annotations

import sqlalchemy as sa
from blinker import Namespace
from flask import current_app
from flask_babel import gettext as _

from mallow import audit
from mallow.db import db, utcnow
from mallow.plugin_host.discovery import Manifest, ManifestError, installed, too_new
from mallow.plugin_host.models import RELEASE_STATES, PluginRelease
from mallow.validation import ValidationFailed

STATUSES = RELEASE_STATES.states
#: sent after a platform admin decided on a release (committed): ``release_decided.send(release,
#: action="plugin.approved" | "plugin.rejected" | "plugin.withdrawn")``; the developers' installer
#: listens (an approved uploaded release is installed into the plugin environment)
release_decided = Namespace().signal("mallow.plugin_release_decided")


def sync(echo=None) -> list[PluginRelease]:
    """Record every installed plugin version that is not known yet as ``submitted``; returns
    the new releases. Manifests that cannot be read are reported through ``echo`` and skipped."""
    known = {
        (name, version)
        for name, version in db.session.execute(sa.select(PluginRelease.name, PluginRelease.version)).all()
    }
    added = []
    for name, (_entry_point, manifest) in sorted(installed().items()):
        if isinstance(manifest, ManifestError):
            if echo:
                echo(f"skipped {name}: {manifest}")
            continue
        if (name, manifest.version) in known:
            continue
        release = PluginRelease(name=name, version=manifest.version, manifest=manifest.as_dict(), status="submitted")
        db.session.add(release)
        db.session.flush()
        audit.record("plugin.submitted", target=_target(release), detail={"module": manifest.module})
        added.append(release)
        if echo:
            echo(f"submitted for review: {name} {manifest.version}")
    db.session.commit()
    return added


def _target(release: PluginRelease) -> str:
    return f"plugin:{release.name}@{release.version}"


def releases(status: str | None = None) -> list[PluginRelease]:
    query = sa.select(PluginRelease).order_by(PluginRelease.name, PluginRelease.id.desc())
    if status:
        query = query.where(PluginRelease.status == status)
    return list(db.session.execute(query).scalars())


def installed_versions() -> dict[str, str]:
    """``{name: version}`` of the plugins installed now (readable manifests only)."""
    return {name: manifest.version for name, (_ep, manifest) in installed().items() if isinstance(manifest, Manifest)}


def needing_newer_mallow() -> dict[str, str]:
    """``{name: min_mallow_version}`` of the installed plugins this Mallow is too old to load
    (start-up skips them, approved or not)."""
    return {
        name: manifest.min_mallow_version
        for name, (_ep, manifest) in installed().items()
        if isinstance(manifest, Manifest) and too_new(manifest)
    }


def loaded_versions() -> dict[str, str]:
    """``{name: version}`` of the plugins this running app imported at start-up."""
    return {
        name: manifest.version for name, manifest in current_app.extensions.get("mallow.loaded_plugins", {}).items()
    }


def _decide(release: PluginRelease, target: str, admin, reason: str, action: str) -> PluginRelease:
    RELEASE_STATES.move(release, target)
    release.reason = reason[:500] or None
    release.reviewed_by, release.reviewed_at = admin.id, utcnow()
    audit.record(action, actor=admin, target=_target(release), detail={"reason": reason})
    db.session.commit()
    release_decided.send(release, action=action)
    return release


def _reason(reason: str | None, required: bool) -> str:
    reason = (reason or "").strip()
    if required and not reason:
        raise ValidationFailed({"reason": ("required", _("Give the developer a reason."))})
    return reason


def approve(release: PluginRelease, admin, reason: str | None = "") -> PluginRelease:
    """Approve a version: it is imported from the app's next start on."""
    return _decide(release, "approved", admin, _reason(reason, False), "plugin.approved")


def reject(release: PluginRelease, admin, reason: str | None) -> PluginRelease:
    return _decide(release, "rejected", admin, _reason(reason, True), "plugin.rejected")


def withdraw(release: PluginRelease, admin, reason: str | None) -> PluginRelease:
    """Take an approval back: the version is no longer imported from the next start on."""
    return _decide(release, "withdrawn", admin, _reason(reason, True), "plugin.withdrawn")


def approve_installed(names: list[str], admin, reason: str = "") -> list[PluginRelease]:
    """Sync, then approve the installed version of each of ``names`` still under review
    (``mallow demo`` does this for the bundled plugins)."""
    sync()
    versions = installed_versions()
    approved = []
    for name in names:
        release = db.session.execute(
            sa.select(PluginRelease).filter_by(name=name, version=versions.get(name))
        ).scalar_one_or_none()
        if release is not None and release.status == "submitted":
            approved.append(approve(release, admin, reason))
    return approved
