"""Share posters in the store API (分享海报), and the merchant's share reward rule in the console
API (:mod:`mallow.sharing`)."""

from __future__ import annotations

from flask import Response, jsonify, request
from flask_babel import gettext as _

from mallow.accounts.guards import principal, staff_required
from mallow.api.catalog_shapes import bad_query
from mallow.api.order_shapes import ERR
from mallow.api.registry import obj, operation, returns, shape
from mallow.db import db
from mallow.sharing import rewards, service
from mallow.sharing.links import KINDS
from mallow.validation import ValidationFailed
from mallow.web.ids import ID_MAX

REWARD_RULE = shape(
    {
        "enabled": {"type": "boolean"},
        "kind": {"type": "string", "enum": list(rewards.KINDS)},
        "amount": {"type": "integer", "minimum": 0, "maximum": rewards.MAX_AMOUNT},
    }
)


def _subject(args) -> tuple[str, object]:
    """``(kind, ref)`` from the query, or :class:`ValidationFailed` with the field errors."""
    kind, raw = args.get("kind", ""), args.get("id", "")
    errors: dict[str, tuple[str, str]] = {}
    if kind not in KINDS:
        errors["kind"] = ("invalid", _("Choose product or page."))
    if not raw:
        errors["id"] = ("required", _("Give the product's id or the page's address."))
    elif kind == "product" and not (raw.isascii() and raw.isdigit()):
        errors["id"] = ("invalid", _("A product's id is a whole number."))
    if errors:
        raise ValidationFailed(errors)
    if kind == "product":
        number = int(raw)
        return kind, number if 0 < number <= ID_MAX else 0  # no such product: 404
    return kind, raw


@operation(
    "store_api",
    "GET",
    "/share/poster",
    "getSharePoster",
    "The share poster (分享海报) of an on-shelf product or a published landing page: a PNG 750 px wide "
    "with the image, title, price in ¥, the store's name and a QR code of the share link. With a "
    "shopper's token the link carries the shopper's code (a distributor's code, else their own "
    "referral code); without one, the page's plain address.",
    tag="sharing",
    auth=None,
    parameters=[
        {
            "name": "kind",
            "in": "query",
            "required": True,
            "schema": {"type": "string", "enum": list(KINDS)},
            "description": "product or page (a landing page, 微页面)",
        },
        {
            "name": "id",
            "in": "query",
            "required": True,
            "schema": {"type": "string", "minLength": 1, "maxLength": 40},
            "description": "the product's id, or the landing page's slug",
        },
    ],
    responses={
        "200": {
            "description": "The poster (PNG); header X-Mallow-Share-Url: the link its QR code holds",
            "content": {"image/png": {}},
        },
        "400": "A bad query parameter, with field errors",
        "404": "No such on-shelf product or published page in this store",
    },
)
@service.poster_limits
def get_share_poster():
    try:
        kind, ref = _subject(request.args)
    except ValidationFailed as failed:
        return bad_query(failed)
    try:
        shared, row = service.find(kind, ref)
    except service.NotShared:
        return jsonify(error="not_found", message=_("Nothing to share there.")), 404
    customer = principal("shopper")
    link = service.link_for(shared, customer)
    data, kept = service.poster(shared, row, link)
    headers = service.poster_headers(customer, kept)
    headers["X-Mallow-Share-Url"] = link.url
    return Response(data, mimetype="image/png", headers=headers)


@operation(
    "console_api",
    "GET",
    "/share/reward",
    "getShareRewardRule",
    "The share reward rule: what a sharer gets once the first order of a shopper they brought completes "
    "(never for sharing alone). Granted when coupons and points exist; stored now.",
    tag="sharing",
    auth="merchant",
    responses={"200": returns("The rule", REWARD_RULE)},
)
@staff_required
def get_share_reward_rule():
    return jsonify(rewards.rule())


@operation(
    "console_api",
    "PUT",
    "/share/reward",
    "setShareRewardRule",
    "Set the share reward rule (kind coupon: amount in fen off; kind points: a number of points)",
    tag="sharing",
    auth="merchant",
    body=obj(
        {
            "enabled": {"type": "boolean"},
            "kind": {"type": "string", "enum": list(rewards.KINDS)},
            "amount": {"type": "integer", "minimum": 0, "maximum": rewards.MAX_AMOUNT},
        },
        ["enabled"],
    ),
    responses={"200": returns("The rule", REWARD_RULE), "422": ERR},
)
@staff_required(owner=True)
def set_share_reward_rule():
    value = rewards.set_rule(request.get_json())
    db.session.commit()
    return jsonify(value)
