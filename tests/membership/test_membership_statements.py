"""What membership adds to placing an order, counted: a store whose programme is off adds
nothing (tests/orders/test_placement_statements.py keeps its counts); a member with a level and
points costs a fixed number of statements more, whatever the order holds — the member row and
level once, the points debited and written in the ledger — so a new query has to be argued for."""

from __future__ import annotations

import pytest

from mallow.testing import make_store
from mallow.testing.sql import listing, statements

from .conftest import Mall

#: createOrder's statements, warm, for a member with a level (9.5 折) using points from one lot;
#: the bearer token's lookup is the request's and is left out. Beside an order without membership
#: (tests/orders/test_placement_statements.py: 3 on PostgreSQL, the stock with the COMMIT; 8 on
#: SQLite) it adds 4: the level
#: and the balance come with the order's own read (``orders.checkout.register_read``, wired in
#: the composition root), then the balance debited (one conditional UPDATE), the lots read, the
#: lot spent, the ledger entry written.
STATEMENTS = {"postgresql": 7, "sqlite": 12}


@pytest.fixture
def mall(app):
    mall = Mall(app, make_store(app), earn_per_yuan=1, points_per_yuan=100, redeem_cap_percent=50)
    mall.level(name="金卡", threshold=0, discount_percent=95)
    return mall


def _placed(mall, buyer, skus, options) -> tuple[dict, list[str]]:
    body = {"items": [{"sku_id": s, "quantity": 1} for s in skus], "address_id": buyer.address, "options": options}
    with statements() as seen:
        response = mall.client.post(
            f"{mall.shop.prefix}/api/orders", headers={"Authorization": f"Bearer {buyer.token}"}, json=body
        )
    assert response.status_code == 201, response.get_json()
    return response.get_json(), [s for s in seen if ".customer_sessions" not in s]


@pytest.mark.parametrize("lines", [1, 3])
def test_a_member_using_points_costs_a_fixed_number_of_statements(mall, lines):
    buyer = mall.shopper()
    mall.adjust(buyer, 100_000)
    skus = [mall.product(price=10_000 + n) for n in range(lines)]
    _placed(mall, buyer, skus[:1], {"points": "max"})  # per-process caches warm
    order, seen = _placed(mall, buyer, skus, {"points": "max"})
    codes = {a["code"].split(":")[0] for a in order["adjustments"]}
    assert "points" in codes, order["adjustments"]
    assert len(seen) == STATEMENTS[mall.app.mallow_backend], listing(seen)
