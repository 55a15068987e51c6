"""Group-buy arithmetic: integer fen and basis points only, one rounding per unit price.

Rates are basis points of the SKU's price (``9500`` = 95 %). A ladder is a list of tiers
``[{"size": 2, "bp": 9500}, {"size": 3, "bp": 9000}, {"size": 5, "bp": 8000}]``:

* **tier for a headcount** — the tier with the largest ``size`` not above the headcount; below
  the first tier, the first tier (so the leader, alone at opening, pays the first rung);
* **unit price** — ``price × tier × (1 − leader)``, computed exactly in integers and rounded
  **once, half up, to the fen** (``unit_price``); a line costs ``unit × quantity``, so members
  who buy the same SKU at the same tier pay the same per unit, and refunds are exact;
* **price at joining** — a member pays the tier of their seat (``seats`` held + 1);
* **settlement** — when the group succeeds every member's per-unit price is recomputed with the
  final tier (the real paid headcount) and ``max(0, paid − final) × quantity`` is refunded.
  Prices never rise: a member never pays more later, whatever happens.
"""

from __future__ import annotations

BP = 10_000


def tier_for(tiers: list[dict], headcount: int) -> int:
    """The rate (basis points) for ``headcount`` members."""
    ordered = sorted(tiers, key=lambda tier: tier["size"])
    rate = ordered[0]["bp"]
    for tier in ordered:
        if tier["size"] <= headcount:
            rate = tier["bp"]
    return rate


def unit_price(price: int, tier_bp: int, leader_bp: int = 0) -> int:
    """Per-unit group price in fen: ``price × tier_bp/10⁴ × (10⁴ − leader_bp)/10⁴``, rounded
    half up once. Integers only: ``unit_price(1999, 9500)`` is 1899 (1899.05 → 1899)."""
    if type(price) is not int or type(tier_bp) is not int or type(leader_bp) is not int:
        raise TypeError("group-buy prices are integer fen and integer basis points")
    scale = BP * BP
    return (price * tier_bp * (BP - leader_bp) + scale // 2) // scale


def difference(paid_unit: int, final_unit: int, quantity: int) -> int:
    """What settlement gives back for one member (never negative)."""
    return max(0, paid_unit - final_unit) * quantity


def percent_text(bp: int) -> str:
    """``9500`` → ``95%``, ``9250`` → ``92.5%``, ``8875`` → ``88.75%``."""
    whole, rest = divmod(int(bp), 100)
    return f"{whole}%" if rest == 0 else f"{whole}.{rest:02d}".rstrip("0") + "%"


def parse_percent(raw) -> int | None:
    """``"95"`` / ``"92.5"`` / ``"88.75"`` → basis points; None when it is not such a number."""
    text = str(raw if raw is not None else "").strip().rstrip("%").strip()
    whole, _, fraction = text.partition(".")
    if not whole.isdigit() or (fraction and (not fraction.isdigit() or len(fraction) > 2)):
        return None
    return int(whole) * 100 + int((fraction + "00")[:2])
