"""The core's layers (the ``core-layers`` import-linter contract in ``pyproject.toml``) hold,
``docs/architecture.md`` draws exactly those layers, the list of known upward imports only
shrinks, and the contract really fails on an upward import."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
START, END = "<!-- layers:start (tests/test_architecture.py) -->", "<!-- layers:end -->"


def _settings() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["importlinter"]


def _layers_contract() -> dict:
    return next(c for c in _settings()["contracts"] if c.get("id") == "core-layers")


def _ini(contract: dict) -> str:
    """The contract as an import-linter INI file (the CLI reads INI or a pyproject)."""
    lines = [
        "[importlinter]",
        "root_package = mallow",
        "exclude_type_checking_imports = True",
        "",
        "[importlinter:contract:core-layers]",
        f"name = {contract['name']}",
        "type = layers",
        "layers =",
    ]
    lines += [f"    {layer}" for layer in contract["layers"]]
    lines += ["ignore_imports ="] + [f"    {entry}" for entry in contract.get("ignore_imports", [])]
    return "\n".join(lines) + "\n"


def _lint(config: Path | None = None) -> subprocess.CompletedProcess:
    args = [str(LINT_IMPORTS), "--no-cache"] + ([str(config)] if config else [])
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=300)


def render_layers(layers: list[str]) -> str:
    """The picture in docs/architecture.md: each layer on its own line, arrows pointing down."""
    rows = []
    for index, layer in enumerate(layers):
        names = [name.strip().removeprefix("mallow.") for name in layer.split("|")]
        rows.append("  " + "  |  ".join(names))
        if index < len(layers) - 1:
            rows.append("      ↓")
    return "```\n" + "\n".join(rows) + "\n```"


def test_every_import_contract_holds():
    result = _lint()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Core layers import only downward KEPT" in result.stdout


def test_the_known_upward_imports_still_exist_so_the_list_only_shrinks():
    graph = grimp.build_graph("mallow", cache_dir=None)
    gone = []
    for entry in _layers_contract().get("ignore_imports", []):
        importer, imported = (part.strip() for part in entry.split("->"))
        if not graph.direct_import_exists(importer=importer, imported=imported):
            gone.append(entry)
    assert not gone, f"these imports are gone: strike them from ignore_imports in pyproject.toml: {gone}"


def test_an_upward_import_breaks_the_contract(tmp_path):
    """Swap two layers (the database above tenancy): tenancy's real imports of the database now go
    upward, and the contract must say so, naming them."""
    contract = dict(_layers_contract())
    layers = list(contract["layers"])
    tenants, db = layers.index("mallow.tenants"), layers.index("mallow.db")
    layers[tenants], layers[db] = layers[db], layers[tenants]
    contract["layers"] = layers
    config = tmp_path / "layers.ini"
    config.write_text(_ini(contract), encoding="utf-8")
    result = _lint(config)
    assert result.returncode != 0
    assert "mallow.tenants is not allowed to import mallow.db" in result.stdout


def test_every_core_package_has_a_layer():
    named = {name.strip() for layer in _layers_contract()["layers"] for name in layer.split("|")}
    platform = ROOT / "platform"
    modules = {f"mallow.{path.stem}" for path in platform.glob("*.py")}
    modules |= {f"mallow.{folder.name}" for folder in platform.iterdir() if (folder / "__init__.py").exists()}
    assert modules - named == set(), "give these a layer in pyproject.toml's core-layers contract"


def test_docs_draw_the_layers_of_the_contract():
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    assert START in text and END in text
    drawn = text.split(START, 1)[1].split(END, 1)[0].strip()
    expected = render_layers(_layers_contract()["layers"])
    assert drawn == expected, "docs/architecture.md's layer picture differs from the contract; use:\n" + expected


if __name__ == "__main__":  # print the picture for docs/architecture.md
    print(render_layers(_layers_contract()["layers"]))
    sys.exit(0)
