"""What an order costs in Python, kept down (``db/sqltext.py``, ``orders/checkout.py``):

* an ``ARRAY`` parameter of integers or strings that the SQL casts is sent as PostgreSQL's array
  literal text, which the cast reads back into the very same array (psycopg's list dumper is not
  used: it looks at every element in Python on every execution);
* the order's ORM objects are put in the session's identity map as a query puts what it loads
  there, without ``session.add``'s walk of the save-update cascade: they are persistent and clean,
  and a change a plugin makes to them is flushed at the commit as before.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from mallow.testing import bearer, make_product, make_shopper, make_store

TEXTS = [
    "",
    "a,b",
    'say "hi"',
    "back\\slash \\\\ two",
    'both \\" mixed',
    "NULL",
    "null",
    " spaced ",
    "{brace}",
    "临安山核桃仁 · 西湖龙井",
    "new\nline\ttab",
    "'single'",
]


def test_array_literals_are_written_as_postgresql_reads_them():
    from mallow.db import sqltext

    assert sqltext._integers([1, -2, 3]) == "{1,-2,3}"
    assert sqltext._integers([1, None]) == "{1,NULL}"
    assert sqltext._integers([]) == "{}"
    assert sqltext._integers([True]) is None  # a bool is not an int here: the engine's way
    assert sqltext._integers([1.0]) is None
    assert sqltext._strings([]) == "{}"
    assert sqltext._strings(["a", 'b"c', "d\\e"]) == '{"a","b\\"c","d\\\\e"}'
    assert sqltext._strings(["a", None]) is None  # a NULL among strings: the engine's way
    assert sqltext._strings([1]) is None


@pytest.mark.parametrize("app", ["postgresql"], indirect=True)
def test_an_array_sent_as_a_literal_comes_back_as_the_same_array(app):
    """The same rows through the engine (psycopg's list dumper) and as text (the literal), for
    strings that need quoting and escaping, NULLs, empty arrays and big integers."""
    from mallow.db import db, sqltext

    statement = sa.select(
        sa.bindparam("texts", type_=sa.ARRAY(sa.String(60))),
        sa.bindparam("ints", type_=sa.ARRAY(sa.BigInteger())),
        sa.bindparam("holes", type_=sa.ARRAY(sa.Integer())),
        sa.bindparam("none", type_=sa.ARRAY(sa.String(10))),
        sa.func.cardinality(sa.bindparam("texts", type_=sa.ARRAY(sa.String(60)))),
    )
    cases = [
        {"texts": TEXTS, "ints": [0, -1, 2**40], "holes": [1, None, 3], "none": []},
        {"texts": [], "ints": [], "holes": [None], "none": ["x", None]},
        {"texts": ("a", "b"), "ints": (7,), "holes": [], "none": [None]},
    ]
    with app.app_context():
        with db.engine.connect() as connection:
            text = sqltext._text(statement, connection.dialect, None)
            assert text is not None
            assert sqltext.prepare(connection, statement, cases[0]).values["texts"].startswith('{"')
            for values in cases:
                by_engine = [tuple(row) for row in connection.execute(statement, values)]
                by_text = sqltext.rows(connection, statement, values)
                assert by_text == by_engine
                assert list(by_text[0][0]) == list(values["texts"])


@pytest.mark.parametrize("app", ["postgresql"], indirect=True)
def test_the_order_sends_no_list_for_psycopg_to_dump(app):
    """Every array the order's read and write send is array literal text by the time it reaches
    the driver (psycopg's list dumper would cost about 0.4 M instructions per 3-line order)."""
    shop = make_store(app)
    client = app.test_client()
    token, address = make_shopper(client, shop)
    skus = [make_product(app, shop, title=f'核桃 "{n}" \\ 仁', price=1000 + n, stock=20)[0] for n in range(3)]
    sent: list[dict] = []

    def seen(_conn, _cursor, statement, parameters, _context, _many):
        if "orders" in statement and isinstance(parameters, dict):
            sent.append(parameters)

    sa.event.listen(sa.engine.Engine, "before_cursor_execute", seen)
    try:
        body = {"items": [{"sku_id": sku, "quantity": 1} for sku in skus], "address_id": address}
        answer = client.post(f"{shop.prefix}/api/orders", headers=bearer(token), json=body)
    finally:
        sa.event.remove(sa.engine.Engine, "before_cursor_execute", seen)
    assert answer.status_code == 201, answer.get_json()
    assert [line["title"] for line in answer.get_json()["lines"]] == [f'核桃 "{n}" \\ 仁' for n in range(3)]
    arrays = {key: value for parameters in sent for key, value in parameters.items() if key.startswith(("l_", "ids"))}
    assert arrays["l_sku_id"] == "{" + ",".join(map(str, skus)) + "}"
    assert not [key for parameters in sent for key, value in parameters.items() if isinstance(value, list | tuple)]


def test_the_orders_objects_are_persistent_and_clean_without_a_cascade_walk(app, monkeypatch):
    """After ``place_order`` the order, its lines and its timeline entry are in the session,
    persistent and clean, with nothing pending; ``session.add``'s cascade walk is not run."""
    from sqlalchemy.orm import Mapper

    from mallow.db import db
    from mallow.orders import checkout
    from mallow.orders.models import Order, OrderAdjustment, OrderEvent, OrderLine
    from mallow.tenants import snapshots
    from mallow.tenants.context import activate_store

    shop = make_store(app)
    client = app.test_client()
    token, address = make_shopper(client, shop)
    skus = [make_product(app, shop, title=f"核桃 {n}", price=1000 + n, stock=20)[0] for n in range(3)]
    assert client.get(f"{shop.prefix}/api/cart", headers=bearer(token)).status_code == 200
    items = [{"sku_id": sku, "quantity": 1} for sku in skus]
    walked: list[object] = []
    cascade = Mapper.cascade_iterator

    def counted(self, *args, **kwargs):
        walked.append(self)
        return cascade(self, *args, **kwargs)

    with app.test_request_context(f"{shop.prefix}/api/orders"):
        activate_store(snapshots.find(shop.slug))
        from mallow.accounts.models import Customer

        customer = db.session.execute(sa.select(Customer)).scalars().first()
        monkeypatch.setattr(Mapper, "cascade_iterator", counted)
        order, created = checkout.place_order(customer, items, address)
        monkeypatch.setattr(Mapper, "cascade_iterator", cascade)
        assert created
        order_mappers = {sa.inspect(model) for model in (Order, OrderLine, OrderAdjustment, OrderEvent)}
        assert not [mapper for mapper in walked if mapper in order_mappers]
        session = db.session()
        for row in (order, *order.lines, *order.events):
            state = sa.inspect(row)
            assert state.persistent and not state.modified and row in session
            assert session.identity_map.get(state.key) is row
        assert not session.new and not session.dirty
        order.note = "changed after the commit"  # a change is flushed as for any loaded object
        db.session.commit()
        db.session.expire_all()
        assert db.session.get(Order, order.id).note == "changed after the commit"
