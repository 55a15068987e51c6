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
JOBS = 2  # connections making schemas (PostgreSQL)


class Steps:
    """Seconds spent in each step of making stores (``rows``, ``schemas``/``files``, …), summed
    over batches; ``str()`` gives ``rows 1.2 s, files 30.4 s``."""

    def __init__(self):
        self.seconds: dict[str, float] = {}

    def add(self, step: str, started: float) -> None:
        self.seconds[step] = self.seconds.get(step, 0.0) + time.monotonic() - started

    def __str__(self) -> str:
        return ", ".join(f"{step} {seconds:.1f} s" for step, seconds in self.seconds.items()) or "nothing to do"


def provision_stores(app, count: int, owner_slug: str, deadline: float, echo=print, steps: Steps | None = None):
    """Make ``count`` open stores exist (``bench-00001`` …, owned by the owner of ``owner_slug``),
    each with its schema (PostgreSQL) or file (SQLite) at the head and its owner as staff, as
    :func:`mallow.tenants.provisioning.provision_store` makes them; returns every bench store's
    slug, in order.

    In bulk, ``BATCH`` stores at a time: the rows in one bulk ``INSERT … RETURNING`` (no ORM
    unit of work: a new store has no stamp to move); then on PostgreSQL the very statements
    ``provision_store`` sends for a schema (captured once, :func:`common.store_ddl`) replayed five
    stores to a transaction on ``JOBS`` connections, one round trip per store, as bench/tenants.py
    makes its stores; on SQLite the first bench store is made by ``provision_store`` itself (from
    the store pool) and every other one is a copy of its file (:func:`common.copy_store_file`:
    the same tables, revision and owner row, as every bench store has the same owner).
    Idempotent (stores made by an earlier call count) and bounded: past ``deadline``
    (``time.monotonic()``) it stops after the batch and returns what exists. ``steps`` (when
    given) gets the seconds of each step; a progress line every 10 s and a last one with them."""
    import sqlalchemy as sa

    from mallow.accounts.staff import owner_seed
    from mallow.db import db
    from mallow.tenants.models import Store
    from mallow.tenants.provisioning import provision_store

    steps = steps if steps is not None else Steps()
    with app.app_context():
        owner = db.session.execute(db.select(Store.owner_id).filter_by(slug=owner_slug)).scalar_one()
        made = db.session.execute(
            db.select(Store.id, Store.slug).where(Store.slug.like("bench-%")).order_by(Store.id)
        ).all()
        ids, slugs = [row.id for row in made], [row.slug for row in made]
        db.session.remove()
        engines = app.extensions["mallow.store_engines"]
        postgresql = engines.is_postgresql
    if len(slugs) >= count:
        return slugs[:count]
    step = time.monotonic()
    ddl = common.store_ddl(app) if postgresql else None
    if postgresql:
        steps.add("DDL captured", step)
    started, first, last_echo = time.monotonic(), len(slugs), time.monotonic()
    while len(slugs) < count and time.monotonic() < deadline:
        numbers = range(len(slugs) + 1, min(count, len(slugs) + BATCH) + 1)
        step = time.monotonic()
        with app.app_context():
            now = datetime.now(UTC)
            rows = [
                dict(
                    slug=f"bench-{n:05d}",
                    name=f"压测店铺 {n}",
                    main_category="general",
                    owner_id=owner,
                    status="open",
                    created_at=now,
                    opened_at=now,
                )
                for n in numbers
            ]
            new = db.session.execute(
                sa.insert(Store).returning(Store.id, Store.slug, sort_by_parameter_order=True), rows
            )
            new = [tuple(row) for row in new]
            db.session.commit()
            db.session.remove()
        steps.add("rows", step)
        step = time.monotonic()
        if postgresql:
            with app.app_context():
                common.replay_schemas(db.engine, ddl, [(store_id, owner) for store_id, _ in new], connections=JOBS)
            steps.add("schemas", step)
        else:
            pending = new
            if not ids:  # the first bench store: made by provision_store itself, its file the template
                with app.app_context():
                    provision_store(new[0][0], seed=owner_seed(owner))
                pending = new[1:]
                steps.add("first store (provision_store)", step)
                step = time.monotonic()
            with app.app_context():
                template = (ids or [new[0][0]])[0]
                common.copy_store_file(app, template, [store_id for store_id, _ in pending])
            steps.add("files", step)
        ids += [store_id for store_id, _ in new]
        slugs += [slug for _, slug in new]
        if time.monotonic() - last_echo > 10 or len(slugs) == count:
            last_echo = time.monotonic()
            rate = (len(slugs) - first) / max(last_echo - started, 1e-9)
            echo(f"  {len(slugs):,} bench stores ({rate:.0f} stores/s, {last_echo - started:.0f} s: {steps})")
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
