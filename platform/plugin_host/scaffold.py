"""``mallow plugin new NAME``: a working plugin distribution to start from.

It holds a pyproject (the ``mallow.plugins`` entry point, the package and its data files), the
manifest ``plugin.json`` with a settings schema, one pricing hook that uses the settings (a
percentage off each line, integer fen), one page-builder block, its own translations (domain
``mallow_<name>``, :mod:`mallow.plugin_host.scaffold_translations`), tests on throwaway stores
(``mallow.sdk.testing``) and a README. The plugin imports only the SDK, ``mallow.sdk``. Plugin names are lower-case and their package is always
``mallow_<name>``: a namespace the platform operator's package index controls.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from mallow.plugin_host import scaffold_translations
from mallow.plugin_host.discovery import PACKAGE_PREFIX, installed, mallow_version

NAME_RE = re.compile(r"^[a-z][a-z0-9]*(?:_[a-z0-9]+)*$")
RESERVED = {"mallow", "core", "platform", "plugin", "plugins", "test", "tests"}


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


def create(name: str, directory: str | Path = ".") -> Path:
    """Write the plugin's folder ``<directory>/mallow-<name>`` and return it."""
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
        "block": f"{name}_banner",
    }
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


def manifest(values: dict) -> dict:
    return {
        "name": values["name"],
        "version": "0.1.0",
        "title": {"zh_CN": f"{values['title']}（折扣）", "en": values["title"]},
        "author": "",
        "description": {
            "zh_CN": "按设置的百分比给每行商品打折，并提供一个横幅区块。",
            "en": "Takes a percentage off each line, and adds a banner block to the page builder.",
        },
        "hooks": ["mallow_line_adjustments", "mallow_register_blocks"],
        "settings_schema": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "percent_off": {
                    "type": "integer",
                    "minimum": 0,
                    "maximum": 90,
                    "default": 10,
                    "title": {"zh_CN": "折扣百分比", "en": "Percent off"},
                    "description": {"zh_CN": "0 表示不打折", "en": "0 turns the discount off"},
                },
                "min_quantity": {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": 999,
                    "default": 1,
                    "title": {"zh_CN": "每行起购件数", "en": "Minimum quantity per line"},
                },
                "label": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": 20,
                    "default": "限时折扣",
                    "title": {"zh_CN": "优惠名称", "en": "Label shown to shoppers"},
                },
            },
        },
        "permissions": ["pricing", "blocks"],
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

INIT = '''\
"""{title}: a Mallow plugin (made with ``mallow plugin new``).

* ``mallow_line_adjustments`` takes ``percent_off`` per cent off every line of at least
  ``min_quantity`` units, in the stores that enabled the plugin, with their settings.
* ``mallow_register_blocks`` adds the ``{block}`` block to the page builder.

Amounts are integer fen: never use floats for money. Texts go through ``_`` / ``_l`` of
``i18n.py`` (this plugin's own catalogue). See Mallow's docs/plugins.md.
"""
from __future__ import annotations

from mallow.sdk import Adjustment, hookimpl, plugin_settings
from {package}.i18n import _l

NAME = "{name}"


@hookimpl
def mallow_line_adjustments(context, line):
    settings = plugin_settings(NAME)  # this store's settings, defaults filled in
    percent = settings["percent_off"]
    if percent <= 0 or line.quantity < settings["min_quantity"]:
        return None
    discount = line.base_total * percent // 100  # integer fen; the odd fen stays with the store
    if discount <= 0:
        return None
    return [Adjustment("line", NAME, f"percent_off_{{percent}}", settings["label"], -discount, line_index=line.index)]


@hookimpl
def mallow_register_blocks(register):
    register("{block}", label=_l("Discount banner"),
             schema={{"type": "object", "properties": {{
                 "text": {{"type": "string", "maxLength": 40, "default": "全场限时折扣", "title": _l("Text")}},
                 "highlight": {{"type": "boolean", "default": True, "title": _l("Highlight")}}}}}},
             template="templates/blocks/{block}.html")
'''

BLOCK_TEMPLATE = """\
{{# The {block} block: its settings are in block.settings (autoescaped, sandboxed). #}}
<div class="{block}{{% if block.settings.highlight %}} is-highlighted{{% endif %}}">
  <strong>{{{{ block.settings.text }}}}</strong>
</div>
"""

TEST = '''\
"""{title} on throwaway stores: Mallow's own test helpers build a platform in a temp dir,
approve and load this plugin, and create stores in milliseconds.

Run with Mallow's environment: ``pip install -e .`` then ``pytest``.
"""
from __future__ import annotations

import pytest

from mallow.sdk.testing import (bearer, block_registered, enable_plugin, make_product, make_shopper, make_store,
                               plugin_app)

NAME = "{name}"


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    return plugin_app(tmp_path_factory, "sqlite", [NAME])


def quote(app, shop, sku_id, quantity=2):
    client = app.test_client()
    token, _address = make_shopper(client, shop)
    response = client.post(f"{{shop.prefix}}/api/checkout/quote", headers=bearer(token),
                           json={{"items": [{{"sku_id": sku_id, "quantity": quantity}}]}})
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_percent_off_only_in_the_store_that_enabled_it(app):
    # given two stores selling the same thing, the plugin on in one of them
    mine, other = make_store(app), make_store(app)
    [sku] = make_product(app, mine, price=1999)
    [other_sku] = make_product(app, other, price=1999)
    enable_plugin(app, mine, NAME, {{"percent_off": 15}})
    # when a shopper of each prices two units
    priced, untouched = quote(app, mine, sku), quote(app, other, other_sku)
    # then only the first sees the discount, with its source and label
    [line] = priced["lines"]
    assert [(a["source"], a["amount"]) for a in line["adjustments"]] == [(NAME, -(3998 * 15 // 100))]
    assert priced["total"] == 3998 - 3998 * 15 // 100
    assert untouched["total"] == 3998 and untouched["lines"][0]["adjustments"] == []


def test_the_banner_block_is_registered(app):
    assert block_registered("{block}", app)


def test_its_texts_come_from_its_own_catalogue_chinese_first(app):
    from {package}.i18n import _

    with app.test_request_context("/"):
        assert _("Discount banner") == "折扣横幅"
    with app.test_request_context("/?lang=en"):
        assert _("Discount banner") == "Discount banner"
'''

README = """\
# {title}

A [Mallow](https://example.invalid/mallow) plugin: `{package}` (plugin name `{name}`).

* `{package}/plugin.json` — the manifest Mallow reads **without importing** the package: name,
  version, title, author, description, hooks, settings schema, permissions, minimum Mallow version.
* `{package}/__init__.py` — the hooks: a percentage off each line (`mallow_line_adjustments`,
  integer fen), and a page-builder block (`mallow_register_blocks`).
* `{package}/templates/blocks/{block}.html` — the block's template.
* `{package}/i18n.py`, `babel.cfg`, `{package}/translations/zh_Hans_CN/LC_MESSAGES/{package}.po`
  (and `.mo`) — the plugin's own translations (domain `{package}`), Chinese first.
* `tests/test_plugin.py` — runs the plugin against throwaway stores with `mallow.sdk.testing`.

## Develop

```bash
pip install -e .          # into Mallow's environment
pytest                    # the plugin's tests
```

## Translations

Write texts as `_("…")` / `_l("…")` from `{package}/i18n.py` (and `_()` in templates of blueprints
given to `translations.install(blueprint)`), then refresh the catalogue and translate the new
entries:

```bash
pybabel extract -F babel.cfg -k _l -k lazy_gettext -o messages.pot .
pybabel update -i messages.pot -d {package}/translations -D {package} -l zh_Hans_CN
pybabel compile -d {package}/translations -D {package}
```

## Put it on a platform

1. Install it on the server (from the package index the operator controls).
2. `mallow plugin sync` (also run by `mallow db upgrade`) records this version for review.
3. A platform admin reviews and approves it in **/admin/plugins**; Mallow imports it at its next start.
4. Each merchant turns it on in the console (**Plugins**) and sets the percentage.

Every new version is reviewed again: bump `version` in `plugin.json` and `pyproject.toml` together.
"""
