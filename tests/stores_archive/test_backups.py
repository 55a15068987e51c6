"""Scheduled per-store exports (job ``stores.backup``): with ``MALLOW_BACKUP_DIR`` and the archive
key set, each open or closing store gets one archive under ``<dir>/<slug>/``, not again before
``MALLOW_BACKUP_INTERVAL_HOURS``, only the newest ``MALLOW_BACKUP_KEEP`` kept; a store whose export
fails does not stop the others; an archive it wrote imports. Without the settings it writes
nothing and says so once in the log."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from mallow.jobs import jobs_of
from mallow.jobs.registry import execute
from mallow.testing import make_store, run_cli

from .conftest import seed_store
from .test_round_trip import _checksums, _store

T0 = datetime(2031, 3, 1, 2, 0, tzinfo=UTC)


@pytest.fixture
def backups_on(archive_app, key_file, tmp_path, monkeypatch):
    folder = tmp_path / "backups"
    monkeypatch.setitem(archive_app.config, "MALLOW_BACKUP_DIR", str(folder))
    monkeypatch.setitem(archive_app.config, "MALLOW_ARCHIVE_KEY", None)
    monkeypatch.setitem(archive_app.config, "MALLOW_ARCHIVE_KEY_FILE", str(key_file))
    monkeypatch.setitem(archive_app.config, "MALLOW_BACKUP_INTERVAL_HOURS", 24.0)
    monkeypatch.setitem(archive_app.config, "MALLOW_BACKUP_KEEP", 2)
    return folder


def _run(app, when: datetime, store_ids=None) -> dict:
    from mallow.stores.archive.backups import back_up_due

    with app.app_context():
        return back_up_due(when, store_ids)


def _names(folder: Path, slug: str) -> list[str]:
    """Every file in the store's backup folder (temporary ones too)."""
    where = folder / slug
    return sorted(path.name for path in where.iterdir()) if where.is_dir() else []


def test_the_backup_job_is_periodic(archive_app):
    assert jobs_of(archive_app).periodic()["stores.backup"] == 3600  # each store: once per interval


def test_one_archive_per_store_then_not_before_the_interval_and_only_the_newest_kept(archive_app, backups_on, key_file):
    app = archive_app
    seeded = seed_store(app)
    shop = seeded.shop
    closed = make_store(app)
    run_cli(app, "store", "close", closed.slug, "--reason", "测试关闭")

    first = execute(app, "stores.backup", {"now": T0.isoformat()})  # every open or closing store
    assert first[shop.slug] == "written" and closed.slug not in first
    assert set(first.values()) == {"written"}
    for slug in first:
        assert _names(backups_on, slug) == [f"{slug}-20310301T020000Z.tar.gz"]  # no temporary file left
    assert not (backups_on / closed.slug).exists()

    assert _run(app, T0 + timedelta(hours=23), [shop.store_id]) == {shop.slug: "skipped"}
    assert _names(backups_on, shop.slug) == [f"{shop.slug}-20310301T020000Z.tar.gz"]
    assert _run(app, T0 + timedelta(hours=24), [shop.store_id]) == {shop.slug: "written"}
    assert _run(app, T0 + timedelta(hours=48), [shop.store_id]) == {shop.slug: "written"}
    # MALLOW_BACKUP_KEEP = 2: the oldest went
    assert _names(backups_on, shop.slug) == [
        f"{shop.slug}-20310302T020000Z.tar.gz",
        f"{shop.slug}-20310303T020000Z.tar.gz",
    ]

    # the newest imports, with every row of the store
    copy_slug = f"{shop.slug}-bak"[:32].rstrip("-")
    newest = backups_on / shop.slug / f"{shop.slug}-20310303T020000Z.tar.gz"
    run_cli(app, "store", "import", str(newest), "--slug", copy_slug, "--key-file", str(key_file))
    assert _checksums(app, _store(app, copy_slug).id) == _checksums(app, shop.store_id)


def test_a_failing_store_does_not_stop_the_others(archive_app, backups_on, monkeypatch, caplog):
    from mallow.stores.archive import backups

    app = archive_app
    broken, fine = make_store(app), make_store(app)
    real = backups.export_store

    def export(store_id, target, key, **kwargs):
        if store_id == broken.store_id:
            raise OSError("No space left on device")
        return real(store_id, target, key, **kwargs)

    monkeypatch.setattr(backups, "export_store", export)
    with caplog.at_level(logging.ERROR, logger="mallow.stores.archive"):
        results = _run(app, T0, [broken.store_id, fine.store_id])
    assert results == {broken.slug: "failed", fine.slug: "written"}
    assert f"backing up store {broken.slug} failed" in caplog.text
    assert _names(backups_on, broken.slug) == [] and len(_names(backups_on, fine.slug)) == 1


def test_off_without_a_folder_or_a_key_and_said_once(archive_app, tmp_path, monkeypatch, caplog):
    app = archive_app
    shop = make_store(app)
    monkeypatch.setitem(app.config, "MALLOW_BACKUP_DIR", "")
    monkeypatch.delenv("MALLOW_BACKUP_DIR", raising=False)
    monkeypatch.delitem(app.extensions, "mallow.stores.backups_off_said", raising=False)
    with caplog.at_level(logging.INFO, logger="mallow.stores.archive"):
        assert _run(app, T0, [shop.store_id]) == {}
        assert _run(app, T0 + timedelta(days=2), [shop.store_id]) == {}
    assert caplog.text.count("scheduled store backups are off") == 1

    folder = tmp_path / "backups"  # a folder but no key: still off, nothing written
    monkeypatch.setitem(app.config, "MALLOW_BACKUP_DIR", str(folder))
    monkeypatch.setitem(app.config, "MALLOW_ARCHIVE_KEY", None)
    monkeypatch.setitem(app.config, "MALLOW_ARCHIVE_KEY_FILE", "")
    monkeypatch.delenv("MALLOW_ARCHIVE_KEY", raising=False)
    assert _run(app, T0, [shop.store_id]) == {} and not folder.exists()
