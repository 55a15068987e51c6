"""店铺设置 → 数据导出: the store's owner starts an export with a passphrase, the job writes the
archive and says how far it got, the owner downloads it; the archive restores with that
passphrase. Only the owner of this store: anonymous visitors go to the sign-in, another store's
owner is refused here and finds nothing of this store's exports under their own store."""

from __future__ import annotations

import re

from mallow.testing import JobRecorder, login_merchant, make_store, post_form, run_cli

from .conftest import seed_store

PASSPHRASE = "正确的马电池订书钉-2024"


def _run_queued(app, recorder) -> list:
    from mallow.jobs.registry import execute

    done = []
    while recorder.queued:
        name, kwargs = recorder.queued.pop(0)
        if name == "stores.export_for_merchant":
            assert PASSPHRASE not in repr(kwargs)  # never the passphrase in a job's arguments
            done.append(execute(app, name, kwargs))
    return done


def test_the_owner_exports_the_store_and_downloads_it(archive_app, tmp_path, monkeypatch):
    app = archive_app
    seeded = seed_store(app)
    shop = seeded.shop
    recorder = JobRecorder()
    monkeypatch.setitem(app.extensions, "mallow.jobs", recorder)
    page = f"{shop.prefix}/console/export"

    anonymous = app.test_client().get(page)
    assert anonymous.status_code in (302, 303) and "/merchant/login" in anonymous.headers["Location"]

    owner = app.test_client()
    login_merchant(owner, shop)
    shown = owner.get(page)
    assert shown.status_code == 200 and 'name="passphrase"' in shown.get_data(as_text=True)
    assert page in owner.get(f"{shop.prefix}/console/store").get_data(as_text=True)  # 店铺设置 → 数据导出

    short = post_form(owner, page, {"passphrase": "short", "confirm": "short"})
    assert short.status_code == 422 and 'data-field="passphrase"' in short.get_data(as_text=True)
    mismatch = post_form(owner, page, {"passphrase": PASSPHRASE, "confirm": PASSPHRASE + "x"})
    assert mismatch.status_code == 422 and 'data-field="confirm"' in mismatch.get_data(as_text=True)
    assert recorder.queued == []

    started = post_form(owner, page, {"passphrase": PASSPHRASE, "confirm": PASSPHRASE})
    assert started.status_code == 303
    waiting = owner.get(page).get_data(as_text=True)
    assert 'data-status="queued"' in waiting and 'http-equiv="refresh"' in waiting
    assert _run_queued(app, recorder) == ["done"]

    ready = owner.get(page).get_data(as_text=True)
    assert 'data-status="done"' in ready and 'http-equiv="refresh"' not in ready
    link = re.search(r'href="([^"]+/console/export/[0-9a-f]{32}/download)"', ready).group(1)
    export_id = link.split("/")[-2]
    downloaded = owner.get(link)
    assert downloaded.status_code == 200
    assert downloaded.headers["Content-Type"] == "application/gzip"
    assert "no-store" in downloaded.headers["Cache-Control"]
    archive = tmp_path / "download.tar.gz"
    archive.write_bytes(downloaded.data)
    assert seeded.phone.encode() not in __import__("gzip").decompress(downloaded.data)

    # another store's owner: refused in this store, and this export is nowhere in theirs
    other = make_store(app)
    stranger = app.test_client()
    login_merchant(stranger, other)
    assert stranger.get(page).status_code == 403
    assert stranger.get(link).status_code == 403
    assert stranger.get(f"{other.prefix}/console/export/{export_id}/download").status_code == 404
    assert stranger.get(f"{other.prefix}/console/export/..%2F{shop.store_id}%2F{export_id}/download").status_code == 404

    # the archive restores with the merchant's passphrase
    passphrase_file = tmp_path / "passphrase.txt"
    passphrase_file.write_text(PASSPHRASE)
    copy_slug = f"{shop.slug}-mine"[:32].rstrip("-")
    out = run_cli(app, "store", "import", str(archive), "--slug", copy_slug, "--key-file", str(passphrase_file))
    assert f"imported as store {copy_slug}" in out
    product = app.test_client().get(f"/s/{copy_slug}/products/{seeded.product_id}")
    assert product.status_code == 200 and seeded.title in product.get_data(as_text=True)
