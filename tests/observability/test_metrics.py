"""/metrics: only for the operator (a bearer token, or a direct connection from an allowed
address), otherwise the ordinary 404; Prometheus' text with request latency by route (never by
store), the front door's answers included, job failures and queue depth, payment-notification
outcomes and cache hits."""

from __future__ import annotations

import uuid

import pytest
from mallow.jobs import job, jobs_of
from mallow.jobs.runners import EmbeddedRunner
from mallow.testing import bearer, make_product, make_shopper, make_store
from mallow.testing.payments import pay_with_sandbox, place_order, post_notification

TOKEN = "metrics-token-for-tests-0123456789"
OUTSIDE = {"REMOTE_ADDR": "203.0.113.7"}  # TEST-NET-3: not loopback, not allowed by default
ORDERS_ROUTE = "/s/<store_slug>/api/orders"
LATENCY = "mallow_http_request_duration_seconds_count"


def test_metrics_is_a_404_to_anyone_but_the_operator(app, settings):
    client = app.test_client()
    with settings(app, MALLOW_METRICS_TOKEN=TOKEN):
        not_found = client.get("/no-such-page", environ_base=OUTSIDE)
        assert not_found.status_code == 404
        outsider = client.get("/metrics", environ_base=OUTSIDE)
        assert outsider.status_code == 404
        # the same page as any unknown address (but for the path in its language link)
        assert outsider.get_data().replace(b"/metrics", b"/no-such-page") == not_found.get_data()
        assert client.get("/metrics", environ_base=OUTSIDE, headers=bearer("a-wrong-token")).status_code == 404
        # behind a proxy every request comes from loopback: a forwarded one never qualifies by address
        assert client.get("/metrics", headers={"X-Forwarded-For": "198.51.100.4"}).status_code == 404
        assert client.get("/metrics", environ_base=OUTSIDE, headers=bearer(TOKEN)).status_code == 200
        assert client.get("/metrics").status_code == 200  # a direct connection from loopback (the default)
    with settings(app, MALLOW_METRICS_TOKEN="", MALLOW_METRICS_ALLOW="203.0.113.0/24"):
        assert client.get("/metrics", environ_base=OUTSIDE).status_code == 200
        assert client.get("/metrics").status_code == 404  # loopback is no longer on the list
        assert client.get("/metrics", environ_base=OUTSIDE, headers=bearer("")).status_code == 200


def test_request_latency_is_counted_by_route_not_by_store(app, scrape, value):
    first, second = make_store(app), make_store(app)
    before = value(scrape(app), LATENCY, route=ORDERS_ROUTE, method="GET", status="4xx")
    client = app.test_client()
    for shop in (first, second, first):
        assert client.get(f"{shop.prefix}/api/orders").status_code == 401  # no shopper token
    samples = scrape(app)
    assert value(samples, LATENCY, route=ORDERS_ROUTE, method="GET", status="4xx") == before + 3
    labels = {v for s in samples for v in s.labels.values()}
    assert not any(first.slug in label or second.slug in label for label in labels)


def test_the_front_doors_kept_pages_are_counted_and_carry_a_request_id(app, scrape, value):
    shop = make_store(app)
    make_product(app, shop, title="龙井茶", price=4800, stock=3)
    client = app.test_client()
    for _ in range(2):  # the first meeting of the store, then the render the door keeps
        assert client.get(f"{shop.prefix}/").status_code == 200
    before = scrape(app)
    kept = client.get(f"{shop.prefix}/", headers={"X-Request-Id": "kept-page-0001"})
    assert kept.headers.get("X-Mallow-Cache") == "hit"  # answered before Flask
    assert kept.headers["X-Request-Id"] == "kept-page-0001"
    after = scrape(app)
    assert value(after, LATENCY, route="edge:page", status="2xx") == value(before, LATENCY, route="edge:page") + 1
    hits = "mallow_cache_lookups_total"
    assert (
        value(after, hits, cache="edge_page", result="hit") == value(before, hits, cache="edge_page", result="hit") + 1
    )


def test_a_failed_job_is_counted_by_name(app, scrape, value):
    name = "tests.observability.fails"
    jobs_of(app).install(fails)
    before = value(scrape(app), "mallow_job_failures_total", job=name)
    runner = EmbeddedRunner(app)
    runner.enqueue(name)
    runner.enqueue(name)
    assert value(scrape(app), "mallow_job_queue_depth", queue="embedded") >= 0  # the app's own runner, read at scrape
    runner.run_pending()
    assert value(scrape(app), "mallow_job_failures_total", job=name) == before + 2


@job("tests.observability.fails")
def fails():
    raise RuntimeError("a job that fails, on purpose")


class _Posted:
    def __init__(self, body: bytes):
        self.body, self.headers = body, {"Content-Type": "application/json"}


def test_payment_notification_outcomes_are_counted(app, scrape, value):
    shop = make_store(app)
    [sku] = make_product(app, shop, price=1990, stock=5)
    client = app.test_client()
    token, address = make_shopper(client, shop)
    order = place_order(client, shop, token, address, sku)
    name = "mallow_payment_notifications_total"
    before = scrape(app)
    pay_with_sandbox(client, shop, token, order["id"])  # the cashier's Pay: the sandbox's signed notification
    forged = post_notification(client, shop, "sandbox", _Posted(b'{"out_trade_no": "%s"}' % uuid.uuid4().hex.encode()))
    assert forged.status_code in (400, 401)
    after = scrape(app)
    assert value(after, name, provider="sandbox", outcome="accepted", reason="paid") == (
        value(before, name, provider="sandbox", outcome="accepted", reason="paid") + 1
    )
    assert value(after, name, provider="sandbox", outcome="rejected") == (
        value(before, name, provider="sandbox", outcome="rejected") + 1
    )


@pytest.mark.parametrize("method", ["BREW", "get"])
def test_an_unknown_method_does_not_make_a_label_of_its_own(app, method, scrape):
    app.test_client().open("/healthz", method=method)
    methods = {s.labels.get("method") for s in scrape(app) if s.name == LATENCY}
    assert methods <= {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "other"}
