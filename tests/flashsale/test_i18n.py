"""The plugin's texts are in its own catalogue (domain ``mallow_flashsale``), extracted from its
templates too, and its pages are Chinese by default without anything of Mallow's catalogue."""

from __future__ import annotations

from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

import mallow_flashsale

PLUGIN = Path(mallow_flashsale.__file__).parent
PO = PLUGIN / "translations" / "zh_Hans_CN" / "LC_MESSAGES" / "mallow_flashsale.po"


def _template_texts() -> set[str]:
    found = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        str(PLUGIN / "templates"), [("**.html", "jinja2")], {}
    ):
        found.add(message[0] if isinstance(message, (list, tuple)) else message)
    return found


def test_the_plugin_has_no_list_of_template_texts_any_more():
    assert not (PLUGIN / "texts.py").exists()


def test_every_template_text_is_translated_in_the_plugins_own_catalogue():
    with PO.open("rb") as f:
        catalog = read_po(f, locale="zh_Hans_CN")
    texts = _template_texts()
    assert texts, "no template text was extracted"
    untranslated = sorted(t for t in texts if not (catalog.get(t) and catalog.get(t).string))
    assert not untranslated, untranslated
