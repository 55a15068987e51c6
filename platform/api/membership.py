"""Membership and points in the API: the shopper's (their membership, their points ledger, their
birthday) and the merchant console's (the programme, the levels, a member's points)."""

from __future__ import annotations

from datetime import date

from flask import abort, jsonify, request
from flask_babel import gettext as _

from mallow.accounts.guards import principal, shopper_required, staff_required
from mallow.accounts.models import Customer
from mallow.api.registry import obj, operation, returns, schema, shape, string
from mallow.api.views import iso
from mallow.db import db
from mallow.membership import service
from mallow.membership.models import KINDS, LEVEL_BASES
from mallow.validation import ValidationFailed
from mallow.web.ids import id_value

ERR = {"$ref": "#/components/responses/ValidationFailed"}
INT = {"type": "integer"}
TEXT = {"type": "string"}
FEN = {"type": "integer", "description": "fen (1 yuan = 100 fen)"}
WHEN = {"type": "string", "format": "date-time"}


def _nullable(schema_: dict) -> dict:
    return {"anyOf": [schema_, {"type": "null"}]}


PROGRAM = schema(
    "MembershipProgram",
    shape(
        {
            "enabled": {"type": "boolean"},
            "earn_per_yuan": {**INT, "description": "points per ¥1 paid for goods on a completed order (0: none)"},
            "points_per_yuan": {**INT, "description": "points worth ¥1 at checkout"},
            "redeem_cap_percent": {**INT, "description": "the most of the goods payable points may pay (%)"},
            "validity_days": {**INT, "description": "days a lot of points lasts (0: never expires)"},
            "level_basis": {"type": "string", "enum": list(LEVEL_BASES)},
        }
    ),
)
LEVEL = schema(
    "MemberLevel",
    shape(
        {
            "id": INT,
            "name": TEXT,
            "threshold": {**INT, "description": "growth needed: fen of completed spend, or points earned"},
            "discount_percent": {**INT, "description": "member price in % of the price (95 = 9.5折; 100: none)"},
            "free_shipping": {"type": "boolean"},
            "birthday_coupon_id": _nullable(INT),
            "benefits": {"type": "array", "items": TEXT},
        }
    ),
)
MEMBERSHIP = schema(
    "Membership",
    shape(
        {
            "enabled": {"type": "boolean"},
            "level": _nullable(LEVEL),
            "next_level": _nullable(LEVEL),
            "growth": INT,
            "to_next": _nullable(INT),
            "level_basis": {"type": "string", "enum": list(LEVEL_BASES)},
            "points": {**INT, "description": "the balance (negative after a clawback larger than it)"},
            "points_per_yuan": INT,
            "expiring": {**INT, "description": "points of the soonest lot expiring within 30 days"},
            "expiring_at": _nullable(WHEN),
            "birthday": _nullable({"type": "string", "format": "date"}),
            "benefits": {"type": "array", "items": TEXT},
        }
    ),
)
ENTRY = schema(
    "PointEntry",
    shape(
        {
            "id": INT,
            "kind": {"type": "string", "enum": list(KINDS)},
            "points": {**INT, "description": "signed"},
            "balance_after": INT,
            "order_id": _nullable(INT),
            "reason": TEXT,
            "created_at": WHEN,
            "expires_at": _nullable(WHEN),
        }
    ),
)
LEDGER = schema(
    "PointLedger",
    shape(
        {
            "items": {"type": "array", "items": ENTRY},
            "total": INT,
            "page": INT,
            "per_page": INT,
            "points": INT,
        }
    ),
)
_LEVEL_WRITE = {
    "name": string(20),
    "threshold": {"type": "integer", "minimum": 0, "maximum": service.MAX_THRESHOLD},
    "discount_percent": {"type": "integer", "minimum": 50, "maximum": 100},
    "free_shipping": {"type": "boolean"},
    "birthday_coupon_id": {"type": ["integer", "null"], "minimum": 1, "maximum": 2**31 - 1},
}


def level_json(level) -> dict | None:
    if level is None:
        return None
    return {
        "id": level.id,
        "name": level.name,
        "threshold": int(level.threshold),
        "discount_percent": level.discount_percent,
        "free_shipping": bool(level.free_shipping),
        "birthday_coupon_id": level.birthday_coupon_id,
        "benefits": service.level_benefits(level),
    }


def membership_json(found: service.Membership) -> dict:
    rules = service.program()
    return {
        "enabled": bool(rules["enabled"]),
        "level": level_json(found.level),
        "next_level": level_json(found.next_level),
        "growth": found.growth,
        "to_next": found.to_next,
        "level_basis": rules["level_basis"],
        "points": found.points,
        "points_per_yuan": int(rules["points_per_yuan"]),
        "expiring": found.expiring,
        "expiring_at": iso(found.expiring_at),
        "birthday": found.birthday.isoformat() if found.birthday else None,
        "benefits": list(found.benefits),
    }


def entry_json(entry) -> dict:
    return {
        "id": entry.id,
        "kind": entry.kind,
        "points": int(entry.points),
        "balance_after": int(entry.balance_after),
        "order_id": entry.order_id,
        "reason": entry.reason,
        "created_at": iso(entry.created_at),
        "expires_at": iso(entry.expires_at),
    }


def _page_args() -> tuple[int, int]:
    def number(name: str, default: int, high: int) -> int:
        raw = request.args.get(name, "")
        if not raw:
            return default
        if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= high:
            abort(400)
        return int(raw)

    return number("page", 1, 100_000), number("per_page", 20, 100)


def _ledger_json(customer_id: int) -> dict:
    page, per_page = _page_args()
    entries, total = service.ledger(customer_id, page, per_page)
    points = service.membership_of(customer_id).points
    return {
        "items": [entry_json(e) for e in entries],
        "total": total,
        "page": page,
        "per_page": per_page,
        "points": points,
    }


PAGES = [
    {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 100000}},
    {"name": "per_page", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 100}},
]

# --- the shopper's membership ---------------------------------------------------------------


@operation(
    "store_api",
    "GET",
    "/membership",
    "getMyMembership",
    "The shopper's membership (会员): level and benefits, growth to the next level, points balance and what expires soon",
    tag="membership",
    auth="shopper",
    responses={"200": returns("The membership", MEMBERSHIP)},
)
@shopper_required
def get_my_membership():
    return jsonify(membership_json(service.membership_of(principal("shopper").id)))


@operation(
    "store_api",
    "GET",
    "/membership/points",
    "listMyPoints",
    "The shopper's points ledger (积分明细), newest first",
    tag="membership",
    auth="shopper",
    parameters=PAGES,
    responses={"200": returns("One page of the ledger", LEDGER), "400": "Bad page"},
)
@shopper_required
def list_my_points():
    return jsonify(_ledger_json(principal("shopper").id))


@operation(
    "store_api",
    "PUT",
    "/membership/birthday",
    "setMyBirthday",
    "Set the shopper's birthday (for the birthday coupon): once only",
    tag="membership",
    auth="shopper",
    body=obj({"birthday": {"type": "string", "maxLength": 10, "format": "date"}}, ["birthday"]),
    responses={"200": returns("The membership", MEMBERSHIP), "422": ERR},
)
@shopper_required
def set_my_birthday():
    raw = request.get_json()["birthday"]
    try:
        value = date.fromisoformat(raw)
    except ValueError:
        raise ValidationFailed({"birthday": ("invalid", _("Enter a date like 1990-05-20."))}) from None
    customer_id = principal("shopper").id
    service.set_birthday(customer_id, value)
    db.session.commit()
    return jsonify(membership_json(service.membership_of(customer_id)))


# --- the merchant console -----------------------------------------------------------------------


@operation(
    "console_api",
    "GET",
    "/membership/program",
    "getMembershipProgram",
    "The store's membership and points rules",
    tag="membership",
    auth="merchant",
    responses={"200": returns("The programme", PROGRAM)},
)
@staff_required
def get_membership_program():
    return jsonify(service.program())


@operation(
    "console_api",
    "PATCH",
    "/membership/program",
    "updateMembershipProgram",
    "Change the store's membership and points rules (only what is sent)",
    tag="membership",
    auth="merchant",
    body=obj(
        {
            "enabled": {"type": "boolean"},
            "earn_per_yuan": {"type": "integer", "minimum": 0, "maximum": 10000},
            "points_per_yuan": {"type": "integer", "minimum": 1, "maximum": 100000},
            "redeem_cap_percent": {"type": "integer", "minimum": 1, "maximum": 100},
            "validity_days": {"type": "integer", "minimum": 0, "maximum": service.MAX_VALIDITY_DAYS},
            "level_basis": {"type": "string", "enum": list(LEVEL_BASES)},
        }
    ),
    responses={"200": returns("The programme", PROGRAM), "422": ERR},
)
@staff_required
def update_membership_program():
    found = service.update_program(request.get_json())
    db.session.commit()
    return jsonify(found)


@operation(
    "console_api",
    "GET",
    "/membership/levels",
    "listMemberLevels",
    "The store's member levels, lowest threshold first",
    tag="membership",
    auth="merchant",
    responses={"200": returns("The levels", {"type": "array", "items": LEVEL})},
)
@staff_required
def list_member_levels():
    return jsonify([level_json(level) for level in service.list_levels()])


@operation(
    "console_api",
    "POST",
    "/membership/levels",
    "createMemberLevel",
    "Add a member level (the name is screened for Advertising-Law terms); members' levels are recomputed",
    tag="membership",
    auth="merchant",
    body=obj(_LEVEL_WRITE, ["name", "threshold"]),
    responses={"201": returns("The level", LEVEL), "422": ERR},
)
@staff_required
def create_member_level():
    level = service.save_level(request.get_json())
    db.session.commit()
    return jsonify(level_json(level)), 201


def _level_or_404(level_id):
    level = service.get_level(level_id)
    if level is None:
        abort(404)
    return level


@operation(
    "console_api",
    "PATCH",
    "/membership/levels/<int:level_id>",
    "updateMemberLevel",
    "Change a member level (only what is sent); members' levels are recomputed",
    tag="membership",
    auth="merchant",
    body=obj(_LEVEL_WRITE),
    responses={"200": returns("The level", LEVEL), "404": "No such level", "422": ERR},
)
@staff_required
def update_member_level(level_id):
    level = service.save_level(request.get_json(), _level_or_404(level_id))
    db.session.commit()
    return jsonify(level_json(level))


@operation(
    "console_api",
    "DELETE",
    "/membership/levels/<int:level_id>",
    "deleteMemberLevel",
    "Delete a member level: its members drop to the level their growth reaches",
    tag="membership",
    auth="merchant",
    responses={"204": "Deleted", "404": "No such level"},
)
@staff_required
def delete_member_level(level_id):
    service.delete_level(_level_or_404(level_id))
    db.session.commit()
    return "", 204


def _customer_or_404(customer_id) -> int:
    value = id_value(customer_id)
    if value is None or db.session.get(Customer, value) is None:
        abort(404)
    return value


@operation(
    "console_api",
    "GET",
    "/membership/members/<int:customer_id>",
    "getMember",
    "A shopper's membership and one page of their points ledger",
    tag="membership",
    auth="merchant",
    parameters=PAGES,
    responses={
        "200": returns("The membership and the ledger", shape({"membership": MEMBERSHIP, "ledger": LEDGER})),
        "404": "No such shopper",
    },
)
@staff_required
def get_member(customer_id):
    customer_id = _customer_or_404(customer_id)
    return jsonify(membership=membership_json(service.membership_of(customer_id)), ledger=_ledger_json(customer_id))


@operation(
    "console_api",
    "POST",
    "/membership/members/<int:customer_id>/points",
    "adjustMemberPoints",
    "Add or take a shopper's points by hand, with a reason the shopper sees (audited)",
    tag="membership",
    auth="merchant",
    body=obj(
        {
            "points": {"type": "integer", "minimum": -service.MAX_POINTS, "maximum": service.MAX_POINTS},
            "reason": string(120),
        },
        ["points", "reason"],
    ),
    responses={"201": returns("The ledger entry", ENTRY), "404": "No such shopper", "422": ERR},
)
@staff_required
def adjust_member_points(customer_id):
    customer_id = _customer_or_404(customer_id)
    data = request.get_json()
    entry = service.adjust(customer_id, data["points"], data["reason"], principal("merchant"))
    db.session.commit()
    return jsonify(entry_json(entry)), 201
