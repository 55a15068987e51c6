"""What the plugin trust machinery costs: the guarded hook call, the SDK's checked session, and a
checkout quote with the bundled plugins on, each against its bare baseline in the same run.

    .venv/bin/python bench/plugin_calls.py [--backend postgresql] [--rounds 5]

* **hook call**: one plugin implementation of ``mallow_template_slot`` through the guard
  (as the plugin, in a savepoint, timed, checked: :mod:`mallow.plugins.guard`) vs. the same
  function called plainly, inside a store request with an open transaction;
* **SDK session**: a one-row SELECT of the plugin's own table through ``mallow.sdk.db`` (the
  statement checked against the store, the plugin's permissions: :mod:`mallow.sdk.data`) vs.
  through Mallow's own session;
* **quote**: ``POST /api/checkout/quote`` of two lines in a store with the three bundled plugins
  and the probe on, vs. a store with none (``with/without``: what being a plugin store costs).

Interleaved rounds, the median printed; absolute figures drift on shared machines, the ratios
are what to compare (bench/README.md). Loopback only, every loop bounded.
"""

from __future__ import annotations

import common  # noqa: F401 -- first: moves bench/ to the end of sys.path (its http.py would hide the stdlib's)

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

PROBE = """
import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from mallow.sdk import db, hookimpl, plugin_model_base

Base = plugin_model_base("bench_probe")


class Note(Base):
    __tablename__ = "bench_probe_notes"
    id: Mapped[int] = mapped_column(primary_key=True)


@hookimpl
def mallow_template_slot(slot, context):
    return None


def read_one():
    return db.session.execute(sa.select(Note.id).limit(1)).first()
"""
BUNDLED = ["groupbuy", "flashsale", "distribution"]


class Folders:
    """``mktemp(prefix)`` like pytest's ``tmp_path_factory``, for the test kit."""

    def __init__(self):
        self.root = Path(tempfile.mkdtemp(prefix="mallow-bench-plugins-"))

    def mktemp(self, prefix: str) -> Path:
        return Path(tempfile.mkdtemp(prefix=f"{prefix}-", dir=self.root))


def per_call_us(call, count: int) -> float:
    started = time.perf_counter()
    for _ in range(count):
        call()
    return (time.perf_counter() - started) / count * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--calls", type=int, default=5000, help="hook calls and selects per round")
    parser.add_argument("--quotes", type=int, default=150, help="quotes per store per round")
    options = parser.parse_args()

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from mallow.db import db
    from mallow.plugins import guard
    from mallow.plugins.manager import hooks
    from mallow.tenants.context import store_context
    from mallow.testing import bearer, dispose_app, enable_plugin, make_product, make_shopper, make_store, plugin_app
    from mallow.testing.builders import build_plugin

    folders = Folders()
    with build_plugin(folders) as plugins:
        plugins.add(
            "bench_probe",
            PROBE,
            permissions=["tables", "storefront"],
        )
        app = plugin_app(folders, options.backend, [*BUNDLED, "bench_probe"], MALLOW_PLUGIN_BREAKER_FAULTS=10**9)
        try:
            plain, plugged = make_store(app), make_store(app)
            for name in [*BUNDLED, "bench_probe"]:
                enable_plugin(app, plugged, name)
            client = app.test_client()
            quotes = {}
            for shop in (plain, plugged):
                skus = make_product(app, shop, price=4500, stock=10**6)
                token, _address = make_shopper(client, shop)
                body = {"items": [{"sku_id": skus[0], "quantity": 2}], "province": "浙江省"}
                quotes[shop.slug] = (f"{shop.prefix}/api/checkout/quote", bearer(token), body)
            probe = __import__("mallow_bench_probe")

            results: dict[str, list[float]] = {k: [] for k in ("guarded", "plain", "sdk", "core", "with", "without")}
            for _round in range(options.rounds):
                with store_context(plugged.store_id, app=app), app.test_request_context():
                    from flask import g

                    g.mallow_store_id = plugged.store_id
                    db.session.execute(db.select(1))  # a transaction is open, as in a request
                    [impl] = [
                        i for i in hooks().mallow_template_slot.get_hookimpls() if i.plugin_name.endswith("bench_probe")
                    ]
                    kwargs = {"slot": "home.top", "context": {}}
                    results["guarded"].append(
                        per_call_us(
                            lambda impl=impl, kwargs=kwargs: guard.call(impl, "mallow_template_slot", kwargs),
                            options.calls,
                        )
                    )
                    results["plain"].append(per_call_us(lambda impl=impl: impl.function("home.top", {}), options.calls))
                    results["sdk"].append(per_call_us(probe.read_one, options.calls))
                    statement = db.select(probe.Note.id).limit(1)
                    results["core"].append(
                        per_call_us(lambda statement=statement: db.session.execute(statement).first(), options.calls)
                    )
                    db.session.rollback()
                for key, shop in (("without", plain), ("with", plugged)):
                    path, headers, body = quotes[shop.slug]
                    started = time.perf_counter()
                    for _ in range(options.quotes):
                        answer = client.post(path, headers=headers, json=body)
                        assert answer.status_code == 200, answer.get_json()
                    results[key].append(options.quotes / (time.perf_counter() - started))
        finally:
            dispose_app(app)

    median = {key: statistics.median(values) for key, values in results.items()}
    print(f"backend {options.backend}, {options.rounds} rounds, medians")
    print(
        f"hook call     guarded {median['guarded']:8.1f} µs   plain {median['plain']:8.2f} µs   "
        f"overhead {median['guarded'] - median['plain']:7.1f} µs/call"
    )
    print(
        f"SDK session   checked {median['sdk']:8.1f} µs   core  {median['core']:8.1f} µs   "
        f"ratio {median['sdk'] / median['core']:5.2f}×"
    )
    print(
        f"quote         3 plugins + probe {median['with']:7.1f} req/s   none {median['without']:7.1f} req/s   "
        f"ratio {median['with'] / median['without']:5.2f}×"
    )


if __name__ == "__main__":
    main()
