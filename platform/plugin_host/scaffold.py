"""``mallow plugin new NAME``: a working plugin distribution to start from.

It holds a pyproject (the ``mallow.plugins`` entry point, the package and its data files), the
manifest ``plugin.json`` (a Chinese and English title, the author, the hooks it implements, a
settings schema with money fields, its permissions), a 满减 offer that uses the settings and
checks them together, a cart slot, one page-builder block (:mod:`~mallow.plugin_host.scaffold_code`),
its own translations (domain ``mallow_<name>``, :mod:`~mallow.plugin_host.scaffold_translations`),
tests on throwaway stores (``mallow.sdk.testing``) and a README in Chinese and English
(:mod:`~mallow.plugin_host.scaffold_readme`). The plugin imports only the SDK, ``mallow.sdk``.
Plugin names are lower-case and their package is always ``mallow_<name>``: a namespace the
platform operator's package index controls.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

from mallow.plugin_host import scaffold_translations
from mallow.plugin_host.discovery import PACKAGE_PREFIX, installed, mallow_version
from mallow.plugin_host.scaffold_code import BLOCK_TEMPLATE, HOOKS, INIT, TEST
from mallow.plugin_host.scaffold_readme import README

NAME_RE = re.compile(r"^[a-z][a-z0-9]*(?:_[a-z0-9]+)*$")
RESERVED = {"mallow", "core", "platform", "plugin", "plugins", "test", "tests"}
#: the Chinese title when ``--title`` is not given (the example is a 满减 offer)
DEFAULT_TITLE_ZH = "满减优惠"


class ScaffoldError(ValueError):
    pass


def check_name(name: str) -> str:
    """The plugin name for ``name`` (a ``mallow_`` prefix is accepted and dropped)."""
    plain = name.strip()
    if plain.startswith(PACKAGE_PREFIX):
        plain = plain[len(PACKAGE_PREFIX) :]
    if not NAME_RE.match(plain) or not 2 <= len(plain) <= 30:
        raise ScaffoldError(
            f"{name!r}: use 2-30 lower-case letters and digits, words joined by single _ "
            "(e.g. bundle_discount); the package becomes mallow_<name>"
        )
    if plain in RESERVED:
        raise ScaffoldError(f"{name!r} is reserved: choose a name that says what the plugin does")
    if plain in installed():
        raise ScaffoldError(f"a plugin named {plain!r} is installed already: choose another name")
    return plain


def default_author() -> str:
    """``git config user.name`` when git knows it, else a placeholder to fill in."""
    try:
        found = subprocess.run(["git", "config", "user.name"], capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return "Your name"
    return found.stdout.strip() or "Your name"


def create(name: str, directory: str | Path = ".", *, author: str | None = None, title: str | None = None) -> Path:
    """Write the plugin's folder ``<directory>/mallow-<name>`` and return it. ``author``: who
    answers for it (default :func:`default_author`); ``title``: its Chinese title."""
    name = check_name(name)
    package = f"{PACKAGE_PREFIX}{name}"
    folder = Path(directory).resolve() / f"mallow-{name.replace('_', '-')}"
    if folder.exists() and any(folder.iterdir()):
        raise ScaffoldError(f"{folder} exists and is not empty")
    values = {
        "name": name,
        "package": package,
        "dist": f"mallow-{name.replace('_', '-')}",
        "title": name.replace("_", " ").title(),
        "title_zh": (title or "").strip()[:40] or DEFAULT_TITLE_ZH,
        "author": " ".join((author if author is not None else default_author()).split())[:80] or "Your name",
        "block": f"{name}_banner",
    }
    values["author_toml"] = json.dumps(values["author"], ensure_ascii=False)
    files = {
        "pyproject.toml": PYPROJECT,
        "README.md": README,
        f"{package}/__init__.py": INIT,
        f"{package}/templates/blocks/{values['block']}.html": BLOCK_TEMPLATE,
        "tests/test_plugin.py": TEST,
    }
    for relative, text in files.items():
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text.format(**values), encoding="utf-8")
    scaffold_translations.write(folder, values)
    (folder / package / "plugin.json").write_text(
        json.dumps(manifest(values), ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
    return folder


def _money(default: int, zh: str, en: str, minimum: int, description: tuple[str, str] | None = None) -> dict:
    spec = {
        "type": "integer",
        "format": "money",  # fen in the settings, yuan in the console's form
        "minimum": minimum,
        "maximum": 100_000_000,
        "default": default,
        "title": {"zh_CN": zh, "en": en},
    }
    if description:
        spec["description"] = {"zh_CN": description[0], "en": description[1]}
    return spec


def manifest(values: dict) -> dict:
    return {
        "name": values["name"],
        "version": "0.1.0",
        "title": {"zh_CN": values["title_zh"], "en": values["title"]},
        "author": values["author"],
        "description": {
            "zh_CN": "订单满设定金额立减，购物车提示还差多少，并提供一个满减横幅区块。",
            "en": "Takes a fixed amount off orders above a threshold, tells the cart how much more to buy, "
            "and adds a banner block to the page builder.",
        },
        "hooks": sorted(HOOKS),
        "settings_schema": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "threshold": _money(
                    20000,
                    "门槛（满多少）",
                    "Threshold",
                    1,
                    ("订单小计达到它才减", "The subtotal that earns the reduction"),
                ),
                "reduction": _money(2000, "减多少", "Reduction", 1, ("必须小于门槛", "Less than the threshold")),
                "label": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": 20,
                    "default": "满减优惠",
                    "title": {"zh_CN": "优惠名称", "en": "Label shown to shoppers"},
                },
            },
        },
        "permissions": ["pricing", "storefront", "blocks"],
        "min_mallow_version": mallow_version(),
    }


PYPROJECT = """\
[build-system]
requires = ["setuptools>=61", "wheel"]
build-backend = "setuptools.build_meta"

[project]
name = "{dist}"
version = "0.1.0"
description = "{title}: a Mallow plugin"
readme = "README.md"
authors = [{{ name = {author_toml} }}]
requires-python = ">=3.11"
# Mallow is the host, not a dependency: install this into Mallow's environment, from the
# package index your platform's operator controls (never let pip fetch "mallow" from elsewhere).
dependencies = []

# How Mallow finds the plugin (it reads {package}/plugin.json first and imports the package
# only once a platform admin approved this version).
[project.entry-points."mallow.plugins"]
{name} = "{package}"

[tool.setuptools]
packages = ["{package}"]
package-dir = {{ "{package}" = "{package}" }}

[tool.setuptools.package-data]
"{package}" = ["plugin.json", "templates/blocks/*.html", "migrations/versions/*.py",
               "translations/*/LC_MESSAGES/*.po", "translations/*/LC_MESSAGES/*.mo"]

[tool.pytest.ini_options]
addopts = "--import-mode=importlib"
testpaths = ["tests"]
"""
