"""The hook door: how core code calls plugins (pluggy).

Core services import only this package to reach plugins: the hook specifications
(:mod:`~mallow.plugins.hookspecs`), the one plugin manager and the per-store hook relay
(:mod:`~mallow.plugins.manager`), calling a hook with fault containment
(:mod:`~mallow.plugins.faults`), which plugins the active store enabled
(:mod:`~mallow.plugins.stores`, :mod:`~mallow.plugins.models`), where plugin routes are mounted
(:mod:`~mallow.plugins.routes`), template slots (:mod:`~mallow.plugins.web`) and plugin table
bases (:mod:`~mallow.plugins.tables`). It imports nothing above it: built-in implementations
(the shipping fees) are handed to :func:`~mallow.plugins.manager.make_manager` by the app factory.

Loading, reviewing and managing plugins is the plugin host's work (:mod:`mallow.plugin_host`).
Every hook name starts with ``mallow_``.
"""
