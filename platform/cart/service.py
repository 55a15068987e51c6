"""Carts of one store: a guest cart by cookie token, merged into the shopper's cart at sign-in.

A cart is read with its lines in one statement (:func:`find`) and many SKUs with their products in
one (:func:`load_skus`, :func:`sellable_skus`): reading, merging or pricing a cart costs the same
few statements whatever the number of lines.
"""

from __future__ import annotations

import functools
import hashlib
import secrets

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.orm import joinedload

from mallow.cart.models import Cart, CartItem
from mallow.catalog.models import Product, Sku
from mallow.db import db, durability, sqltext
from mallow.qualifications import selling
from mallow.validation import ValidationFailed
from mallow.web.ids import id_value

MAX_QUANTITY = 999
MAX_LINES = 100


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_guest_token() -> str:
    return secrets.token_urlsafe(24)


def find(customer_id: int | None, guest_token: str | None) -> Cart | None:
    """The shopper's cart (else the guest's), its lines loaded with it."""
    if customer_id is not None:
        where = Cart.customer_id == customer_id
    elif guest_token:
        where = Cart.guest_token_hash == _digest(guest_token)
    else:
        return None
    query = sa.select(Cart).options(joinedload(Cart.items)).where(where)
    return db.session.execute(query).unique().scalar_one_or_none()


def get_or_create(customer_id: int | None, guest_token: str | None) -> Cart:
    cart = find(customer_id, guest_token)
    if cart is None:
        if customer_id is None and not guest_token:
            raise ValueError("a guest cart needs a token")
        cart = Cart(customer_id=customer_id, guest_token_hash=None if customer_id else _digest(guest_token), items=[])
        db.session.add(cart)
        db.session.flush()
    return cart


def load_skus(sku_ids) -> dict[int, Sku]:
    """``{id: SKU}`` of these SKUs, their products loaded with them, in one statement instead of
    one or two per line (a cart's lines, a guest cart being merged)."""
    ids = {i for i in map(id_value, sku_ids) if i is not None}
    if not ids:
        return {}
    query = sa.select(Sku).options(joinedload(Sku.product)).where(Sku.id.in_(ids))
    return {sku.id: sku for sku in db.session.execute(query).scalars()}


def _on_sale(sku: Sku | None) -> bool:
    return sku is not None and sku.active and sku.product.status == "on_shelf"


def sellable_sku(sku_id) -> Sku:
    """The SKU, its product loaded with it, if a shopper may buy it now, else a field error."""
    sku_id = id_value(sku_id)
    if sku_id is None:
        raise ValidationFailed({"sku_id": ("invalid", _("Choose a product option."))})
    sku = db.session.get(Sku, sku_id, options=[joinedload(Sku.product)])
    if not _on_sale(sku):
        raise ValidationFailed({"sku_id": ("unavailable", _("This product is not for sale."))})
    selling.refuse_purchase()  # a permit the store needs lapsed: not for sale even before the sweep ran
    return sku


def sellable_skus(sku_ids) -> dict[int, Sku]:
    """Those of these SKUs a shopper may buy now, by :func:`sellable_sku`'s rule, in one statement
    and one permit check whatever their number; the others are left out."""
    skus = {sku_id: sku for sku_id, sku in load_skus(sku_ids).items() if _on_sale(sku)}
    try:
        if skus:
            selling.refuse_purchase()
    except ValidationFailed:
        return {}
    return skus


def _quantity(raw) -> int:
    try:
        quantity = int(raw)
    except (TypeError, ValueError):
        quantity = 0
    if not 1 <= quantity <= MAX_QUANTITY:
        raise ValidationFailed({"quantity": ("invalid", _("Enter a quantity from 1 to %(max)s.", max=MAX_QUANTITY))})
    return quantity


def add(cart: Cart, sku_id, quantity) -> CartItem:
    sku = sellable_sku(sku_id)
    quantity = _quantity(quantity)
    item = next((i for i in cart.items if i.sku_id == sku.id), None)
    total = _quantity(quantity + (item.quantity if item else 0))  # a line never holds more than an order line may
    if total > sku.stock:
        raise ValidationFailed({"quantity": ("not_enough_stock", _("Only %(stock)s left.", stock=sku.stock))})
    if item is None:
        if len(cart.items) >= MAX_LINES:
            raise ValidationFailed({"sku_id": ("cart_full", _("Your cart is full."))})
        item = CartItem(sku_id=sku.id, quantity=quantity)
        cart.items.append(item)
    else:
        item.quantity = total
    db.session.flush()
    return item


def set_quantity(cart: Cart, sku_id: int, quantity) -> None:
    item = next((i for i in cart.items if i.sku_id == int(sku_id)), None)
    if item is None:
        raise ValidationFailed({"sku_id": ("not_in_cart", _("This item is not in your cart."))})
    if int(quantity or 0) <= 0:
        cart.items.remove(item)
    else:
        item.quantity = _quantity(quantity)


@functools.cache
def _change_statements() -> tuple[sa.Update, sa.Delete]:
    """The store API's quantity change of one line of a shopper's cart, as one ``UPDATE`` (or
    ``DELETE``) that finds the cart by its shopper: built once."""
    items, cart_of = CartItem.__table__, Cart.__table__
    cart_id = sa.select(cart_of.c.id).where(cart_of.c.customer_id == sa.bindparam("b_customer")).scalar_subquery()
    where = (items.c.cart_id == cart_id, items.c.sku_id == sa.bindparam("b_sku"))
    return (
        sa.update(items).where(*where).values(quantity=sa.bindparam("b_quantity")).returning(items.c.id),
        sa.delete(items).where(*where).returning(items.c.id),
    )


def set_quantity_of(customer_id: int, sku_id: int, quantity) -> None:
    """:func:`set_quantity` for a shopper's cart without loading it: one statement (0 removes
    the line); the same field errors."""
    if id_value(sku_id) is None:  # no such row (PostgreSQL would refuse the number)
        raise ValidationFailed({"sku_id": ("not_in_cart", _("This item is not in your cart."))})
    removing = int(quantity or 0) <= 0
    params = {"b_customer": customer_id, "b_sku": int(sku_id)}
    if not removing:
        params["b_quantity"] = _quantity(quantity)
    update, delete = _change_statements()
    connection = db.session.connection(bind_arguments={"clause": CartItem.__table__})
    if connection.execute(delete if removing else update, params).first() is None:
        raise ValidationFailed({"sku_id": ("not_in_cart", _("This item is not in your cart."))})


# what pricing needs of a line's SKU and product, after the line's sku_id and quantity
def _sku_columns() -> tuple:
    skus, products = Sku.__table__, Product.__table__
    return (
        skus.c.id,
        skus.c.active,
        skus.c.spec_key,
        skus.c.price,
        skus.c.weight_g,
        products.c.id,
        products.c.status,
        products.c.title,
        products.c.shipping_template_id,
    )


def _lines_select(*columns) -> sa.Select:
    """The shopper's cart lines (oldest first) with their SKUs and products, after ``columns``."""
    items, cart_of = CartItem.__table__, Cart.__table__
    skus, products = Sku.__table__, Product.__table__
    return (
        sa.select(*columns, *_sku_columns())
        .select_from(items)
        .join(cart_of, cart_of.c.id == items.c.cart_id)
        .outerjoin(skus, skus.c.id == items.c.sku_id)
        .outerjoin(products, products.c.id == skus.c.product_id)
        .where(cart_of.c.customer_id == sa.bindparam("customer_id"))
        .order_by(items.c.id)
    )


@functools.cache
def _lines_query() -> sa.Select:
    items = CartItem.__table__
    return _lines_select(items.c.sku_id, items.c.quantity)


def _lines(rows) -> tuple[list[dict], dict[int, tuple]]:
    """Rows of :func:`_lines_select` (``sku_id, quantity, <SKU columns>``) as
    :func:`lines_with_skus` answers them."""
    items, found = [], {}
    for row in rows:
        items.append({"sku_id": row[0], "quantity": row[1]})
        if row[2] is not None and row[7] is not None:
            found[row[0]] = tuple(row[2:])
    return items, found


def lines_with_skus(customer_id: int) -> tuple[list[dict], dict[int, tuple]]:
    """The shopper's cart lines (``[{"sku_id", "quantity"}]``, oldest first) and what pricing
    needs of their SKUs (``{sku_id: (id, active, spec_key, price, weight_g, product_id,
    status, title, shipping_template_id)}``: the rows :func:`mallow.orders.checkout.quote_read`
    prices without a statement of its own), in one statement."""
    connection = db.session.connection(bind_arguments={"clause": CartItem.__table__})
    return _lines(connection.execute(_lines_query(), {"customer_id": customer_id}))


@functools.cache
def _change_and_lines_statements() -> tuple[sa.Select, sa.Select]:
    """PostgreSQL: :func:`set_quantity_of` and :func:`lines_with_skus` in one statement each
    way (built once). The change is a data-modifying CTE; the outer ``SELECT`` reads the cart's
    lines as they were when the statement began (a statement never sees its own changes), so
    the changed line's new quantity comes from the ``UPDATE``'s ``RETURNING`` (a removed line
    is flagged by the ``DELETE``'s). The first column says which line was the one changed: none
    means the SKU was not in the cart."""
    items, cart_of = CartItem.__table__, Cart.__table__
    cart_id = sa.select(cart_of.c.id).where(cart_of.c.customer_id == sa.bindparam("customer_id")).scalar_subquery()
    where = (items.c.cart_id == cart_id, items.c.sku_id == sa.bindparam("b_sku"))
    changed = (
        sa.update(items)
        .where(*where)
        .values(quantity=sa.bindparam("b_quantity"))
        .returning(items.c.id, items.c.quantity)
        .cte("changed")
    )
    gone = sa.delete(items).where(*where).returning(items.c.id).cte("gone")
    relax = durability.relaxing_cte()  # a cart line need not wait for the disk (mallow.db.durability)
    update = (
        _lines_select(changed.c.id.is_not(None), items.c.sku_id, sa.func.coalesce(changed.c.quantity, items.c.quantity))
        .outerjoin(changed, changed.c.id == items.c.id)
        .join(relax, sa.true())
    )
    delete = (
        _lines_select(gone.c.id.is_not(None), items.c.sku_id, items.c.quantity)
        .outerjoin(gone, gone.c.id == items.c.id)
        .join(relax, sa.true())
    )
    return update, delete


def change_and_read(connection: sa.Connection, customer_id: int, sku_id: int, quantity: int, lean: bool = False):
    """Set one line of the shopper's cart to ``quantity`` (0 removes it) and read the cart's
    lines as changed, on ``connection`` (the store's: schema-translated on PostgreSQL, its own
    engine's on SQLite): on PostgreSQL one statement, on SQLite two (it has no data-modifying
    CTE). Answers :func:`lines_with_skus`'s pair, or None when the SKU is not in the cart: then
    nothing changed. The caller checked ``sku_id`` (an id) and ``quantity`` (0 to 999). Setting
    the same quantity twice leaves the same cart and answers the same: a caller may run it
    outside a transaction (one statement is atomic) and have it run again. ``lean``: a caller
    that holds ``connection`` for this alone sends the statement with
    :func:`mallow.db.sqltext.cursor_rows`."""
    removing = quantity <= 0
    if connection.dialect.name != "postgresql":
        update, delete = _change_statements()
        params = {"b_customer": customer_id, "b_sku": sku_id}
        if not removing:
            params["b_quantity"] = quantity
        if not sqltext.rows(connection, delete if removing else update, params):
            return None
        return _lines(sqltext.rows(connection, _lines_query(), {"customer_id": customer_id}))
    params = {"customer_id": customer_id, "b_sku": sku_id}
    if not removing:
        params["b_quantity"] = quantity
    update, delete = _change_and_lines_statements()
    send = sqltext.cursor_rows if lean else sqltext.rows
    rows = send(connection, delete if removing else update, params)
    if not any(row[0] for row in rows):
        return None
    return _lines(row[1:] for row in rows if not (removing and row[0]))


def set_quantity_and_read(customer_id: int, sku_id: int, quantity) -> tuple[list[dict], dict[int, tuple]]:
    """:func:`set_quantity_of`, then :func:`lines_with_skus` of the cart as changed
    (:func:`change_and_read` on the request's connection). The same field errors, and nothing
    changed when there is one."""
    if id_value(sku_id) is None:  # no such row (PostgreSQL would refuse the number)
        raise ValidationFailed({"sku_id": ("not_in_cart", _("This item is not in your cart."))})
    quantity = 0 if int(quantity or 0) <= 0 else _quantity(quantity)
    connection = db.session.connection(bind_arguments={"clause": CartItem.__table__})
    found = change_and_read(connection, customer_id, int(sku_id), quantity)
    if found is None:
        raise ValidationFailed({"sku_id": ("not_in_cart", _("This item is not in your cart."))})
    return found


def merge_guest_cart(customer_id: int, guest_token: str | None) -> Cart | None:
    """At sign-in: move the guest cart's items into the shopper's cart (quantities add up,
    capped at the stock), and forget the guest cart."""
    guest = find(None, guest_token) if guest_token else None
    if guest is None:
        return find(customer_id, None)
    mine = find(customer_id, None)
    if mine is None:
        guest.customer_id, guest.guest_token_hash = customer_id, None
        return guest
    skus = load_skus(item.sku_id for item in guest.items)
    for item in list(guest.items):
        sku = skus.get(item.sku_id)
        existing = next((i for i in mine.items if i.sku_id == item.sku_id), None)
        quantity = min((existing.quantity if existing else 0) + item.quantity, sku.stock if sku else 0, MAX_QUANTITY)
        if quantity <= 0:
            continue
        if existing:
            existing.quantity = quantity
        else:
            mine.items.append(CartItem(sku_id=item.sku_id, quantity=quantity))
    db.session.delete(guest)
    return mine
