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
    statuses = [
        client.post("/api/tokens", json={"email": shop.email, "password": "wrong-pass-1"}).status_code for _ in range(7)
    ]
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


def test_a_cookie_session_reaches_only_the_console_api_and_writes_only_with_its_csrf_token(app):
    """Bearer tokens are the API's way in. The one exception is the merchant's own browser on
    the store console API (the page editor calls it): reads with the session, writes only with
    the session's CSRF token. Every other API ignores cookies."""
    shop = make_store(app)
    client = app.test_client()
    login_merchant(client, shop)
    assert client.get(f"{shop.prefix}/console/").status_code == 200
    assert client.get(f"{shop.prefix}/api/console/qualifications").status_code == 200
    refused = client.post(f"{shop.prefix}/api/console/staff", json={"email": "new@example.com"})
    assert refused.status_code == 400 and refused.get_json()["error"] == "csrf_failed"
    assert client.get("/api/admin/stores").status_code == 401  # the platform API: bearer only


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
    client.post(
        f"{shop.prefix}/api/customers",
        json={"login": "13912345678", "password": "pass-word-1", "privacy_consent": True},
    )
    from mallow.accounts.models import Customer
    from mallow.db import db
    from mallow.tenants.context import store_context

    with store_context(shop.store_id, app=app):
        customer = db.session.execute(db.select(Customer)).scalar_one()
        assert "13912345678" not in customer.login_cipher + customer.login_digest
    me = client.post(f"{shop.prefix}/api/tokens", json={"login": "139 1234 5678", "password": "pass-word-1"}).get_json()
    assert me["customer"]["login"] == "139****5678"


def _phone() -> str:
    import uuid

    return f"137{uuid.uuid4().int % 10**8:08d}"


def _shopper_in(app, shop, phone: str) -> None:
    registered = app.test_client().post(
        f"{shop.prefix}/api/customers", json={"login": phone, "password": PASSWORD, "privacy_consent": True}
    )
    assert registered.status_code == 201, registered.get_json()


def test_shopper_api_login_is_rate_limited_per_store(app):
    a, b = make_store(app), make_store(app)
    phone = _phone()
    for shop in (a, b):  # the same phone number: one account in each store
        _shopper_in(app, shop, phone)
    client = app.test_client()
    statuses = [
        client.post(f"{a.prefix}/api/tokens", json={"login": phone, "password": "wrong-pass-1"}).status_code
        for _ in range(7)
    ]
    assert statuses == [401] * 5 + [429] * 2
    assert client.post(f"{a.prefix}/api/tokens", json={"login": phone, "password": PASSWORD}).status_code == 429
    # Writing the number differently is the same account, locked too.
    spaced = f"+86 {phone[:3]} {phone[3:7]} {phone[7:]}"
    assert client.post(f"{a.prefix}/api/tokens", json={"login": spaced, "password": PASSWORD}).status_code == 429
    # Store B's shopper with that number is someone else: not locked out by store A's attempts.
    assert client.post(f"{b.prefix}/api/tokens", json={"login": phone, "password": PASSWORD}).status_code == 201
    browser = app.test_client()
    assert post_form(browser, f"{b.prefix}/login", {"login": phone, "password": PASSWORD}).status_code == 303


def test_shopper_sign_in_page_is_rate_limited_and_shares_the_count_with_the_api(app):
    shop = make_store(app)
    phone = _phone()
    _shopper_in(app, shop, phone)
    browser = app.test_client()
    statuses = [
        post_form(browser, f"{shop.prefix}/login", {"login": phone, "password": "wrong-pass-1"}).status_code
        for _ in range(6)
    ]
    assert statuses == [422] * 5 + [429]
    assert post_form(browser, f"{shop.prefix}/login", {"login": phone, "password": PASSWORD}).status_code == 429
    assert browser.get(f"{shop.prefix}/account").status_code in (302, 303)  # not signed in
    api = app.test_client()
    assert api.post(f"{shop.prefix}/api/tokens", json={"login": phone, "password": PASSWORD}).status_code == 429


def test_logins_still_answer_and_stay_limited_while_the_limit_store_is_down(tmp_path_factory):
    """Redis (the rate limits' store) unreachable: no 500, limits kept in the process's memory."""
    import socket

    from mallow.testing import build_app, dispose_app

    with socket.socket() as probe:  # a port nobody listens on once this socket is closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    app = build_app(tmp_path_factory, "sqlite", RATELIMIT_STORAGE_URI=f"redis://127.0.0.1:{port}/0")
    try:
        shop = make_store(app)
        client = app.test_client()
        assert client.post("/api/tokens", json={"email": shop.email, "password": PASSWORD}).status_code == 201
        statuses = [
            client.post("/api/tokens", json={"email": shop.email, "password": "wrong-pass-1"}).status_code
            for _ in range(7)
        ]
        assert 500 not in statuses and statuses[:4] == [401] * 4 and statuses[-1] == 429
    finally:
        dispose_app(app)
