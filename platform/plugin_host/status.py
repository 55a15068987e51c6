"""Each installed plugin's state as this process sees it now: its review, and what the start-up
did with it (loaded, loaded without review, not loaded and why). ``mallow plugin list`` and
/admin/plugins read it; "loaded" is said only of what this process imported.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app
from flask_babel import lazy_gettext as _l

from mallow.plugin_host import marketplace
from mallow.plugin_host.discovery import Manifest, ManifestError, installed
from mallow.plugin_host.loader import DEV
from mallow.plugin_host.problems import problems_of

#: state → words for the admin's page
LABELS = {
    "loaded": _l("Loaded"),
    "dev": _l("Loaded without review (development folder)"),
    "withdrawn_running": _l("Withdrawn: switched off in every store, stops at the next start"),
    "restart": _l("Not loaded until Mallow restarts"),
    "not_approved": _l("Not loaded: not approved"),
    "changed_since_review": _l("Changed since review"),
    "import_failed": _l("Failed to import"),
    "hooks_mismatch": _l("Hooks differ from its manifest"),
    "register_failed": _l("Failed to register"),
    "forbidden_imports": _l("Refused by the inspection"),
    "too_new": _l("Needs a newer Mallow"),
    "manifest_error": _l("Unreadable plugin.json"),
}


@dataclass(frozen=True)
class PluginState:
    name: str
    version: str
    review: str  # the installed version's release status, or "not synced"
    state: str  # a key of LABELS
    message: str = ""
    files: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        return str(LABELS.get(self.state, self.state))

    @property
    def running(self) -> bool:
        return self.state in ("loaded", "dev", "withdrawn_running")


def plugin_states() -> dict[str, PluginState]:
    """``{name: PluginState}`` of every installed plugin (needs an app context)."""
    app = current_app
    loaded = app.extensions.get("mallow.loaded_plugins", {})
    dev = app.extensions.get(DEV, set())
    problems = problems_of(app)
    reviews = {(r.name, r.version): r.status for r in marketplace.releases()}
    states = {}
    for name, (_entry_point, manifest) in sorted(installed().items()):
        if isinstance(manifest, ManifestError):
            states[name] = PluginState(name, "", "not synced", "manifest_error", str(manifest))
            continue
        states[name] = _state(manifest, reviews, loaded, dev, problems.get(name))
    return states


def _state(manifest: Manifest, reviews: dict, loaded: dict, dev: set, problem) -> PluginState:
    name, version = manifest.name, manifest.version
    running = loaded.get(name)
    review = reviews.get((name, running.version if running else version), "not synced")
    if running is not None:
        if name in dev:
            return PluginState(name, running.version, review, "dev")
        if review != "approved":
            return PluginState(name, running.version, review, "withdrawn_running")
        return PluginState(name, running.version, review, "loaded")
    if problem is not None and problem.version in ("", version):
        return PluginState(name, version, review, problem.kind, problem.message, problem.files)
    if review == "approved":
        return PluginState(name, version, review, "restart")
    return PluginState(name, version, review, "not_approved")


def cli_note(state: PluginState) -> str:
    """What ``mallow plugin list`` says a plugin's state is (plain English, for operators)."""
    if state.state == "loaded":
        return "loaded"
    if state.state == "dev":
        return "loaded (development folder, not reviewed)"
    if state.state == "withdrawn_running":
        return "loaded, but withdrawn: off in every store, not loaded from the next start"
    if state.state == "restart":
        return "not loaded: approved after this start, loaded at the next start"
    if state.state == "not_approved":
        return f"not loaded: {state.review}"
    if state.state == "too_new":
        return f"not loaded: {state.message}"
    return f"not loaded: {state.state.replace('_', ' ')}: {state.message}"
