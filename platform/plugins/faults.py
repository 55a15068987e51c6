"""A plugin that raises must not take a store down: find which plugin it was, log it, and hand
the caller a clear message for the stores that enabled it.

A plugin's hooks run only in stores that enabled it (:func:`mallow.plugins.manager.hooks`), each
implementation guarded (:mod:`mallow.plugins.guard`), so a broken plugin never touches the others; in the stores that use it, checkout answers
"<title> is unavailable right now" (422) instead of a server error: the caller turns the message
into its own kind of answer (pricing and checkout: a ``plugin_failed`` problem,
:func:`mallow.pricing.model.plugin_failed`).
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable

from flask import current_app, has_app_context
from flask_babel import gettext as _
from werkzeug.exceptions import HTTPException

from mallow.plugins.manifests import localized
from mallow.validation import ValidationFailed

log = logging.getLogger("mallow.plugins")
#: exceptions that are answers, not faults: they pass through unchanged
ANSWERS = (ValidationFailed, HTTPException)


def plugin_of(error: BaseException) -> str | None:
    """The loaded plugin whose code raised ``error`` (the outermost plugin frame of its
    traceback, i.e. the hook implementation pluggy called), or None for core code."""
    if not has_app_context():
        return None
    packages = {
        manifest.module: name for name, manifest in current_app.extensions.get("mallow.loaded_plugins", {}).items()
    }
    if not packages:
        return None
    for frame, _line in traceback.walk_tb(error.__traceback__):
        module = frame.f_globals.get("__name__") or ""
        package = module.split(".", 1)[0]
        if package in packages:
            return packages[package]
    return None


def failure_message(name: str) -> str:
    """What a shopper is told when plugin ``name`` failed: "<its title> is unavailable right now"."""
    manifest = current_app.extensions.get("mallow.loaded_plugins", {}).get(name)
    title = localized(manifest.title) if manifest is not None and manifest.title else name
    return _("%(title)s is unavailable right now. Try again later.", title=title)


def call_hook(caller, failed: Callable[[str], None], default=None, passthrough: tuple = (), **kwargs):
    """Call a hook; when a plugin's implementation fails (raises, or answers the wrong type), it
    is logged with the plugin's name, ``failed`` is called with :func:`failure_message` and the
    other implementations' answers stand. ``passthrough`` exceptions (deliberate answers such as
    a sold-out) are raised as they are. A caller that is not guarded (a bare pluggy caller)
    answers ``default`` when a plugin's code raised; failures of core code are raised."""
    if hasattr(caller, "call"):  # the guarded hooks of mallow.plugins.manager.hooks()
        return caller.call(kwargs, failed=failed, passthrough=tuple(passthrough))
    try:
        return caller(**kwargs)
    except ANSWERS + tuple(passthrough):
        raise
    except Exception as error:
        name = plugin_of(error)
        if name is None:
            raise
        log.error("plugin %s failed in %s", name, getattr(caller, "name", caller), exc_info=error)
        failed(failure_message(name))
        return default
