"""The operator's real round trip, through the commands alone: a store is exported, closed, purged
(`mallow store purge --slug … --yes`) and imported again from its archive under its own slug.
The purged row gives its slug up (kept as ``<slug>~<id>``, with its audit trail) and the restored
store has every row back (same counts and checksums), its shoppers' personal values open again,
its media files are the same bytes, its storefront shows the product and its merchant signs in.
A slug held by a store that is only closed (not purged) is still refused."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from mallow.testing import PASSWORD, run_cli
from mallow.testing.http import login_merchant

from .conftest import seed_store
from .test_round_trip import _checksums, _export, _shopper_values, _store


def _audit(app, store_id: int) -> list[tuple[str, dict]]:
    from mallow.audit import AuditEntry
    from mallow.db import db

    with app.app_context():
        rows = db.session.execute(
            sa.select(AuditEntry).where(AuditEntry.store_id == store_id).order_by(AuditEntry.id)
        ).scalars()
        return [(row.action, dict(row.detail or {})) for row in rows]


def test_export_close_purge_import_brings_the_store_back_under_its_slug(archive_app, key_file, tmp_path):
    app = archive_app
    seeded = seed_store(app)
    shop = seeded.shop
    before = _checksums(app, shop.store_id)
    assert before["orders"]["rows"] == 1 and before["order_adjustments"]["rows"] >= 1
    assert before["addresses"]["rows"] == 1 and before["groupbuy_campaigns"]["rows"] == 1  # a plugin's rows
    shoppers_before = _shopper_values(app, shop.store_id)
    archive = _export(app, shop.slug, key_file, tmp_path)

    run_cli(app, "store", "close", shop.slug, "--reason", "合同到期")
    # closed but not purged: its slug is still its own
    refused = run_cli(app, "store", "import", str(archive), "--key-file", str(key_file), code=1)
    assert "exists already" in refused
    out = run_cli(app, "store", "purge", "--slug", shop.slug, "--yes")
    assert f"{shop.slug} purged" in out
    data = Path(app.config["MALLOW_DATA_DIR"])
    assert not (data / seeded.media_path).exists()
    assert app.test_client().get(f"/s/{shop.slug}/").status_code == 404

    out = run_cli(app, "store", "import", str(archive), "--key-file", str(key_file))
    assert f"imported as store {shop.slug}" in out
    restored = _store(app, shop.slug)
    assert restored.id != shop.store_id and restored.status == "open"
    purged = _store(app, f"{shop.slug[: 32 - len(str(shop.store_id)) - 1]}~{shop.store_id}")
    assert purged is not None and purged.id == shop.store_id and purged.status == "purged"
    assert f"gave up slug {shop.slug}" in out

    assert _checksums(app, restored.id) == before  # every table: same rows, same checksums
    assert _shopper_values(app, restored.id) == shoppers_before  # phone numbers and addresses open
    moved = seeded.media_path.replace(f"uploads/stores/{shop.store_id}/", f"uploads/stores/{restored.id}/")
    assert (data / moved).read_bytes() == seeded.media_bytes

    client = app.test_client()
    home = client.get(f"/s/{shop.slug}/")
    assert home.status_code == 200
    product = client.get(f"/s/{shop.slug}/products/{seeded.product_id}")
    assert product.status_code == 200 and seeded.title in product.get_data(as_text=True)
    login_merchant(client, shop)  # the merchant account stayed through the purge: same password
    assert client.get(f"/s/{shop.slug}/console/").status_code == 200
    signed = app.test_client().post(f"/s/{shop.slug}/api/tokens", json={"login": seeded.phone, "password": PASSWORD})
    assert signed.status_code in (200, 201), signed.get_json()

    # the purged store's history is kept, and says where its slug went
    history = [action for action, _detail in _audit(app, shop.store_id)]
    assert history[-3:] == ["store.closed", "store.purged", "store.slug_released"]
    released = _audit(app, shop.store_id)[-1][1]
    assert released["slug"] == shop.slug and released["now"] == purged.slug
    assert ("store.restored", shop.store_id) in [
        (action, detail.get("replaces_purged_store")) for action, detail in _audit(app, restored.id)
    ]
