"""Extending Mallow with pluggy: the hook specifications and the plugin manager.

Every hook name starts with ``mallow_``. Built-in behaviour that could be replaced (shipping
fees) is registered as a plugin of the same API as third-party plugins.
"""
