"""Words for findings in the pages: field names and states, in the page's language."""

from __future__ import annotations

import re

from flask_babel import gettext as _


def status_labels() -> dict[str, str]:
    return {
        "open": _("To review"),
        "accepted": _("Accepted"),
        "appealed": _("Appealed"),
        "upheld": _("Upheld"),
        "overturned": _("Overturned"),
        "cleared": _("Removed from the text"),
        "all": _("All"),
    }


def field_label(field: str) -> str:
    """``title`` → "Title", ``specs.0.values.1`` → "Spec value", ``/sections/…`` → "Page block …"."""
    if field.startswith("/"):
        return _(
            "Page block %(path)s",
            path=field.replace("/settings/", " › ").replace("/blocks/", " › ").removeprefix("/sections/"),
        )
    if re.fullmatch(r"specs\.\d+\.name", field):
        return _("Spec name")
    if re.fullmatch(r"specs\.\d+\.values\.\d+", field):
        return _("Spec value")
    return {"title": _("Title"), "subtitle": _("Subtitle"), "description_html": _("Description")}.get(field, field)
