"""An upload becomes a release for review.

The wheel is checked (:mod:`.wheels`), its name must be the developer's (:mod:`.names`) and its
version new; then the archive goes into the platform's index (:mod:`.index`) and a
:class:`~mallow.plugin_host.models.PluginRelease` is recorded as ``submitted`` with
``origin="uploaded"``, the developer, the wheel's manifest and the hashes of its package's files
(the review binds to them). Nothing of the upload is imported or installed here: that happens
only once a platform admin approved it (:mod:`.installer`).
"""

from __future__ import annotations

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.exc import IntegrityError

from mallow import audit
from mallow.db import db
from mallow.developers import index, names, wheels
from mallow.plugin_host.models import PluginRelease
from mallow.validation import ValidationFailed


def _version_taken(version: str) -> ValidationFailed:
    return ValidationFailed(
        {
            "file": (
                "version_taken",
                _("Version %(version)s was uploaded already: raise the version number.", version=version),
            )
        }
    )


def publish(developer, filename: str, data: bytes) -> PluginRelease:
    """Check and record an uploaded wheel; raises :class:`ValidationFailed` (field ``file``) with
    nothing recorded. Commits."""
    wheel = wheels.inspect(filename, data)
    names.claim(wheel.name, developer)
    exists = db.session.execute(sa.select(PluginRelease.id).filter_by(name=wheel.name, version=wheel.version)).first()
    if exists:
        db.session.rollback()
        raise _version_taken(wheel.version)
    release = PluginRelease(
        name=wheel.name,
        version=wheel.version,
        manifest=wheel.manifest,
        status="submitted",
        origin="uploaded",
        developer_id=developer.id,
        files=wheel.files,
    )
    db.session.add(release)
    try:
        db.session.flush()  # the version is ours before the archive is written
    except IntegrityError:
        db.session.rollback()
        raise _version_taken(wheel.version) from None
    release.archive, release.archive_sha256 = index.store(wheel, data)
    audit.record(
        "plugin.submitted",
        actor=developer,
        target=f"plugin:{release.name}@{release.version}",
        detail={"origin": "uploaded", "archive": release.archive, "sha256": release.archive_sha256},
    )
    db.session.commit()
    return release


def releases_of(developer, name: str | None = None) -> list[PluginRelease]:
    """The developer's uploaded releases, newest first (of one plugin with ``name``)."""
    query = sa.select(PluginRelease).where(PluginRelease.developer_id == developer.id)
    if name:
        query = query.where(PluginRelease.name == name)
    return list(db.session.execute(query.order_by(PluginRelease.name, PluginRelease.id.desc())).scalars())


def release_of(developer, release_id: int) -> PluginRelease | None:
    """One of the developer's releases (None for anybody else's)."""
    release = db.session.get(PluginRelease, release_id)
    return release if release is not None and release.developer_id == developer.id else None
