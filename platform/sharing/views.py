"""The storefront's share routes (on the ``storefront`` blueprint, ``/s/<store>/share/…``):

* ``/share/poster/product/<id>.png`` and ``/share/poster/page/<slug>.png``: the poster (PNG),
  carrying the signed-in shopper's code;
* ``/share/link/product/<id>`` and ``/share/link/page/<slug>``: ``{share_url, poster_url, code,
  source}`` for the product page's share sheet (``static/storefront/share-sheet.js``);
* ``/share/r/<code>/product/<id>`` and ``/share/r/<code>/page/<slug>``: a visit through a share
  link: the code is remembered for the visitor (their first order keeps the sharer), then
  303 to the page. An unknown code, or the sharer's own, lands on the page all the same.
* the same three under ``…/x/<kind>/<ref>`` for a plugin's shared thing (``mallow_share_target``,
  :mod:`mallow.sharing.targets`, e.g. ``/share/poster/x/groupbuy_group/12.png``): 404 when the
  plugin has no such thing to share in this store.
* ``/account/invitations``: 我的 → 我的邀请, the first orders the shopper's shares brought (buyers
  masked) and their rewards (:func:`mallow.sharing.rewards.invitations`).

None of these is kept by the front door: they depend on who asks.
"""

from __future__ import annotations

from flask import Response, abort, jsonify, redirect, render_template, url_for

from mallow.accounts.guards import principal, shopper_required
from mallow.sharing import referrals, rewards, service, targets
from mallow.sharing.links import CODE_LENGTH, Shared, find_code
from mallow.web.blueprints import storefront as bp


def _found(kind: str, ref):
    try:
        return service.find(kind, ref)
    except service.NotShared:
        abort(404)


def _poster(kind: str, ref) -> Response:
    shared, row = _found(kind, ref)
    customer = principal("shopper")
    link = service.link_for(shared, customer)
    data, kept = service.poster(shared, row, link)
    return Response(data, mimetype="image/png", headers=service.poster_headers(customer, kept))


@bp.get("/share/poster/product/<int:product_id>.png")
@service.poster_limits
def share_poster_product(product_id):
    return _poster("product", product_id)


@bp.get("/share/poster/page/<slug>.png")
@service.poster_limits
def share_poster_page(slug):
    return _poster("page", slug)


def _link(kind: str, ref, poster_url: str):
    shared, _row = _found(kind, ref)
    customer = principal("shopper")
    link = service.link_for(shared, customer)
    response = jsonify(share_url=link.url, poster_url=poster_url, code=link.code, source=link.source)
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.get("/share/link/product/<int:product_id>")
def share_link_product(product_id):
    return _link("product", product_id, url_for("storefront.share_poster_product", product_id=product_id))


@bp.get("/share/link/page/<slug>")
def share_link_page(slug):
    return _link("page", slug, url_for("storefront.share_poster_page", slug=slug))


def _visit(code: str, target: Shared):
    if len(code) == CODE_LENGTH:
        found = find_code(code)
        customer = principal("shopper")
        if found is not None and (customer is None or customer.id != found.customer_id):
            referrals.remember(found.code)
    return redirect(target.path(), 303)


@bp.get("/share/r/<code>/product/<int:product_id>")
def share_visit_product(code, product_id):
    return _visit(code, Shared("product", product_id))


@bp.get("/share/r/<code>/page/<slug>")
def share_visit_page(code, slug):
    return _visit(code, Shared("page", slug))


# --- a plugin's shared thing (mallow_share_target) ------------------------------------------------


def _target(kind: str, ref: str):
    if not targets.valid(kind, ref):
        abort(404)
    return _found(kind, ref)


@bp.get("/share/poster/x/<kind>/<ref>.png")
@service.poster_limits
def share_poster_target(kind, ref):
    shared, row = _target(kind, ref)
    customer = principal("shopper")
    link = service.link_for(shared, customer)
    data, kept = service.poster(shared, row, link)
    return Response(data, mimetype="image/png", headers=service.poster_headers(customer, kept))


@bp.get("/share/link/x/<kind>/<ref>")
def share_link_target(kind, ref):
    if not targets.valid(kind, ref):
        abort(404)
    return _link(kind, ref, url_for("storefront.share_poster_target", kind=kind, ref=ref))


@bp.get("/share/r/<code>/x/<kind>/<ref>")
def share_visit_target(code, kind, ref):
    shared, _row = _target(kind, ref)
    return _visit(code, shared)


# --- 我的 → 我的邀请 ----------------------------------------------------------------------------


@bp.get("/account/invitations")
@shopper_required
def share_invitations():
    customer = principal("shopper")
    return render_template(
        "storefront/share_invitations.html",
        invitations=rewards.invitations(customer.id),
        rule=rewards.rule(),
        reward=rewards.reward_text(rewards.rule()["kind"], rewards.rule()["amount"]),
    )
