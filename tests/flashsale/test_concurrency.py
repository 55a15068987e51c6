"""The must-show: 100 units, 2,000 concurrent buy attempts from 500 shoppers → exactly 100 units
sold and no shopper over the limit; with the Redis gate (PostgreSQL + Redis), with the gate's
keys deleted in the middle of the run, and without Redis (the embedded default: the database's
conditional UPDATE alone), on SQLite and PostgreSQL."""

from __future__ import annotations

import concurrent.futures
import random
import threading
import time
from collections import Counter

import pytest
import sqlalchemy as sa

from .conftest import OPEN_LIMITS, buy, create_sale, enabled_store, in_store, make_shoppers, product

UNITS, ATTEMPTS, SHOPPERS, PER_SHOPPER = 100, 2000, 500, 2
OK_REFUSALS = {"sold_out", "not_enough", "pending_order", "limit_reached"}


def _stampede(app, shop, sale_id, sku, shoppers, on_progress=None, workers=16):
    """ATTEMPTS buy attempts from the shoppers, in random order, on ``workers`` threads."""
    rng = random.Random(4)
    plan = [(shoppers[i % len(shoppers)], rng.choice((1, 1, 2))) for i in range(ATTEMPTS)]
    rng.shuffle(plan)
    done = Counter()
    lock = threading.Lock()

    def attempt(task):
        (token, address, customer_id), quantity = task
        response = buy(app.test_client(), shop, sale_id, token, address, sku, quantity=quantity)
        body = response.get_json() or {}
        with lock:
            done["n"] += 1
            if on_progress:
                on_progress(done["n"])
        return customer_id, quantity, response.status_code, body.get("error")

    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
        results = list(pool.map(attempt, plan))
    return results, time.monotonic() - started


def _truth(app, shop, sale_id, sku):
    from mallow.db import db
    from mallow.orders.checkout import sku_stock
    from mallow.orders.models import Order, OrderAdjustment
    from mallow_flashsale.models import PendingOrder, Purchase, SaleItem

    def read():
        item = db.session.execute(sa.select(SaleItem).where(SaleItem.sale_id == sale_id)).scalar_one()
        per_shopper = dict(
            db.session.execute(
                sa.select(Purchase.customer_id, sa.func.sum(Purchase.quantity))
                .where(Purchase.sale_id == sale_id)
                .group_by(Purchase.customer_id)
            ).all()
        )
        pending = Counter(
            db.session.execute(sa.select(PendingOrder.customer_id).where(PendingOrder.sale_id == sale_id)).scalars()
        )
        flash_orders = db.session.execute(
            sa.select(sa.func.count(sa.distinct(OrderAdjustment.order_id))).where(OrderAdjustment.source == "flashsale")
        ).scalar()
        orders = db.session.execute(sa.select(sa.func.count()).select_from(Order)).scalar()
        return {
            "remaining": item.remaining,
            "per_shopper": per_shopper,
            "pending": pending,
            "flash_orders": flash_orders,
            "orders": orders,
            "stock": sku_stock(sku),
        }

    return in_store(app, shop, read)


def _check(results, truth, stock_before):
    sold_by_answers = sum(quantity for _c, quantity, status, _e in results if status == 201)
    refusals = Counter(error for _c, _q, status, error in results if status != 201)
    assert set(refusals) <= OK_REFUSALS, refusals  # never a 500, never a rate limit here
    assert sold_by_answers == UNITS
    assert truth["remaining"] == 0
    assert sum(truth["per_shopper"].values()) == UNITS
    assert max(truth["per_shopper"].values()) <= PER_SHOPPER
    assert max(truth["pending"].values()) == 1  # one unpaid order per shopper
    assert truth["stock"] == stock_before - UNITS
    assert truth["flash_orders"] == truth["orders"] == sum(1 for r in results if r[2] == 201)
    return refusals


def _sale(app, settings=None):
    shop = enabled_store(app, dict(OPEN_LIMITS, **(settings or {})))
    sku = product(app, shop, price=5999, stock=1000)
    sale = create_sale(
        app, shop, [{"sku_id": sku, "sale_price": 99, "quota": UNITS}], per_order=2, per_shopper=PER_SHOPPER
    )
    return shop, sku, sale["id"], make_shoppers(app, shop, SHOPPERS)


@pytest.mark.postgres
@pytest.mark.redis
def test_2000_attempts_on_100_units_with_the_redis_gate(fs_redis_app, redis_prefix):
    app = fs_redis_app
    shop, sku, sale_id, shoppers = _sale(app)
    results, _seconds = _stampede(app, shop, sale_id, sku, shoppers)
    truth = _truth(app, shop, sale_id, sku)
    refusals = _check(results, truth, 1000)
    # the gate agrees with the database once the periodic sweep re-seeded it: while the first
    # attempts raced the seeding, a few went to the database ungated, and a gate seeded from a
    # read older than their commits holds their units too (it may let a few more attempts through
    # to be refused by the database, never oversell: gate.py); and it turned most of the crowd away
    import redis

    from mallow_flashsale import sweep, timing

    in_store(app, shop, lambda: sweep.run(shop.store_id, timing.now()))
    client = redis.Redis.from_url(app.config["FLASHSALE_REDIS_URL"])
    [rem_key] = list(client.scan_iter(match=f"{redis_prefix}:*:rem"))
    assert {k: int(v) for k, v in client.hgetall(rem_key).items() if not k.startswith(b"_")} == {
        b"%d" % _item_id(app, shop, sale_id): 0
    }
    assert refusals["sold_out"] > ATTEMPTS / 2


def _item_id(app, shop, sale_id):
    from mallow.db import db
    from mallow_flashsale.models import SaleItem

    return in_store(
        app, shop, lambda: db.session.execute(sa.select(SaleItem.id).where(SaleItem.sale_id == sale_id)).scalar()
    )


@pytest.mark.postgres
@pytest.mark.redis
def test_the_gate_keys_deleted_mid_run_still_sell_exactly_the_quota(fs_redis_app, redis_prefix):
    import redis

    app = fs_redis_app
    client = redis.Redis.from_url(app.config["FLASHSALE_REDIS_URL"])
    shop, sku, sale_id, shoppers = _sale(app)
    wiped = threading.Event()

    def wipe(done):  # twice: early in the rush, and later while units are still being sold
        if done in (60, 400):
            keys = list(client.scan_iter(match=f"{redis_prefix}:*"))
            if keys:
                client.delete(*keys)
            wiped.set()

    results, _seconds = _stampede(app, shop, sale_id, sku, shoppers, on_progress=wipe)
    assert wiped.is_set()
    _check(results, _truth(app, shop, sale_id, sku), 1000)


def test_2000_attempts_on_100_units_without_redis(fs_app):
    app = fs_app
    assert not app.config.get("REDIS_URL") and not app.config.get("FLASHSALE_REDIS_URL")
    shop, sku, sale_id, shoppers = _sale(app)
    results, _seconds = _stampede(
        app, shop, sale_id, sku, shoppers, workers=8 if app.mallow_backend == "sqlite" else 16
    )
    refusals = _check(results, _truth(app, shop, sale_id, sku), 1000)
    assert refusals["sold_out"] > ATTEMPTS / 2  # answered from the sold-out flag
