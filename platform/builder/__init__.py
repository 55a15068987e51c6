"""The page builder: page JSON validated per block type, drafts and published versions,
rendering through sandboxed themes with a render cache, the console editor and its API.

Modules: :mod:`~mallow.builder.blocks` (registry and schema helpers; plugins call
:func:`register_block_type`), :mod:`~mallow.builder.library` (built-in block types),
:mod:`~mallow.builder.validation` (page JSON checks), :mod:`~mallow.builder.themes`
(manifests, sandboxed environments), :mod:`~mallow.builder.render`,
:mod:`~mallow.builder.cache`, :mod:`~mallow.builder.invalidation` (catalogue version),
:mod:`~mallow.builder.service` (drafts, publish, rollback, theme), :mod:`~mallow.builder.storefront`
(published pages), :mod:`~mallow.builder.console` (editor pages), :mod:`~mallow.builder.api`.
See docs/builder.md.
"""
from __future__ import annotations

from mallow.builder.blocks import register_block_type, unregister_block_type  # noqa: F401  (the plugin API)


def init_app(app) -> None:
    """Register the block library, themes, the render cache and the builder's routes.
    Runs before the API blueprints are registered (its operations join them at import)."""
    from mallow.builder import api as _api  # noqa: F401  (declares the console API operations)
    from mallow.builder import cache, console, library, storefront, themes
    from mallow.builder import invalidation as _invalidation  # noqa: F401  (registers its flush listener)

    library.register_builtin()
    themes.init_app(app)
    cache.init_app(app)
    app.register_blueprint(storefront.bp)
    app.register_blueprint(console.bp)
