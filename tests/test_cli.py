"""The `mallow` command: demo data and admins."""
from __future__ import annotations

from click.testing import CliRunner
from flask.cli import ScriptInfo

from mallow.cli import main


def _run(app, *args, **kwargs):
    return CliRunner().invoke(main, list(args), obj=ScriptInfo(create_app=lambda: app), **kwargs)


def test_demo_is_idempotent_and_prints_logins(app):
    first = _run(app, "demo")
    assert first.exit_code == 0, first.output
    assert "admin@mallow.demo" in first.output and "/s/demo/" in first.output
    second = _run(app, "demo")
    assert second.exit_code == 0, second.output
    client = app.test_client()
    assert client.get("/s/demo/").status_code == 200  # approved and open
    response = client.post("/api/tokens", json={"email": "merchant@mallow.demo", "password": "mallow-demo-2026"})
    assert response.status_code == 201
    with app.app_context():
        from mallow.db import db
        from mallow.tenants.models import Store

        assert db.session.execute(db.select(db.func.count()).select_from(Store).filter_by(slug="demo")).scalar() == 1


def test_create_admin_checks_its_input(app):
    bad = _run(app, "create-admin", "--email", "nope", "--password", "admin-pass-1")
    assert bad.exit_code != 0 and "e-mail" in bad.output
    ok = _run(app, "create-admin", "--email", "Ops@Example.com", "--password", "admin-pass-1")
    assert ok.exit_code == 0, ok.output
    client = app.test_client()
    response = client.post("/api/tokens", json={"email": "ops@example.com", "password": "admin-pass-1", "principal": "admin"})
    assert response.status_code == 201


def test_worker_without_redis_explains_itself(app):
    result = _run(app, "worker", "--burst")
    assert result.exit_code != 0 and "REDIS_URL" in result.output
