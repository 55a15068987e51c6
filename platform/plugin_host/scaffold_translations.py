"""The translations part of ``mallow plugin new``: the plugin's own Babel domain and catalogue.

It writes ``<package>/i18n.py`` (``PluginTranslations`` from the SDK: ``_`` and ``_l`` of the
domain ``<package>``), a ``babel.cfg`` that extracts the package's Python and templates, and the
Chinese catalogue ``<package>/translations/zh_Hans_CN/LC_MESSAGES/<package>.po`` with the
scaffold's own strings already translated, compiled to its ``.mo``: the same layout as the
bundled plugins (docs/plugins.md, *Translations*).
"""

from __future__ import annotations

from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import write_po

#: the scaffold's msgids (in INIT) and their Chinese
MESSAGES = {
    "The reduction must be less than the threshold.": "减的金额须小于门槛",
    "Buy ¥%(more)s more to save ¥%(off)s": "再买 ¥%(more)s 可减 ¥%(off)s",
    "Full-reduction banner": "满减横幅",
    "Text": "文字",
    "Highlight": "突出显示",
}
#: Babel's name of the app's zh_CN (the folder Flask-Babel looks in)
LOCALE = "zh_Hans_CN"

I18N = '''\
"""{title}'s own translations: the Babel domain ``{package}`` and its catalogues in
``translations/`` (extract with ``babel.cfg``: see README.md). Python uses ``_`` / ``_l`` from
here; templates of blueprints given to ``translations.install(blueprint)`` get the same ``_()``."""
from mallow.sdk import PluginTranslations

translations = PluginTranslations(__name__)
_ = gettext = translations.gettext
_l = lazy_gettext = translations.lazy_gettext
ngettext = translations.ngettext
'''

BABEL_CFG = """\
# Message extraction for {package} (its own domain): see README.md, "Translations".
[python: {package}/**.py]
[jinja2: {package}/templates/**.html]
"""


def write(folder: Path, values: dict) -> None:
    """Write the translation files of the plugin in ``folder`` (its project folder)."""
    package = values["package"]
    (folder / package / "i18n.py").write_text(I18N.format(**values), encoding="utf-8")
    (folder / "babel.cfg").write_text(BABEL_CFG.format(**values), encoding="utf-8")
    catalog = Catalog(locale=LOCALE, domain=package, project=values["dist"], version="0.1.0")
    for msgid, msgstr in MESSAGES.items():
        flags = ["python-format"] if "%(" in msgid else []
        catalog.add(msgid, msgstr, locations=[(f"{package}/__init__.py", 0)], flags=flags)
    messages = folder / package / "translations" / LOCALE / "LC_MESSAGES"
    messages.mkdir(parents=True, exist_ok=True)
    with (messages / f"{package}.po").open("wb") as po:
        write_po(po, catalog, width=100, omit_header=False)
    with (messages / f"{package}.mo").open("wb") as mo:
        write_mo(mo, catalog)
