"""The editor's live preview: an unsaved page document (and, optionally, another theme or
unsaved theme settings) rendered through the sandboxed theme, block by block, with the sample
product or category a template page needs. Nothing is saved; invalid input is field errors."""

from __future__ import annotations

from flask_babel import gettext as _
from mallow.builder import current, service, validation
from mallow.builder.render import fill_late, render_document, stylesheet_urls
from mallow.builder.themes import theme_set
from mallow.tenants.context import current_store


def preview(page, document=None, theme: str | None = None, theme_settings: dict | None = None) -> dict:
    """``{blocks: [{id, type, html}], theme, style, classes, stylesheets, sample}`` for ``document``
    (the saved draft when None) in ``theme`` (the store's when None); ``ValidationFailed`` when
    the document or the theme settings are refused."""
    document = validation.validate_document(
        page.draft if document is None else document, references=service.references, kind=page.kind
    )
    name, settings = service.current_theme() if theme is None else service.check_theme(theme, theme_settings)
    chosen = theme_set().get(name)
    subject = current.sample(page.kind)
    rendered = render_document(
        document,
        kind=page.kind,
        theme=chosen,
        theme_settings=settings,
        store=current_store(),
        title=page.title,
        preview=True,
        subject=subject,
    )
    style, classes = chosen.css(settings)
    parts = subject.late_parts(chosen) if subject is not None else {}
    return {
        "blocks": [{"id": i, "type": t, "html": str(fill_late(h, parts))} for i, t, h in rendered.blocks],
        "theme": chosen.name,
        "style": style,
        "classes": classes,
        "stylesheets": stylesheet_urls(chosen),
        "sample": _sample_json(subject),
    }


def _sample_json(subject) -> dict | None:
    """Which product or category the preview shows (the templates need one)."""
    if subject is None:
        return None
    return {"kind": subject.kind, "title": subject.title, "text": _("Previewed with: %(name)s", name=subject.title)}
