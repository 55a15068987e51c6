"""Store API: the shopper's data rights (PIPL): the privacy notice, exporting their data,
deleting their account (:mod:`mallow.privacy`)."""

from __future__ import annotations

from flask import jsonify, request

from mallow.accounts.guards import principal, shopper_required
from mallow.api.registry import obj, operation, returns, schema, shape, string
from mallow.db import db
from mallow.privacy import deletion, export, notice

NOTICE = schema(
    "PrivacyNotice",
    shape(
        {
            "version": {"type": "string", "description": "recorded with each consent"},
            "title": {"type": "string"},
            "body": {"type": "string", "description": "plain text, paragraphs separated by a blank line"},
            "platform_default": {"type": "boolean", "description": "the platform's notice (the store has none)"},
        }
    ),
)
PERSONAL_DATA = schema(
    "PersonalData",
    {
        "type": "object",
        "description": "Everything the store holds about the shopper (decrypted for them); later "
        "capabilities add their own sections (points, coupons…)",
        "properties": {
            "format": {"type": "string"},
            "exported_at": {"type": "string", "format": "date-time"},
            "store": {"type": "object"},
            "profile": {"type": "object"},
            "consents": {"type": "array", "items": {"type": "object"}},
            "addresses": {"type": "array", "items": {"type": "object"}},
            "orders": {"type": "array", "items": {"type": "object"}},
            "aftersales": {"type": "array", "items": {"type": "object"}},
            "cart": {"type": "array", "items": {"type": "object"}},
            "sessions": {"type": "array", "items": {"type": "object"}},
        },
        "required": ["format", "profile", "consents", "addresses", "orders", "aftersales", "cart"],
    },
)
DELETED = schema(
    "AccountDeleted",
    shape(
        {
            "deleted": {"type": "boolean"},
            "orders_kept": {"type": "integer", "description": "orders kept for bookkeeping, anonymised"},
        }
    ),
)
REFUSED = schema(
    "AccountDeletionRefused",
    shape(
        {
            "error": {"type": "string", "enum": ["account_in_use"]},
            "message": {"type": "string"},
            "blockers": {
                "type": "array",
                "items": shape(
                    {
                        "code": {
                            "type": "string",
                            "enum": ["unpaid", "to_ship", "to_receive", "aftersale", "plugin", "plugin_failed"],
                            "description": "plugin: a plugin still owes the shopper something (commission, a "
                            "refund); plugin_failed: a plugin's erasure failed, so nothing was erased",
                        },
                        "order": {"type": "string", "description": "the order number (empty for a plugin's reason)"},
                        "message": {"type": "string"},
                        "plugin": {"type": "string", "description": "the plugin that refused (plugin codes only)"},
                    },
                    optional=("plugin",),
                ),
            },
        }
    ),
)


@operation(
    "store_api",
    "GET",
    "/privacy-notice",
    "getPrivacyNotice",
    "The store's privacy notice in force (its version is what a sign-up's privacy_consent agrees to)",
    tag="shoppers",
    auth=None,
    responses={"200": returns("The notice, in the request's language", NOTICE)},
)
def get_privacy_notice():
    found = notice.current()
    return jsonify(version=found.version, title=found.title, body=found.body, platform_default=found.platform_default)


@operation(
    "store_api",
    "GET",
    "/me/export",
    "exportMyData",
    "Download everything the store holds about the signed-in shopper, as a JSON file (5 an hour)",
    tag="shoppers",
    auth="shopper",
    responses={"200": returns("The shopper's data (an attachment)", PERSONAL_DATA)},
)
@export.export_limits
@shopper_required
def export_my_data():
    customer = principal("shopper")
    response = jsonify(export.export(customer))
    response.headers["Content-Disposition"] = f'attachment; filename="{export.filename(customer)}"'
    response.headers["Cache-Control"] = "no-store"
    return response


@operation(
    "store_api",
    "POST",
    "/me/delete",
    "deleteMyAccount",
    "Delete the signed-in shopper's account: personal data erased, orders kept anonymised, every "
    "token revoked. Type 注销 (or DELETE) in confirm, and give the password, or for an account "
    "without one an SMS code (sendSmsCode to the account's phone)",
    tag="shoppers",
    auth="shopper",
    body=obj(
        {
            "confirm": string(20, description="注销 or DELETE"),
            "password": string(128),
            "code": string(12, description="SMS code, for a phone account without a password"),
        },
        ["confirm"],
    ),
    responses={
        "200": returns("The account is deleted", DELETED),
        "409": returns("Refused while orders or after-sales are open (which, and why)", REFUSED),
        "422": {"$ref": "#/components/responses/ValidationFailed"},
    },
)
@shopper_required
def delete_my_account():
    customer = principal("shopper")
    try:
        done = deletion.delete_account(customer, request.get_json(), via="api")
    except deletion.DeletionRefused as refused:
        return jsonify(refused.as_json()), 409
    db.session.commit()
    return jsonify(deleted=True, orders_kept=done.orders_kept)
