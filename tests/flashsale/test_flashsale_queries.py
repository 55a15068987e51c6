"""Round trips of a buy attempt while stock lasts, counted (deterministic, unlike timings).

The attempt's own work before the core's ``place_order`` is a token lookup and, with Redis, one
script; without Redis a few cheap reads turn losers away before a write. Inside the order's
transaction the sale costs one read of the sale with its items and three writes (the unpaid
marker, the units with the shopper's limits in one conditional UPDATE, the purchase). An attempt
the gate refuses costs the token lookup and the script, nothing else."""

from __future__ import annotations

from contextlib import contextmanager

import pytest
import sqlalchemy as sa

from .conftest import OPEN_LIMITS, buy, create_sale, enabled_store, make_shoppers, product
from .test_early_answers import counted


@contextmanager
def split_by_checkout(monkeypatch):
    """Counts SQL statements before and inside the core's ``place_order`` (``"outside"``,
    ``"inside"``), those on the plugin's own tables (``"sale"``) and Redis commands. What the
    core does inside ``place_order`` is counted by its own tests (tests/orders)."""
    from mallow_flashsale import buying

    counts = {"outside": 0, "inside": 0, "sale": 0}
    inside = []
    real_place_order = buying.place_order

    def place_order(*args, **kwargs):
        inside.append(True)
        try:
            return real_place_order(*args, **kwargs)
        finally:
            inside.pop()

    def statement(_conn, _cursor, sql, *_args):
        if sql.startswith("BEGIN"):  # SQLite's explicit transaction start (PostgreSQL's is implicit)
            return
        counts["inside" if inside else "outside"] += 1
        counts["sale"] += "flashsale_" in sql

    monkeypatch.setattr(buying, "place_order", place_order)
    with counted() as sent:
        sa.event.listen(sa.engine.Engine, "before_cursor_execute", statement)
        try:
            yield counts
        finally:
            sa.event.remove(sa.engine.Engine, "before_cursor_execute", statement)
            counts["redis"] = sent["redis"]


def _selling(app):
    shop = enabled_store(app, OPEN_LIMITS)
    sku = product(app, shop, stock=100)
    sale = create_sale(app, shop, [{"sku_id": sku, "sale_price": 100, "quota": 10}], per_shopper=2, per_day=2)
    shoppers = make_shoppers(app, shop, 3)
    client = app.test_client()
    token, address, _c = shoppers[0]
    assert buy(client, shop, sale["id"], token, address, sku).status_code == 201  # warm: snapshot, seeded gate
    return shop, sku, sale, shoppers[1:], client


def test_without_redis_a_winning_attempt_reads_a_little_before_its_order(fs_app, monkeypatch):
    shop, sku, sale, [(token, address, _c), _other], client = _selling(fs_app)
    with split_by_checkout(monkeypatch) as counts:
        assert buy(client, shop, sale["id"], token, address, sku).status_code == 201
    # the token; units left, an unpaid order, the shopper's units (the gate's checks, read)
    assert counts["outside"] == 4
    # inside the order: the sale with its items, then the marker, the units, the purchase; plus
    # the outside reads of the plugin's tables (units left, unpaid order, shopper's units)
    assert counts["sale"] == 4 + 3
    assert counts["redis"] == 0


@pytest.mark.postgres
@pytest.mark.redis
def test_with_redis_a_winning_attempt_is_a_token_and_one_script_before_its_order(
    fs_redis_app, redis_prefix, monkeypatch
):
    shop, sku, sale, [(token, address, _c), _other], client = _selling(fs_redis_app)
    with split_by_checkout(monkeypatch) as counts:
        assert buy(client, shop, sale["id"], token, address, sku).status_code == 201
    assert counts["outside"] == 1  # the token
    assert counts["sale"] == 4  # the sale with its items; the marker, the units, the purchase
    assert counts["redis"] == 1  # the gate's script: rates, units, limits, reservation

    with split_by_checkout(monkeypatch) as counts:  # the same shopper again: an unpaid order
        refused = buy(client, shop, sale["id"], token, address, sku)
    assert refused.status_code == 409 and refused.get_json()["error"] == "pending_order"
    assert counts == {"outside": 1, "inside": 0, "sale": 0, "redis": 1}
