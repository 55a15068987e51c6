"""The plugin host: finding, reviewing, loading and managing plugins.

It finds installed plugins and reads their manifests (:mod:`~mallow.plugin_host.discovery`),
records their releases for the platform admin's review (:mod:`~mallow.plugin_host.marketplace`,
:mod:`~mallow.plugin_host.models`, the admin pages :mod:`~mallow.plugin_host.admin_views`),
imports the approved ones at start-up and mounts their routes, blocks and jobs, and enables them
per store (:mod:`~mallow.plugin_host.loader`, :mod:`~mallow.plugin_host.migrate`), with the
store owner's pages and services (:mod:`~mallow.plugin_host.console_views`,
:mod:`~mallow.plugin_host.storeplugins`, :mod:`~mallow.plugin_host.settings`) and
``mallow plugin new`` (:mod:`~mallow.plugin_host.scaffold`).

Core services never import the host: they reach plugins through the hook door,
:mod:`mallow.plugins`, which the host builds on.
"""
