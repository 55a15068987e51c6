"""The one pluggy ``PluginManager`` of the app (``app.extensions['mallow.plugins']``)."""
from __future__ import annotations

import pluggy
from flask import current_app

from mallow.plugins import hookspecs


def make_manager() -> pluggy.PluginManager:
    manager = pluggy.PluginManager("mallow")
    manager.add_hookspecs(hookspecs)
    from mallow.shipping import fees

    manager.register(fees, name="mallow.shipping")  # built-in: registered first, so it runs last
    return manager


def hooks():
    """The hook relay for the current request or job."""
    return current_app.extensions["mallow.plugins"].hook
