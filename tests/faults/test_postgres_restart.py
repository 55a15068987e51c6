"""PostgreSQL restarted under traffic (issue 15, faults survived): the app recovers by itself.

A cluster of the module's own (:class:`mallow.testing.faults_pg.PostgresCluster`: the shared
server is never stopped) serves a Mallow app that answers real HTTP (werkzeug, threaded) on
127.0.0.1. The cluster is stopped and started (``pg_ctl -m fast``), and restarted with
``-m immediate`` (every server process killed, crash recovery) while client threads keep
placing orders and reading pages. Meanwhile:

* every answer is 200/201 or 503 "busy, try again" with ``Retry-After`` — never a 500, and no
  request hangs (a 10 s bound; they take milliseconds);
* once ``pg_ctl`` says the server is up again, every request succeeds, the first one included,
  on the same app: the platform tables and the store's tables (one pool on PostgreSQL), the
  storefront and the API. No restart of the app, no reconnect by hand: the pool's checkout check
  (:mod:`mallow.db.hygiene`) discards the connections the server dropped and SQLAlchemy connects
  anew;
* no half order: every order attempt carries an ``Idempotency-Key``; after the restart each
  key that got a 503 is sent again, and each key ends as exactly one order whose stock was taken.

The figures (outage, time to the first success after the server is up) are printed
(``-s`` shows them) and kept in the test report's ``user_properties``.
"""

from __future__ import annotations

import threading
import time
import uuid

import pytest
import requests
import sqlalchemy as sa
from werkzeug.serving import make_server

from mallow.testing import IN_CI, bearer, build_app, dispose_app, make_product, make_shopper, make_store, merchant_token
from mallow.testing.faults_pg import PostgresCluster, cluster_available

#: no request may take longer than this (a failure guard: they answer in milliseconds)
BOUND = 10.0
WHY_NOT = cluster_available()

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(WHY_NOT is not None and not IN_CI, reason=f"no PostgreSQL cluster of our own: {WHY_NOT}"),
]


class Served:
    """The app behind a real HTTP server, with a store, a shopper and its merchant."""

    def __init__(self, app, cluster: PostgresCluster):
        self.app, self.cluster = app, cluster
        self.shop = make_store(app)
        client = app.test_client()
        self.token, self.address = make_shopper(client, self.shop)
        self.merchant = merchant_token(client, self.shop)
        [self.sku] = make_product(app, self.shop, price=1500, stock=1000)
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.thread = threading.Thread(target=self.server.serve_forever, name="served-app", daemon=True)
        self.thread.start()
        self.base = f"http://127.0.0.1:{self.server.server_port}{self.shop.prefix}"

    def close(self) -> None:
        self.server.shutdown()
        self.thread.join(timeout=BOUND)

    # what the traffic sends: each reads or writes the database ---------------------------------
    def storefront(self, http: requests.Session) -> requests.Response:
        # a fresh query each time: a kept page (the front door's) would not ask the database
        return http.get(f"{self.base}/search", params={"q": uuid.uuid4().hex[:6]}, timeout=BOUND)

    def shopper_api(self, http: requests.Session) -> requests.Response:
        return http.get(f"{self.base}/api/orders", headers=bearer(self.token), timeout=BOUND)

    def console_api(self, http: requests.Session) -> requests.Response:
        # the merchant's token and staff rows are platform tables, the orders the store's
        return http.get(f"{self.base}/api/console/orders", headers=bearer(self.merchant), timeout=BOUND)

    def order(self, http: requests.Session, key: str) -> requests.Response:
        return http.post(
            f"{self.base}/api/orders",
            headers=bearer(self.token) | {"Idempotency-Key": key},
            json={"items": [{"sku_id": self.sku, "quantity": 1}], "address_id": self.address},
            timeout=BOUND,
        )

    def reads(self):
        return (self.storefront, self.shopper_api, self.console_api)

    def rows(self) -> dict:
        """Orders (by key) and the SKU's stock, read straight from the database."""
        from mallow.catalog.models import Sku
        from mallow.db import db
        from mallow.orders.models import Order, OrderLine
        from mallow.tenants.context import store_context

        with store_context(self.shop.store_id, app=self.app):
            keys = list(db.session.execute(sa.select(Order.idempotency_key)).scalars())
            lines = db.session.execute(sa.select(sa.func.count()).select_from(OrderLine)).scalar()
            stock = db.session.get(Sku, self.sku).stock
        return {"keys": keys, "lines": lines, "stock": stock}


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    if WHY_NOT is not None:
        pytest.fail(f"CI needs a PostgreSQL cluster of its own for the fault tests: {WHY_NOT}")
    with PostgresCluster() as cluster:
        app = build_app(tmp_path_factory, "sqlite", DATABASE_URL=cluster.url)
        served = Served(app, cluster)
        try:
            yield served
        finally:
            served.close()
            dispose_app(app, drop_database=False)  # the cluster goes with its folder


def _outcome(call, *args) -> tuple:
    started = time.monotonic()
    try:
        response = call(*args)
    except requests.RequestException as error:  # a hang past BOUND, a reset connection
        return type(error).__name__, None, started, time.monotonic() - started
    return response.status_code, response, started, time.monotonic() - started


def _try_again(response) -> bool:
    """A 503 that says "busy, nothing was saved, try again" (JSON for the API, a page in words)."""
    if response is None or response.status_code != 503 or response.headers.get("Retry-After") != "3":
        return False
    if response.headers["Content-Type"].startswith("application/json"):
        return response.json()["error"] == "busy"
    return "繁忙" in response.text


def _assert_try_again(status, response) -> None:
    assert status == 503 and _try_again(response), (status, response is not None and response.text[:300])


def test_while_the_server_is_down_requests_answer_503_and_the_first_request_after_it_is_up_succeeds(
    served, record_property
):
    http = requests.Session()
    assert [_outcome(call, http)[0] for call in served.reads()] == [200, 200, 200]
    down = time.monotonic()
    served.cluster.stop("fast")

    during = [_outcome(call, http) for call in served.reads()]
    during.append(_outcome(served.order, http, "down-" + uuid.uuid4().hex))

    for status, response, _started, took in during:
        _assert_try_again(status, response)
        assert took < BOUND
    served.cluster.start()
    up = time.monotonic()

    after = [_outcome(call, http) for call in served.reads()]
    after.append(_outcome(served.order, http, "up-" + uuid.uuid4().hex))

    assert [status for status, *_ in after] == [200, 200, 200, 201]
    recovered = after[0][2] + after[0][3] - up  # the first request after the server was up, answered
    record_property("pg-stop-start", f"down {up - down:.2f} s, first answer after up {recovered * 1000:.0f} ms")
    print(f"\nPostgreSQL stop -m fast/start: down {up - down:.2f} s; first answer {recovered * 1000:.0f} ms after up")
    rows = served.rows()
    assert [key for key in rows["keys"] if key.startswith("down-")] == []  # the 503 placed nothing


@pytest.mark.parametrize("mode", ["fast", "immediate"])
def test_a_restart_under_traffic_loses_no_order_and_every_request_after_it_succeeds(served, mode, record_property):
    before = served.rows()
    stop = threading.Event()
    warmed = [threading.Event() for _ in range(4)]
    results: list[tuple] = []  # (thread, kind, status, started, took, key)
    unclear: list[str] = []  # 503s that did not say "try again"
    lock = threading.Lock()

    def traffic(number: int) -> None:
        http = requests.Session()
        while not stop.is_set():
            for kind, call in (("order", served.order), *((c.__name__, c) for c in served.reads())):
                key = f"{mode}-{number}-{uuid.uuid4().hex}" if kind == "order" else None
                status, response, started, took = _outcome(call, http, *((key,) if key else ()))
                with lock:
                    if status == 503 and not _try_again(response):
                        unclear.append(response.text[:300])
                    results.append((number, kind, status, started, took, key))
                if status in (200, 201):
                    warmed[number].set()

    threads = [threading.Thread(target=traffic, args=(n,), daemon=True) for n in range(len(warmed))]
    for thread in threads:
        thread.start()
    try:
        for event in warmed:
            assert event.wait(BOUND), "the traffic never got an answer before the restart"
        down = time.monotonic()
        served.cluster.restart(mode)
        up = time.monotonic()
        # keep the traffic going until every thread has had a full round answered after the restart
        deadline = up + 6 * BOUND
        while time.monotonic() < deadline:
            with lock:
                fresh = {(n, kind) for n, kind, _s, started, _t, _k in results if started > up}
            if len(fresh) == len(warmed) * 4:
                break
            time.sleep(0.01)  # polling the threads' progress; the bound above is the failure guard
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=2 * BOUND)

    assert all(not thread.is_alive() for thread in threads)
    statuses = {status for _n, _kind, status, *_ in results}
    assert statuses <= {200, 201, 503}, sorted(map(str, statuses))  # never a 500, never a hang
    assert max(took for *_, took, _k in results) < BOUND
    assert unclear == []
    after = [r for r in results if r[3] > up]
    assert {(n, kind) for n, kind, *_ in after} == {(n, k) for n in range(4) for k in ("order", *KINDS)}
    failed_after = [(kind, status) for _n, kind, status, *_ in after if status not in (200, 201)]
    assert failed_after == []  # once the server is up, every request succeeds: the first ones too
    first = min(started + took for _n, _kind, _status, started, took, _k in after)
    outage = [r for r in results if r[2] == 503]
    record_property(
        f"pg-restart-{mode}",
        f"restart {up - down:.2f} s, {len(outage)} answers 503 meanwhile, first answer {(first - up) * 1000:.0f} ms after up",
    )
    print(
        f"\nPostgreSQL restart -m {mode} under traffic: {up - down:.2f} s, {len(outage)} answers 503,"
        f" {len(results)} requests, first answer {(first - up) * 1000:.0f} ms after up"
    )

    # no half order, no lost order: each key that got 503 is sent again and ends as one order
    http = requests.Session()
    placed = [key for _n, kind, status, *_r, key in results if kind == "order" and status == 201]
    retried = [key for _n, kind, status, *_r, key in results if kind == "order" and status == 503]
    for key in retried:
        status, response, *_ = _outcome(served.order, http, key)
        assert status in (200, 201), (status, response is not None and response.text[:300])
    rows = served.rows()
    keys = [key for key in rows["keys"] if key.startswith(f"{mode}-")]
    assert sorted(keys) == sorted(placed + retried)  # each attempt exactly once
    new_orders = len(rows["keys"]) - len(before["keys"])
    assert new_orders == len(keys)
    assert rows["lines"] - before["lines"] == new_orders
    assert before["stock"] - rows["stock"] == new_orders  # stock taken once per order, never for a 503


KINDS = ("storefront", "shopper_api", "console_api")
