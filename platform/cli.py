"""The ``mallow`` command (Flask's click CLI with Mallow's own commands).

Each command imports what it uses inside its own function, on purpose: importing ``mallow.cli``
loads nothing of Mallow, a command loads what it needs when it runs, and the app is built by
:func:`_create_app` through the one composition root, :func:`mallow.app.create_app`. The CLI sits
above every other module, so none of these imports dodges a cycle.
"""

from __future__ import annotations

import os
import sys
import time

import click
from flask.cli import FlaskGroup, with_appcontext


def _create_app():
    from mallow.app import create_app

    return create_app()


@click.group(
    cls=FlaskGroup, create_app=_create_app, add_default_commands=False, help="Mallow: multi-tenant micro-mall builder."
)
def main():
    pass


@main.command(with_appcontext=False)  # --dev prepares the plugins before the app is built
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--threads", default=8, show_default=True, type=int, help="threads of waitress (of each gthread worker)")
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="processes; more than one runs gunicorn (not on Windows: waitress, one process)",
)
@click.option(
    "--server",
    type=click.Choice(["auto", "waitress", "gunicorn"]),
    default="auto",
    show_default=True,
    help="auto: gunicorn when --workers > 1, else waitress",
)
@click.option(
    "--worker-class",
    type=click.Choice(["sync", "gthread"]),
    default="sync",
    show_default=True,
    help="gunicorn's workers: sync (one request at a time, behind a buffering proxy) or gthread (--threads each)",
)
@click.option(
    "--dev", is_flag=True, help="Development mode: plugins of --plugins folders run without review, reload on change."
)
@click.option(
    "--plugins",
    "plugin_dirs",
    multiple=True,
    type=click.Path(file_okay=False),
    help="With --dev: a plugin's folder (as `mallow plugin new` makes it) or a folder of them; repeatable "
    "(default ./plugins-dev).",
)
@click.pass_context
def serve(ctx, host, port, threads, workers, server, worker_class, dev, plugin_dirs):
    """Serve Mallow: one process with waitress (and, without Redis, the embedded job runner), or
    --workers N processes with gunicorn (jobs in `mallow worker`: needs REDIS_URL); with --dev, the
    development server with the plugins you are writing (never in production). In production
    (MALLOW_ENV=production) the logs are JSON lines unless MALLOW_LOG_FORMAT says otherwise."""
    from flask.cli import ScriptInfo

    from mallow.plugin_host import devmode

    if plugin_dirs and not dev:
        raise click.UsageError("--plugins needs --dev (plugins that are not reviewed run in development mode only)")
    use_gunicorn = server == "gunicorn" or (server == "auto" and workers > 1)
    if dev and use_gunicorn:
        raise click.UsageError(
            "--dev serves one process with the development server: no --workers or --server gunicorn"
        )
    if use_gunicorn and not _gunicorn_runs_here():
        click.echo("gunicorn does not run on this platform: serving with waitress, one process (--workers ignored)")
        use_gunicorn = False
    if not dev and os.environ.get("MALLOW_ENV") == "production":
        os.environ.setdefault("MALLOW_LOG_FORMAT", "json")  # before the app is built (and the workers inherit it)
    if use_gunicorn:  # each worker builds its own app: this process only checks the settings
        return _serve_gunicorn(host, port, workers, worker_class, threads)
    try:
        # before the app is built: the plugin folders go on sys.path and into the environment
        site = devmode.start(plugin_dirs, os.environ) if dev else None
        app = ctx.ensure_object(ScriptInfo).load_app()
        with app.app_context():
            if site is not None:
                return devmode.serve(app, site, host, port, echo=click.echo)
            _serve(app, host, port, threads)
    except devmode.DevModeError as error:
        raise click.ClickException(str(error)) from None


def _serve(app, host, port, threads):
    from waitress import serve as waitress_serve

    runner = app.extensions["mallow.jobs"]
    if runner.kind == "embedded":
        runner.start()
    click.echo(
        f"Mallow on http://{host}:{port}/  (jobs: {runner.kind}, database: {app.extensions['mallow.store_engines'].backend})"
    )
    if app.config.get("MALLOW_SANDBOX_PAYMENTS"):
        click.echo(
            "  sandbox payments ON (MALLOW_SANDBOX_PAYMENTS): stores without WeChat Pay take test orders, "
            "no money moves. Leave it unset in production."
        )
    waitress_serve(app, host=host, port=port, threads=threads, ident="mallow")


def _gunicorn_runs_here() -> bool:
    import importlib.util

    return sys.platform != "win32" and importlib.util.find_spec("gunicorn") is not None


def _metrics_directory() -> str:
    """prometheus_client's multiprocess directory (``PROMETHEUS_MULTIPROC_DIR``): the operator's
    (emptied now: it must not hold a previous run's values) or a new temporary one."""
    import glob
    import tempfile

    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if folder:
        os.makedirs(folder, exist_ok=True)
        for stale in glob.glob(os.path.join(folder, "*.db")):
            os.remove(stale)
    else:
        folder = os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="mallow-metrics-")
    return folder


def _serve_gunicorn(host, port, workers, worker_class, threads):
    """Replace this process with gunicorn serving ``create_app()`` in ``workers`` processes (each
    builds its own app from the environment: no connection is shared across a fork). Sync
    workers by default: measured here (shared/briefs/performance.md) they beat gthread, whose
    keep-alive spread was uneven with a 3–4x worse p99; a sync worker holds one request at a
    time, so put a buffering proxy (nginx) in front, and know that a chat's event stream holds a
    worker for up to CHAT_STREAM_SECONDS (gthread when many shoppers chat)."""
    from importlib.metadata import version

    from mallow.config import from_environment

    config = from_environment()
    if not config["REDIS_URL"]:
        raise click.ClickException(
            "gunicorn's workers cannot share the embedded job runner: set REDIS_URL and run `mallow worker`, "
            "or serve one process (--workers 1, waitress)"
        )
    folder = _metrics_directory()  # before any worker makes a metric: each writes its values there
    bind = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    backend = "postgresql" if config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql") else "sqlite"
    click.echo(
        f"Mallow on http://{bind}/  (gunicorn, {workers} {worker_class} worker(s); jobs: rq, run `mallow worker`; "
        f"database: {backend}; metrics: {folder})"
    )
    if config.get("MALLOW_SANDBOX_PAYMENTS"):
        click.echo("  sandbox payments ON (MALLOW_SANDBOX_PAYMENTS): no money moves. Leave it unset in production.")
    argv = [sys.executable, "-m", "gunicorn", "--workers", str(workers), "--worker-class", worker_class]
    if worker_class == "gthread":
        argv += ["--threads", str(threads)]
    if tuple(int(part) for part in version("gunicorn").split(".")[:2] if part.isdigit()) >= (25, 1):
        argv.append("--no-control-socket")  # one path per user: two servers on a host would share it
    # 60 s: a sync worker busy with a chat's event stream (CHAT_STREAM_SECONDS, 25) sends no heartbeat
    argv += ["--bind", bind, "--timeout", "60", "--graceful-timeout", "30", "mallow.app:create_app()"]
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, argv)  # GUNICORN_CMD_ARGS adds gunicorn's own settings


@main.command()
@click.option("--burst", is_flag=True, help="Run what is queued, then stop.")
@with_appcontext
def worker(burst):
    """Run the rq worker and the periodic-job scheduler (needs REDIS_URL)."""
    import threading

    from flask import current_app

    from mallow.jobs import runners
    from mallow.jobs.worker import MallowWorker

    runner = current_app.extensions["mallow.jobs"]
    if runner.kind != "rq":
        raise click.ClickException("`mallow worker` needs REDIS_URL; without it `mallow serve` runs the jobs itself.")
    runners.serve_with(current_app._get_current_object())  # every job this worker runs uses this app
    state: dict = {}

    def schedule():
        while True:
            runner.run_periodic_due(state)
            time.sleep(30)

    if not burst:
        threading.Thread(target=schedule, daemon=True, name="mallow-periodic").start()
    else:
        runner.run_periodic_due(state)
    # Runs only Mallow's registered jobs (JSON, never pickle); anything else found in Redis is
    # refused, logged and failed without importing what it names (mallow.jobs.worker).
    MallowWorker([runner.queue], connection=runner.redis).work(burst=burst, with_scheduler=True)


@main.group()
def db():
    """Database migrations (platform chain, then every store)."""


@db.command("upgrade")
@click.option("--platform-only", is_flag=True)
@click.option(
    "--jobs",
    type=click.IntRange(1, 15),
    default=lambda: min(os.cpu_count() or 1, 15),
    show_default="the number of cores",
    help="stores migrated at the same time (each on its own connection)",
)
@with_appcontext
def db_upgrade(platform_only, jobs):
    """Upgrade the platform schema and every store's schema to the newest revision, then top the
    pool of ready store schemas up."""
    from mallow.db import db as database
    from mallow.db.migrate import upgrade_platform
    from mallow.qualifications.matrix import seed_defaults
    from mallow.tenants.models import Store
    from mallow.tenants.provisioning import migrate_stores

    upgrade_platform(database.engine)
    seed_defaults()
    click.echo("platform: at head")
    from mallow.plugin_host.marketplace import sync

    sync(echo=lambda line: click.echo(f"plugins: {line}"))  # new installed versions wait for review
    if platform_only:
        return
    stores = database.session.execute(database.select(Store.id, Store.slug).order_by(Store.id)).all()
    database.session.remove()  # store migrations run in forked processes: no connection held
    result = migrate_stores([tuple(row) for row in stores], jobs=jobs, echo=click.echo)
    click.echo(
        f"stores: {result['stores']} in {result['seconds']:.1f} s ({jobs} at a time): {result['migrated']} migrated, "
        f"{result['skipped']} already at head, {len(result['failed'])} failed"
    )
    for store_id, slug, error in result["failed"]:
        click.echo(f"  store {store_id} ({slug}) FAILED: {error}")
    pooled = result["pool"]
    click.echo(f"pool: {pooled['ready']} ready ({pooled['made']} made, {pooled['dropped']} stale dropped)")
    from mallow.plugin_host.migrate import upgrade_enabled

    done, plugins_failed = upgrade_enabled(echo=click.echo)
    click.echo(f"plugins: {done} store plugin(s) at head, {len(plugins_failed)} failed")
    if result["failed"] or plugins_failed:
        sys.exit(1)


@db.command("pool")
@click.option("--size", type=click.IntRange(0), default=None, help="default: MALLOW_STORE_POOL_SIZE")
@with_appcontext
def db_pool(size):
    """Top the pool of ready store schemas (files) up now and say how full it is."""
    from mallow.tenants import pool

    result = pool.top_up(size)
    click.echo(
        f"pool: {result['ready']} ready ({result['made']} made, {result['dropped']} stale dropped) "
        f"in {result['seconds']:.1f} s"
    )


@db.command("revision")
@click.option("-m", "--message", required=True)
@click.option("--store", "chain", flag_value="store", help="a revision of the per-store chain")
@click.option("--platform", "chain", flag_value="platform", default=True)
@with_appcontext
def db_revision(message, chain):
    """Autogenerate a migration (store chain: compared against a scratch store)."""
    from alembic import command

    from mallow.db import db as database
    from mallow.db.migrate import alembic_config

    if chain == "platform":
        with database.engine.begin() as connection:
            command.revision(alembic_config("platform", connection), message=message, autogenerate=True)
        return
    from flask import current_app

    engines = current_app.extensions["mallow.store_engines"]
    scratch = 0  # store id 0 is never a real store
    from mallow.tenants.provisioning import drop_store, migrate_store

    drop_store(scratch)
    if engines.is_postgresql:
        with engines.platform_engine.begin() as c:
            c.exec_driver_sql('CREATE SCHEMA "store_0"')
    migrate_store(scratch)
    with engines.engine_for(scratch).begin() as connection:
        command.revision(
            alembic_config("store", connection, engines.version_table_schema(scratch)),
            message=message,
            autogenerate=True,
        )
    drop_store(scratch)


@main.command("create-admin")
@click.option("--email", prompt=True)
@click.option("--name", default="Admin", show_default=True)
@click.password_option()
@with_appcontext
def create_admin(email, name, password):
    """Create a platform admin (or reset the password of an existing one)."""
    from mallow.accounts.models import PlatformAdmin
    from mallow.accounts.passwords import hash_password, password_problem
    from mallow.db import db as database
    from mallow.validation import EMAIL_RE, normalise_email

    email = normalise_email(email)
    if not EMAIL_RE.match(email):
        raise click.BadParameter("not an e-mail address", param_hint="--email")
    if password_problem(password):
        raise click.BadParameter(f"password {password_problem(password)}", param_hint="--password")
    admin = database.session.execute(database.select(PlatformAdmin).filter_by(email=email)).scalar_one_or_none()
    if admin is None:
        admin = PlatformAdmin(email=email, name=name, password_hash=hash_password(password))
        database.session.add(admin)
    else:
        admin.password_hash = hash_password(password)
    database.session.commit()
    click.echo(f"admin {email} ready")


@main.command()
@click.option("--url", default=os.environ.get("MALLOW_PUBLIC_URL", "http://127.0.0.1:5000"), show_default=True)
@with_appcontext
def demo(url):
    """Seed (idempotently) a demo platform admin, an approved demo store with the bundled plugins
    at work and a designed home page; print the logins and where to look."""
    from flask import current_app

    from mallow.demo import seed
    from mallow.demo_showcase import seed_showcase

    info = seed()
    info.update(seed_showcase(current_app._get_current_object()))
    click.echo("Demo ready:")
    click.echo(f"  platform admin  {url}/admin/login     {info['admin_email']} / {info['password']}")
    click.echo(f"  merchant        {url}/merchant/login  {info['merchant_email']} / {info['password']}")
    click.echo(f"  demo store      {url}/s/{info['slug']}/   (shopper: {info['shopper_login']} / {info['password']})")
    for label, path in info.get("showcase", {}).items():
        click.echo(f"  {label:<15} {url}{path}")
    click.echo(f"  API document    {url}/api/openapi.json")
    if info.get("plugins_approved"):
        click.echo(f"  plugins approved: {', '.join(info['plugins_approved'])}")
    if info.get("plugins_enabled"):
        click.echo(f"  plugins enabled in the demo store: {', '.join(info['plugins_enabled'])}")
    if info.get("plugins_missing"):
        click.echo(
            f"  plugins not loaded: {', '.join(info['plugins_missing'])} (see `mallow plugin list`): "
            "the demo store shows no plugins"
        )
    if current_app.config.get("MALLOW_SANDBOX_PAYMENTS"):
        click.echo("  payments        the sandbox cashier (MALLOW_SANDBOX_PAYMENTS=1): test orders, no money moves")
    else:
        click.echo(
            "  payments        none: set MALLOW_SANDBOX_PAYMENTS=1 for `mallow serve` (./scripts/run does) so "
            "the demo store can take test orders on the sandbox cashier"
        )


@main.group()
def plugin():
    """Plugins: record installed versions for review, scaffold a new plugin."""


@plugin.command("sync")
@with_appcontext
def plugin_sync():
    """Record every installed plugin version not seen before as submitted for review (never imports it)."""
    from mallow.plugin_host.marketplace import sync

    added = sync(echo=click.echo)
    click.echo(f"{len(added)} new release(s) submitted for review" if added else "no new plugin releases")


@plugin.command("list")
@with_appcontext
def plugin_list():
    """Installed plugins, their review state, and what this process did with them (loaded, or
    not loaded and why: changed since review with the files, failed to import with the error…)."""
    from mallow.plugin_host.status import cli_note, plugin_states

    for name, state in plugin_states().items():
        if state.state == "manifest_error":
            click.echo(f"{name:<24} unreadable: {state.message}")
            continue
        click.echo(f"{name:<24} {state.version:<10} {state.review:<10} {cli_note(state)}")
        if state.files and state.state == "changed_since_review":
            for path in state.files:
                click.echo(f"{'':<24}   {path}")


@plugin.command("disable")
@click.argument("name")
@click.option("--store", "slug", help="one store (its slug); without it: every store at once")
@with_appcontext
def plugin_disable(name, slug):
    """Switch plugin NAME off in one store, or in every store at once (the platform did it: the
    merchant cannot switch it on again). Hooks and routes stop on the next request."""
    from mallow.plugin_host import switches

    try:
        stores = switches.switch_off(name, slug, "cli")
    except switches.UnknownStore:
        raise click.BadParameter(f"no store {slug!r}", param_hint="--store") from None
    click.echo(f"{name} off in {slug}" if slug else f"{name} off in {len(stores)} store(s)")


@plugin.command("enable")
@click.argument("name")
@click.option("--store", "slug", required=True, help="the store (its slug)")
@with_appcontext
def plugin_enable(name, slug):
    """Switch plugin NAME on in one store (also after the platform switched it off there)."""
    from mallow.plugin_host import switches
    from mallow.validation import ValidationFailed

    try:
        switches.switch_on(name, slug, "cli")
    except switches.UnknownStore:
        raise click.BadParameter(f"no store {slug!r}", param_hint="--store") from None
    except ValidationFailed as failed:
        messages = "; ".join(f"{key}: {message} ({code})" for key, (code, message) in failed.errors.items())
        raise click.ClickException(messages) from None
    click.echo(f"{name} on in {slug}")


@plugin.command("withdraw")
@click.argument("name")
@click.argument("version", required=False)
@click.option("--reason", required=True, help="why (the developer sees it)")
@with_appcontext
def plugin_withdraw(name, version, reason):
    """Withdraw the approval of NAME (VERSION, or every approved version) and switch it off in
    every store at once: it stops now and is not loaded from the next start."""
    from mallow.plugin_host import switches
    from mallow.validation import ValidationFailed

    try:
        withdrawn = switches.withdraw(name, version, reason, "cli")
    except switches.NothingApproved:
        raise click.ClickException(f"no approved release of {name}{' ' + version if version else ''}") from None
    except ValidationFailed as failed:
        raise click.ClickException(next(iter(failed.errors.values()))[1]) from None
    for release in withdrawn:
        click.echo(f"{name} {release.version} withdrawn: off in every store now, not loaded from the next start")


@plugin.command("new", with_appcontext=False)
@click.argument("name")
@click.option(
    "--dir",
    "directory",
    default=".",
    show_default=True,
    type=click.Path(file_okay=False),
    help="where to create the plugin's folder",
)
@click.option("--author", default=None, help="who answers for the plugin (default: `git config user.name`)")
@click.option("--title", default=None, help="its Chinese title (default: 满减优惠)")
def plugin_new(name, directory, author, title):
    """Scaffold a working plugin distribution NAME (lower-case; its package is mallow_NAME)."""
    from mallow.plugin_host.scaffold import ScaffoldError, create

    try:
        folder = create(name, directory, author=author, title=title)
    except ScaffoldError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"created {folder}")
    click.echo(f"  cd {folder} && pip install -e . && mallow plugin sync   # then approve it in /admin/plugins")


@plugin.command("publish", with_appcontext=False)
@click.argument("folder", default=".", type=click.Path(exists=True, file_okay=False))
@click.option(
    "--url",
    default=lambda: os.environ.get("MALLOW_URL", "http://127.0.0.1:5000"),
    show_default="$MALLOW_URL or http://127.0.0.1:5000",
    help="the platform",
)
@click.option(
    "--token",
    default=lambda: os.environ.get("MALLOW_DEVELOPER_TOKEN", ""),
    show_default="$MALLOW_DEVELOPER_TOKEN",
    help="a developer API token (developer console → API tokens)",
)
def plugin_publish(folder, url, token):
    """Build the plugin in FOLDER (default: here) into a wheel, offline, and upload it to the
    platform for review; prints the review status and what changed since the last approved version."""
    from mallow.developers.publish_cli import PublishError, publish

    try:
        accepted = publish(folder, url, token, echo=click.echo)
    except PublishError as error:
        raise click.ClickException(str(error)) from None
    if not accepted:
        sys.exit(1)


@main.group()
def store():
    """A store as a whole: close it, purge it, export it, import it, move it to another pod."""


@store.command("list")
@click.option(
    "--status", default=None, help="only stores in this state (pending, open, closing, suspended, closed, purged)"
)
@with_appcontext
def store_list(status):
    """Every store with its state (closed ones with the date their data are purged after)."""
    from mallow.stores import lifecycle

    for row in lifecycle.list_stores(status):
        after = (
            f"  purge after {row.purge_after.date().isoformat()}" if row.purge_after and row.status == "closed" else ""
        )
        click.echo(f"{row.id:>6}  {row.slug:<32} {row.status:<10}{after}")


@store.command("close")
@click.argument("slug")
@click.option("--reason", required=True, help="why (the merchant sees it; kept in the audit log)")
@with_appcontext
def store_close(slug, reason):
    """Close store SLUG now, as the platform (no orders, no jobs; its data are purged after
    MALLOW_STORE_RETENTION_DAYS)."""
    from mallow.statemachine import InvalidTransition
    from mallow.stores import lifecycle
    from mallow.validation import ValidationFailed

    found = lifecycle.store_by_slug(slug)
    if found is None:
        raise click.BadParameter(f"no store {slug!r}", param_hint="SLUG")
    try:
        lifecycle.close(found, "cli", reason)
    except (ValidationFailed, InvalidTransition) as error:
        raise click.ClickException(f"{slug} is {found.status}: not closed ({error})") from None
    click.echo(f"{slug} closed; its data are purged after {found.purge_after.date().isoformat()}")


@store.command("purge")
@click.option("--slug", default=None, help="purge this closed store now, whatever its retention")
@click.option("--yes", is_flag=True, help="with --slug: do it (its schema or file, files, Redis keys and jobs go)")
@with_appcontext
def store_purge(slug, yes):
    """Purge closed stores past their retention (MALLOW_STORE_RETENTION_DAYS), or one store now."""
    from mallow.stores import lifecycle, purge

    if slug is None:
        results = purge.purge_due("cli")
        for name, removed in results.items():
            click.echo(f"{name}: {removed}")
        click.echo(f"{len(results)} store(s) purged" if results else "no closed store is past its retention")
        if "failed" in results.values():
            sys.exit(1)
        return
    found = lifecycle.store_by_slug(slug)
    if found is None:
        raise click.BadParameter(f"no store {slug!r}", param_hint="--slug")
    if not yes:
        raise click.UsageError(f"purging {slug} deletes all its data for good: add --yes")
    try:
        removed = purge.purge(found, "cli")
    except purge.NotClosed as error:
        raise click.ClickException(f"{error}: close it first (mallow store close)") from None
    click.echo(f"{slug} purged: {removed}")


def _archive_secret(key_file):
    """The archive key: ``--key-file``'s content, else ``MALLOW_ARCHIVE_KEY``; None without either."""
    if key_file:
        return click.open_file(key_file, "rb").read()
    return os.environ.get("MALLOW_ARCHIVE_KEY") or None


@store.command("export")
@click.argument("slug")
@click.option(
    "--output", "-o", type=click.Path(dir_okay=False), help="the archive to write (default SLUG-<time>.tar.gz)"
)
@click.option(
    "--key-file",
    type=click.Path(exists=True, dir_okay=False),
    help="file holding the key that seals personal data (32 bytes urlsafe base64, or a passphrase); "
    "default: MALLOW_ARCHIVE_KEY",
)
@with_appcontext
def store_export(slug, output, key_file):
    """Write store SLUG as a portable archive: data per table (JSON Lines), media and licence
    files, a manifest with revisions and checksums; personal data sealed with the key."""
    from datetime import UTC, datetime

    from mallow.db import db
    from mallow.stores.archive import ArchiveError, keys
    from mallow.stores.archive.writer import export_store
    from mallow.tenants.models import Store

    found = db.session.execute(db.select(Store).where(Store.slug == slug)).scalar()
    if found is None:
        raise click.BadParameter(f"no store {slug!r}", param_hint="SLUG")
    secret = _archive_secret(key_file)
    if secret is None:
        raise click.UsageError(
            "personal data are never exported in clear: give a key with --key-file FILE or MALLOW_ARCHIVE_KEY "
            '(make one: python -c "import base64, os; print(base64.urlsafe_b64encode(os.urandom(32)).decode())")'
        )
    output = output or f"{slug}-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}.tar.gz"
    try:
        manifest = export_store(found.id, output, keys.from_secret(secret))
    except ArchiveError as error:
        raise click.ClickException(str(error)) from None
    rows = sum(entry["rows"] for entry in manifest["tables"].values())
    click.echo(
        f"{slug} exported to {output}: {len(manifest['tables'])} tables, {rows} rows, {manifest['media_files']} files, "
        f"store revision {manifest['store_revision']}, key {manifest['key']['fingerprint']}"
    )


@store.command("import")
@click.argument("archive", type=click.Path(exists=True, dir_okay=False))
@click.option("--slug", default=None, help="the restored store's slug (default: the archived one, if free)")
@click.option(
    "--key-file", type=click.Path(exists=True, dir_okay=False), help="the archive's key; default: MALLOW_ARCHIVE_KEY"
)
@with_appcontext
def store_import(archive, slug, key_file):
    """Restore a store from ARCHIVE at this platform's migration head (checksums, key and format
    verified first; a failed import leaves nothing behind)."""
    from mallow.stores.archive import ArchiveError
    from mallow.stores.archive.importer import import_archive

    try:
        restored = import_archive(archive, _archive_secret(key_file), slug=slug, echo=click.echo, actor="cli")
    except ArchiveError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"imported as store {restored.slug} (id {restored.id}, {restored.status})")


@store.command("move")
@click.argument("slug")
@click.option("--to", "target", required=True, help="the pod to move it to (mallow pod list)")
@with_appcontext
def store_move(slug, target):
    """Move store SLUG's schema to pod --to (PostgreSQL): made there, writes frozen (503, retry)
    while its rows are copied and compared, switched, the old schema dropped. A failure leaves it
    where it was."""
    from mallow.stores import lifecycle
    from mallow.stores.move import MoveFailed, move_store
    from mallow.tenants.pods import PodProblem

    found = lifecycle.store_by_slug(slug)
    if found is None:
        raise click.BadParameter(f"no store {slug!r}", param_hint="SLUG")
    try:
        moved = move_store(found, target, "cli", echo=click.echo)
    except (PodProblem, MoveFailed) as error:
        raise click.ClickException(str(error)) from None
    click.echo(
        f"{moved.slug} moved from {moved.source} to {moved.target}: {moved.tables} tables, {moved.rows} rows, "
        f"writes frozen {moved.frozen_seconds:.2f} s, {moved.seconds:.2f} s in all"
    )
    if not moved.old_schema_dropped:
        click.echo(f"the old schema on {moved.source} was not dropped: drop it there by hand (see the log)", err=True)


@main.group()
def pod():
    """PostgreSQL pods: the databases store schemas live in (add, list, drain, open)."""


def _pod_problem(run):
    from mallow.tenants.pods import PodProblem

    try:
        return run()
    except PodProblem as error:
        raise click.ClickException(str(error)) from None


@pod.command("add")
@click.argument("name")
@click.argument("url")
@click.option("--capacity", type=click.IntRange(0), required=True, help="how many stores it may hold")
@with_appcontext
def pod_add(name, url, capacity):
    """Add pod NAME at URL (a PostgreSQL address without a password, or env:VARIABLE holding it)."""
    from mallow.tenants import pods

    added = _pod_problem(lambda: pods.add(name, url, capacity))
    click.echo(f"pod {added.name} added: room for {added.capacity} stores, open")


@pod.command("list")
@with_appcontext
def pod_list():
    """Every pod with its state, stores and room."""
    from mallow.tenants import pods

    _pod_problem(pods.require_postgresql)
    click.echo(f"{'pod':<16} {'state':<9} {'stores':>7} {'capacity':>9} {'room':>7}  address")
    for row in pods.rooms():
        address = row.address or "(the platform's database)"
        click.echo(f"{row.name:<16} {row.state:<9} {row.stores:>7} {row.capacity:>9} {row.room:>7}  {address}")


@pod.command("drain")
@click.argument("name")
@with_appcontext
def pod_drain(name):
    """Pod NAME takes no new store (its stores stay until moved: mallow store move)."""
    from mallow.tenants import pods

    _pod_problem(lambda: pods.set_state(name, "draining"))
    click.echo(f"pod {name} is draining: new stores go elsewhere")


@pod.command("open")
@click.argument("name")
@with_appcontext
def pod_open(name):
    """Pod NAME takes new stores again."""
    from mallow.tenants import pods

    _pod_problem(lambda: pods.set_state(name, "open"))
    click.echo(f"pod {name} is open")
