"""Every text of the plugin's templates is in ``texts.py`` (so ``scripts/i18n`` keeps it in the
catalog) and has a Chinese translation; the pages are Chinese by default."""
from __future__ import annotations

import ast
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

import mallow_flashsale

PLUGIN = Path(mallow_flashsale.__file__).parent
PO = Path(__file__).resolve().parents[2] / "platform" / "translations" / "zh_Hans_CN" / "LC_MESSAGES" / "messages.po"


def _template_texts() -> set[str]:
    found = set()
    for _file, _line, message, _comments, _context in extract_from_dir(str(PLUGIN / "templates"),
                                                                       [("**.html", "jinja2")], {}):
        found.add(message[0] if isinstance(message, (list, tuple)) else message)
    return found


def _listed_texts() -> set[str]:
    tree = ast.parse((PLUGIN / "texts.py").read_text(encoding="utf-8"))
    return {node.args[0].value for node in ast.walk(tree)
            if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "_l"}


def test_every_template_text_is_listed_for_extraction():
    missing = _template_texts() - _listed_texts()
    assert not missing, f"add these to plugins/flashsale/texts.py, then run scripts/i18n: {sorted(missing)}"


def test_every_template_text_is_translated():
    with PO.open("rb") as f:
        catalog = read_po(f, locale="zh_Hans_CN")
    untranslated = sorted(t for t in _template_texts() if not (catalog.get(t) and catalog.get(t).string))
    assert not untranslated, untranslated
