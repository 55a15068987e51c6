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
from mallow.plugin_host import fingerprint, loader
from mallow.plugin_host.discovery import Manifest, ManifestError, installed, too_new
from mallow.plugin_host.models import RELEASE_STATES, PluginRelease
from mallow.statemachine import InvalidTransition
from mallow.validation import ValidationFailed

STATUSES = RELEASE_STATES.states
#: sent after a platform admin decided on a release (committed): ``release_decided.send(release,
#: action="plugin.approved" | "plugin.rejected" | "plugin.withdrawn")``; the developers' installer
#: listens (an approved uploaded release is installed into the plugin environment)
release_decided = Namespace().signal("mallow.plugin_release_decided")


def sync(echo=None) -> list[PluginRelease]:
    """Record every installed plugin version that is not known yet as ``submitted``, with the
    hash of each of its files; returns the new releases. Manifests that cannot be read are
    reported through ``echo`` and skipped. A known version whose installed files differ from
    the recorded ones keeps its record (it is "changed since review" until an admin reviews the
    new files) and is reported."""
    known = {
        (release.name, release.version): release for release in db.session.execute(sa.select(PluginRelease)).scalars()
    }
    added = []
    for name, (_entry_point, manifest) in sorted(installed().items()):
        if isinstance(manifest, ManifestError):
            if echo:
                echo(f"skipped {name}: {manifest}")
            continue
        if (name, manifest.version) in known:
            difference = changed_files(known[(name, manifest.version)], manifest)
            if difference and echo:
                echo(f"changed since review: {name} {manifest.version}: {', '.join(fingerprint.all_paths(difference))}")
            continue
        release = PluginRelease(
            name=name,
            version=manifest.version,
            manifest=manifest.as_dict(),
            status="submitted",
            files=fingerprint.files_of(manifest),
        )
        db.session.add(release)
        db.session.flush()
        audit.record(
            "plugin.submitted", target=_target(release), detail={"module": manifest.module, "files": len(release.files)}
        )
        added.append(release)
        if echo:
            echo(f"submitted for review: {name} {manifest.version}")
    db.session.commit()
    return added


def installed_manifest(release: PluginRelease) -> Manifest | None:
    """The installed plugin's manifest when it is this release's version (else None)."""
    found = installed().get(release.name)
    manifest = found[1] if found else None
    return manifest if isinstance(manifest, Manifest) and manifest.version == release.version else None


def changed_files(release: PluginRelease, manifest: Manifest | None = None) -> dict[str, list[str]] | None:
    """What differs between a release's recorded files and the installed ones (None: not
    installed here, or nothing recorded, or nothing differs)."""
    manifest = manifest or installed_manifest(release)
    if manifest is None or manifest.version != release.version:
        return None
    recorded = fingerprint.package_files(release.files or {}, manifest.module)
    if not recorded:
        return None
    difference = fingerprint.changed(recorded, fingerprint.files_of(manifest))
    return difference if fingerprint.differs(difference) else None


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


def _decide(release: PluginRelease, target: str, admin, reason: str, action: str, detail=None) -> PluginRelease:
    RELEASE_STATES.move(release, target)
    release.reason = reason[:500] or None
    release.reviewed_by, release.reviewed_at = getattr(admin, "id", None), utcnow()
    audit.record(action, actor=admin, target=_target(release), detail={"reason": reason, **(detail or {})})
    db.session.commit()
    release_decided.send(release, action=action)
    return release


def _reason(reason: str | None, required: bool) -> str:
    reason = (reason or "").strip()
    if required and not reason:
        raise ValidationFailed({"reason": ("required", _("Give the developer a reason."))})
    return reason


class FilesMoved(ValueError):
    """The installed files changed while the admin was reviewing them: nothing was approved."""


def reviewed_files(release: PluginRelease, shown: str | None) -> dict[str, str] | None:
    """The files an approval binds to. ``shown`` is the digest of the files the review page
    showed (its form carries it): they must be the installed files now. Without it (the API),
    the files recorded at sync, or the installed ones when nothing was recorded."""
    manifest = installed_manifest(release) if release.origin == "installed" else None
    if shown is None:
        if release.files or manifest is None:
            return None
        return fingerprint.files_of(manifest)
    now = fingerprint.files_of(manifest) if manifest is not None else (release.files or {})
    if fingerprint.digest_of(now) != shown:
        raise FilesMoved(release.name)
    return now


def approve(release: PluginRelease, admin, reason: str | None = "", shown: str | None = None) -> PluginRelease:
    """Approve a version: it is imported from the app's next start on, while its installed files
    are the ones approved (``shown``: the digest of the files the reviewer saw, see
    :func:`reviewed_files`). An approved release whose files changed since is approved again for
    its new files (the old and new hashes are in the audit log)."""
    reason = _reason(reason, False)
    files = reviewed_files(release, shown)
    if release.status == "approved":
        return _approve_files(release, admin, reason, files or {})
    if files is not None:
        release.files = files
    return _decide(release, "approved", admin, reason, "plugin.approved", {"files": len(release.files or {})})


def _approve_files(release: PluginRelease, admin, reason: str, files: dict[str, str]) -> PluginRelease:
    """Re-review of an approved release whose installed files changed: bind it to the new files."""
    recorded = release.files or {}
    difference = fingerprint.changed(recorded, files)
    if not files or not fingerprint.differs(difference):
        raise InvalidTransition("plugin_release", release.status, "approved")
    release.files = files
    release.reviewed_by, release.reviewed_at = getattr(admin, "id", None), utcnow()
    audit.record("plugin.reapproved", actor=admin, target=_target(release), detail={"reason": reason, **difference})
    db.session.commit()
    release_decided.send(release, action="plugin.reapproved")
    return release


def reject(release: PluginRelease, admin, reason: str | None) -> PluginRelease:
    return _decide(release, "rejected", admin, _reason(reason, True), "plugin.rejected")


def withdraw(release: PluginRelease, admin, reason: str | None) -> PluginRelease:
    """Take an approval back: the version is no longer imported from the next start on, and it
    is switched off in every store at once (reason ``platform``), so it stops now."""
    reason = _reason(reason, True)
    stores = loader.disable_everywhere(release.name, "platform", {"withdrawn": release.version, "reason": reason})
    return _decide(release, "withdrawn", admin, reason, "plugin.withdrawn", {"stores": stores})


def approve_installed(names: list[str], admin, reason: str = "") -> list[PluginRelease]:
    """Sync, then approve the installed version of each of ``names`` still under review, or
    approve again the files of an approved one that changed since (``mallow demo`` does this for
    the bundled plugins, which change with Mallow's own code; every approval is audited)."""
    sync()
    versions = installed_versions()
    approved = []
    for name in names:
        release = db.session.execute(
            sa.select(PluginRelease).filter_by(name=name, version=versions.get(name))
        ).scalar_one_or_none()
        if release is not None and release.status == "submitted":
            approved.append(approve(release, admin, reason))
        elif release is not None and release.status == "approved" and changed_files(release):
            manifest = installed_manifest(release)
            shown = fingerprint.digest_of(fingerprint.files_of(manifest)) if manifest else None
            approved.append(approve(release, admin, reason, shown=shown))
    return approved
