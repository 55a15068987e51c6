"""CPU per order: the order lane (``POST /s/<store>/api/orders``, 3 SKUs, the three bundled
plugins on) called in-process on PostgreSQL + Redis, as bench/http.py's order path places them,
and the CPU each order costs this process and the PostgreSQL backends, beside the bare
A-flash-pg app in the same database (issue 13: over HTTP the order rounds are CPU-bound, so CPU
per order is what the ratio follows; wall time here is round trips, not the figure).

    .venv/bin/python bench/order_cpu.py 1000           # µs of CPU per order: Python, PostgreSQL; bare
    cd bench && CG=1 valgrind --tool=callgrind --instr-atstart=no \
        --callgrind-out-file=/tmp/cg.%p ../.venv/bin/python order_cpu.py 100
        # instructions per order: callgrind's total / 100 (collection is on around the orders only)
    PROF=1 .venv/bin/python bench/order_cpu.py 1000    # a process-time cProfile in /tmp/lane.prof

The analytics flush thread is off: the buffer is flushed by hand after the measured orders (its
cost is printed). For back-to-back comparisons under callgrind fix ``PYTHONHASHSEED`` (dict and
type-cache layouts move totals by ~0.5 %). A scratch database ``mallow_lanecg_<pid>``, dropped
after; Redis keys under a prefix of the run.
"""

import common  # noqa: F401 -- first: moves bench/ to the end of sys.path (its http.py would hide the stdlib's)

import argparse
import gc
import json
import os
import subprocess
import sys
import time
import uuid

import flash_inprocess as fi
from common import create_database, dispose_app, drop_database


def main():
    parser = argparse.ArgumentParser(description="CPU per order of the order lane, in-process, beside A-flash-pg")
    parser.add_argument("orders", nargs="?", type=int, default=200, help="orders measured (after 300 to warm up)")
    n = parser.parse_args().orders
    name = f"mallow_lanecg_{os.getpid()}"
    url = create_database(name)
    prefix = f"lanecg{os.getpid()}"
    from mallow import app as mapp

    real = mapp.create_app

    def patched(config=None, *a, **k):
        config = dict(config or {})
        config["MALLOW_ANALYTICS_FLUSH_SECONDS"] = 0
        return real(config, *a, **k)

    mapp.create_app = patched
    app = fi.mallow_app(url, prefix)
    mapp.create_app = real
    from mallow.testing import approve_plugin, enable_plugin, make_product, make_store
    from mallow.plugin_host.loader import load_approved
    from mallow.analytics.buffer import EXTENSION

    for p in ("groupbuy", "distribution"):
        approve_plugin(app, p)
    load_approved(app)
    shop = make_store(app)
    for p in ("groupbuy", "flashsale", "distribution"):
        enable_plugin(app, shop, p)
    skus = []
    for i in range(3):
        [sku] = make_product(app, shop, title=f"商品{i}", price=1999 + i, stock=900_000_000)
        skus.append(sku)
    ((token, address),) = fi.shoppers(app, shop, 1)
    path = f"{shop.prefix}/api/orders"
    body = json.dumps({"items": [{"sku_id": s, "quantity": 1} for s in skus], "address_id": address}).encode()

    def env():
        e = fi.environ(path, body, token)
        e["HTTP_IDEMPOTENCY_KEY"] = uuid.uuid4().hex
        return e

    for _ in range(300):
        status, answer = fi.call(app, env())
    assert status.startswith("201"), (status, answer[:300])
    buf = app.extensions[EXTENSION]
    buf.flush()
    gc.collect()
    gc.freeze()
    envs = [env() for _ in range(n)]
    cg, prof = os.environ.get("CG"), None
    if os.environ.get("PROF"):
        import cProfile

        prof = cProfile.Profile(time.process_time)
    before = fi.backend_cpu(name)
    if cg:
        subprocess.run(["callgrind_control", "-i", "on", str(os.getpid())], check=True, capture_output=True)
    if prof:
        prof.enable()
    t = time.process_time()
    for e in envs:
        status, answer = fi.call(app, e)
    spent = time.process_time() - t
    if prof:
        prof.disable()
        prof.dump_stats("/tmp/lane.prof")
    if cg:
        subprocess.run(["callgrind_control", "-i", "off", str(os.getpid())], check=True, capture_output=True)
    pg = fi.backend_spent(before, fi.backend_cpu(name))
    assert status.startswith("201"), status
    print(
        f"{n} orders: python {spent / n * 1e6:.0f} us/order, pg backends {pg / n * 1e6:.0f} us/order", file=sys.stderr
    )
    fb, ft, pending = fi.backend_cpu(name), time.process_time(), len(buf)
    buf.flush()
    print(
        f"analytics flush of {pending}: python {(time.process_time() - ft) * 1e3:.1f} ms, pg {fi.backend_spent(fb, fi.backend_cpu(name)) * 1e3:.1f} ms",
        file=sys.stderr,
    )
    if not cg and not prof:
        bare_compare(url, name, n)
    dispose_app(app)
    drop_database(name)


def bare_compare(url, name, n):
    """The bare A-flash-pg of bench/orders.py, in the same database, measured the same way."""
    from orders import bare_app

    bare = bare_app(url)
    for _ in range(300):
        fi.call(bare, fi.environ("/order", b"{}"))
    benvs = [fi.environ("/order", b"{}") for _ in range(n)]
    before = fi.backend_cpu(name)
    t = time.process_time()
    for e in benvs:
        fi.call(bare, e)
    bspent = time.process_time() - t
    bpg = fi.backend_spent(before, fi.backend_cpu(name))
    print(
        f"bare A-flash-pg: python {bspent / n * 1e6:.0f} us/order, pg backends {bpg / n * 1e6:.0f} us/order",
        file=sys.stderr,
    )
    with bare.app_context():
        bare.extensions["sqlalchemy"].engine.dispose()


if __name__ == "__main__":
    main()
