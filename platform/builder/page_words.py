"""A page's words, for the absolute-terms check (极限词) of :mod:`mallow.compliance`.

The builder knows what in a page is text: its title and every text, textarea and rich-text
setting of every block and child block (image alt text too). :func:`screen_page` hands them to
:func:`mallow.compliance.screen`, named by JSON pointer like the builder's own errors, so a
refused term is shown on the setting that holds it. Compliance knows nothing of pages.
"""

from __future__ import annotations

from mallow import compliance
from mallow.builder import blocks
from mallow.builder.validation import pointer
from mallow.catalog import richtext

TEXT_EDITORS = ("text", "textarea", "richtext")


def page_fields(document: dict, title: str | None = None) -> dict[str, str]:
    """``{JSON pointer: text}``: the page's title (as ``title``) and the words of its blocks."""
    fields = {"title": title} if title else {}

    def add(settings_schemas: dict, settings: dict, *where):
        for name, schema in settings_schemas.items():
            value = (settings or {}).get(name)
            editor = schema.get("x-editor")
            if isinstance(value, str) and value and editor in TEXT_EDITORS:
                fields[pointer(*where, "settings", name)] = richtext.text_of(value) if editor == "richtext" else value

    for section_id, section in (document.get("sections") or {}).items():
        block_type = blocks.get(section.get("type"))
        if block_type is None:
            continue
        add(block_type.settings, section.get("settings"), "sections", section_id)
        for child_id, child in (section.get("blocks") or {}).items():
            child_type = block_type.children.get(child.get("type"))
            if child_type is not None:
                add(child_type.settings, child.get("settings"), "sections", section_id, "blocks", child_id)
    return fields


def screen_page(page, document: dict, title: str | None = None) -> list:
    """Check the page's words and record its findings (raises ``ValidationFailed`` on a blocking
    term). ``title``: the new title being saved (None: the page keeps its title)."""
    title = page.title if title is None else str(title).strip()
    return compliance.screen("page", page.id, page_fields(document, title), label=title or page.slug or page.kind)
