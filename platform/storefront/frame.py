"""The storefront frame around a built page (``storefront/built_page.html`` over
``storefront/base.html``: the header, the language switch, the tab bar), drawn once per what it
shows and kept in this process.

Drawing the frame was about a sixth of a cold storefront home's CPU (Jinja running the tab bar's
loop and the header for every request), for text that is the same for every anonymous visitor of
a page. What the frame shows besides the page is:

* the store: its name, whether it is open, its addresses (:func:`~mallow.builder.render.store_urls`:
  one object per store, slug, host, script root and scheme);
* the language, the page's title and stylesheets, and which page it is (the request's endpoint:
  the current tab, whether there is a tab bar);
* the cart's count (the tab's badge) and the way back of the language switch (``here()``);
* WeChat's share script (inside WeChat only) and the analytics beacon.

Those are the key. The frame is rendered for a key with a marker where the page goes, cut there,
and the two halves are kept (at most :data:`ENTRIES` keys per process); the next request with
the same key joins them around its page. The key's parts are read with the functions the frame's
template calls (so a side effect they have, such as the CSP's WeChat origin, still happens).
Rendered as before, and not kept: a signed-in shopper (the header shows 我的订单 and 我的), a
session holding flashed messages (shown once, then gone), a preview, templates that reload.

**A change to ``storefront/base.html`` that shows something new must add it to the key**
(:func:`_key`); ``tests/builder/test_kept_frame.py`` serves pages with the kept frame and drawn afresh and
compares them.
"""

from __future__ import annotations

import functools
import secrets

from flask import current_app, render_template, request, session
from flask_babel import get_locale
from markupsafe import Markup

from mallow.analytics.beacon import analytics_script
from mallow.builder.render import store_urls
from mallow.cart.current import current_shopper, item_count
from mallow.storefront.wechat import wechat_share_script
from mallow.tenants.context import current_store
from mallow.web.redirects import here

#: ``{key: (text before the page, text after it)}`` in ``app.extensions``
EXTENSION = "mallow.storefront.frames"
#: frames kept per process (a store's pages × languages × addresses; cleared when full)
ENTRIES = 2048
_MARK = "<!--mallow-frame-page:" + secrets.token_hex(8) + "-->"


def draw(template: str, *, page_html, page_title, stylesheets, **context) -> str:
    """``render_template(template, page_html=…, page_title=…, stylesheets=…, **context)``, from
    the kept frame when one was drawn for this request's key."""
    key = _key(template, page_title, stylesheets, context)
    render = functools.partial(render_template, template, page_title=page_title, stylesheets=stylesheets, **context)
    if key is None:
        return render(page_html=page_html)
    kept = current_app.extensions.setdefault(EXTENSION, {})
    found = kept.get(key)
    if found is None:
        before, mark, after = render(page_html=Markup(_MARK)).partition(_MARK)
        if not mark or _MARK in after:  # the page not shown exactly once: drawn every time
            return render(page_html=page_html)
        if len(kept) >= ENTRIES:
            kept.clear()
        found = kept[key] = (before, after)
    return f"{found[0]}{page_html}{found[1]}"


def _key(template: str, page_title, stylesheets, context: dict) -> tuple | None:
    """What the frame shows besides the page, or None: drawn afresh (see the module's notes)."""
    if context.get("preview_of") is not None or current_app.jinja_env.auto_reload:
        return None
    if "_flashes" in session or current_shopper() is not None:
        return None
    store = current_store()
    if store is None:
        return None
    share = wechat_share_script()  # (it tells the CSP to allow WeChat's JS-SDK: called as the frame would)
    beacon = analytics_script()
    try:
        key = (
            template,
            store_urls(),
            store.name,
            store.is_open,
            str(get_locale()),
            request.endpoint,
            page_title,
            tuple(stylesheets),
            item_count(),
            here(),
            tuple(sorted(share.items())) if share else None,
            tuple(sorted(beacon.items())) if beacon else None,
        )
        hash(key)
    except TypeError:  # a value that cannot be a key: drawn afresh
        return None
    return key
