"""Adjustment rules: who may propose which price change. One mechanism for every plugin, applied
by the pipeline (:mod:`mallow.pricing.pipeline`) to each proposal before it decides.

A *proposer* is whoever answered a pricing hook. Mallow's own implementations (registered by the
app factory, e.g. the shipping templates with source ``"core"``) are Mallow: the rules do not apply
to them. A loaded plugin's proposal is admitted only when:

1. its ``source`` is the plugin's own name: a plugin credits adjustments only to itself (the
   receipt, the statistics and the distribution commission read the source);
2. the plugin declares ``pricing`` ("change prices in checkout"): the permissions the merchant
   read before enabling it say what it touches. A shipping fee is a charge by nature and is shown
   as shipping: ``pricing`` covers it, but it is never negative (discounts belong in the order
   stage, where they are capped);
3. a surcharge (a positive line, order or coupon amount) also needs ``pricing.surcharge``.

**A refused proposal is dropped, not the checkout.** It is logged at WARNING with the plugin's
name and title (logger ``mallow.plugins``) and counted as the plugin's ``bad_result`` fault, so
the platform sees it and a plugin that keeps doing it is switched off by the circuit breaker. The
shopper cannot fix a plugin, and refusing every checkout would let one plugin stop a store
selling; dropping keeps the price honest instead. Prices never silently differ from what the
shopper agreed to: the quote and the checkout run the same rules, so the quote already shows the
price without the dropped proposal, and the web checkout refuses a total that changed since the
page was shown.

**Zero totals.** The total never goes below zero (the pipeline caps every discount). An order
whose items cost something but whose plugin discounts bring the total to 0 fen would be paid at
once and its stock taken for nothing, so each plugin whose discount is on such an order must
declare ``pricing.zero_total``; otherwise the checkout is refused with a ``zero_total_refused``
problem naming the plugin, shown on the quote before the shopper tries to pay. An order of 0 fen
whose items cost nothing (a free product) is nobody's doing and is left alone.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from flask import current_app
from flask_babel import gettext as _

from mallow.plugins import breaker
from mallow.plugins.manifests import localized
from mallow.pricing.model import Adjustment, PricedOrder, Problem

log = logging.getLogger("mallow.plugins")

PRICING = "pricing"
SURCHARGE = "pricing.surcharge"
ZERO_TOTAL = "pricing.zero_total"


@dataclass(frozen=True)
class Proposer:
    """Who answered a pricing hook: a loaded plugin (with its declared permissions) or Mallow."""

    name: str
    plugin: bool
    permissions: frozenset[str] = frozenset()
    title: str = ""

    def may(self, permission: str) -> bool:
        return not self.plugin or permission in self.permissions


def proposer(name: str) -> Proposer:
    """The proposer called ``name`` (a plugin's name, or a built-in's registered name)."""
    manifest: Any = current_app.extensions.get("mallow.loaded_plugins", {}).get(name)
    if manifest is None:
        return Proposer(name, plugin=False)
    title = localized(manifest.title) if manifest.title else ""
    return Proposer(name, True, frozenset(manifest.permissions), title or name)


def refuse(store_id: int, who: Proposer, hook: str, message: str) -> None:
    """Log a refused proposal with the plugin's name and title and count it as the plugin's
    ``bad_result`` fault in the store (:func:`mallow.plugins.breaker.fault`). Mallow's own
    implementations are not refused: a wrong answer of theirs is a bug, raised."""
    if not who.plugin:
        raise TypeError(f"{who.name} in {hook}: {message}")
    log.warning("plugin %s (%s) refused in %s (store %s): %s", who.name, who.title, hook, store_id, message)
    breaker.fault(store_id, who.name, hook, "bad_result", f"refused: {message}", 0.0, strike=True)


def why_refused(who: Proposer, adjustment: Adjustment) -> str | None:
    """Why ``who`` may not propose ``adjustment`` (None: it may)."""
    if not who.plugin:
        return None
    if adjustment.source != who.name:
        return f"adjustment {adjustment.code!r} credited to {adjustment.source!r}: a plugin credits only itself"
    if not who.may(PRICING):
        return f"adjustment {adjustment.code!r} needs the permission {PRICING!r}"
    if adjustment.stage == "shipping":
        if adjustment.amount < 0:
            return f"shipping fee {adjustment.amount} fen is negative: a discount belongs in the order stage"
        return None
    if adjustment.amount > 0 and not who.may(SURCHARGE):
        return f"surcharge {adjustment.code!r} of {adjustment.amount} fen needs the permission {SURCHARGE!r}"
    return None


def admitted(store_id: int, who: Proposer, hook: str, adjustment: Adjustment) -> bool:
    """Whether ``adjustment`` proposed by ``who`` may take part; a refusal is logged and counted."""
    reason = why_refused(who, adjustment)
    if reason is not None:
        refuse(store_id, who, hook, reason)
    return reason is None


def zero_total_problems(priced: PricedOrder) -> list[Problem]:
    """One ``zero_total_refused`` problem per plugin whose discount is on an order that plugins
    brought from a price to 0 fen, unless it declares ``pricing.zero_total``."""
    if priced.items_total <= 0 or priced.total > 0:
        return []
    problems = []
    for source in sorted({a.source for a in priced.all_adjustments if a.amount < 0}):
        who = proposer(source)
        if who.may(ZERO_TOTAL):
            continue
        log.warning(
            "plugin %s (%s) refused: it brought an order of %d fen to 0 without the permission %r",
            who.name,
            who.title,
            priced.items_total,
            ZERO_TOTAL,
        )
        problems.append(
            Problem(
                "zero_total_refused",
                _(
                    "“%(title)s” brought the order total to ¥0 but has not declared the permission to make "
                    "orders free, so this order cannot be placed for now.",
                    title=who.title,
                ),
            )
        )
    return problems
