"""What bench/http.py prepares inside Mallow's own database, through Mallow's services in the
bench process (before or between loads; the servers see it as any other process's writes):
shoppers with tokens and addresses, many open stores, and the small extra plugins of the
"0 vs 3 vs 10 plugins" home page.

Only set-up lives here: every measurement goes over HTTP to gunicorn.
"""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

#: a fast password hash for the bench's own shoppers (only their tokens are used afterwards)
FAST_HASH = "pbkdf2:sha256:1000"


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
    ``[(token, address_id)]``."""
    from mallow.accounts import customers, sessions
    from mallow.db import db
    from mallow.orders import addresses
    from mallow.tenants.context import store_context

    made = []
    with store_context(store_id(app, slug), app=app):
        for n in range(count):
            customer = customers.register(
                {"login": f"bench-{uuid.uuid4().hex[:12]}@example.com", "password": "bench-1234"}
            )
            token = sessions.issue(customer, "token")
            address = addresses.create(
                customer.id,
                {
                    "recipient": "压测",
                    "phone": "13912345678",
                    "province": "浙江省",
                    "city": "杭州市",
                    "detail": "文三路 1 号",
                },
            )
            made.append((token, address.id))
            if n % 200 == 199:
                db.session.commit()
        db.session.commit()
    return made


def provision_stores(app, count: int, owner_slug: str, deadline: float, echo=print) -> list[str]:
    """Make ``count`` open stores exist (``bench-00001`` …, owned by the owner of ``owner_slug``),
    each with its own schema (PostgreSQL) or file (SQLite) made by the platform's own
    :func:`mallow.tenants.provisioning.provision_store`; returns every bench store's slug.

    Idempotent (stores made by an earlier call count), in batches of 100 rows, and bounded:
    past ``deadline`` (``time.monotonic()``) it stops after the batch and returns what exists.
    The one place to switch to a pre-provisioned schema pool (platform/tenants/pool.py) later."""
    from mallow.accounts.staff import owner_seed
    from mallow.db import db
    from mallow.tenants.models import Store
    from mallow.tenants.provisioning import provision_store

    with app.app_context():
        owner = db.session.execute(db.select(Store.owner_id).filter_by(slug=owner_slug)).scalar_one()
        slugs = list(
            db.session.execute(db.select(Store.slug).where(Store.slug.like("bench-%")).order_by(Store.id)).scalars()
        )
        started, first = time.monotonic(), len(slugs)
        while len(slugs) < count and time.monotonic() < deadline:
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
                for n in range(len(slugs) + 1, min(count, len(slugs) + 100) + 1)
            ]
            db.session.add_all(batch)
            db.session.commit()
            for new_id in [store.id for store in batch]:  # one transaction each: a long one is slower
                provision_store(new_id, seed=owner_seed(owner))
            slugs += [store.slug for store in batch]
            if len(slugs) % 1000 == 0 or len(slugs) == count:
                rate = (len(slugs) - first) / max(time.monotonic() - started, 1e-9)
                echo(f"  {len(slugs):,} bench stores ({rate:.0f} stores/s)")
        db.session.remove()
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
