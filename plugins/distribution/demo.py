"""The demo store's distribution (``mallow_seed_demo``): auto-approval on, and the demo shopper
an approved distributor (they apply, free, and are approved at once)."""

from __future__ import annotations

from mallow.sdk import plugin_settings, save_plugin_settings
from mallow_distribution import distributors, rules


def seed(shopper) -> dict[str, str]:
    settings = plugin_settings(rules.PLUGIN)
    if not settings.get("auto_approve"):
        save_plugin_settings(rules.PLUGIN, {**settings, "auto_approve": True})
    if distributors.of_customer(shopper.id) is None:
        distributors.apply(shopper, {"agree": True, "note": "演示分销员"})
    return {"distribution": "/x/distribution/"}
