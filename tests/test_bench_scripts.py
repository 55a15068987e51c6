"""The bench scripts' own checks (part of the suite, or alone):

    .venv/bin/python -m pytest tests/test_bench_scripts.py -q -p no:cacheprovider

* every script starts (``--help``) although bench/ holds an ``http.py`` that would hide the standard
  library's ``http``;
* ``common.settle`` waits for a count still moving (orders committing after wrk stopped) and
  says when it never held still;
* the bulk store-making of bench/http.py (``http_setup.provision_stores``) makes stores that are
  what ``provision_store`` makes — the same tables at the head, the owner as staff — and whose
  home answers, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time

import pytest
import sqlalchemy as sa

BENCH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "bench")
if BENCH not in sys.path:
    sys.path.append(BENCH)

import common  # noqa: E402

SCRIPTS = ["storefront", "render", "plugin_calls", "uploads", "orders", "flashsale", "tenants", "http"]


@pytest.mark.parametrize("script", SCRIPTS)
def test_every_script_starts(script):
    done = subprocess.run(
        [sys.executable, os.path.join(BENCH, f"{script}.py"), "--help"],
        cwd=common.ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "usage:" in done.stdout


def test_settle_waits_for_the_last_commits():
    values = iter([498, 499, 499, 500])

    def read():
        return next(values, 500)

    value, reads, _seconds, settled, first = common.settle(read, quiet=0.05, at_most=5, every=0.01)
    assert (first, value, settled) == (498, 500, True)
    assert reads >= 5  # read again after the last change, until it held still


def test_settle_waits_for_work_that_starts_late_when_told_its_goal():
    """A drain worker may start after the answers stopped: the count holds still at 4 for longer
    than ``quiet`` before it moves. Told the goal (the admitted attempts), settle waits for it."""
    values = iter([4] * 30 + [200, 500])

    def read():
        return next(values, 500)

    value, _reads, _seconds, settled, first = common.settle(read, quiet=0.05, at_most=5, every=0.01, until=500)
    assert (first, value, settled) == (4, 500, True)
    early = iter([4] * 30 + [500])
    assert common.settle(lambda: next(early, 500), quiet=0.05, at_most=5, every=0.01)[0] == 4  # without: too soon


def test_the_random_store_warm_up_is_whole_seconds_that_grow_with_the_stores():
    """wrk's ``-d`` takes whole seconds (a fraction made it print its usage and measure nothing)."""
    import http_scenarios

    seconds = [http_scenarios.warm_up_seconds(n) for n in (100, 1_000, 10_000, 100_000)]
    assert all(type(s) is int for s in seconds)
    assert seconds[0] == 2 and seconds[0] <= seconds[1] < seconds[2] <= seconds[3] == 60


def test_settle_says_when_the_count_never_holds_still():
    counter = iter(range(10**6))
    value, reads, _seconds, settled, _first = common.settle(lambda: next(counter), quiet=0.2, at_most=0.1, every=0.01)
    assert settled is False
    assert value == reads - 1


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_bulk_stores_are_what_provision_store_makes(backend):
    import http_setup

    from mallow.app import create_app
    from mallow.db import db
    from mallow.db.migrate import head, upgrade_platform
    from mallow.qualifications.matrix import seed_defaults
    from mallow.tenants.models import Store
    from mallow.tenants.provisioning import store_revisions
    from mallow.testing import make_store

    config, scratch = common.mallow_config(backend, "test")
    app = create_app(config)
    try:
        with app.app_context():
            upgrade_platform(db.engine)
            seed_defaults()
        owner = make_store(app, slug="owner")  # signed up: its schema made by provision_store
        slugs = http_setup.provision_stores(app, 3, "owner", time.monotonic() + 120, echo=lambda line: None)
        assert slugs == ["bench-00001", "bench-00002", "bench-00003"]
        assert http_setup.provision_stores(app, 3, "owner", time.monotonic() + 120) == slugs  # idempotent

        with app.app_context():
            ids = [db.session.execute(db.select(Store.id).filter_by(slug=slug)).scalar_one() for slug in slugs]
            db.session.remove()
            assert set(store_revisions(ids).values()) == {head("store")}
            engines = app.extensions["mallow.store_engines"]

            def tables_and_staff(store_id):
                schema = engines.version_table_schema(store_id)  # store_<id>, or the attached file's "store"
                with engines.engine_for(store_id).connect() as c:
                    names = set(sa.inspect(c).get_table_names(schema=schema))
                    staff = c.exec_driver_sql(f"SELECT merchant_id, role FROM {schema}.staff").all()
                return names, [tuple(row) for row in staff]

            signed_up = tables_and_staff(owner.store_id)
            for store_id in ids:
                assert tables_and_staff(store_id) == signed_up

        client = app.test_client()
        for slug in slugs:
            assert client.get(f"/s/{slug}/").status_code == 200
    finally:
        common.dispose_app(app)
        common.drop_database(scratch)
        shutil.rmtree(config["MALLOW_DATA_DIR"], ignore_errors=True)


def _http_script():
    """bench/http.py as a module of another name (as ``http`` it would hide the standard library's)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench_http_script", os.path.join(BENCH, "http.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_store_counts_compare_100_with_n():
    counts = _http_script().store_counts
    assert counts(None) == [100, 10_000]  # the "a random store among 100 vs 10,000"
    assert counts(None, quick=True) == [100, 1_000]
    assert counts("20000") == [100, 20_000]
    assert counts("20,500") == [20, 500]  # the smallest runs
    assert counts("50") == [50]  # one phase, no comparison


def test_bulk_sqlite_stores_are_copies_of_the_first_with_its_owner():
    """SQLite: one store made by ``provision_store``, the others copies of its file (one per
    store, renamed into place), each its own file: a write to one is not seen in another."""
    import http_setup

    from mallow.app import create_app
    from mallow.db import db
    from mallow.db.migrate import upgrade_platform
    from mallow.qualifications.matrix import seed_defaults
    from mallow.tenants.models import Store
    from mallow.testing import make_store

    config, _ = common.mallow_config("sqlite", "test")
    app = create_app(config)
    try:
        with app.app_context():
            upgrade_platform(db.engine)
            seed_defaults()
        make_store(app, slug="owner")
        steps = http_setup.Steps()
        slugs = http_setup.provision_stores(app, 4, "owner", time.monotonic() + 120, lambda line: None, steps)
        assert set(steps.seconds) == {"rows", "first store (provision_store)", "files"}
        # a second call adds copies of the first bench store's file
        assert len(http_setup.provision_stores(app, 6, "owner", time.monotonic() + 120, lambda line: None)) == 6
        engines = app.extensions["mallow.store_engines"]
        with app.app_context():
            ids = list(
                db.session.execute(db.select(Store.id).where(Store.slug.like("bench-%")).order_by(Store.id)).scalars()
            )
            db.session.remove()
        files = [engines.sqlite_path(i) for i in ids]
        assert all(path.is_file() for path in files)
        assert not list(files[0].parent.glob("*.building"))
        assert len({os.stat(path).st_ino for path in files}) == 6  # copies, not links
        with engines.engine_for(ids[1]).begin() as c:
            c.exec_driver_sql("UPDATE store.staff SET role = 'staff'")
        for store_id in ids:
            with engines.engine_for(store_id).connect() as c:
                roles = c.exec_driver_sql("SELECT role FROM store.staff").scalars().all()
            assert roles == (["staff"] if store_id == ids[1] else ["owner"])
        client = app.test_client()
        assert [client.get(f"/s/{slug}/").status_code for slug in slugs] == [200] * 4
    finally:
        common.dispose_app(app)
        shutil.rmtree(config["MALLOW_DATA_DIR"], ignore_errors=True)
