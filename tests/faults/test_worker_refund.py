"""A worker SIGKILLed in the middle of a refund job (issue 15, faults survived).

Money came in for an order that had been closed (a late payment): Mallow records it and queues
``payments.submit_refund``. A real ``mallow worker`` (a subprocess, on a Redis of this module)
takes the job and calls WeChat Pay (the kit's fake, over HTTP); the fake holds the call, and the
worker is killed there with SIGKILL, its work horse too. A second worker starts: it finds the job
of the dead worker still marked started, puts it back on the queue at once (no waiting for the
heartbeat to lapse, no retry delay) and runs it again. The shopper gets **one** refund: WeChat
Pay is asked again with the same ``out_refund_no``, holds one refund for the payment, and the
order records one refund of the amount paid. Twice: the worker dies after WeChat Pay made the
refund (the answer never came back), and before WeChat Pay saw anything.
"""

from __future__ import annotations

from datetime import timedelta, UTC

import pytest
import sqlalchemy as sa

from mallow.testing import backend_params, bearer, build_app, dispose_app, make_product, make_shopper, make_store
from mallow.testing.faults import HoldingWeChatPayServer, WorkerProcess, wait_until, worker_config
from mallow.testing.payments import configure_wechatpay, place_order, post_notification
from mallow.testing.wechatpay import generate_rsa_key, make_fake_merchant

pytestmark = pytest.mark.redis

REFUNDS = "/v3/refund/domestic/refunds"


@pytest.fixture(scope="module")
def merchant():
    return make_fake_merchant(merchant_key=generate_rsa_key(), platform_key=generate_rsa_key())


@pytest.fixture(scope="module")
def wechatpay(merchant):
    with HoldingWeChatPayServer() as server:
        server.add_fake_merchant(merchant)
        yield server


@pytest.fixture(scope="module", params=backend_params())
def fault_app(request, tmp_path_factory, redis_server, wechatpay):
    """The app on each backend with its jobs on this module's Redis and WeChat Pay at the fake."""
    app = build_app(tmp_path_factory, request.param, REDIS_URL=redis_server.url, WECHATPAY_BASE_URL=wechatpay.base_url)
    yield app
    app.extensions["mallow.jobs"].close()
    dispose_app(app)


@pytest.fixture
def workers(fault_app, redis_server, tmp_path):
    """Start ``mallow worker`` subprocesses of the app; each is stopped afterwards."""
    client = redis_server.client()
    client.flushall()  # this module's own server: the last test's jobs and workers are gone
    client.close()
    started: list[WorkerProcess] = []

    def start(name: str) -> WorkerProcess:
        worker = WorkerProcess(worker_config(fault_app), tmp_path / f"{name}.log").start()
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()


def _in_store(app, shop, func):
    from mallow.tenants.context import store_context

    with store_context(shop.store_id, app=app):
        return func()


def _refunds(app, shop, order_id):
    from mallow.db import db
    from mallow.payments.models import Refund

    return _in_store(
        app,
        shop,
        lambda: [
            {"id": r.id, "no": r.out_refund_no, "amount": r.amount, "status": r.status, "remote": r.provider_refund_id}
            for r in db.session.execute(sa.select(Refund).where(Refund.order_id == order_id).order_by(Refund.id))
            .scalars()
            .all()
        ],
    )


def _events(app, shop, order_id):
    from mallow.db import db
    from mallow.orders.models import OrderEvent

    return _in_store(
        app,
        shop,
        lambda: [
            (e.kind, e.detail)
            for e in db.session.execute(
                sa.select(OrderEvent).where(OrderEvent.order_id == order_id).order_by(OrderEvent.id)
            ).scalars()
        ],
    )


def _late_payment(app, server, merchant):
    """An order closed by the unpaid timeout whose payment arrives afterwards: Mallow keeps the
    money's record and queues the refund job. Returns (shop, client, order, out_trade_no, refund)."""
    from mallow.db import db
    from mallow.orders import service as orders
    from mallow.orders.models import Order

    shop = make_store(app)
    configure_wechatpay(app, shop, merchant)
    [sku] = make_product(app, shop, price=3900, stock=5)
    client = app.test_client()
    token, address = make_shopper(client, shop)
    order = place_order(client, shop, token, address, sku, 2)
    pay = client.post(
        f"{shop.prefix}/api/orders/{order['id']}/pay", headers=bearer(token), json={"provider": "wechatpay"}
    )
    assert pay.status_code == 200, pay.get_json()
    out_trade_no = pay.get_json()["payment"]["out_trade_no"]

    def close():
        deadline = db.session.get(Order, order["id"]).pay_deadline
        deadline = deadline.replace(tzinfo=UTC) if deadline.tzinfo is None else deadline
        return orders.sweep(deadline + timedelta(seconds=1))["closed"]

    assert _in_store(app, shop, close) == 1
    app.extensions["mallow.jobs"].queue.empty()  # the store's own jobs so far (its approval's notices)
    server.mark_paid(out_trade_no)
    answer = post_notification(client, shop, "wechatpay", server.payment_notification(out_trade_no))
    assert answer.status_code == 204
    [refund] = _refunds(app, shop, order["id"])
    assert refund["status"] == "processing" and refund["remote"] is None and refund["amount"] == order["total"]
    return shop, client, order, out_trade_no, refund


def _queued_refund_job(app, refund_id):
    runner = app.extensions["mallow.jobs"]
    [job] = [
        job for job in runner.queue.get_jobs() if job.args[0] == "payments.submit_refund"
    ]  # one job, queued after the notification's commit
    assert job.args[1]["refund_id"] == refund_id
    return job


def _started_ids(app):
    from rq.registry import StartedJobRegistry

    queue = app.extensions["mallow.jobs"].queue
    return StartedJobRegistry(queue.name, connection=queue.connection).get_job_ids(cleanup=False)


@pytest.mark.parametrize("provider_saw_it", [True, False], ids=["after-the-provider", "before-the-provider"])
def test_a_refund_job_whose_worker_is_killed_runs_again_and_refunds_once(
    fault_app, wechatpay, merchant, workers, provider_saw_it
):
    app = fault_app
    shop, client, order, out_trade_no, refund = _late_payment(app, wechatpay, merchant)
    job = _queued_refund_job(app, refund["id"])

    held = wechatpay.hold_next("POST", REFUNDS, after_processing=provider_saw_it)
    first = workers("first")
    first.wait_for(held.arrived.is_set, what="the refund job to call WeChat Pay")  # and be held there
    assert refund["no"].encode() in held.body
    first.kill()
    held.release()

    # What the crash left: the job still marked started by a worker that is gone, the refund
    # unsent as far as Mallow knows; WeChat Pay made it or never saw it.
    assert job.id in _started_ids(app)
    assert _refunds(app, shop, order["id"]) == [refund]
    made = wechatpay.refunds_of(out_trade_no)
    assert len(made) == (1 if provider_saw_it else 0)

    second = workers("second")
    # the job runs again: WeChat Pay's answer (its refund id) is on Mallow's refund row
    second.wait_for(
        lambda: _refunds(app, shop, order["id"])[0]["remote"],
        what="the requeued refund job to run on the second worker",
    )
    assert "died while running it; queued again" in second.log()
    wait_until(lambda: job.id not in _started_ids(app), what="the job to finish")
    [again] = _refunds(app, shop, order["id"])
    [remote] = wechatpay.refunds_of(out_trade_no)  # one refund at WeChat Pay, whatever the crash
    assert remote.out_refund_no == refund["no"] and remote.refund_fen == order["total"]
    assert again["remote"] == remote.refund_id and again["status"] == "processing"

    # WeChat Pay finishes the refund and says so: the order records one refund of the amount paid
    wechatpay.complete_refund(refund["no"])
    answer = post_notification(client, shop, "wechatpay", wechatpay.refund_notification(refund["no"]))
    assert answer.status_code == 204
    [done] = _refunds(app, shop, order["id"])
    assert done["status"] == "succeeded" and done["amount"] == order["total"] and done["no"] == refund["no"]
    refunded = [detail for kind, detail in _events(app, shop, order["id"]) if kind == "refunded"]
    assert [(d["out_refund_no"], d["amount"]) for d in refunded] == [(refund["no"], order["total"])]
