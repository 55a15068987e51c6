"""How long an order still has: the seconds left until its pay deadline, for the cashier's and
the order page's countdown (template global ``order_seconds_left``)."""

from __future__ import annotations

from datetime import datetime, UTC


def seconds_left(order) -> int:
    """Whole seconds until the order's pay deadline (0 once it passed)."""
    deadline = order.pay_deadline
    if deadline is None:
        return 0
    if deadline.tzinfo is None:
        deadline = deadline.replace(tzinfo=UTC)
    return max(0, int((deadline - datetime.now(UTC)).total_seconds()))
