"""Why an installed plugin is not running in this app: one record per plugin, kept on the app
(``app.extensions["mallow.plugin_problems"]``) by the loader at start-up, read by
``mallow plugin list``, ``mallow db upgrade`` and the admin's plugin pages.

A plugin that cannot be loaded is reported and skipped: the platform starts without it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from flask import Flask, current_app
from flask_babel import lazy_gettext as _l

log = logging.getLogger("mallow.plugins")
EXTENSION = "mallow.plugin_problems"

#: kind → what it means, in words (admin page; the CLI prints the kind and the message)
KINDS = {
    "manifest_error": _l("Its plugin.json cannot be read"),
    "too_new": _l("It needs a newer Mallow"),
    "changed_since_review": _l("Changed since review"),
    "forbidden_imports": _l("Refused: code the platform does not load"),
    "import_failed": _l("Failed to import"),
    "hooks_mismatch": _l("Its hooks differ from its manifest"),
    "register_failed": _l("Failed to register its routes, blocks or jobs"),
}


@dataclass(frozen=True)
class Problem:
    kind: str
    message: str
    #: the files concerned (changed since review, forbidden imports as ``path:line``)
    files: tuple[str, ...] = field(default_factory=tuple)
    version: str = ""

    @property
    def label(self) -> str:
        return str(KINDS.get(self.kind, self.kind))

    def as_dict(self) -> dict:
        return {"kind": self.kind, "message": self.message, "files": list(self.files), "version": self.version}


def problems_of(app: Flask | None = None) -> dict[str, Problem]:
    """``{plugin name: Problem}`` of this app's start-up (empty before it loaded plugins)."""
    return (app if app is not None else current_app).extensions.get(EXTENSION, {})


def report(app: Flask, name: str, problem: Problem) -> None:
    """Record and log why ``name`` is not loaded (its name first, so the log can be searched)."""
    app.extensions.setdefault(EXTENSION, {})[name] = problem
    files = f" ({', '.join(problem.files)})" if problem.files else ""
    log.error("plugin %s %s not loaded: %s: %s%s", name, problem.version, problem.kind, problem.message, files)
