"""The repo root must never shadow the standard library's ``platform`` module."""

import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_import_platform_from_repo_root_is_the_standard_library():
    code = (
        "import platform, sysconfig, os; "
        "print(platform.__file__); print(sysconfig.get_paths()['stdlib']); print(platform.python_implementation())"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split("\n")
    module_file, stdlib, implementation = out[0], out[1], out[2]
    assert Path(module_file).resolve().parent == Path(stdlib).resolve()
    assert implementation == "CPython"
    assert not (ROOT / "platform" / "__init__.py").exists()


def test_sqlalchemy_imports_from_repo_root():
    # SQLAlchemy imports `platform` at import time: it must get the standard library's.
    subprocess.run([sys.executable, "-c", "import sqlalchemy, mallow.app"], cwd=ROOT, check=True)


def test_platform_folder_is_the_mallow_package():
    import mallow.tenants

    assert Path(mallow.tenants.__file__).resolve().parent == ROOT / "platform" / "tenants"


def test_bundled_plugins_are_registered_entry_points():
    found = {ep.name: ep.value for ep in entry_points(group="mallow.plugins")}
    assert found["groupbuy"] == "mallow_groupbuy"
    assert found["flashsale"] == "mallow_flashsale"
    assert found["distribution"] == "mallow_distribution"


def test_egg_info_is_ignored_by_git():
    assert "*.egg-info/" in (ROOT / ".gitignore").read_text().split()
