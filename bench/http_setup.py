"""What bench/http.py prepares inside Mallow's own database, through Mallow's services in the
bench process (before or between loads; the servers see it as any other process's writes):
shoppers with tokens and addresses, many open stores, and the small extra plugins of the
"0 vs 3 vs 10 plugins" home page.

Only set-up lives here: every measurement goes over HTTP to gunicorn.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path

import common
from common import FAST_HASH


def open_app(env: dict, **config):
    """A Mallow app on the bench run's database and data dir (same settings as the servers), with
    ``config`` on top."""
    from mallow.app import create_app

    overrides = {
        key: env[key] for key in ("MALLOW_DATA_DIR", "DATABASE_URL", "REDIS_URL", "SECRET_KEY") if env.get(key)
    }
    overrides.setdefault("REDIS_URL", env.get("REDIS_URL", ""))
    return create_app(dict(overrides, PASSWORD_HASH_METHOD=FAST_HASH, **config))


def store_id(app, slug: str) -> int:
    from mallow.db import db
    from mallow.tenants.models import Store

    with app.app_context():
        found = db.session.execute(db.select(Store.id).filter_by(slug=slug)).scalar_one()
        db.session.remove()
        return found


def make_shoppers(app, slug: str, count: int) -> list[tuple[str, int]]:
    """``count`` new shoppers of store ``slug``, each with a bearer token and a delivery address:
    ``[(token, address_id)]`` (:func:`common.make_shoppers`)."""
    return common.make_shoppers(app, store_id(app, slug), count)


BATCH = 500  # store rows per batch (and the granularity of the time budget)
JOBS = 2  # connections (PostgreSQL) or forked processes (SQLite) making stores


def provision_stores(app, count: int, owner_slug: str, deadline: float, echo=print) -> list[str]:
    """Make ``count`` open stores exist (``bench-00001`` …, owned by the owner of ``owner_slug``),
    each with its schema (PostgreSQL) or file (SQLite) at the head and its owner as staff, as
    :func:`mallow.tenants.provisioning.provision_store` makes them; returns every bench store's
    slug, in order.

    In bulk: rows ``BATCH`` at a time; then on PostgreSQL the very statements ``provision_store``
    sends for a schema (captured once, :func:`common.store_ddl`) replayed five stores to a
    transaction on two connections, as bench/tenants.py makes its stores; on SQLite the store
    pool (:mod:`mallow.tenants.pool`) filled with copies of one pooled file, then
    ``provision_store`` per store in two forked processes (:func:`mallow.db.migrate.upgrade_stores`,
    the machinery of ``mallow db upgrade --jobs``), each taking one (a rename) and writing the
    owner. Idempotent (stores made by an earlier call count) and bounded: past ``deadline``
    (``time.monotonic()``) it stops after the batch and returns what exists."""
    from mallow.accounts.staff import owner_seed
    from mallow.db import db
    from mallow.db.migrate import upgrade_stores
    from mallow.tenants.models import Store
    from mallow.tenants.provisioning import provision_store

    with app.app_context():
        owner = db.session.execute(db.select(Store.owner_id).filter_by(slug=owner_slug)).scalar_one()
        slugs = list(
            db.session.execute(db.select(Store.slug).where(Store.slug.like("bench-%")).order_by(Store.id)).scalars()
        )
        db.session.remove()
        postgresql = app.extensions["mallow.store_engines"].is_postgresql
    if len(slugs) >= count:
        return slugs[:count]
    ddl = common.store_ddl(app) if postgresql else None
    started, first, last_echo = time.monotonic(), len(slugs), time.monotonic()
    while len(slugs) < count and time.monotonic() < deadline:
        numbers = range(len(slugs) + 1, min(count, len(slugs) + BATCH) + 1)
        if not postgresql:
            common.fill_file_pool(app, len(numbers))
        with app.app_context():
            now = datetime.now(UTC)
            batch = [
                Store(
                    slug=f"bench-{n:05d}",
                    name=f"压测店铺 {n}",
                    main_category="general",
                    owner_id=owner,
                    status="open",
                    opened_at=now,
                )
                for n in numbers
            ]
            db.session.add_all(batch)
            db.session.commit()
            ids = [store.id for store in batch]
            slugs += [store.slug for store in batch]
            db.session.remove()
            if postgresql:
                common.replay_schemas(db.engine, ddl, [(store_id, owner) for store_id in ids], connections=JOBS)
            else:  # two forked processes, as ``mallow db upgrade --jobs 2`` migrates stores
                app.extensions["mallow.store_engines"].dispose()
                db.engine.dispose()

                def provision_one(new_id: int) -> None:
                    with app.app_context():
                        provision_store(new_id, seed=owner_seed(owner))

                done = upgrade_stores([(i, str(i)) for i in ids], provision_one, lambda line: None, jobs=JOBS)
                if done["failed"]:
                    raise SystemExit(f"provision_store failed: {done['failed'][:3]}")
        if time.monotonic() - last_echo > 10 or len(slugs) == count:
            last_echo = time.monotonic()
            rate = (len(slugs) - first) / max(last_echo - started, 1e-9)
            echo(f"  {len(slugs):,} bench stores ({rate:.0f} stores/s, {last_echo - started:.0f} s)")
    return slugs


PLUGIN_CODE = '''"""A bench plugin: one line of text in the home page's slot, nothing else."""
from mallow.sdk import hookimpl


@hookimpl
def mallow_template_slot(slot, context):
    if slot == "home.top":
        return "{text}"
    return None
'''


def write_extra_plugins(folder: Path, count: int) -> list[str]:
    """``count`` plugin projects ``folder/bench_pN/mallow_bench_pN/`` (as ``mallow plugin new``
    lays them out, for development mode), each adding a line to the home page's ``home.top``
    slot; returns their names."""
    names = []
    for n in range(1, count + 1):
        name = f"bench_p{n}"
        package = folder / name / f"mallow_{name}"
        package.mkdir(parents=True)
        (package / "__init__.py").write_text(PLUGIN_CODE.format(text=f"压测插件 {n}"), encoding="utf-8")
        manifest = {
            "name": name,
            "version": "0.1.0",
            "title": f"压测插件 {n}",
            "author": "bench/http.py",
            "description": "A home-page slot for bench/http.py.",
            "hooks": ["mallow_template_slot"],
            "settings_schema": {"type": "object", "properties": {}, "additionalProperties": False},
            "permissions": ["storefront"],
            "min_mallow_version": "0.1.0",
        }
        (package / "plugin.json").write_text(json.dumps(manifest, ensure_ascii=False), encoding="utf-8")
        names.append(name)
    return names
