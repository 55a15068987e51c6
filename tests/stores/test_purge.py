"""Purging a closed store: its schema or file, media and licence files, Redis keys and queued jobs
go, its row stays (``purged``); a second store's rows, files, keys and jobs are exactly as they
were. Only stores closed longer than the retention are purged by the periodic purge."""

from __future__ import annotations

import io
import uuid
from datetime import datetime, timedelta, UTC
from pathlib import Path

import pytest
import sqlalchemy as sa

from mallow.testing import bearer, make_product, make_shopper, make_store, merchant_token, png_bytes, run_cli
from mallow.testing.payments import place_order


def _stocked_store(app):
    """An open store with a product, an order, and an image in its media library."""
    shop = make_store(app)
    [sku] = make_product(app, shop)
    client = app.test_client()
    token, address = make_shopper(client, shop)
    place_order(client, shop, token, address, sku)
    uploaded = client.post(
        f"{shop.prefix}/api/console/media",
        data={"image": (io.BytesIO(png_bytes()), "a.png")},
        headers=bearer(merchant_token(client, shop)),
        content_type="multipart/form-data",
    )
    assert uploaded.status_code == 201, uploaded.get_json()
    return shop


def _close(app, shop):
    from mallow.db import db
    from mallow.stores.lifecycle import close
    from mallow.tenants.models import Store

    with app.app_context():
        close(db.session.get(Store, shop.store_id), "cli", "测试关闭")


def _files(app, shop) -> dict[str, int]:
    """Every file of the store under the data dir: path → size."""
    from mallow.stores.purge import store_folders

    found = {}
    for folder in store_folders(app, shop.store_id):
        for path in folder.rglob("*") if folder.is_dir() else ():
            if path.is_file():
                found[str(path)] = path.stat().st_size
    return found


def _row_counts(app, shop) -> dict[str, int]:
    from mallow.catalog.models import Product, Sku
    from mallow.db import db
    from mallow.media.models import MediaAsset
    from mallow.orders.models import Order, OrderLine
    from mallow.tenants.context import store_context

    with store_context(shop.store_id, app=app):
        return {
            model.__tablename__: db.session.execute(sa.select(sa.func.count()).select_from(model)).scalar_one()
            for model in (Product, Sku, Order, OrderLine, MediaAsset)
        }


def _has_own_database(app, shop) -> bool:
    from mallow.db import db
    from mallow.tenants.engines import schema_name

    engines = app.extensions["mallow.store_engines"]
    if not engines.is_postgresql:
        return engines.sqlite_path(shop.store_id).exists()
    with app.app_context():
        return (
            db.session.execute(
                sa.text("SELECT count(*) FROM pg_namespace WHERE nspname = :name"), {"name": schema_name(shop.store_id)}
            ).scalar_one()
            == 1
        )


def _store_row(app, shop):
    from mallow.db import db
    from mallow.tenants.models import Store

    with app.app_context():
        row = db.session.get(Store, shop.store_id)
        return row.status, row.purged_at


@pytest.mark.redis
def test_purge_removes_everything_of_the_store_and_nothing_of_another(app, redis_url, monkeypatch):
    from redis import Redis

    from mallow.audit import AuditEntry
    from mallow.db import db
    from mallow.jobs.runners import RqRunner
    from mallow.stores import purge

    # given two stores with rows, media and licence files, Redis keys and queued jobs
    gone, kept = _stocked_store(app), _stocked_store(app)
    prefix = f"t{uuid.uuid4().hex[:10]}"
    monkeypatch.setitem(app.config, "SESSION_MIRROR_PREFIX", prefix)
    redis = Redis.from_url(redis_url)
    runner = RqRunner(app, redis_url, queue_name=f"mallow-test-{uuid.uuid4().hex}")
    monkeypatch.setitem(app.extensions, "mallow.jobs", runner)

    def keys_of(store_id: int) -> list[str]:
        return [
            f"{prefix}:sess-of:{store_id}:7",
            f"{prefix}:sess:{prefix}-digest-{store_id}",  # listed in the set above
            f"{prefix}:sess-gone-c:{store_id}:8",
            f"{prefix}:LIMITER/login:store:{store_id}:13900001111",
            f"{prefix}:flashsale:{{{store_id}:3}}:rem",
        ]

    decoy_id = gone.store_id * 10 + 1  # starts with the purged store's digits, is another store
    for store_id in (gone.store_id, kept.store_id, decoy_id):
        first, second, *rest = keys_of(store_id)
        redis.sadd(first, f"{prefix}-digest-{store_id}")
        for key in (second, *rest):
            redis.set(key, 1, ex=600)
    for shop in (gone, kept):
        runner.enqueue("inventory.low_stock", store_id=shop.store_id, sku_ids=[1])
        runner.enqueue("inventory.low_stock", delay=3600, store_id=shop.store_id, sku_ids=[2])
    gone_files, kept_files, kept_rows = _files(app, gone), _files(app, kept), _row_counts(app, kept)
    assert any("/qualifications/" in path for path in gone_files)  # the licence image
    assert any("/media/" in path for path in gone_files)  # the library's image
    assert _has_own_database(app, gone)

    # when the closed store is purged
    _close(app, gone)
    try:
        with app.app_context():
            removed = purge.purge(db.session.get(purge.Store, gone.store_id), "cli", redis=redis)

        # then everything of it is gone
        assert removed == {"jobs": 2, "files": len(gone_files), "redis_keys": 5}
        assert not _has_own_database(app, gone)
        assert _files(app, gone) == {} and not any(Path(path).exists() for path in gone_files)
        assert [key for key in keys_of(gone.store_id) if redis.exists(key)] == []
        status, purged_at = _store_row(app, gone)
        assert status == "purged" and purged_at is not None
        with app.app_context():
            entry = db.session.execute(
                sa.select(AuditEntry).where(AuditEntry.store_id == gone.store_id, AuditEntry.action == "store.purged")
            ).scalar_one()
            assert entry.detail == removed
        assert app.test_client().get(f"{gone.prefix}/").status_code == 404

        # and the other store (and the decoy's keys) exactly as they were
        assert _has_own_database(app, kept)
        assert _row_counts(app, kept) == kept_rows and _files(app, kept) == kept_files
        assert all(redis.exists(key) for key in keys_of(kept.store_id) + keys_of(decoy_id))
        queued = [runner.queue.fetch_job(i).args[1]["store_id"] for i in runner.queue.get_job_ids()]
        from rq.registry import ScheduledJobRegistry

        scheduled = ScheduledJobRegistry(queue=runner.queue).get_job_ids()
        assert queued == [kept.store_id] and len(scheduled) == 1
        assert runner.queue.fetch_job(scheduled[0]).args[1]["store_id"] == kept.store_id
        assert app.test_client().get(f"{kept.prefix}/").status_code == 200
    finally:
        for store_id in (gone.store_id, kept.store_id, decoy_id):
            redis.delete(*keys_of(store_id))
        runner.queue.empty()
        runner.close()
        redis.close()


def test_only_stores_closed_longer_than_the_retention_are_purged(app):
    from mallow.db import db
    from mallow.stores import purge

    old, recent, still_open = make_store(app), make_store(app), make_store(app)
    _close(app, old)
    _close(app, recent)
    ids = [old.store_id, recent.store_id, still_open.store_id]
    with app.app_context():
        db.session.execute(
            sa.update(purge.Store)
            .where(purge.Store.id == old.store_id)
            .values(closed_at=datetime.now(UTC) - timedelta(days=31), purge_after=datetime.now(UTC) - timedelta(days=1))
        )
        db.session.commit()
        results = purge.purge_due("cli", store_ids=ids)
    assert list(results) == [old.slug] and isinstance(results[old.slug], dict)
    assert _store_row(app, old)[0] == "purged" and not _has_own_database(app, old)
    assert _store_row(app, recent)[0] == "closed" and _has_own_database(app, recent)
    assert _store_row(app, still_open)[0] == "open" and _has_own_database(app, still_open)

    # the retention, 30 days by default, counts from the close
    with app.app_context():
        purge_after = db.session.get(purge.Store, recent.store_id).purge_after
        assert purge.due(purge_after - timedelta(seconds=1), ids) == []
        assert [s.id for s in purge.due(purge_after + timedelta(seconds=1), ids)] == [recent.store_id]


def test_the_store_commands_close_and_purge_one_store(app):
    shop = make_store(app)
    assert {"close", "purge", "list"} <= set(
        line.split()[0] for line in run_cli(app, "store", "--help").split("Commands:")[1].splitlines() if line.strip()
    )
    run_cli(app, "store", "purge", "--slug", shop.slug, "--yes", code=1)  # open: close it first
    assert "closed" in run_cli(app, "store", "close", shop.slug, "--reason", "运营关闭")
    run_cli(app, "store", "purge", "--slug", shop.slug, code=2)  # no --yes
    assert _has_own_database(app, shop)
    assert "purged" in run_cli(app, "store", "purge", "--slug", shop.slug, "--yes")
    assert _store_row(app, shop)[0] == "purged" and not _has_own_database(app, shop)
    assert "purged" in [line.split()[2] for line in run_cli(app, "store", "list").splitlines() if shop.slug in line]
