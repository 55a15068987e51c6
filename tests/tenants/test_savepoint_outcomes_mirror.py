"""The Redis mirror of shopper tokens is written once the token's transaction commits, never at a
savepoint release (``mallow.db.outcomes``): a front door reading the mirror would otherwise let in
a token the database may still roll back."""

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
def redis_keys(mirrored, monkeypatch):
    import redis

    prefix = f"mallow-test:{uuid.uuid4().hex[:10]}"
    monkeypatch.setitem(mirrored.config, "SESSION_MIRROR_PREFIX", prefix)
    client = redis.Redis.from_url(REDIS_URL)
    yield lambda secret: client.get(f"{prefix}:sess:{hashlib.sha256(secret.encode()).hexdigest()}")
    keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()


def test_a_token_issued_in_a_savepoint_is_mirrored_at_the_commit(mirrored, redis_keys):
    from mallow.accounts import customers, sessions
    from mallow.db import db
    from mallow.tenants.context import store_context

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
        assert redis_keys(secret) is None  # not committed yet
        db.session.commit()
        assert redis_keys(secret) == f"{shop.store_id}:{customer.id}".encode()

        savepoint = db.session.begin_nested()
        rolled_back = sessions.issue(customer, "token")
        savepoint.commit()
        db.session.rollback()
    assert redis_keys(rolled_back) is None  # never committed: never mirrored
