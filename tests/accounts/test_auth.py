"""Sessions, tokens, CSRF and login rate limits."""
from __future__ import annotations

from mallow.testing import PASSWORD, bearer, login_merchant, make_store, merchant_token, post_form


def test_form_post_without_csrf_token_is_refused(app):
    shop = make_store(app)
    client = app.test_client()
    response = client.post("/merchant/login", data={"email": shop.email, "password": PASSWORD})
    assert response.status_code == 400
    assert client.get("/merchant/").status_code == 302  # not signed in


def test_wrong_password_shows_a_field_error(app):
    shop = make_store(app)
    client = app.test_client()
    response = post_form(client, "/merchant/login", {"email": shop.email, "password": "wrong-pass-1"})
    assert response.status_code == 422
    assert 'data-field="password"' in response.get_data(as_text=True)


def test_copied_cookie_stops_working_after_logout(app):
    shop = make_store(app)
    client = app.test_client()
    login_merchant(client, shop)
    stolen = client.get_cookie("session").value
    assert client.get(f"{shop.prefix}/console/").status_code == 200
    post_form(client, "/merchant/logout", {}, form_path="/merchant/login")
    thief = app.test_client()
    thief.set_cookie("session", stolen)
    assert thief.get(f"{shop.prefix}/console/").status_code == 302


def test_login_replaces_the_previous_session_of_that_browser(app):
    shop = make_store(app)
    client = app.test_client()
    login_merchant(client, shop)
    first = client.get_cookie("session").value
    login_merchant(client, shop)
    assert client.get_cookie("session").value != first
    replayed = app.test_client()
    replayed.set_cookie("session", first)
    assert replayed.get(f"{shop.prefix}/console/").status_code == 302


def test_next_redirect_stays_on_site(app):
    shop = make_store(app)
    client = app.test_client()
    data = {"email": shop.email, "password": PASSWORD, "next": "https://evil.example/steal"}
    response = post_form(client, "/merchant/login", data)
    assert response.headers["Location"].endswith("/merchant/") or "/console/" in response.headers["Location"]
    data["next"] = "//evil.example/x"
    response = post_form(client, "/merchant/login", data)
    assert "evil" not in response.headers["Location"]


def test_login_attempts_are_rate_limited_per_account(app):
    shop = make_store(app)
    client = app.test_client()
    statuses = [client.post("/api/tokens", json={"email": shop.email, "password": "wrong-pass-1"}).status_code
                for _ in range(7)]
    assert statuses[:5] == [401] * 5
    assert statuses[5:] == [429, 429]
    # even the right password is refused until the window passes: no guessing through it
    assert client.post("/api/tokens", json={"email": shop.email, "password": PASSWORD}).status_code == 429
    # another account from the same address is not locked out
    other = make_store(app)
    assert client.post("/api/tokens", json={"email": other.email, "password": PASSWORD}).status_code == 201


def test_revoked_token_stops_working(app):
    shop = make_store(app)
    client = app.test_client()
    token = merchant_token(client, shop)
    assert client.get(f"{shop.prefix}/api/console/qualifications", headers=bearer(token)).status_code == 200
    assert client.delete("/api/tokens/current", headers=bearer(token)).status_code == 204
    assert client.get(f"{shop.prefix}/api/console/qualifications", headers=bearer(token)).status_code == 401


def test_api_ignores_cookie_sessions(app):
    """The API reads bearer tokens only, so it needs no CSRF token and a cookie grants nothing."""
    shop = make_store(app)
    client = app.test_client()
    login_merchant(client, shop)
    assert client.get(f"{shop.prefix}/console/").status_code == 200
    assert client.get(f"{shop.prefix}/api/console/qualifications").status_code == 401


def test_suspended_merchant_account_loses_access_at_once(app):
    shop = make_store(app)
    client = app.test_client()
    token = merchant_token(client, shop)
    login_merchant(client, shop)
    with app.app_context():
        from mallow.accounts.models import Merchant
        from mallow.db import db

        db.session.get(Merchant, shop.merchant_id).active = False
        db.session.commit()
    assert client.get(f"{shop.prefix}/console/").status_code == 302
    assert client.get(f"{shop.prefix}/api/console/qualifications", headers=bearer(token)).status_code == 401


def test_session_cookie_flags(app):
    shop = make_store(app)
    client = app.test_client()
    response = login_merchant(client, shop)
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_passwords_are_hashed(app):
    shop = make_store(app)
    with app.app_context():
        from mallow.accounts.models import Merchant
        from mallow.db import db

        stored = db.session.get(Merchant, shop.merchant_id).password_hash
    assert PASSWORD not in stored and stored.startswith("pbkdf2:sha256")


def test_shopper_login_is_stored_encrypted(app):
    shop = make_store(app)
    client = app.test_client()
    client.post(f"{shop.prefix}/api/customers", json={"login": "13912345678", "password": "pass-word-1"})
    from mallow.accounts.models import Customer
    from mallow.db import db
    from mallow.tenants.context import store_context

    with store_context(shop.store_id, app=app):
        customer = db.session.execute(db.select(Customer)).scalar_one()
        assert "13912345678" not in customer.login_cipher + customer.login_digest
    me = client.post(f"{shop.prefix}/api/tokens", json={"login": "139 1234 5678", "password": "pass-word-1"}).get_json()
    assert me["customer"]["login"] == "139****5678"
