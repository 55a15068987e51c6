"""The pricing pipeline: plugins propose, the core decides.

1. **line**: each line gets at most one line-stage adjustment: the biggest discount proposed
   for it (flash-sale, group or member prices never stack), never below zero.
2. **order** then **coupon**: proposals sharing an ``exclusive_group`` compete (the best
   applies); the others all apply; each is capped so the running total never goes below zero.
3. **shipping**: the first shipping answer (the built-in templates answer last).

Proposals are sorted before deciding, so the outcome never depends on plugin order. Amounts are
integer fen throughout: there is nothing to round.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from mallow.plugins.faults import call_hook
from mallow.plugins.manager import hooks
from mallow.pricing.model import Adjustment, PricedLine, PricedOrder, PricingContext, Problem, plugin_failed


def _flatten(results: Iterable[Any]) -> list[Any]:
    """The non-None results of a hook as one list (an implementation may answer one value or a list)."""
    found: list[Any] = []
    for result in results:
        if result is None:
            continue
        found.extend(result if isinstance(result, (list, tuple)) else [result])
    return found


def _key(adjustment: Adjustment) -> tuple[int, str, str, str]:
    return (adjustment.amount, adjustment.source, adjustment.code, adjustment.label)


def _best_discount(proposals: list[Adjustment]) -> Adjustment | None:
    discounts = sorted((p for p in proposals if p.amount < 0), key=_key)
    return discounts[0] if discounts else None


def _decide_stage(proposals: list[Adjustment], running_total: int) -> list[Adjustment]:
    chosen: list[Adjustment] = []
    groups: dict[str, list[Adjustment]] = {}
    for proposal in sorted(proposals, key=_key):
        if proposal.exclusive_group is None:
            chosen.append(proposal)
        else:
            groups.setdefault(proposal.exclusive_group, []).append(proposal)
    for group in sorted(groups):
        best = _best_discount(groups[group]) or sorted(groups[group], key=_key)[0]
        chosen.append(best)
    applied = []
    for adjustment in sorted(chosen, key=_key):
        amount = max(adjustment.amount, -running_total)  # never below zero
        if amount == 0 and adjustment.amount != 0:
            continue
        if amount != adjustment.amount:
            adjustment = Adjustment(
                adjustment.stage,
                adjustment.source,
                adjustment.code,
                adjustment.label,
                amount,
                adjustment.line_index,
                adjustment.exclusive_group,
            )
        running_total += amount
        applied.append(adjustment)
    return applied


def price(context: PricingContext) -> PricedOrder:
    hook = hooks()
    problems: list[Problem] = []
    failed = plugin_failed(problems)  # a plugin that raises becomes a "plugin_failed" problem (call_hook)
    problems += _flatten(call_hook(hook.mallow_validate_checkout, failed, [], context=context))

    priced_lines = []
    for line in context.lines:
        proposals = [
            p
            for p in _flatten(call_hook(hook.mallow_line_adjustments, failed, [], context=context, line=line))
            if p.stage == "line" and p.line_index == line.index
        ]
        best = _best_discount(proposals)
        adjustments = []
        if best is not None:
            amount = max(best.amount, -line.base_total)
            adjustments.append(Adjustment("line", best.source, best.code, best.label, amount, line.index))
        priced_lines.append(PricedLine(line, adjustments))

    subtotal = sum(p.total for p in priced_lines)
    order_proposals = _flatten(call_hook(hook.mallow_order_adjustments, failed, [], context=context, subtotal=subtotal))
    applied: list[Adjustment] = []
    for stage in ("order", "coupon"):
        decided = _decide_stage([p for p in order_proposals if p.stage == stage], subtotal)
        subtotal += sum(a.amount for a in decided)
        applied.extend(decided)

    shipping = call_hook(hook.mallow_shipping_fee, failed, None, context=context, subtotal=subtotal)
    if isinstance(shipping, Problem):
        problems.append(shipping)
    elif isinstance(shipping, Adjustment) and shipping.amount:
        applied.append(shipping)
    return PricedOrder(priced_lines, applied, problems)
