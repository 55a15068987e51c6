"""``checkout._persistent`` makes the ORM object of a row just written in the state
``make_transient_to_detached`` leaves it in (the same identity key, no history, a column the row
does not hold expired, relationships unloaded), without its generic walk over every attribute."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.base import instance_state

from mallow.orders import checkout
from mallow.orders.models import Address, Order, OrderEvent, OrderLine

pytestmark = pytest.mark.usefixtures("app")  # every model mapped

LINE = {
    "id": 5,
    "order_id": 7,
    "sku_id": 1,
    "product_id": 2,
    "title": "临安山核桃仁",
    "spec_key": "",
    "unit_price": 1999,
    "quantity": 2,
    "total": 3998,
}


def _reference(model, row: dict):
    instance = sa.inspect(model).class_manager.new_instance()
    instance.__dict__.update(row)
    make_transient_to_detached(instance)
    return instance


def _same_state(made, reference) -> None:
    ours, theirs = instance_state(made), instance_state(reference)
    assert ours.key == theirs.key
    assert ours.identity_token == theirs.identity_token
    assert set(ours.expired_attributes) == set(theirs.expired_attributes)
    assert dict(ours.committed_state) == dict(theirs.committed_state) == {}
    assert ours.modified is theirs.modified is False
    assert ours.expired is theirs.expired is False
    assert ours.session_id is None and ours.detached and not ours.transient
    assert set(ours.unloaded) == set(theirs.unloaded)
    assert made.__dict__.keys() - {"_sa_instance_state"} == reference.__dict__.keys() - {"_sa_instance_state"}


@pytest.mark.parametrize(
    "model, row",
    [
        (OrderLine, LINE),
        (
            OrderEvent,
            {"id": 3, "order_id": 7, "at": datetime.now(UTC), "kind": "placed", "actor": "shopper:1", "detail": {}},
        ),
    ],
)
def test_a_full_row_is_made_as_make_transient_to_detached_makes_it(model, row):
    _same_state(checkout._persistent(model, dict(row)), _reference(model, dict(row)))


def test_a_column_the_row_does_not_hold_is_expired_as_there():
    row = {"id": 9, "number": "20260101000000123456", "customer_id": 1, "status": "pending_payment"}
    made, reference = checkout._persistent(Order, dict(row)), _reference(Order, dict(row))
    _same_state(made, reference)
    assert "total" in instance_state(made).expired_attributes


def test_the_address_row_of_the_read_too():
    row = {column: None for column in Address.__table__.columns.keys()} | {"id": 4, "customer_id": 1}
    _same_state(checkout._persistent(Address, dict(row)), _reference(Address, dict(row)))
