"""Settings of a plugin's page-builder block types, for ``mallow_register_blocks``'s
``register(type_name, label=…, settings={…}, template_folder=…, resolve=…)``.

Each function returns one setting's schema fragment with the editor the builder shows for it:
``{"title": text(_l("Title"), default=_l("Group buys")), "count": number(_l("How many"), 1, 12, 4)}``.
Titles may be lazy translations (the plugin's ``_l``). A block's template runs in the builder's
sandbox with Mallow's translations only: resolve the block's texts in ``resolve`` with the plugin's
own ``_`` and hand them over as data.
"""

from mallow.builder.blocks import (
    checkbox,
    choice,
    color,
    image,
    link,
    number,
    product,
    products,  # noqa: F401
    richtext,
    text,
)

__all__ = ["checkbox", "choice", "color", "image", "link", "number", "product", "products", "richtext", "text"]
