"""The plugin's blueprints, one per area (fresh objects for every app that loads the plugin)."""

from __future__ import annotations


def register_all(register) -> None:
    from mallow_groupbuy.views import console, console_api, store_api, storefront

    register(storefront.make_blueprint(), "storefront")
    register(console.make_blueprint(), "console")
    register(store_api.make_store_blueprint(), "store_api")
    register(console_api.make_console_blueprint(), "console_api")
