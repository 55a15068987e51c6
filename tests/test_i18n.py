"""Translations: every source string has a Chinese translation, the .mo files are current, for
Mallow's own catalogue and for each bundled plugin's (its own domain and catalogue in its package).

The catalog checks need no app and no database: they extract the msgids from the sources
in-process with the same mapping as ``scripts/i18n`` (``babel.cfg``), so a string added
without a translation fails here, before anyone sees English in the Chinese UI.

Fix a failure with ``scripts/i18n``: it extracts, merges into the .po files, and compiles.
Translate the new empty or ``#, fuzzy`` entries (and remove the fuzzy flag), then run it again.

Catalog directories carry Babel's name of the locale: Flask-Babel parses the app's ``zh_CN``
into ``zh_Hans_CN`` and looks only in ``zh_Hans_CN/`` (then ``zh/``), so the Chinese catalog is
``platform/translations/zh_Hans_CN/LC_MESSAGES/messages.po``. A bundled plugin's is
``plugins/<name>/translations/zh_Hans_CN/LC_MESSAGES/mallow_<name>.po``, extracted with
``plugins/<name>/babel.cfg`` from the plugin's Python and templates.
"""

from __future__ import annotations

import fnmatch
import io
import os
import re
from collections import Counter
from pathlib import Path

import pytest
from babel import Locale
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[1]
MAPPING = ROOT / "babel.cfg"
TRANSLATIONS = ROOT / "platform" / "translations"
# The app's locale codes (MALLOW_LOCALES) that need a complete catalog: zh_CN is the default.
# English is the source language and has none.
REQUIRED_LOCALES = ("zh_CN",)
# The same extra keywords and ignored directories as scripts/i18n.
KEYWORDS = {**DEFAULT_KEYWORDS, "_l": None, "lazy_gettext": None}
IGNORE_DIRS = (".*", "_*", "instance", "build", "dist", "*.egg-info", "node_modules")
FIX = (
    "Run scripts/i18n, translate the new entries in {po} (fill msgstr, remove '#, fuzzy'), "
    "then run scripts/i18n again to compile the .mo."
)

# printf-style placeholders: %(name)s, %s, %d, %.2f ...; "%%" is a literal percent sign.
PLACEHOLDER = re.compile(r"%(?:\([^)]*\))?[#0 +\-]*(?:\*|\d+)?(?:\.(?:\*|\d+))?[diouxXeEfFgGcrsa%]")


def _catalog_dir(locale: str) -> str:
    """The directory Flask-Babel reads for ``locale``: ``zh_CN`` -> ``zh_Hans_CN``."""
    return str(Locale.parse(locale))


def _po_path(locale: str) -> Path:
    return TRANSLATIONS / _catalog_dir(locale) / "LC_MESSAGES" / "messages.po"


def _locales() -> list[str]:
    """Every catalog directory there is or must be (``zh_Hans_CN``, ...)."""
    found = {p.parent.parent.name for p in TRANSLATIONS.glob("*/LC_MESSAGES/messages.po")}
    return sorted(found | {_catalog_dir(locale) for locale in REQUIRED_LOCALES})


def test_catalog_directories_are_found_by_flask_babel():
    for po in TRANSLATIONS.glob("*/LC_MESSAGES/messages.po"):
        name = po.parent.parent.name
        assert _catalog_dir(name) == name, (
            f"{po.relative_to(ROOT)} is never loaded: Flask-Babel looks for {name!r} in "
            f"{_catalog_dir(name)}/. Add the locale to LOCALES in scripts/i18n under that name."
        )


def _read_po(locale: str):
    path = _po_path(locale)
    assert path.is_file(), f"{path.relative_to(ROOT)} is missing. " + FIX.format(po=path.relative_to(ROOT))
    with path.open("rb") as f:
        return read_po(f, locale=locale)


def _extract_sources(mapping: Path = MAPPING, root: Path = ROOT) -> dict[tuple[str, str | None], list[str]]:
    """``{(msgid, context): ["file:line", ...]}`` for every message in the current sources."""
    with mapping.open() as f:
        method_map, options_map = parse_mapping_cfg(f, filename=str(mapping))

    def keep_directory(dirpath: str) -> bool:
        name = os.path.basename(dirpath)
        return not any(fnmatch.fnmatch(name, pattern) for pattern in IGNORE_DIRS)

    found: dict[tuple[str, str | None], list[str]] = {}
    for filename, lineno, message, _comments, context in extract_from_dir(
        str(root), method_map, options_map, keywords=KEYWORDS, directory_filter=keep_directory
    ):
        msgid = message[0] if isinstance(message, (list, tuple)) else message
        if msgid:
            found.setdefault((msgid, context), []).append(f"{filename}:{lineno}")
    return found


@pytest.fixture(scope="module")
def source_messages():
    messages = _extract_sources()
    assert messages, "no messages were extracted: is babel.cfg still matching the sources?"
    return messages


def test_mapping_covers_python_and_templates(source_messages):
    places = {where.rsplit(":", 1)[0] for wheres in source_messages.values() for where in wheres}
    assert any(p.startswith("platform/") and p.endswith(".py") for p in places)
    assert any(p.startswith("platform/templates/") for p in places)
    assert any(p.startswith("themes/") for p in places)
    assert not any(p.startswith((".venv/", "tests/", "plugins/")) for p in places)  # plugins: their own catalogues


@pytest.mark.parametrize("locale", REQUIRED_LOCALES)
def test_every_source_string_is_translated(locale, source_messages):
    catalog = _read_po(locale)
    missing = []
    for (msgid, context), wheres in sorted(source_messages.items()):
        entry = catalog.get(msgid, context)
        strings = (entry.string if isinstance(entry.string, (list, tuple)) else [entry.string]) if entry else []
        if entry is None or entry.fuzzy or not strings or not all(s and s.strip() for s in strings):
            state = "missing" if entry is None else "fuzzy" if entry.fuzzy else "untranslated"
            missing.append(
                f"  [{state}] {msgid!r}"
                + (f" (context {context!r})" if context else "")
                + f"  ← {', '.join(wheres[:3])}"
            )
    po = _po_path(locale).relative_to(ROOT)
    assert not missing, (
        f"{len(missing)} msgid(s) have no {locale} translation in {po}:\n"
        + "\n".join(missing)
        + "\n"
        + FIX.format(po=po)
    )


@pytest.mark.parametrize("locale", _locales())
def test_compiled_mo_is_up_to_date(locale):
    catalog = _read_po(locale)
    compiled = io.BytesIO()
    write_mo(compiled, catalog, use_fuzzy=False)
    compiled.seek(0)
    expected = _messages(read_mo(compiled))
    mo_path = _po_path(locale).with_suffix(".mo")
    fix = FIX.format(po=_po_path(locale).relative_to(ROOT))
    assert mo_path.is_file(), f"{mo_path.relative_to(ROOT)} is missing. {fix}"
    with mo_path.open("rb") as f:
        actual = _messages(read_mo(f))
    stale = sorted(set(expected.items()) ^ set(actual.items()), key=repr)
    assert actual == expected, (
        f"{mo_path.relative_to(ROOT)} does not match its .po ({len(stale)} difference(s), e.g. {stale[:5]}). {fix}"
    )


def _messages(catalog) -> dict:
    """``{(msgid, context): msgstr}`` without the header entry."""
    return {
        (m.id if isinstance(m.id, str) else tuple(m.id), m.context): (
            m.string if isinstance(m.string, str) else tuple(m.string)
        )
        for m in catalog
        if m.id
    }


def _placeholders(text: str) -> Counter:
    return Counter(p for p in PLACEHOLDER.findall(text) if p != "%%")


@pytest.mark.parametrize("locale", _locales())
def test_placeholders_are_kept(locale):
    wrong = []
    for entry in _read_po(locale):
        if not entry.id or not entry.string:
            continue
        ids = list(entry.id) if isinstance(entry.id, (list, tuple)) else [entry.id]
        strings = list(entry.string) if isinstance(entry.string, (list, tuple)) else [entry.string]
        wanted = _placeholders(ids[0])
        for string in strings:
            if string and _placeholders(string) != wanted:
                wrong.append(
                    f"  {ids[0]!r} → {string!r}: expected {sorted(wanted.elements())}, "
                    f"got {sorted(_placeholders(string).elements())}"
                )
    assert not wrong, (
        f"translations in {_po_path(locale).relative_to(ROOT)} whose placeholders differ "
        "from their msgid:\n" + "\n".join(wrong)
    )


# -- the running app ------------------------------------------------------------------------


def test_chinese_is_the_default(client):
    response = client.get("/")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "免费开店" in html and "Open a store" not in html
    assert '<html lang="zh-CN">' in html


def test_lang_parameter_switches_to_english_and_sticks(client):
    html = client.get("/?lang=en").get_data(as_text=True)
    assert "Open a store" in html and "免费开店" not in html
    # The choice is kept in a cookie for the next pages.
    assert "Open a store" in client.get("/").get_data(as_text=True)
    assert "免费开店" in client.get("/?lang=zh_CN").get_data(as_text=True)


def test_accept_language_is_honoured(client):
    english = client.get("/", headers={"Accept-Language": "en-US"}).get_data(as_text=True)
    assert "Open a store" in english and "免费开店" not in english
    assert '<html lang="en">' in english
    chinese = client.get("/", headers={"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.8"}).get_data(as_text=True)
    assert "免费开店" in chinese


# -- each bundled plugin's own catalogue ---------------------------------------------------------

PLUGINS = sorted(path.parent.name for path in (ROOT / "plugins").glob("*/babel.cfg"))


def _plugin_po(name: str, locale: str) -> Path:
    return ROOT / "plugins" / name / "translations" / _catalog_dir(locale) / "LC_MESSAGES" / f"mallow_{name}.po"


def test_every_bundled_plugin_has_its_own_mapping():
    assert PLUGINS == sorted(path.name for path in (ROOT / "plugins").iterdir() if (path / "plugin.json").is_file())


@pytest.mark.parametrize("locale", REQUIRED_LOCALES)
@pytest.mark.parametrize("name", PLUGINS)
def test_every_plugin_string_is_translated_in_its_own_catalogue(name, locale):
    folder = ROOT / "plugins" / name
    messages = _extract_sources(folder / "babel.cfg", folder)
    places = {where.rsplit(":", 1)[0] for wheres in messages.values() for where in wheres}
    assert any(p.endswith(".py") for p in places) and any(p.startswith("templates/") for p in places), places
    po = _plugin_po(name, locale)
    fix = FIX.format(po=po.relative_to(ROOT))
    assert po.is_file(), f"{po.relative_to(ROOT)} is missing. {fix}"
    with po.open("rb") as f:
        catalog = read_po(f, locale=locale)
    missing = sorted(
        f"  {msgid!r} ← {', '.join(wheres[:2])}"
        for (msgid, context), wheres in messages.items()
        if not (
            (entry := catalog.get(msgid, context))
            and not entry.fuzzy
            and entry.string
            and all(part.strip() for part in ([entry.string] if isinstance(entry.string, str) else entry.string))
        )
    )
    assert not missing, (
        f"{len(missing)} msgid(s) of the {name} plugin lack a {locale} translation:\n" + "\n".join(missing) + "\n" + fix
    )
    wrong = [
        f"  {entry.id!r} → {entry.string!r}"
        for entry in catalog
        if entry.id
        and isinstance(entry.id, str)
        and entry.string
        and _placeholders(entry.string) != _placeholders(entry.id)
    ]
    assert not wrong, "translations whose placeholders differ from their msgid:\n" + "\n".join(wrong)


@pytest.mark.parametrize("locale", REQUIRED_LOCALES)
@pytest.mark.parametrize("name", PLUGINS)
def test_every_plugin_catalogue_is_compiled(name, locale):
    po = _plugin_po(name, locale)
    with po.open("rb") as f:
        catalog = read_po(f, locale=locale)
    compiled = io.BytesIO()
    write_mo(compiled, catalog, use_fuzzy=False)
    compiled.seek(0)
    mo = po.with_suffix(".mo")
    assert mo.is_file(), f"{mo.relative_to(ROOT)} is missing. " + FIX.format(po=po.relative_to(ROOT))
    with mo.open("rb") as f:
        assert _messages(read_mo(f)) == _messages(read_mo(compiled)), (
            f"{mo.relative_to(ROOT)} does not match its .po. " + FIX.format(po=po.relative_to(ROOT))
        )
