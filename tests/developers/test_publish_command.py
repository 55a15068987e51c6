"""``mallow plugin publish`` in a scaffolded plugin's folder builds its wheel offline and uploads
it to a running platform with the developer's token, then prints the review status; a refused
upload prints the field's message and exits non-zero."""

from __future__ import annotations


import pytest

from mallow.testing import serving  # noqa: E402
from click.testing import CliRunner

from mallow.testing import build_app, dispose_app

from .conftest import signup_developer, unique_name


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    app = build_app(tmp_path_factory, "sqlite")
    with serving(app) as base:
        yield app, base
    dispose_app(app)


def _publish(folder, url, token):
    from mallow.cli import main

    return CliRunner().invoke(main, ["plugin", "publish", str(folder), "--url", url, "--token", token])


def test_publish_builds_and_uploads_the_scaffolded_plugin(server, tmp_path):
    from mallow.plugin_host.scaffold import create

    app, url = server
    _email, token = signup_developer(app.test_client())
    name = unique_name("cli")
    folder = create(name, tmp_path)
    (folder / "build" / "lib" / f"mallow_{name}").mkdir(parents=True)  # what an old build left behind
    (folder / "build" / "lib" / f"mallow_{name}" / "stale.py").write_text("LEFT_OVER = True\n")

    result = _publish(folder, url, token)
    assert result.exit_code == 0, result.output
    assert f"built mallow_{name}-0.1.0-py3-none-any.whl" in result.output
    assert f"uploaded {name} 0.1.0: submitted" in result.output
    assert f"added    mallow_{name}/__init__.py" in result.output
    assert "stale.py" not in result.output  # built from a clean copy

    # the same version again: refused, with the reason, exit code 1
    again = _publish(folder, url, token)
    assert again.exit_code == 1
    assert "upload refused (422)" in again.output and "raise the version number" in again.output


def test_publish_without_a_valid_token_says_so(server, tmp_path):
    from mallow.plugin_host.scaffold import create

    _app, url = server
    folder = create(unique_name("cli"), tmp_path)
    result = _publish(folder, url, "dev_not-a-real-token")
    assert result.exit_code == 1
    assert "refused the token" in result.output
    outside = _publish(tmp_path, url, "dev_x")
    assert outside.exit_code == 1 and "no pyproject.toml" in outside.output
