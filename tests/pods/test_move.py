"""``mallow store move``: a store's schema to another pod with a short write freeze, under traffic,
failing cleanly, and learnt by every process."""

from __future__ import annotations

import threading
import time
import uuid

import pytest
import sqlalchemy as sa

from mallow.testing import (
    JobRecorder,
    bearer,
    dispose_app,
    make_product,
    make_shopper,
    make_store,
    restart_app,
    run_cli,
)
from tests.pods.conftest import POD2, platform_url, pod_of, rows, schemas


def _checksums(app, store_id: int) -> dict:
    from mallow.stores.archive.tables import store_checksums

    with app.app_context():
        return store_checksums(store_id)


def _order(client, shop, token, address, sku, key=None):
    headers = bearer(token) | ({"Idempotency-Key": key} if key else {})
    return client.post(
        f"{shop.prefix}/api/orders",
        headers=headers,
        json={"items": [{"sku_id": sku, "quantity": 1}], "address_id": address},
    )


def _audit(app, store_id: int) -> list[str]:
    from mallow.audit import AuditEntry
    from mallow.db import db

    with app.app_context():
        return list(
            db.session.execute(
                sa.select(AuditEntry.action)
                .where(AuditEntry.store_id == store_id, AuditEntry.action.like("store.move%"))
                .order_by(AuditEntry.id)
            ).scalars()
        )


def test_store_move_copies_every_row_drops_the_old_schema_and_the_store_works_after(pods_app):
    shop = make_store(pods_app)
    client = pods_app.test_client()
    [sku] = make_product(pods_app, shop, title="搬家前的货", price=1200, stock=9)
    token, address = make_shopper(client, shop)
    first = _order(client, shop, token, address, sku)
    assert first.status_code == 201
    schema = f"store_{shop.store_id}"
    before = _checksums(pods_app, shop.store_id)

    output = run_cli(pods_app, "store", "move", shop.slug, "--to", POD2)

    assert f"{shop.slug} moved from main to {POD2}" in output
    assert "counts and checksums equal" in output
    assert pod_of(pods_app, shop.store_id) == (POD2, None)
    assert schema not in schemas(platform_url(pods_app))  # the old schema is gone
    assert schema in schemas(pods_app.pod2_url)
    assert _checksums(pods_app, shop.store_id) == before  # read from pod2 now
    assert _audit(pods_app, shop.store_id) == ["store.move_started", "store.moved"]
    # the storefront, the shopper's session (sign-ins move too) and new writes, on pod2
    assert "搬家前的货" in client.get(f"{shop.prefix}/").get_data(as_text=True)
    listed = client.get(f"{shop.prefix}/api/orders", headers=bearer(token)).get_json()["items"]
    assert [o["id"] for o in listed] == [first.get_json()["id"]]
    second = _order(client, shop, token, address, sku)
    assert second.status_code == 201
    assert second.get_json()["id"] > first.get_json()["id"]  # the id sequence moved on with the rows
    assert sorted(r[0] for r in rows(pods_app.pod2_url, f'SELECT id FROM "{schema}".orders')) == [
        first.get_json()["id"],
        second.get_json()["id"],
    ]
    # and back to the platform's database
    run_cli(pods_app, "store", "move", shop.slug, "--to", "main")
    assert pod_of(pods_app, shop.store_id) == (None, None)
    assert schema not in schemas(pods_app.pod2_url)
    assert len(client.get(f"{shop.prefix}/api/orders", headers=bearer(token)).get_json()["items"]) == 2


def test_a_move_under_traffic_loses_no_order_and_duplicates_none(pods_app, monkeypatch):
    from mallow.stores import move

    shop = make_store(pods_app)
    [sku] = make_product(pods_app, shop, title="抢购中的货", price=990, stock=10_000)
    shoppers = [make_shopper(pods_app.test_client(), shop) for _ in range(4)]
    answered: list[tuple[int, str]] = []  # (order id, idempotency key) of every 201
    refused: list[int] = []  # every 503 (retried)
    other: list[tuple[int, str]] = []
    lock = threading.Lock()
    every_thread_placed = threading.Barrier(len(shoppers) + 1)
    saw_freeze, moved = threading.Event(), threading.Event()

    def traffic(token, address):
        client = pods_app.test_client()
        placed = 0
        while not moved.is_set() or placed < 3:  # until the move is over, and a few orders after
            key = uuid.uuid4().hex  # one key per order: a retry is the same order
            while True:
                response = _order(client, shop, token, address, sku, key)
                if response.status_code == 201:
                    with lock:
                        answered.append((response.get_json()["id"], key))
                    break
                if response.status_code == 503:
                    assert response.headers.get("Retry-After")
                    with lock:
                        refused.append(1)
                    saw_freeze.set()
                    time.sleep(0.02)  # a real client waits Retry-After seconds (not for correctness)
                    continue
                with lock:
                    other.append((response.status_code, response.get_data(as_text=True)[:300]))
                return
            placed += 1
            if placed == 1:
                every_thread_placed.wait(timeout=60)

    real_copy = move.copy_table

    def copy_while_refusing(source, target, table, held, later):
        saw_freeze.wait(timeout=60)  # the freeze is committed: let the traffic meet it first
        return real_copy(source, target, table, held, later)

    monkeypatch.setattr(move, "copy_table", copy_while_refusing)
    threads = [threading.Thread(target=traffic, args=shopper) for shopper in shoppers]
    for thread in threads:
        thread.start()
    every_thread_placed.wait(timeout=60)  # traffic is flowing
    try:
        output = run_cli(pods_app, "store", "move", shop.slug, "--to", POD2)
    finally:
        moved.set()
        for thread in threads:
            thread.join(timeout=120)

    assert other == []
    assert "moved from main to pod2" in output
    assert saw_freeze.is_set() and refused  # writes met the freeze, and were retried
    assert len(answered) >= len(shoppers) * 4
    schema = f"store_{shop.store_id}"
    stored = rows(pods_app.pod2_url, f'SELECT id, idempotency_key FROM "{schema}".orders ORDER BY id')
    assert sorted(answered) == stored  # every 201 is on the new pod, exactly once; nothing else is
    assert len({key for _id, key in stored}) == len(stored)
    stock = rows(pods_app.pod2_url, f'SELECT stock FROM "{schema}".skus WHERE id = {sku}')[0][0]
    assert stock == 10_000 - len(stored)
    assert schema not in schemas(platform_url(pods_app))


def test_a_move_that_fails_mid_copy_leaves_the_store_on_its_pod_and_unfrozen(pods_app, monkeypatch):
    from mallow.stores import move

    shop = make_store(pods_app)
    client = pods_app.test_client()
    [sku] = make_product(pods_app, shop, price=500, stock=20)
    token, address = make_shopper(client, shop)
    assert _order(client, shop, token, address, sku).status_code == 201
    before = _checksums(pods_app, shop.store_id)
    real_copy = move.copy_table
    copied = []

    def copy_then_lose_the_target(source, target, table, held, later):
        count = real_copy(source, target, table, held, later)
        copied.append(table.name)
        if len(copied) == 3:  # the target's connection dies mid-copy (a failover, a kill)
            killer = sa.create_engine(pods_app.pod2_url, poolclass=sa.pool.NullPool)
            with killer.connect() as connection:
                connection.execute(
                    sa.text("SELECT pg_terminate_backend(:pid)"),
                    {"pid": target.connection.dbapi_connection.info.backend_pid},
                )
            killer.dispose()
        return count

    monkeypatch.setattr(move, "copy_table", copy_then_lose_the_target)
    output = run_cli(pods_app, "store", "move", shop.slug, "--to", POD2, code=1)

    assert "not moved" in output and "stays on main" in output
    assert pod_of(pods_app, shop.store_id) == (None, None)  # where it was, not frozen
    assert f"store_{shop.store_id}" not in schemas(pods_app.pod2_url)  # the half-made schema is gone
    assert _checksums(pods_app, shop.store_id) == before
    assert _audit(pods_app, shop.store_id) == ["store.move_started", "store.move_failed"]
    assert _order(client, shop, token, address, sku).status_code == 201  # writes work again


def test_a_move_to_a_pod_out_of_reach_changes_nothing(pods_app):
    from mallow.db import db
    from mallow.tenants.models import Pod

    shop = make_store(pods_app)
    with pods_app.app_context():  # recorded while it answered; it does not now
        db.session.add(Pod(name="gone", url="postgresql://postgres@127.0.0.1:1/nothing", capacity=10, state="draining"))
        db.session.commit()
        db.session.get(Pod, "gone").state = "open"
        db.session.commit()
    try:
        output = run_cli(pods_app, "store", "move", shop.slug, "--to", "gone", code=1)
        assert "pod gone does not answer" in output
        assert pod_of(pods_app, shop.store_id) == (None, None)
        assert _audit(pods_app, shop.store_id) == []
    finally:
        with pods_app.app_context():
            db.session.delete(db.session.get(Pod, "gone"))
            db.session.commit()


def test_writes_are_refused_with_retry_after_and_reads_served_and_jobs_postponed_while_frozen(pods_app):
    from mallow.db import db
    from mallow.jobs.registry import execute
    from mallow.tenants.models import Store

    shop = make_store(pods_app)
    client = pods_app.test_client()
    [sku] = make_product(pods_app, shop, title="冻结中的货", price=800, stock=3)
    token, address = make_shopper(client, shop)
    with pods_app.app_context():
        db.session.get(Store, shop.store_id).moving_to = POD2  # what a move's freeze commits
        db.session.commit()
    recorder, runner = JobRecorder(), pods_app.extensions["mallow.jobs"]
    pods_app.extensions["mallow.jobs"] = recorder
    try:
        refused = _order(client, shop, token, address, sku)
        assert refused.status_code == 503
        assert refused.headers["Retry-After"] == "2"
        assert refused.get_json()["error"] == "busy"
        assert "正在迁移" in refused.get_json()["message"]  # zh_CN, the default
        assert "冻结中的货" in client.get(f"{shop.prefix}/").get_data(as_text=True)  # reads go on
        assert client.get(f"{shop.prefix}/api/orders", headers=bearer(token)).status_code == 200
        assert execute(pods_app, "inventory.low_stock", {"store_id": shop.store_id, "sku_ids": [sku]}) is None
        assert recorder.queued == [("inventory.low_stock", {"store_id": shop.store_id, "sku_ids": [sku]})]
    finally:
        pods_app.extensions["mallow.jobs"] = runner
        with pods_app.app_context():
            db.session.get(Store, shop.store_id).moving_to = None
            db.session.commit()
    assert _order(client, shop, token, address, sku).status_code == 201


@pytest.fixture
def second_process(pods_app):
    """Another app on the same databases and data dir: what another node sees."""
    other = restart_app(pods_app)
    yield other
    dispose_app(other, drop_database=False)


def test_another_process_routes_to_the_new_pod_once_the_stamp_moved(pods_app, second_process):
    shop = make_store(pods_app)
    [sku] = make_product(pods_app, shop, title="别处也知道", price=700, stock=10)
    other = second_process.test_client()
    token, address = make_shopper(other, shop)
    assert "别处也知道" in other.get(f"{shop.prefix}/").get_data(as_text=True)  # it keeps the store (main)
    with second_process.app_context():
        engines = second_process.extensions["mallow.store_engines"]
        assert engines.pod_of(shop.store_id) is None

    run_cli(pods_app, "store", "move", shop.slug, "--to", POD2)  # the first "process" moves it

    page = other.get(f"{shop.prefix}/")
    assert page.status_code == 200 and "别处也知道" in page.get_data(as_text=True)
    placed = _order(other, shop, token, address, sku)
    assert placed.status_code == 201
    with second_process.app_context():
        assert engines.pod_of(shop.store_id) == POD2
    schema = f"store_{shop.store_id}"
    assert [r[0] for r in rows(pods_app.pod2_url, f'SELECT id FROM "{schema}".orders')] == [placed.get_json()["id"]]
