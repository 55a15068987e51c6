"""How long one plugin's implementation of a hook may take (milliseconds): the one table the
guard (:mod:`mallow.plugins.guard`) and the docs read.

A budget is what a plugin may add to the page or job that calls it: the time its code took or
waited for itself. The guard charges a call its wall time minus the time its thread waited for a
CPU meanwhile (:mod:`mallow.plugins.clock`; plain wall time where the kernel does not say):
sleeping, network, database and lock waits count, a busy machine does not. Python cannot stop a
thread that sleeps or waits, so a call over its budget still finishes and its answer is still
used: it is logged with the plugin, hook, store and duration and counted as an ``over_budget``
fault. What stops a slow plugin from hurting a store again is the circuit breaker
(:mod:`mallow.plugins.breaker`): a call that takes more than :data:`BREAKER_FACTOR` times its
budget counts towards switching the plugin off in that store; a call merely over budget is
counted and shown to the platform.

``MALLOW_PLUGIN_BUDGET_SCALE`` (a float, default 1) multiplies every budget: raise it on a slow
machine, make it tiny in a test that wants a slow call without sleeping long.
"""

from __future__ import annotations

from flask import Flask, current_app, has_app_context

#: budget per hook in milliseconds; None: not timed against a budget (start-up registration,
#: the demo seeding of ``mallow demo``)
BUDGETS: dict[str, int | None] = {
    # pricing and checkout: called for every quote, cart page and order, per line for lines
    "mallow_line_adjustments": 50,
    "mallow_order_adjustments": 50,
    "mallow_shipping_fee": 50,
    "mallow_validate_checkout": 50,
    # inside the order's transaction, which holds its stock rows meanwhile
    "mallow_order_placed": 200,
    # order lifecycle events (inside the transaction that made the change)
    "mallow_order_paid": 200,
    "mallow_order_cancelled": 200,
    "mallow_order_refunded": 200,
    "mallow_order_completed": 200,
    # pages
    "mallow_template_slot": 30,
    "mallow_console_menu": 20,
    "mallow_account_entries": 20,
    "mallow_validate_settings": 50,
    # labels: called for every order of a list and every entry of a timeline
    "mallow_after_payment_url": 10,
    "mallow_order_status_label": 10,
    "mallow_order_event_label": 10,
    # share links and posters: once per link or poster drawn for a signed-in shopper
    "mallow_share_code": 10,
    # a plugin's shared thing (a group): once per share link, poster or visit of its kind
    "mallow_share_target": 30,
    # shoppers' data rights: the export (a few a day per shopper), the deletion (inside its
    # transaction, once per account)
    "mallow_customer_data": 200,
    "mallow_erase_customer": 500,
    # once at start-up, or from the ``mallow demo`` command
    "mallow_register_routes": None,
    "mallow_register_blocks": None,
    "mallow_register_jobs": None,
    "mallow_early_routes": None,
    "mallow_seed_demo": None,
}

#: a call slower than this many times its budget counts towards the circuit breaker
BREAKER_FACTOR = 5
#: a hook missing from :data:`BUDGETS` (a newer hook specification) gets this one
DEFAULT_BUDGET_MS = 50


def scale(app: Flask | None = None) -> float:
    """``MALLOW_PLUGIN_BUDGET_SCALE`` of ``app`` (default: the current one; 1 outside an app)."""
    if app is None:
        if not has_app_context():
            return 1.0
        app = current_app
    try:
        return max(float(app.config.get("MALLOW_PLUGIN_BUDGET_SCALE", 1.0)), 0.0)
    except (TypeError, ValueError):
        return 1.0


def budget_ms(hook: str, app: Flask | None = None) -> float | None:
    """The budget of one implementation of ``hook`` in ``app`` (default: the current one;
    scaled), or None."""
    budget = BUDGETS.get(hook, DEFAULT_BUDGET_MS)
    return None if budget is None else budget * scale(app)
