"""Developer accounts: sign-up with field errors, sign-in rate-limited like the other logins,
sign-out that ends the session, CSRF on the forms, API tokens shown once and revocable, and
a developer's session or token opens nothing of merchants or admins (nor theirs the console)."""

from __future__ import annotations

import uuid

import pytest

from mallow.testing import PASSWORD, bearer, build_app, csrf_token, dispose_app, make_store, merchant_token, post_form

from .conftest import signup_developer


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    app = build_app(tmp_path_factory, "sqlite")
    yield app
    dispose_app(app)


def test_signup_refuses_bad_fields_and_a_taken_email(app):
    client = app.test_client()
    response = post_form(client, "/dev/signup", {"email": "not-an-email", "password": "short", "name": ""})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    for field in ("email", "password", "name"):
        assert f'data-field="{field}"' in page
    email, _token = signup_developer(app.test_client())
    again = post_form(app.test_client(), "/dev/signup", {"email": email.upper(), "password": PASSWORD, "name": "x"})
    assert again.status_code == 422 and 'data-field="email"' in again.get_data(as_text=True)


def test_a_form_without_its_csrf_token_is_refused(app):
    client = app.test_client()
    email = f"dev-{uuid.uuid4().hex[:8]}@example.com"
    assert client.post("/dev/signup", data={"email": email, "password": PASSWORD, "name": "x"}).status_code == 400
    assert client.post("/dev/login", data={"email": email, "password": PASSWORD}).status_code == 400


def test_sign_in_out_and_the_console_needs_a_developer(app):
    email, _token = signup_developer(app.test_client())
    client = app.test_client()
    assert client.get("/dev/").headers["Location"].startswith("/dev/login")
    wrong = post_form(client, "/dev/login", {"email": email, "password": "wrong-pass-1"})
    assert wrong.status_code == 422 and 'data-field="password"' in wrong.get_data(as_text=True)
    assert post_form(client, "/dev/login", {"email": email, "password": PASSWORD}).status_code == 303
    assert client.get("/dev/").status_code == 200
    cookie = client.get_cookie("session")
    assert post_form(client, "/dev/logout", {}, form_path="/dev/").status_code == 303
    assert client.get("/dev/").status_code == 302
    # the copied cookie of the ended session opens nothing
    copy = app.test_client()
    copy.set_cookie("session", cookie.value)
    assert copy.get("/dev/").status_code == 302


def test_sign_in_is_rate_limited_per_account(app):
    email, _token = signup_developer(app.test_client())
    client = app.test_client()
    token = csrf_token(client, "/dev/login")
    statuses = [
        client.post("/dev/login", data={"email": email, "password": "wrong-pass-1", "csrf_token": token}).status_code
        for _ in range(7)
    ]
    assert statuses == [422] * 5 + [429] * 2
    api = [app.test_client().post("/dev/api/tokens", json={"email": email, "password": "x1"}).status_code]
    assert api in ([422], [429])  # its own endpoint, its own count per account


def test_tokens_are_shown_once_and_can_be_revoked(app):
    client = app.test_client()
    _email, first = signup_developer(client)
    page = post_form(client, "/dev/tokens", {}).get_data(as_text=True)
    assert "data-token>dev_" in page
    assert "data-token" not in client.get("/dev/tokens").get_data(as_text=True)
    assert client.get("/dev/api/releases", headers=bearer(first)).status_code == 200
    import re

    ids = re.findall(r"/dev/tokens/(\d+)/revoke", client.get("/dev/tokens").get_data(as_text=True))
    for token_id in ids:
        post_form(client, f"/dev/tokens/{token_id}/revoke", {}, form_path="/dev/tokens")
    assert client.get("/dev/api/releases", headers=bearer(first)).status_code == 401


def test_principals_do_not_cross(app):
    developer = app.test_client()
    _email, token = signup_developer(developer)
    shop = make_store(app)
    merchant = merchant_token(app.test_client(), shop)
    # a merchant's token is no developer's, and a developer's is no merchant's
    assert app.test_client().get("/dev/api/releases", headers=bearer(merchant)).status_code == 401
    assert app.test_client().get("/api/stores", headers=bearer(token)).status_code in (401, 404)
    # a developer's browser session opens neither the admin nor a store's console
    assert developer.get("/admin/plugins").status_code == 302
    assert developer.get(f"{shop.prefix}/console/").status_code == 302
