"""SMS-code sign-in and sign-up (mallow.accounts.sms): codes hashed, expiring, single-use, a
limited number of tries, rate-limited per phone and per IP; the pages and the API; ``next``
honoured through sign-up and sign-in; the WeChat button inside WeChat only."""

from __future__ import annotations

import hashlib
import itertools
import random
from datetime import datetime, timedelta, UTC

import pytest
import sqlalchemy as sa

from mallow.testing import PASSWORD, bearer, make_store, post_form

_ips = itertools.count(random.randrange(1, 2**20))


def new_phone() -> str:
    return f"13{random.randrange(10**9):09d}"


def new_ip() -> dict:
    """A fresh client address per test: the per-IP limits are shared by the whole session's app."""
    n = next(_ips)
    return {"REMOTE_ADDR": f"10.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}"}


def fresh(app):
    """A test client from an address of its own."""
    client = app.test_client()
    client.environ_base.update(new_ip())
    return client


def last_code(app, shop, phone: str) -> str:
    from mallow.accounts import sms

    code = sms.provider(app).last_code(phone, shop.store_id)
    assert code and len(code) == 6 and code.isdigit()
    return code


def rows(app, shop, phone: str):
    from mallow.accounts.models import SmsCode
    from mallow.db import db
    from mallow.security import crypto
    from mallow.tenants.context import store_context

    with store_context(shop.store_id, app=app):
        return [
            dict(id=r.id, code_hash=r.code_hash, attempts=r.attempts, used_at=r.used_at, phone_digest=r.phone_digest)
            for r in db.session.execute(
                sa.select(SmsCode).where(SmsCode.phone_digest == crypto.digest(phone)).order_by(SmsCode.id)
            ).scalars()
        ]


def age_codes(app, shop, phone: str, seconds: int, expire: bool = False) -> None:
    """Move the phone's codes ``seconds`` into the past (and past their expiry with ``expire``)."""
    from mallow.accounts.models import SmsCode
    from mallow.db import db
    from mallow.security import crypto
    from mallow.tenants.context import store_context

    with store_context(shop.store_id, app=app):
        for row in db.session.execute(sa.select(SmsCode).where(SmsCode.phone_digest == crypto.digest(phone))).scalars():
            created = row.created_at if row.created_at.tzinfo else row.created_at.replace(tzinfo=UTC)
            row.created_at = created - timedelta(seconds=seconds)
            if expire:
                row.expires_at = datetime.now(UTC) - timedelta(seconds=1)
        db.session.commit()


def send(client, shop, phone: str, page: str = "login", **extra):
    return post_form(
        client, f"{shop.prefix}/login/code", {"phone": phone, "page": page, **extra}, form_path=f"{shop.prefix}/{page}"
    )


def sign_in(client, shop, phone: str, code: str, **extra):
    """Enter the code (with the consent box ticked: a new number becomes an account)."""
    form = {"phone": phone, "code": code, "privacy_consent": "1", **extra}
    return post_form(client, f"{shop.prefix}/login/sms", form, form_path=f"{shop.prefix}/login")


@pytest.fixture
def shop(app):
    return make_store(app)


@pytest.fixture
def browser(app):
    return fresh(app)


def test_sign_up_by_code_creates_the_shopper_and_signs_in(app, shop, browser):
    phone = new_phone()
    page = send(browser, shop, phone, page="register")
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert 'id="sms-sent"' in body and f"{phone[:3]}****{phone[-4:]}" in body  # the notice masks the number
    code = last_code(app, shop, phone)
    assert code not in body
    done = sign_in(browser, shop, phone, code, nickname="小王", page="register")
    assert done.status_code == 303 and done.headers["Location"].endswith(f"{shop.prefix}/account")
    account = browser.get(f"{shop.prefix}/account").get_data(as_text=True)
    assert "小王" in account
    # the same number signs in to the same account next time (no second account)
    other = fresh(app)
    age_codes(app, shop, phone, 120)
    send(other, shop, phone)
    assert sign_in(other, shop, phone, last_code(app, shop, phone)).status_code == 303
    assert "小王" in other.get(f"{shop.prefix}/account").get_data(as_text=True)


def test_the_code_is_stored_only_as_an_hmac(app, shop, browser):
    import hmac

    phone = new_phone()
    send(browser, shop, phone)
    code = last_code(app, shop, phone)
    [row] = rows(app, shop, phone)
    assert code not in row["code_hash"] and phone not in row["phone_digest"]
    message = f"sms-code:{shop.store_id}:login:{phone}:{code}".encode()
    assert row["code_hash"] == hmac.new(app.config["SECRET_KEY"].encode(), message, hashlib.sha256).hexdigest()
    assert row["code_hash"] != hashlib.sha256(message).hexdigest()  # keyed: not a plain hash of the code


def test_a_code_works_once(app, shop, browser):
    phone = new_phone()
    send(browser, shop, phone)
    code = last_code(app, shop, phone)
    assert sign_in(browser, shop, phone, code).status_code == 303
    again = sign_in(fresh(app), shop, phone, code)
    assert again.status_code == 422 and 'data-field="code"' in again.get_data(as_text=True)
    assert rows(app, shop, phone)[0]["used_at"] is not None


def test_an_expired_code_is_refused(app, shop, browser):
    phone = new_phone()
    send(browser, shop, phone)
    code = last_code(app, shop, phone)
    age_codes(app, shop, phone, 301, expire=True)
    refused = sign_in(browser, shop, phone, code)
    assert refused.status_code == 422
    assert browser.get(f"{shop.prefix}/account").status_code == 302  # not signed in


def test_wrong_codes_use_up_the_code(app, shop, browser):
    from mallow.accounts import sms

    phone = new_phone()
    send(browser, shop, phone)
    code = last_code(app, shop, phone)
    wrong = "000000" if code != "000000" else "111111"
    statuses = [sign_in(fresh(app), shop, phone, wrong).status_code for _ in range(sms.MAX_ATTEMPTS)]
    assert statuses == [422] * sms.MAX_ATTEMPTS
    assert rows(app, shop, phone)[0]["attempts"] == sms.MAX_ATTEMPTS
    # now even the right code is refused (the page's per-phone limit stops a sixth try first;
    # the code itself refuses too): ask for a new one
    assert sign_in(fresh(app), shop, phone, code).status_code in (422, 429)
    from mallow.tenants.context import store_context
    from mallow.validation import ValidationFailed

    with app.test_request_context(), store_context(shop.store_id, app=app):
        with pytest.raises(ValidationFailed) as refused:
            sms.verify_code(phone, code)
    assert refused.value.errors["code"][0] == "too_many_attempts"
    assert rows(app, shop, phone)[0]["used_at"] is None


def test_only_the_newest_code_counts(app, shop, browser):
    phone = new_phone()
    send(browser, shop, phone)
    first = last_code(app, shop, phone)
    age_codes(app, shop, phone, 61)
    assert send(browser, shop, phone).status_code == 200
    second = last_code(app, shop, phone)
    if first != second:
        assert sign_in(browser, shop, phone, first).status_code == 422
    assert sign_in(browser, shop, phone, second).status_code == 303


def test_codes_are_limited_per_phone(app, shop, browser):
    from mallow.accounts import sms

    phone = new_phone()
    assert send(browser, shop, phone).status_code == 200
    too_soon = send(fresh(app), shop, phone)  # another address: the phone's own limit
    assert too_soon.status_code == 429 and int(too_soon.headers["Retry-After"]) <= sms.RESEND_SECONDS
    assert 'data-field="phone"' in too_soon.get_data(as_text=True)
    for _ in range(sms.PER_HOUR - 1):
        age_codes(app, shop, phone, 61)
        assert send(fresh(app), shop, phone).status_code == 200
    age_codes(app, shop, phone, 61)
    hourly = send(fresh(app), shop, phone)
    assert hourly.status_code == 429
    assert len(rows(app, shop, phone)) == sms.PER_HOUR
    # another number is not held up
    assert send(fresh(app), shop, new_phone()).status_code == 200


def test_codes_are_limited_per_ip(app, shop):
    client = fresh(app)
    from mallow.accounts.authenticate import SMS_SEND_RATE_LIMIT_IP

    limit = int((app.config.get("SMS_SEND_RATE_LIMIT_IP") or SMS_SEND_RATE_LIMIT_IP).split()[0])
    statuses = [send(client, shop, new_phone()).status_code for _ in range(limit + 1)]
    assert statuses[:limit] == [200] * limit and statuses[limit] == 429
    # the API shares the count with the page
    api = client.post(f"{shop.prefix}/api/sms-codes", json={"phone": new_phone()})
    assert api.status_code == 429 and api.get_json()["error"] == "rate_limited"
    # another address may
    assert send(fresh(app), shop, new_phone()).status_code == 200


def test_checking_codes_is_limited_per_phone_like_a_password(app, shop):
    phone = new_phone()
    send(fresh(app), shop, phone)
    statuses = [sign_in(fresh(app), shop, phone, "99999x").status_code for _ in range(7)]
    assert statuses[:5] == [422] * 5 and statuses[5:] == [429, 429]


def test_bad_phone_numbers_are_field_errors(app, shop, browser):
    for phone in ("", "12345", "23800138000", "1380013800a"):
        response = send(browser, shop, phone)
        assert response.status_code == 422 and 'data-field="phone"' in response.get_data(as_text=True)


def test_next_is_honoured_through_sign_up_and_sign_in(app, shop, browser):
    target = f"{shop.prefix}/cart?x=1"
    page = browser.get(f"{shop.prefix}/register", query_string={"next": target})
    assert f'name="next" value="{target}"' in page.get_data(as_text=True)
    phone = new_phone()
    send(browser, shop, phone, page="register", next=target)
    done = sign_in(browser, shop, phone, last_code(app, shop, phone), page="register", next=target)
    assert done.headers["Location"].endswith(target)
    # password sign-up honours it too, and a foreign target falls back to the account page
    other = fresh(app)
    made = post_form(
        other,
        f"{shop.prefix}/register",
        {"login": new_phone(), "password": PASSWORD, "privacy_consent": "1", "next": target},
    )
    assert made.status_code == 303 and made.headers["Location"].endswith(target)
    phone2 = new_phone()
    third = fresh(app)
    send(third, shop, phone2)
    evil = sign_in(third, shop, phone2, last_code(app, shop, phone2), next="//evil.example/x")
    assert evil.headers["Location"].endswith(f"{shop.prefix}/account") and "evil" not in evil.headers["Location"]


def test_a_guest_sent_to_sign_in_comes_back(app, shop, browser):
    bounced = browser.get(f"{shop.prefix}/account/addresses")
    assert bounced.status_code == 302 and "/login?next=" in bounced.headers["Location"]
    login_page = browser.get(bounced.headers["Location"]).get_data(as_text=True)
    assert f'value="{shop.prefix}/account/addresses"' in login_page
    phone = new_phone()
    send(browser, shop, phone, next=f"{shop.prefix}/account/addresses")
    done = sign_in(browser, shop, phone, last_code(app, shop, phone), next=f"{shop.prefix}/account/addresses")
    assert done.headers["Location"].endswith(f"{shop.prefix}/account/addresses")


def test_password_sign_in_stays(app, shop, browser):
    phone = new_phone()
    post_form(browser, f"{shop.prefix}/register", {"login": phone, "password": PASSWORD, "privacy_consent": "1"})
    other = fresh(app)
    page = other.get(f"{shop.prefix}/login").get_data(as_text=True)
    assert 'id="sms-form"' in page and 'id="password-login"' in page
    done = post_form(
        other, f"{shop.prefix}/login", {"login": phone, "password": PASSWORD, "next": f"{shop.prefix}/orders"}
    )
    assert done.status_code == 303 and done.headers["Location"].endswith(f"{shop.prefix}/orders")
    # an account made with a password signs in by code too (same number, same account)
    send(other, shop, phone)
    assert sign_in(fresh(app), shop, phone, last_code(app, shop, phone)).status_code == 303


def test_forms_without_csrf_are_refused(app, shop, browser):
    assert browser.post(f"{shop.prefix}/login/code", data={"phone": new_phone()}).status_code == 400
    assert browser.post(f"{shop.prefix}/login/sms", data={"phone": new_phone(), "code": "123456"}).status_code == 400


def test_the_api_sends_and_signs_in(app, shop):
    client = fresh(app)
    phone = new_phone()
    sent = client.post(f"{shop.prefix}/api/sms-codes", json={"phone": f"+86 {phone[:3]} {phone[3:7]} {phone[7:]}"})
    assert sent.status_code == 202, sent.get_json()
    assert sent.get_json() == {"phone": phone[:3] + "****" + phone[-4:], "expires_in": 300, "resend_after": 60}
    again = client.post(f"{shop.prefix}/api/sms-codes", json={"phone": phone})
    assert again.status_code == 429 and "Retry-After" in again.headers
    wrong = client.post(f"{shop.prefix}/api/tokens/sms", json={"phone": phone, "code": "abc"})
    assert wrong.status_code == 422 and "code" in wrong.get_json()["fields"]
    signed = client.post(
        f"{shop.prefix}/api/tokens/sms",
        json={"phone": phone, "code": last_code(app, shop, phone), "nickname": "接口用户", "privacy_consent": True},
    )
    assert signed.status_code == 201, signed.get_json()
    body = signed.get_json()
    assert body["created"] is True and body["customer"]["nickname"] == "接口用户"
    assert client.get(f"{shop.prefix}/api/me", headers=bearer(body["token"])).get_json()["id"] == body["customer"]["id"]
    bad = client.post(f"{shop.prefix}/api/sms-codes", json={"phone": "12"})
    assert bad.status_code == 422 and "phone" in bad.get_json()["fields"]


def test_the_api_operations_are_documented(app):
    doc = app.test_client().get("/api/openapi.json").get_json()
    send_op = doc["paths"]["/s/{store}/api/sms-codes"]["post"]
    login_op = doc["paths"]["/s/{store}/api/tokens/sms"]["post"]
    assert send_op["operationId"] == "sendSmsCode" and login_op["operationId"] == "loginWithSmsCode"
    assert {"202", "429", "503"} <= set(send_op["responses"])
    assert {"201", "422", "503"} <= set(login_op["responses"])


def test_the_wechat_button_shows_only_inside_wechat_when_configured(app, shop, monkeypatch):
    from mallow.payments import wechat

    wechat_ua = {"User-Agent": "Mozilla/5.0 (iPhone) AppleWebKit MicroMessenger/8.0.47 NetType/WIFI"}
    client = fresh(app)
    assert 'id="wechat-login"' not in client.get(f"{shop.prefix}/login", headers=wechat_ua).get_data(as_text=True)
    monkeypatch.setattr(wechat, "oauth_credentials", lambda: ("wx123", "secret"))
    inside = client.get(f"{shop.prefix}/login?next={shop.prefix}/cart", headers=wechat_ua).get_data(as_text=True)
    assert 'id="wechat-login"' in inside
    button_form = (
        inside.split('id="wechat-login-form"')[0].rsplit("<form", 1)[1]
        + inside.split('id="wechat-login-form"')[1].split("</form>")[0]
    )
    assert (
        f'action="{shop.prefix}/wechat/login"' in button_form
        and f'name="next" value="{shop.prefix}/cart"' in button_form
    )
    assert 'name="privacy_consent"' in button_form and "checked" not in button_form  # unticked
    outside = client.get(f"{shop.prefix}/login").get_data(as_text=True)
    assert 'id="wechat-login"' not in outside


def test_the_logging_provider_records_the_last_code_per_store_and_phone(app):
    from mallow.accounts.sms import LoggingSmsProvider

    class Store:
        id, slug = 7, "x"

    provider = LoggingSmsProvider()
    provider.send_code("13800138000", "123456", Store)
    provider.send_code("13800138000", "654321", Store)
    assert provider.last_code("13800138000", 7) == "654321"
    assert provider.last_code("+86 138 0013 8000", 7) == "654321"
    assert provider.last_code("13800138000", 8) is None
