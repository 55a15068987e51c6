"""The store's JSON for admins (and its staff) says when it was closed and after which moment its
data are deleted (``closed_at``, ``purge_after``: the retention after the close); a shopper or a
visitor is not told."""

from __future__ import annotations

from datetime import datetime, timedelta

from mallow.testing import PASSWORD, bearer, make_store


def _admin(client, email):
    answer = client.post("/api/tokens", json={"email": email, "password": PASSWORD, "principal": "admin"})
    return bearer(answer.get_json()["token"])


def test_closing_a_store_gives_its_close_and_purge_dates_to_admins_only(app, admin_email, monkeypatch):
    monkeypatch.setitem(app.config, "MALLOW_STORE_RETENTION_DAYS", 45)
    shop = make_store(app)
    client = app.test_client()
    admin = _admin(client, admin_email)

    listed = client.get("/api/admin/stores?status=open", headers=admin).get_json()["items"]
    mine = next(item for item in listed if item["id"] == shop.store_id)
    assert mine["closed_at"] is None and mine["purge_after"] is None
    public = client.get(f"{shop.prefix}/api/store").get_json()
    assert "purge_after" not in public and "closed_at" not in public

    closed = client.post(f"/api/admin/stores/{shop.store_id}/close", json={"reason": "主体注销"}, headers=admin)
    assert closed.status_code == 200
    body = closed.get_json()
    closed_at, purge_after = datetime.fromisoformat(body["closed_at"]), datetime.fromisoformat(body["purge_after"])
    assert closed_at.tzinfo is not None and purge_after - closed_at == timedelta(days=45)
    listed = client.get("/api/admin/stores?status=closed", headers=admin).get_json()["items"]
    assert next(item for item in listed if item["id"] == shop.store_id)["purge_after"] == body["purge_after"]
