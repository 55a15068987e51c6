"""The page builder: page JSON validated per block type, drafts and published versions,
rendering through sandboxed themes with a render cache, the console editor and its API.

Modules: :mod:`~mallow.builder.blocks` (block types, the app's block registry, schema helpers),
:mod:`~mallow.builder.library` (built-in block types),
:mod:`~mallow.builder.validation` (page JSON checks), :mod:`~mallow.builder.themes`
(manifests, sandboxed environments), :mod:`~mallow.builder.render`,
:mod:`~mallow.builder.cache`, :mod:`~mallow.builder.invalidation` (catalogue version),
:mod:`~mallow.builder.service` (drafts, publish, rollback, theme), :mod:`~mallow.builder.storefront`
(published pages), :mod:`~mallow.builder.console` (editor pages), :mod:`~mallow.api.pages`
(its API operations, installed by ``create_app`` with the others). See docs/builder.md.
"""

from __future__ import annotations

from mallow.builder import cache, console, invalidation, library, storefront, themes
from mallow.builder.blocks import EXTENSION, BlockTypes


def init_app(app) -> None:
    """The app's block registry with the built-in types, themes, the render cache and the
    builder's pages (plugins add their block types when they load)."""
    app.extensions[EXTENSION] = BlockTypes(library.BUILTIN_TYPES)
    themes.init_app(app)
    cache.init_app(app)
    invalidation.install()
    app.register_blueprint(storefront.bp)
    app.register_blueprint(console.bp)
