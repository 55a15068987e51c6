"""A list of ids is one parameter on both backends (``mallow.db.lists``): a statement that names
one has a single text for any number of values, which ``mallow.db.sqltext`` sends, and it finds
exactly the rows an expanding ``IN`` finds (none for an empty list, each row once for a repeated
id)."""

from __future__ import annotations

import sqlalchemy as sa

from mallow.testing import make_product, make_store


def test_a_list_is_one_parameter_and_finds_what_an_expanding_in_finds(app):
    from mallow.catalog import search
    from mallow.catalog.models import Product
    from mallow.db import db, lists, sqltext
    from mallow.tenants.context import store_context

    shop = make_store(app)
    made = [make_product(app, shop, title=f"香榧 {n}", price=2000 + n, stock=5)[0] for n in range(4)]
    with store_context(shop.store_id, app=app):
        connection = db.session.connection(bind_arguments={"mapper": sa.inspect(Product)})
        style = lists.arrays(connection)
        assert style == connection.dialect.name  # both backends bind a list as one parameter
        ids = sorted(db.session.execute(sa.select(Product.id)).scalars())
        assert len(ids) == len(made)
        statement = sa.select(Product.id, Product.title).where(lists.one_of(Product.id, "ids", style))
        expanding = sa.select(Product.id, Product.title).where(lists.one_of(Product.id, "ids", ""))
        translate = connection.get_execution_options().get("schema_translate_map")
        assert sqltext._text(statement, connection.dialect, translate) is not None  # sent as text
        assert sqltext._text(expanding, connection.dialect, translate) is None  # rendered per call
        for wanted in ([], [ids[2]], [ids[0], ids[3], ids[0]], [*ids, 10**9]):
            by_text = sorted(sqltext.rows(connection, statement, {"ids": wanted}))
            by_in = sorted(tuple(row) for row in connection.execute(expanding, {"ids": wanted}))
            assert by_text == by_in
            assert [row[0] for row in by_text] == sorted(set(wanted) & set(ids))

        # the storefront's product cards: the same cards whichever way the list is bound
        picked, _listed = search.shelf_cards(ids[:3])
        assert sorted(picked) == ids[:3] and all(card.title.startswith("香榧") for card in picked.values())
