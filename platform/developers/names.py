"""A plugin name belongs to the developer who first published it.

The platform owns the names of the plugins it ships or installs itself (the bundled plugins,
anything ``mallow plugin sync`` recorded), so a developer cannot publish a look-alike
``groupbuy`` that would replace the platform's on the next reload. The claim is a row of
``plugin_names`` with a unique name: of two developers racing for a new name, one wins.
"""

from __future__ import annotations

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.exc import IntegrityError

from mallow.db import db
from mallow.developers.models import PluginName
from mallow.plugin_host.discovery import installed
from mallow.plugin_host.models import PluginRelease
from mallow.validation import ValidationFailed


def _taken() -> ValidationFailed:
    return ValidationFailed(
        {"file": ("name_taken", _("This plugin name belongs to someone else: choose another name."))}
    )


def platform_owns(name: str) -> bool:
    """The platform's own plugin: installed or recorded without a developer."""
    recorded = db.session.execute(
        sa.select(PluginRelease.id).where(PluginRelease.name == name, PluginRelease.developer_id.is_(None)).limit(1)
    ).first()
    return recorded is not None or name in installed()


def claim(name: str, developer) -> None:
    """Make sure ``name`` is ``developer``'s, claiming it when it is new (in the caller's
    transaction); raises :class:`ValidationFailed` (field ``file``) when it is someone else's."""
    owner = db.session.execute(sa.select(PluginName).filter_by(name=name)).scalar_one_or_none()
    if owner is not None:
        if owner.developer_id != developer.id:
            raise _taken()
        return
    if platform_owns(name):
        raise _taken()
    try:
        with db.session.begin_nested():
            db.session.add(PluginName(name=name, developer_id=developer.id))
    except IntegrityError:
        raise _taken() from None


def names_of(developer) -> list[str]:
    return list(
        db.session.execute(
            sa.select(PluginName.name).where(PluginName.developer_id == developer.id).order_by(PluginName.name)
        ).scalars()
    )
