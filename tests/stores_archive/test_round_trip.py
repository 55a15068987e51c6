"""A store as one archive (mallow.stores.archive): exported with the operator's key, removed from the
platform, imported again, it has every row (same counts, same checksums of the non-personal
values), its shoppers' phone numbers and addresses open again, its media files are the same bytes,
its merchant signs in with their old password and its storefront shows the product. Beside the
original under another slug it is a store of its own. A changed archive, a wrong key or no key are
refused and leave nothing behind; the archive holds no phone number in clear."""

from __future__ import annotations

import gzip
import io
import json
import tarfile
from pathlib import Path

import pytest
import sqlalchemy as sa

from mallow.testing import PASSWORD, run_cli
from mallow.testing.http import login_merchant

from .conftest import remove_store, seed_store


def _checksums(app, store_id):
    from mallow.stores.archive.tables import store_checksums

    with app.app_context():
        return store_checksums(store_id)


def _store(app, slug):
    from mallow.db import db
    from mallow.tenants.models import Store

    with app.app_context():
        return db.session.execute(sa.select(Store).where(Store.slug == slug)).scalar()


def _shopper_values(app, store_id):
    """The store's customers' logins and its addresses' recipients and phones, decrypted."""
    from mallow.accounts.models import Customer
    from mallow.db import db
    from mallow.orders.models import Address
    from mallow.security import crypto
    from mallow.tenants.context import store_context

    with store_context(store_id, app=app):
        logins = sorted(crypto.decrypt(c.login_cipher) for c in db.session.execute(sa.select(Customer)).scalars())
        addresses = sorted(
            (crypto.decrypt(a.recipient_cipher), crypto.decrypt(a.phone_cipher), crypto.decrypt(a.detail_cipher))
            for a in db.session.execute(sa.select(Address)).scalars()
        )
        return logins, addresses


def _export(app, slug, key_file, tmp_path) -> Path:
    target = tmp_path / f"{slug}.tar.gz"
    out = run_cli(app, "store", "export", slug, "--output", str(target), "--key-file", str(key_file))
    assert f"{slug} exported to {target}" in out
    return target


def _store_count(app) -> int:
    from mallow.db import db
    from mallow.tenants.models import Store

    with app.app_context():
        return db.session.execute(sa.select(sa.func.count(Store.id))).scalar_one()


def test_store_help_lists_export_and_import(archive_app):
    out = run_cli(archive_app, "store", "--help")
    for command in ("export", "import"):
        assert command in out


def test_export_purge_import_gives_the_same_store(archive_app, key_file, tmp_path):
    app = archive_app
    seeded = seed_store(app)
    shop = seeded.shop
    before = _checksums(app, shop.store_id)
    assert before["orders"]["rows"] == 1 and before["order_adjustments"]["rows"] >= 1
    assert before["groupbuy_campaigns"]["rows"] == 1 and before["groupbuy_members"]["rows"] == 1
    shoppers_before = _shopper_values(app, shop.store_id)
    assert seeded.phone in shoppers_before[0]
    archive = _export(app, shop.slug, key_file, tmp_path)

    remove_store(app, shop.store_id, merchant_id=shop.merchant_id)
    assert _store(app, shop.slug) is None

    out = run_cli(app, "store", "import", str(archive), "--key-file", str(key_file))
    assert f"imported as store {shop.slug}" in out
    restored = _store(app, shop.slug)
    after = _checksums(app, restored.id)
    assert after == before  # every table: same row count, same checksum of its non-personal values
    assert _shopper_values(app, restored.id) == shoppers_before  # personal values open again
    data = Path(app.config["MALLOW_DATA_DIR"])
    moved = seeded.media_path.replace(f"uploads/stores/{shop.store_id}/", f"uploads/stores/{restored.id}/")
    assert (data / moved).read_bytes() == seeded.media_bytes
    if restored.id != shop.store_id:  # SQLite may give the freed id again; PostgreSQL's sequence does not
        assert not (data / seeded.media_path).exists()

    client = app.test_client()
    home = client.get(f"/s/{shop.slug}/")
    assert home.status_code == 200
    product = client.get(f"/s/{shop.slug}/products/{seeded.product_id}")
    assert product.status_code == 200 and seeded.title in product.get_data(as_text=True)
    # the merchant (removed with the store) signs in again with the password they had
    shop.store_id, shop.merchant_id = restored.id, restored.owner_id
    login_merchant(client, shop)
    assert client.get(f"/s/{shop.slug}/console/").status_code == 200
    # and the shopper signs in with their phone number and password
    signed = app.test_client().post(f"/s/{shop.slug}/api/tokens", json={"login": seeded.phone, "password": PASSWORD})
    assert signed.status_code in (200, 201), signed.get_json()


def test_an_import_beside_the_original_is_a_store_of_its_own(archive_app, key_file, tmp_path):
    app = archive_app
    seeded = seed_store(app)
    shop = seeded.shop
    archive = _export(app, shop.slug, key_file, tmp_path)
    copy_slug = f"{shop.slug}-copy"[:32].rstrip("-")
    run_cli(app, "store", "import", str(archive), "--slug", copy_slug, "--key-file", str(key_file))
    copy = _store(app, copy_slug)
    assert copy.owner_id == shop.merchant_id  # the same merchant account (same e-mail) owns both
    assert _checksums(app, copy.id) == _checksums(app, shop.store_id)

    from mallow.catalog.models import Product
    from mallow.db import db
    from mallow.tenants.context import store_context

    with store_context(copy.id, app=app):
        db.session.get(Product, seeded.product_id).title = "只在副本里改了"
        db.session.commit()
    client = app.test_client()
    assert "只在副本里改了" in client.get(f"/s/{copy_slug}/products/{seeded.product_id}").get_data(as_text=True)
    original = client.get(f"/s/{shop.slug}/products/{seeded.product_id}").get_data(as_text=True)
    assert seeded.title in original and "只在副本里改了" not in original
    # the same archive again under the original's slug: refused, the original untouched
    out = run_cli(app, "store", "import", str(archive), "--key-file", str(key_file), code=1)
    assert "exists already" in out


def _rewrite(archive: Path, target: Path, change) -> None:
    """A copy of ``archive`` with ``change(name, bytes) -> bytes`` applied to every member."""
    with tarfile.open(archive, "r:gz") as source, tarfile.open(target, "w:gz") as out:
        for member in source.getmembers():
            data = source.extractfile(member).read()
            data = change(member.name, data)
            info = tarfile.TarInfo(member.name)
            info.size = len(data)
            out.addfile(info, io.BytesIO(data))


def test_a_tampered_archive_or_a_wrong_key_is_refused_and_leaves_nothing(archive_app, key_file, tmp_path):
    from mallow.stores.archive.keys import new_key_text

    app = archive_app
    seeded = seed_store(app)
    archive = _export(app, seeded.shop.slug, key_file, tmp_path)
    stores = _store_count(app)
    uploads = sorted(p for p in (Path(app.config["MALLOW_DATA_DIR"]) / "uploads").rglob("*"))

    def more_stock(name, data):
        return data.replace(b'"price":10000', b'"price":1') if name == "tables/skus.jsonl" else data

    tampered = tmp_path / "tampered.tar.gz"
    _rewrite(archive, tampered, more_stock)
    out = run_cli(app, "store", "import", str(tampered), "--slug", "tampered-copy", "--key-file", str(key_file), code=1)
    assert "checksum mismatch: tables/skus.jsonl" in out

    def new_checksum(name, data):  # changed with its checksum in the manifest: the seal says no
        if name == "tables/skus.jsonl":
            return more_stock(name, data)
        if name == "manifest.json":
            import hashlib

            manifest = json.loads(data)
            with tarfile.open(archive, "r:gz") as source:
                skus = more_stock("tables/skus.jsonl", source.extractfile("tables/skus.jsonl").read())
            manifest["checksums"]["tables/skus.jsonl"] = hashlib.sha256(skus).hexdigest()
            return json.dumps(manifest).encode()
        return data

    resealed = tmp_path / "resealed.tar.gz"
    _rewrite(archive, resealed, new_checksum)
    out = run_cli(app, "store", "import", str(resealed), "--slug", "resealed-copy", "--key-file", str(key_file), code=1)
    assert "manifest.json was changed" in out

    wrong = tmp_path / "wrong.key"
    wrong.write_text(new_key_text())
    out = run_cli(app, "store", "import", str(archive), "--slug", "wrong-key-copy", "--key-file", str(wrong), code=1)
    assert "wrong key" in out

    assert _store_count(app) == stores
    for slug in ("tampered-copy", "resealed-copy", "wrong-key-copy"):
        assert _store(app, slug) is None
    assert sorted(p for p in (Path(app.config["MALLOW_DATA_DIR"]) / "uploads").rglob("*")) == uploads


def test_a_failed_load_leaves_no_store_schema_or_files(archive_app, key_file, tmp_path, monkeypatch):
    from mallow.stores.archive import importer

    app = archive_app
    seeded = seed_store(app)
    archive = _export(app, seeded.shop.slug, key_file, tmp_path)
    stores = _store_count(app)

    def broken(*args, **kwargs):
        raise RuntimeError("the disk is full")

    monkeypatch.setattr(importer, "_reset_sequences", broken)
    monkeypatch.setattr(importer, "_restore_files", broken)
    with app.app_context(), pytest.raises(RuntimeError):
        importer.import_archive(archive, key_file.read_text(), slug="failed-copy")
    assert _store_count(app) == stores and _store(app, "failed-copy") is None
    with app.app_context():
        engines = app.extensions["mallow.store_engines"]
        if engines.is_postgresql:
            with engines.platform_engine.connect() as connection:
                schemas = set(
                    connection.execute(
                        sa.text("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'store_%'")
                    ).scalars()
                )
            from mallow.db import db
            from mallow.tenants.models import Store

            ids = set(db.session.execute(sa.select(Store.id)).scalars())
            assert {s for s in schemas if s.removeprefix("store_").isdigit()} <= {f"store_{i}" for i in ids}


def test_no_key_no_export_and_no_phone_number_in_clear(archive_app, key_file, tmp_path, monkeypatch):
    app = archive_app
    seeded = seed_store(app)
    monkeypatch.delenv("MALLOW_ARCHIVE_KEY", raising=False)
    out = run_cli(app, "store", "export", seeded.shop.slug, "--output", str(tmp_path / "x.tar.gz"), code=2)
    assert "never exported in clear" in out and not (tmp_path / "x.tar.gz").exists()

    archive = _export(app, seeded.shop.slug, key_file, tmp_path)
    raw = gzip.decompress(archive.read_bytes())
    for secret in (seeded.phone, seeded.address_phone, seeded.recipient, "文三路 99 号"):
        assert secret.encode() not in raw
    with tarfile.open(archive, "r:gz") as tar:
        manifest = json.loads(tar.extractfile("manifest.json").read())
    assert key_file.read_text().strip() not in json.dumps(manifest)
    assert "login_cipher" in manifest["tables"]["customers"]["personal"]
    assert set(manifest["tables"]["addresses"]["personal"]) == {"recipient_cipher", "phone_cipher", "detail_cipher"}
    assert manifest["plugins"]["groupbuy"]["revision"] and manifest["store_revision"]
    assert manifest["tables"]["groupbuy_campaigns"]["owner"] == "groupbuy"
