"""The owner manages the store's team; staff see the console but not owner-only pages."""

from __future__ import annotations

from mallow.testing import bearer, login_merchant, make_store, merchant_token


def test_owner_adds_a_new_colleague_who_can_sign_in_and_then_is_removed(app):
    shop = make_store(app)
    client = app.test_client()
    owner = merchant_token(client, shop)
    email = f"colleague-{shop.slug}@example.com"
    weak = client.post(f"{shop.prefix}/api/console/staff", json={"email": email}, headers=bearer(owner))
    assert weak.status_code == 422 and weak.get_json()["fields"]["password"]["code"] == "required"
    added = client.post(
        f"{shop.prefix}/api/console/staff", json={"email": email, "password": "colleague-1"}, headers=bearer(owner)
    )
    assert added.status_code == 201 and added.get_json()["role"] == "staff"
    duplicate = client.post(f"{shop.prefix}/api/console/staff", json={"email": email}, headers=bearer(owner))
    assert duplicate.status_code == 422 and duplicate.get_json()["fields"]["email"]["code"] == "taken"

    colleague = client.post("/api/tokens", json={"email": email, "password": "colleague-1"}).get_json()["token"]
    assert client.get(f"{shop.prefix}/api/console/staff", headers=bearer(colleague)).status_code == 200
    assert (
        client.post(
            f"{shop.prefix}/api/console/staff",
            json={"email": "x@example.com", "password": "abcdefg-1"},
            headers=bearer(colleague),
        ).status_code
        == 403
    )  # owner only

    staff_id = added.get_json()["id"]
    assert client.delete(f"{shop.prefix}/api/console/staff/{staff_id}", headers=bearer(owner)).status_code == 204
    assert client.get(f"{shop.prefix}/api/console/staff", headers=bearer(colleague)).status_code == 403


def test_owner_cannot_be_removed(app):
    shop = make_store(app)
    client = app.test_client()
    owner = merchant_token(client, shop)
    members = client.get(f"{shop.prefix}/api/console/staff", headers=bearer(owner)).get_json()["items"]
    owner_row = next(m for m in members if m["role"] == "owner")
    assert owner_row["email"] == shop.email
    assert client.delete(f"{shop.prefix}/api/console/staff/{owner_row['id']}", headers=bearer(owner)).status_code == 422


def test_team_page_is_for_the_owner(app):
    shop = make_store(app)
    client = app.test_client()
    login_merchant(client, shop)
    page = client.get(f"{shop.prefix}/console/staff")
    assert page.status_code == 200 and shop.email in page.get_data(as_text=True)
