"""The page-builder block, the storefront template slots and the console menu entry."""

from __future__ import annotations

import logging

from flask import url_for
from markupsafe import Markup

from mallow.sdk import principal
from mallow_distribution.i18n import _, _l, translations
from mallow_distribution.web import BLUEPRINTS, endpoint

log = logging.getLogger("mallow.plugins.distribution")

BLOCK_TYPE = "distribution_entry"
#: relative to the plugin's package; also found by Flask under the blueprints' template folder
BLOCK_TEMPLATE = "templates/blocks/distribution_entry.html"
BLOCK_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "title": {"type": "string", "maxLength": 30, "default": "", "title": "Title"},
        "text": {"type": "string", "maxLength": 120, "default": "", "title": "Text"},
    },
}
#: slots where a signed-in shopper finds the way to the distribution centre (on the account
#: page it is an entry: :func:`account_entries`)
SLOTS = ("home.top",)


def centre_url() -> str:
    return url_for(endpoint("storefront", "centre"))


def _data() -> dict:
    """The centre's URL, the plugin's stylesheet (the block is drawn inside the theme's page,
    which does not load it) and the block's texts."""
    from mallow_distribution.web import asset_version

    return {
        "url": centre_url(),
        "stylesheet": url_for(
            endpoint("storefront", "static"), filename="distribution.css", v=asset_version("distribution.css")
        ),
        # the page builder's sandbox translates with Mallow's catalogue only: the texts come from here
        "title": _("Become a distributor"),
        "action": _("Distribution centre"),
        "text": _("Share the store with friends and earn commission on what they buy. Joining is free."),
    }


def _resolve(block, ctx) -> dict:
    return _data()


def register_block(register) -> bool:
    """Register the "distributor entry" block; returns False (and logs) when the page builder's
    ``register`` is not there yet or takes other arguments."""
    if not callable(register):
        return False
    try:
        register(
            BLOCK_TYPE, label=_l("Distributor entry"), schema=BLOCK_SCHEMA, template=BLOCK_TEMPLATE, resolve=_resolve
        )
    except (TypeError, ImportError) as exc:
        log.info("distribution: page-builder block not registered (%s)", exc)
        return False
    return True


def render_entry(settings: dict | None = None) -> Markup:
    """The block's markup outside the page builder (what the template slots show)."""
    block = {"settings": settings or {}, "data": _data()}
    return Markup(translations.render_template(BLOCK_TEMPLATE.removeprefix("templates/"), block=block))


def account_entries() -> list[dict]:
    """The account page's (我的) entry to the distribution centre, for every shopper."""
    return [{"label": _("Distribution centre"), "endpoint": f"{BLUEPRINTS['storefront']}.centre", "icon": "分"}]


def template_slot(slot: str, context: dict | None):
    """A way in to the distribution centre for signed-in shoppers who are not distributors yet
    (on the home page)."""
    if slot not in SLOTS:
        return None
    customer = principal("shopper")
    if customer is None:
        return None
    if slot == "home.top":
        from mallow_distribution.distributors import of_customer

        if of_customer(customer.id) is not None:
            return None
    return render_entry({"title": ""})


def console_menu() -> list[dict]:
    """The menu entry, named the way Mallow resolves it (``<our blueprint>.<view>``)."""
    return [{"label": _("Distribution"), "endpoint": f"{BLUEPRINTS['console']}.distributors"}]
