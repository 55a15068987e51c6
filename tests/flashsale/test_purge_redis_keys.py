"""Purging a store removes the flash sale's Redis keys of that store: the gate's hash-tagged keys,
and those the plugin declares through ``mallow.sdk.purge_redis_patterns`` (the ticket queue, its
drain flag, the tickets, the Idempotency-Key answers, the attempt rates); another store's keys,
with tickets of its own in the same sale set-up, are all still there with the same values."""

from __future__ import annotations

import uuid

import pytest

from mallow.testing import HAVE_REDIS, REDIS_URL, JobRecorder, backend_params, dispose_app, plugin_app, run_cli

from .conftest import OPEN_LIMITS, buy, create_sale, enabled_store, in_store, make_shoppers, product


@pytest.fixture(scope="module", params=backend_params())
def purge_app(request, tmp_path_factory):
    if not HAVE_REDIS:
        pytest.skip("Redis is not running")
    app = plugin_app(tmp_path_factory, request.param, ["flashsale"], REDIS_URL=REDIS_URL, FLASHSALE_REDIS_URL=REDIS_URL)
    yield app
    dispose_app(app)


@pytest.fixture
def keyspace(purge_app, monkeypatch):
    """Own key prefixes (deleted afterwards, never FLUSHDB) and a job recorder for the drain."""
    import redis

    prefix = f"mallow-test:{uuid.uuid4().hex[:10]}"
    monkeypatch.setitem(purge_app.config, "FLASHSALE_REDIS_PREFIX", f"{prefix}:fs")
    monkeypatch.setitem(purge_app.config, "SESSION_MIRROR_PREFIX", f"{prefix}:m")
    monkeypatch.setitem(purge_app.extensions, "mallow.jobs", JobRecorder(only="flashsale."))
    with purge_app.app_context():
        from mallow_flashsale import flags

        flags.reset()
    client = redis.Redis.from_url(REDIS_URL)
    yield prefix, client
    keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()


def _queued_sale(app, tickets: int):
    """A store with a live sale and ``tickets`` shoppers admitted at the door, not drained yet
    (the last with an Idempotency-Key)."""
    from mallow_flashsale import gate

    shop = enabled_store(app, OPEN_LIMITS)
    sku = product(app, shop, stock=100)
    sale = create_sale(app, shop, [{"sku_id": sku, "sale_price": 100, "quota": 50}])
    people = make_shoppers(app, shop, tickets + 1)
    warm = buy(app.test_client(), shop, sale["id"], people[0][0], people[0][1], sku, quantity=2)
    assert warm.status_code == 409  # the route read the sale and the settings
    assert in_store(app, shop, lambda: gate.seed(shop.store_id, sale["id"]))
    for number, (token, address, _customer) in enumerate(people[1:]):
        headers = {"Idempotency-Key": f"k-{number}"} if number == tickets - 1 else {}
        admitted = buy(app.test_client(), shop, sale["id"], token, address, sku, **headers)
        assert admitted.status_code == 202, admitted.get_json()
    return shop


def _dump(client, keys) -> dict:
    return {key: client.dump(key) for key in keys}


def _sessions(client, prefix, shop) -> set[bytes]:
    """The mirrored token sessions of the store's shoppers (their value: ``<store>:<customer>``)."""
    found = set()
    for key in _keys(client, f"{prefix}:m:sess"):
        value = client.get(key) if client.type(key) == b"string" else None
        if value is not None and value.startswith(f"{shop.store_id}:".encode()):
            found.add(key)
    return found


def _keys(client, prefix) -> set[bytes]:
    return set(client.scan_iter(match=f"{prefix}:*", count=1000))


def test_purging_a_store_removes_its_flash_sale_keys_and_leaves_another_store_s(purge_app, keyspace):
    from mallow_flashsale import gate

    app = purge_app
    prefix, client = keyspace
    gone, kept = _queued_sale(app, 3), _queued_sale(app, 2)
    head = f"{prefix}:fs"

    def of_store(shop) -> set[bytes]:
        """Every flash-sale key naming the store (its queue, tickets, idempotency, rates, gate)."""
        with app.app_context():
            queue, _taken, flag = gate.queue_keys(shop.store_id, head)
        ticket_keys = {k for k in _keys(client, f"{head}:ticket:{shop.store_id}")}
        found = {queue.encode(), flag.encode()} | ticket_keys
        found |= _keys(client, f"{head}:{{{shop.store_id}:*")  # the gate's hash-tagged keys
        found |= _keys(client, f"{head}:idem:{shop.store_id}") | _keys(client, f"{head}:rl:{shop.store_id}")
        return found

    doomed, other = of_store(gone), of_store(kept)
    assert client.llen(gate.queue_keys(gone.store_id, head)[0]) == 3  # the queued tickets
    assert len(_keys(client, f"{head}:ticket:{gone.store_id}")) == 3
    assert _keys(client, f"{head}:idem:{gone.store_id}") and _keys(client, f"{head}:rl:{gone.store_id}")
    assert all(client.exists(key) for key in doomed | other)
    sessions = {shop.store_id: _sessions(client, prefix, shop) for shop in (gone, kept)}
    assert sessions[gone.store_id] and sessions[kept.store_id]  # the shoppers' mirrored tokens
    before_other = _dump(client, sorted(other | sessions[kept.store_id]))

    run_cli(app, "store", "close", gone.slug, "--reason", "测试关闭")
    out = run_cli(app, "store", "purge", "--slug", gone.slug, "--yes")
    assert f"{gone.slug} purged" in out

    assert not [key for key in doomed if client.exists(key)]
    assert not [key for key in _keys(client, head) if f":{gone.store_id}:".encode() in key]
    assert not [key for key in sessions[gone.store_id] if client.exists(key)]
    assert _dump(client, sorted(before_other)) == before_other  # the other store's keys, unchanged
    assert client.llen(gate.queue_keys(kept.store_id, head)[0]) == 2
