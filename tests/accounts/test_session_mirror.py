"""The Redis mirror of shopper tokens (mallow.accounts.mirror): written after the commit that issued
the token, gone at once when it is revoked (and never written back by a lookup racing the
revoke), every one of a customer's gone with revoke_all or deactivation, and Redis failing never
breaks a sign-in or a request."""

from __future__ import annotations

import hashlib
import uuid

import pytest

from mallow.testing import HAVE_REDIS, REDIS_URL, build_app, dispose_app, make_admin, make_store


@pytest.fixture(scope="module")
def mirrored(tmp_path_factory):
    if not HAVE_REDIS:
        pytest.skip("Redis is not running")
    app = build_app(tmp_path_factory, "sqlite", REDIS_URL=REDIS_URL)
    make_admin(app)
    yield app
    dispose_app(app)


@pytest.fixture
def mirror(mirrored, monkeypatch):
    import redis

    prefix = f"mallow-test:{uuid.uuid4().hex[:10]}"
    monkeypatch.setitem(mirrored.config, "SESSION_MIRROR_PREFIX", prefix)
    client = redis.Redis.from_url(REDIS_URL)
    yield client, prefix
    keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()


def _key(prefix, secret):
    return f"{prefix}:sess:{hashlib.sha256(secret.encode()).hexdigest()}"


def _customer(app, shop, via="token", commit=True):
    from mallow.accounts import customers, sessions
    from mallow.db import db
    from mallow.tenants.context import store_context

    with store_context(shop.store_id, app=app):
        customer = customers.register(
            {"login": f"m-{uuid.uuid4().hex[:10]}@example.com", "password": "test-pass-123", "privacy_consent": True}
        )
        db.session.commit()
        secret = sessions.issue(customer, via)
        if commit:
            db.session.commit()
        else:
            db.session.rollback()
        return customer.id, secret


def test_a_token_is_mirrored_after_its_commit_and_only_then(mirrored, mirror):
    client, prefix = mirror
    shop = make_store(mirrored)
    customer_id, secret = _customer(mirrored, shop)
    assert client.get(_key(prefix, secret)) == f"{shop.store_id}:{customer_id}".encode()
    assert 0 < client.ttl(_key(prefix, secret)) <= 90 * 86400  # the session's own expiry

    _cid, rolled_back = _customer(mirrored, shop, commit=False)
    assert client.get(_key(prefix, rolled_back)) is None  # never committed: never mirrored
    _cid, browser = _customer(mirrored, shop, via="cookie")
    assert client.get(_key(prefix, browser)) is None  # only bearer tokens are mirrored


def test_revoking_deletes_at_once_and_a_racing_lookup_cannot_write_it_back(mirrored, mirror):
    from mallow.accounts import mirror as mirror_module
    from mallow.accounts import sessions
    from mallow.db import db
    from mallow.tenants.context import store_context

    client, prefix = mirror
    shop = make_store(mirrored)
    customer_id, secret = _customer(mirrored, shop)
    with store_context(shop.store_id, app=mirrored):
        sessions.revoke("shopper", secret)
        assert client.get(_key(prefix, secret)) is None  # before the commit already
        db.session.commit()
        # a lookup that read the row before the revoke committed tries to write it back
        digest = hashlib.sha256(secret.encode()).hexdigest()
        assert not mirror_module._write(mirrored, digest, shop.store_id, customer_id, sessions._expiry("token"))
    assert client.get(_key(prefix, secret)) is None


def test_revoke_all_and_deactivation_forget_every_token_of_the_customer(mirrored, mirror):
    from mallow.accounts import sessions
    from mallow.accounts.models import Customer
    from mallow.db import db
    from mallow.tenants.context import store_context

    client, prefix = mirror
    shop = make_store(mirrored)
    customer_id, first = _customer(mirrored, shop)
    with store_context(shop.store_id, app=mirrored):
        customer = db.session.get(Customer, customer_id)
        second = sessions.issue(customer, "token")
        db.session.commit()
    assert client.get(_key(prefix, second)) is not None
    with store_context(shop.store_id, app=mirrored):
        sessions.revoke_all("shopper", customer_id)
        db.session.commit()
    assert client.get(_key(prefix, first)) is None and client.get(_key(prefix, second)) is None

    other_id, other = _customer(mirrored, shop)
    with store_context(shop.store_id, app=mirrored):
        db.session.get(Customer, other_id).active = False
        db.session.commit()
    assert client.get(_key(prefix, other)) is None


def test_a_lookup_writes_back_only_what_the_door_marked_missing(mirrored, mirror):
    from mallow.accounts import mirror as mirror_module
    from mallow.accounts import sessions
    from mallow.tenants.context import activate_store
    from mallow.tenants.models import Store
    from mallow.db import db

    client, prefix = mirror
    shop = make_store(mirrored)
    _cid, secret = _customer(mirrored, shop)
    client.delete(_key(prefix, secret))
    for marked in (False, True):
        environ = {mirror_module.MISSING: True} if marked else {}
        with mirrored.test_request_context(f"{shop.prefix}/api/x", environ_base=environ):
            activate_store(db.session.get(Store, shop.store_id))
            assert sessions.lookup("shopper", secret, "token") is not None
            db.session.remove()
        assert (client.get(_key(prefix, secret)) is not None) is marked


def test_redis_away_never_breaks_a_sign_in(mirrored, monkeypatch, caplog):
    from mallow.accounts import sessions
    from mallow.db import db
    from mallow.tenants.context import store_context

    shop = make_store(mirrored)
    monkeypatch.setitem(mirrored.config, "REDIS_URL", "redis://127.0.0.1:1/0")  # nothing listens there
    customer_id, secret = _customer(mirrored, shop)
    with store_context(shop.store_id, app=mirrored):
        assert sessions.lookup("shopper", secret, "token")[0].id == customer_id
        sessions.revoke("shopper", secret)
        db.session.commit()
        assert sessions.lookup("shopper", secret, "token") is None
    assert "session mirror" in caplog.text


def test_a_token_issued_in_a_savepoint_is_mirrored_at_the_commit(mirrored, mirror):
    """Not at a savepoint's release (``mallow.db.outcomes``): a front door reading the mirror
    would otherwise let in a token the database may still roll back."""
    from mallow.accounts import customers, sessions
    from mallow.db import db
    from mallow.tenants.context import store_context

    client, prefix = mirror
    shop = make_store(mirrored)
    with store_context(shop.store_id, app=mirrored):
        customer = customers.register(
            {"login": f"m-{uuid.uuid4().hex[:10]}@example.com", "password": "test-pass-123", "privacy_consent": True}
        )
        db.session.commit()
        savepoint = db.session.begin_nested()
        secret = sessions.issue(customer, "token")
        savepoint.commit()
        with pytest.raises(RuntimeError), db.session.begin_nested():
            raise RuntimeError("a plugin's guarded call failed")
        assert client.get(_key(prefix, secret)) is None  # not committed yet
        db.session.commit()
        assert client.get(_key(prefix, secret)) == f"{shop.store_id}:{customer.id}".encode()

        savepoint = db.session.begin_nested()
        rolled_back = sessions.issue(customer, "token")
        savepoint.commit()
        db.session.rollback()
    assert client.get(_key(prefix, rolled_back)) is None  # never committed: never mirrored
