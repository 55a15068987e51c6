"""The values that flow through pricing: inputs, proposals, problems, the result."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

#: in the order they are decided; ``points`` is the last price stage, for what pays part of the
#: goods (points, stored value): decided by payment stages (:func:`mallow.pricing.pipeline.
#: register_payment_stage`) with the total after coupons known, never on shipping
STAGES = ("line", "order", "coupon", "points", "shipping")


@dataclass(frozen=True)
class PricingLine:
    index: int
    sku_id: int
    product_id: int
    title: str
    spec_key: str
    unit_price: int
    quantity: int
    weight_g: int
    shipping_template_id: int | None

    @property
    def base_total(self) -> int:
        return self.unit_price * self.quantity


@dataclass
class PricingContext:
    """Fetched once and handed to every hook: nothing in it changes while pricing, but the
    payment window a hook may shorten (:meth:`pay_within`)."""

    store_id: int
    customer_id: int | None
    lines: list[PricingLine]
    province: str | None = None
    options: dict[str, Any] = field(default_factory=dict)  # e.g. {"coupon": "…", "groupbuy": {...}}
    #: the lines as the line stage priced them (each with its admitted line adjustment), filled by
    #: the pipeline before it asks for order- and coupon-stage proposals; None before that
    priced_lines: list[PricedLine] | None = field(default=None, repr=False, compare=False)
    #: the latest the order must be paid by, as hooks asked (:meth:`pay_within`); None: the
    #: store's own window (``unpaid_order_minutes``)
    pay_by: datetime | None = field(default=None, compare=False)

    def pay_within(self, deadline: datetime) -> None:
        """The order priced here must be paid by ``deadline`` (timezone-aware) at the latest: a
        sale's short payment window. Asked during pricing (``mallow_validate_checkout`` or an
        adjustments hook), it is written with the order itself; the earliest deadline any hook
        asks for wins, and the store's own window when that ends sooner. A quote asks too and
        writes nothing. (A naive ``deadline`` is taken as UTC.)"""
        if deadline.tzinfo is None:
            deadline = deadline.replace(tzinfo=UTC)
        if self.pay_by is None or deadline < self.pay_by:
            self.pay_by = deadline


@dataclass(frozen=True)
class Adjustment:
    stage: str
    source: str
    code: str
    label: str
    amount: int
    line_index: int | None = None
    exclusive_group: str | None = None

    def __post_init__(self) -> None:
        if self.stage not in STAGES:
            raise ValueError(f"unknown stage {self.stage!r}")
        if type(self.amount) is not int:
            raise TypeError(f"adjustment amounts are integer fen, got {self.amount!r} from {self.source}")
        if self.stage == "line" and self.line_index is None:
            raise ValueError("a line adjustment names its line")


@dataclass(frozen=True)
class Problem:
    code: str
    message: str
    line_index: int | None = None


def plugin_failed(problems: list[Problem]) -> Callable[[str], None]:
    """What :func:`mallow.plugins.faults.call_hook` does for pricing and checkout when a plugin
    raises: one ``plugin_failed`` problem per failing plugin, added to ``problems``."""

    def add(message: str) -> None:
        problem = Problem("plugin_failed", message)
        if problem not in problems:
            problems.append(problem)

    return add


@dataclass
class PricedLine:
    line: PricingLine
    adjustments: list[Adjustment]

    @property
    def total(self) -> int:
        return self.line.base_total + sum(a.amount for a in self.adjustments)


@dataclass
class PricedOrder:
    lines: list[PricedLine]
    adjustments: list[Adjustment]  # order, coupon, points and shipping stages
    problems: list[Problem]

    @property
    def items_total(self) -> int:
        return sum(p.line.base_total for p in self.lines)

    @property
    def all_adjustments(self) -> list[Adjustment]:
        return [a for p in self.lines for a in p.adjustments] + self.adjustments

    @property
    def total(self) -> int:
        """Always ``items_total`` plus every applied adjustment: the receipt adds up."""
        return self.items_total + sum(a.amount for a in self.all_adjustments)
