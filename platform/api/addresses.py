"""The shopper's delivery addresses in the store API."""

from __future__ import annotations

from flask import abort, jsonify, request

from mallow.accounts.guards import principal, shopper_required
from mallow.api.order_shapes import ADDRESS, ERR
from mallow.api.registry import nullable, obj, operation, returns, shape, string
from mallow.db import db
from mallow.orders import addresses

#: an address: the region by GB/T 2260 codes (checked as a real chain; the names come from the
#: dataset) or, without codes, by names (province and city must be found)
ADDRESS_BODY = obj(
    {k: string(200) for k in ("recipient", "phone", "province", "city", "district", "detail")}
    | {k: nullable(string(6, pattern="^[0-9]{6}$")) for k in addresses.CODE_FIELDS}
    | {"is_default": {"type": "boolean"}},
    ["recipient", "phone", "detail"],
)


@operation(
    "store_api",
    "POST",
    "/addresses",
    "createAddress",
    "Add a delivery address",
    tag="shoppers",
    auth="shopper",
    body=ADDRESS_BODY,
    responses={"201": returns("The address", ADDRESS), "422": ERR},
)
@shopper_required
def create_address():
    address = addresses.create(principal("shopper").id, request.get_json())
    db.session.commit()
    return jsonify(addresses.as_dict(address)), 201


@operation(
    "store_api",
    "GET",
    "/addresses",
    "listAddresses",
    "The shopper's addresses (phone masked)",
    tag="shoppers",
    auth="shopper",
    responses={"200": returns("The addresses", shape({"items": {"type": "array", "items": ADDRESS}}))},
)
@shopper_required
def list_addresses():
    return jsonify(items=[addresses.as_dict(a) for a in addresses.of_customer(principal("shopper").id)])


def _own_address(address_id: int):
    found = addresses.own(principal("shopper").id, address_id)
    if found is None:
        abort(404)
    return found


@operation(
    "store_api",
    "PUT",
    "/addresses/<int:address_id>",
    "updateAddress",
    "Change a delivery address",
    tag="shoppers",
    auth="shopper",
    body=ADDRESS_BODY,
    responses={"200": returns("The address", ADDRESS)},
)
@shopper_required
def update_address(address_id):
    address = addresses.update(_own_address(address_id), request.get_json())
    db.session.commit()
    return jsonify(addresses.as_dict(address))


@operation(
    "store_api",
    "POST",
    "/addresses/<int:address_id>/default",
    "setDefaultAddress",
    "Make an address the default (checkout preselects it)",
    tag="shoppers",
    auth="shopper",
    responses={"200": returns("The address", ADDRESS)},
)
@shopper_required
def set_default_address(address_id):
    address = _own_address(address_id)
    addresses.make_default(address)
    db.session.commit()
    return jsonify(addresses.as_dict(address))


@operation(
    "store_api",
    "DELETE",
    "/addresses/<int:address_id>",
    "deleteAddress",
    "Delete an address (orders keep their own copy; another becomes the default)",
    tag="shoppers",
    auth="shopper",
    responses={"204": "Deleted"},
)
@shopper_required
def delete_address(address_id):
    addresses.delete(_own_address(address_id))
    db.session.commit()
    return "", 204
