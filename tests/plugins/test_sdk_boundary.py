"""The bundled plugins import nothing of Mallow but the plugin SDK (``mallow.sdk``), and not each
other: the import-linter contracts in ``pyproject.toml`` hold, name every core module, and
catch a plugin that reaches past the SDK."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
CONTRACTS = {
    "plugins-import-only-the-sdk": "Bundled plugins import only the SDK",
    "plugins-are-independent": "Bundled plugins do not import each other",
}


def _config() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["importlinter"]


def _contract(contract_id: str) -> dict:
    return next(c for c in _config()["contracts"] if c.get("id") == contract_id)


def _lint(*args: str, cwd: Path = ROOT, pythonpath: Path | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    if pythonpath is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(pythonpath), env.get("PYTHONPATH")]))
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


def _core_modules() -> set[str]:
    """Every top-level module of Mallow: ``platform/<name>.py`` and folders holding Python code."""
    platform = ROOT / "platform"
    files = {path.stem for path in platform.glob("*.py")}
    packages = {
        folder.name
        for folder in platform.iterdir()
        if folder.is_dir() and not folder.name.startswith(("_", ".")) and any(folder.rglob("*.py"))
    }
    return {f"mallow.{name}" for name in files | packages}


def test_the_bundled_plugins_keep_the_sdk_contracts():
    # when the two contracts run over the installed packages
    result = _lint(*[arg for contract_id in CONTRACTS for arg in ("--contract", contract_id)])
    # then both are kept
    assert result.returncode == 0, result.stdout + result.stderr
    for name in CONTRACTS.values():
        assert f"{name} KEPT" in result.stdout, result.stdout


def test_the_forbidden_list_names_every_core_module_but_the_sdk():
    contract = _contract("plugins-import-only-the-sdk")
    assert contract["type"] == "forbidden" and contract["allow_indirect_imports"] is True
    assert set(contract["source_modules"]) == {"mallow_groupbuy", "mallow_flashsale", "mallow_distribution"}
    forbidden = set(contract["forbidden_modules"])
    expected = _core_modules() - {"mallow.sdk"}
    assert "mallow.sdk" not in forbidden
    assert not expected - forbidden, f"add to the SDK contract in pyproject.toml: {sorted(expected - forbidden)}"
    assert not forbidden - expected, f"no such module any more: {sorted(forbidden - expected)}"


@pytest.fixture
def wrong_plugins(tmp_path):
    """Two plugin packages written like a careless author would: one reaches into ``mallow.db``,
    the other imports the first; and a contract file with the project's own contracts for them."""
    (tmp_path / "mallow_careless").mkdir()
    (tmp_path / "mallow_careless" / "__init__.py").write_text("from mallow.sdk import hookimpl\n", encoding="utf-8")
    (tmp_path / "mallow_careless" / "tables.py").write_text("from mallow.db import db\n", encoding="utf-8")
    (tmp_path / "mallow_copycat").mkdir()
    (tmp_path / "mallow_copycat" / "__init__.py").write_text("from mallow_careless import tables\n", encoding="utf-8")
    plugins = ["mallow_careless", "mallow_copycat"]
    forbidden = _contract("plugins-import-only-the-sdk")["forbidden_modules"]
    quoted = ", ".join(f'"{name}"' for name in forbidden)
    (tmp_path / "contracts.toml").write_text(
        f"""
[tool.importlinter]
root_packages = ["mallow", "mallow_careless", "mallow_copycat"]

[[tool.importlinter.contracts]]
id = "sdk"
name = "{CONTRACTS["plugins-import-only-the-sdk"]}"
type = "forbidden"
source_modules = {plugins!r}
forbidden_modules = [{quoted}]
allow_indirect_imports = true

[[tool.importlinter.contracts]]
id = "independent"
name = "{CONTRACTS["plugins-are-independent"]}"
type = "independence"
modules = {plugins!r}
""".replace("'", '"'),
        encoding="utf-8",
    )
    return tmp_path


def test_a_plugin_that_reaches_past_the_sdk_breaks_the_contracts(wrong_plugins):
    # when the same contracts run over plugins that import mallow.db and each other
    result = _lint("--config", str(wrong_plugins / "contracts.toml"), cwd=wrong_plugins, pythonpath=wrong_plugins)
    # then both are broken, naming the offending imports
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"{CONTRACTS['plugins-import-only-the-sdk']} BROKEN" in result.stdout, result.stdout
    assert f"{CONTRACTS['plugins-are-independent']} BROKEN" in result.stdout, result.stdout
    assert "mallow_careless.tables -> mallow.db" in result.stdout, result.stdout
