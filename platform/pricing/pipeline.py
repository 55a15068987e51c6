"""The pricing pipeline: plugins propose, the core decides.

1. **line**: each line gets at most one line-stage adjustment: the biggest discount proposed
   for it (flash-sale, group or member prices never stack), never below zero. A line price only
   goes down: a surcharge belongs in the order stage.
2. **order** then **coupon**: proposals sharing an ``exclusive_group`` compete (the best
   applies); the others all apply; each is capped so the running total never goes below zero.
3. **points**: the last price stage, for what pays part of the goods (membership points, stored
   value): Mallow's own *payment stages*, registered per app by :func:`register_payment_stage`
   (not a plugin hook), are asked with the total after coupons (``subtotal``) and answer
   ``Adjustment(stage="points")`` or a :class:`Problem`; each is capped so the total never goes
   below zero. Shipping is never paid this way: it is added after, and the shipping hooks are
   handed the goods total before this stage (free-shipping thresholds look at what the goods
   cost, not at how they are paid).
4. **shipping**: the first admitted shipping answer of a plugin (by plugin name), else the
   built-in ones' (Mallow's own, in reverse registration order: a member level's free shipping,
   then the templates').

Every proposal first passes the adjustment rules (:mod:`mallow.pricing.rules`: a plugin credits
only itself, needs ``pricing``, and ``pricing.surcharge`` to raise a price); a refused one is
dropped and blamed on its plugin. Last, an order that plugins brought to 0 fen needs their
``pricing.zero_total``, else it carries a ``zero_total_refused`` problem.

Hooks are called as :func:`mallow.plugins.manager.each_result` calls them (through
:func:`mallow.plugins.guard.each`, on the store's hook relay taken once per pricing instead of
once per hook call), which says which plugin answered and contains a plugin that fails
(``failed``: a ``plugin_failed`` problem). Proposals
are sorted before deciding, so the outcome never depends on plugin order. Amounts are integer fen
throughout: there is nothing to round.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from flask import current_app

from mallow.plugins import guard
from mallow.plugins.manager import StoreHooks, hooks
from mallow.pricing import rules
from mallow.pricing.model import Adjustment, PricedLine, PricedOrder, PricingContext, Problem, plugin_failed


def _items(result: Any) -> list[Any]:
    """An implementation may answer one value or a list."""
    return list(result) if isinstance(result, (list, tuple)) else [result]


class _Relay:
    """The store's hook relay for one pricing, with the plugins the checkout's options leave
    out (``checkout_options`` in their manifests), worked out once for every hook call, and
    who answered so far (:func:`rules.proposer` reads the plugin's manifest and translates its
    title: once per plugin and pricing, not once per answer, e.g. a member price on every line)."""

    __slots__ = ("hooks", "skipped", "proposers")

    def __init__(self, hooks: StoreHooks, skipped: frozenset[str]):
        self.hooks, self.skipped = hooks, skipped
        self.proposers: dict[str, rules.Proposer] = {}

    def proposer(self, name: str) -> rules.Proposer:
        who = self.proposers.get(name)
        if who is None:
            who = self.proposers[name] = rules.proposer(name)
        return who


def _answers(
    relay: _Relay, hook: str, failed: Callable[[str], None], kwargs: dict[str, Any]
) -> Iterable[tuple[rules.Proposer, Any]]:
    """Who answered ``hook`` and what (:func:`guard.each` leaves out None answers); ``kwargs``
    is handed to the hook as it is (one dict per call, not repacked on the way down)."""
    for name, result in guard.each(getattr(relay.hooks, hook), hook, kwargs, failed, skipped=relay.skipped):
        yield relay.proposer(name), result


def _proposals(
    relay: _Relay,
    hook: str,
    failed: Callable[[str], None],
    stages: tuple[str, ...],
    context: PricingContext,
    kwargs: dict[str, Any],
    problems: list[Problem] | None = None,
) -> list[Adjustment]:
    """The admitted adjustments of ``stages`` proposed to ``hook`` (called with ``kwargs``);
    with ``problems``, a :class:`Problem` answered among them (an order-stage offer that cannot
    apply, such as a coupon below its threshold) is added there instead."""
    found = []
    for who, result in _answers(relay, hook, failed, kwargs):
        for item in _items(result):
            if problems is not None and isinstance(item, Problem):
                if item not in problems:
                    problems.append(item)
            elif not isinstance(item, Adjustment) or item.stage not in stages:
                message = f"answered {item!r}, not an adjustment of stage {'/'.join(stages)}"
                rules.refuse(context.store_id, who, hook, message)
            elif rules.admitted(context.store_id, who, hook, item):
                found.append(item)
    return found


def _problems(relay: _Relay, failed: Callable[[str], None], context: PricingContext) -> list[Problem]:
    hook = "mallow_validate_checkout"
    found = []
    for who, result in _answers(relay, hook, failed, {"context": context}):
        for item in _items(result):
            if isinstance(item, Problem):
                found.append(item)
            else:
                rules.refuse(context.store_id, who, hook, f"answered {item!r}, not a problem")
    return found


def _shipping(
    relay: _Relay, failed: Callable[[str], None], context: PricingContext, subtotal: int
) -> Adjustment | Problem | None:
    """The first admitted answer in :func:`each_result`'s order: plugins' by name, then Mallow's
    own (the templates) last; the others are not asked."""
    hook = "mallow_shipping_fee"
    for who, answer in _answers(relay, hook, failed, {"context": context, "subtotal": subtotal}):
        if isinstance(answer, Problem):
            if who.may(rules.PRICING):
                return answer
            message = f"shipping answer {answer.code!r} needs the permission {rules.PRICING!r}"
            rules.refuse(context.store_id, who, hook, message)
        elif not isinstance(answer, Adjustment) or answer.stage != "shipping":
            rules.refuse(context.store_id, who, hook, f"answered {answer!r}, not a shipping fee or a problem")
        elif rules.admitted(context.store_id, who, hook, answer):
            return answer
    return None


def _key(adjustment: Adjustment) -> tuple[int, str, str, str]:
    return (adjustment.amount, adjustment.source, adjustment.code, adjustment.label)


def _best_discount(proposals: list[Adjustment]) -> Adjustment | None:
    discounts = [p for p in proposals if p.amount < 0]
    return min(discounts, key=_key) if discounts else None  # the first of the sorted order


def _capped(adjustment: Adjustment, amount: int) -> Adjustment:
    if amount == adjustment.amount:
        return adjustment
    return Adjustment(
        adjustment.stage,
        adjustment.source,
        adjustment.code,
        adjustment.label,
        amount,
        adjustment.line_index,
        adjustment.exclusive_group,
    )


def _decide_stage(proposals: list[Adjustment], running_total: int) -> list[Adjustment]:
    if not proposals:  # the usual order: nothing proposed at this stage
        return []
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
        running_total += amount
        applied.append(_capped(adjustment, amount))
    return applied


#: ``app.extensions`` key of the payment stages: ``[(name, decide)]`` in registration order
PAYMENT_STAGES = "mallow.pricing.payment_stages"
PaymentStage = Callable[[PricingContext, int], "list[Adjustment | Problem] | Adjustment | Problem | None"]


def register_payment_stage(app: Any, name: str, decide: PaymentStage) -> None:
    """Register Mallow's own decision of the ``points`` stage (``create_app`` does, e.g. the
    membership's points): ``decide(context, subtotal)`` is called after the coupon stage with the
    goods total so far (fen) and answers ``Adjustment(stage="points")`` values and/or
    :class:`Problem` values (or None). A stage registered twice under one name is refused."""
    stages = app.extensions.setdefault(PAYMENT_STAGES, [])
    if any(known == name for known, _decide in stages):
        raise ValueError(f"payment stage {name!r} is registered already")
    stages.append((name, decide))


def _payments(context: PricingContext, subtotal: int, problems: list[Problem]) -> list[Adjustment]:
    """The points stage: every registered payment stage's answer, decided like the coupon stage
    (capped so the running total never goes below zero)."""
    found: list[Adjustment] = []
    for name, decide in current_app.extensions.get(PAYMENT_STAGES, ()):
        for item in _items(decide(context, subtotal) or []):
            if isinstance(item, Problem):
                if item not in problems:
                    problems.append(item)
            elif isinstance(item, Adjustment) and item.stage == "points":
                found.append(item)
            else:
                raise TypeError(f"payment stage {name} answered {item!r}, not a points adjustment or a problem")
    return _decide_stage(found, subtotal)


def price(context: PricingContext) -> PricedOrder:
    problems: list[Problem] = []
    failed = plugin_failed(problems)  # a plugin that fails becomes a "plugin_failed" problem
    # the store's implementations, and the plugins this checkout leaves out, looked up once for
    # every hook call below
    relay = _Relay(hooks(), guard.skipped_for(context))
    problems += _problems(relay, failed, context)

    priced_lines = []
    items_total = subtotal = 0
    for line in context.lines:
        line_total = line.base_total
        items_total += line_total
        proposals = _proposals(
            relay, "mallow_line_adjustments", failed, ("line",), context, {"context": context, "line": line}
        )
        best = _best_discount([p for p in proposals if p.line_index == line.index]) if proposals else None
        adjustments = []
        if best is not None:
            amount = max(best.amount, -line_total)
            adjustments.append(Adjustment("line", best.source, best.code, best.label, amount, line.index))
            line_total += amount
        priced_lines.append(PricedLine(line, adjustments))
        subtotal += line_total

    context.priced_lines = priced_lines  # what the order and coupon stages see of each line
    order_proposals = _proposals(
        relay,
        "mallow_order_adjustments",
        failed,
        ("order", "coupon"),
        context,
        {"context": context, "subtotal": subtotal},
        problems,
    )
    applied: list[Adjustment] = []
    if order_proposals:
        for stage in ("order", "coupon"):
            decided = _decide_stage([p for p in order_proposals if p.stage == stage], subtotal)
            subtotal += sum(a.amount for a in decided)
            applied.extend(decided)

    paid = _payments(context, subtotal, problems)  # points: after coupons, never on shipping
    applied.extend(paid)
    total = subtotal + sum(a.amount for a in paid)

    shipping = _shipping(relay, failed, context, subtotal)
    if isinstance(shipping, Problem):
        problems.append(shipping)
    elif isinstance(shipping, Adjustment) and shipping.amount:
        applied.append(shipping)
        total += shipping.amount
    priced = PricedOrder(priced_lines, applied, problems)
    # ``items_total`` and ``total`` are the result's, added up as they were decided (asking the
    # result would add every line and adjustment up twice more): whose doing is a total of 0
    # fen is asked only of an order that plugins brought there
    if items_total > 0 and total <= 0:
        problems += rules.zero_total_problems(priced)
    return priced
