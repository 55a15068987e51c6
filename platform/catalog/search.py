"""Keyword search over a store's products, the same on PostgreSQL and SQLite.

Chinese has no spaces between words, so a word index would not find 山核桃 inside
临安山核桃仁. Every product keeps a normalised ``search_text`` (NFKC, so full-width letters and
digits become half-width; case-folded; whitespace collapsed) and a keyword matches as a
substring: ``search_text LIKE '%' || :word || '%' ESCAPE '/'``, one condition per word (all
must match). The word is always a bound parameter and its ``%``, ``_`` and ``/`` are escaped
(SQLAlchemy's ``contains(..., autoescape=True)``), so ``%`` searches for a percent sign.
Nothing here needs an index or an extension: a store's catalogue is small enough to scan.

Sorting is by one of a fixed set of keys, looked up in :data:`SORTS`; anything else is a field
error, never part of the SQL.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import cache
from typing import NamedTuple

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.orm import selectinload

from mallow.catalog import categories
from mallow.catalog.models import Product, ProductImage, Sku
from mallow.db import db, lists, sqltext
from mallow.validation import Errors
from mallow.web.ids import ID_MAX

MAX_PER_PAGE = 50
DEFAULT_PER_PAGE = 20
MAX_WORDS = 8
MAX_QUERY = 100
MAX_PAGE = 10_000
SORT_KEYS = ("default", "sales", "price_asc", "price_desc", "newest")


def page_number(raw) -> int:
    """A page number from a query argument: 1 unless ``raw`` is a whole number in range."""
    raw = str(raw or "")
    return int(raw) if raw.isdigit() and 0 < int(raw) < MAX_PAGE else 1


def normalise(value: str | None) -> str:
    """The comparable form of text: NFKC (全角 → half-width), case-folded, single spaces."""
    if not value:
        return ""
    folded = unicodedata.normalize("NFKC", value).casefold()
    folded = re.sub(r"[\u200b-\u200d\u2060\ufeff]", "", folded)  # zero-width characters
    return re.sub(r"\s+", " ", folded).strip()


def keywords(q: str | None) -> list[str]:
    """The distinct words of a query, normalised like ``search_text``."""
    words: list[str] = []
    for word in normalise(q).split(" "):
        if word and word not in words:
            words.append(word)
    return words[:MAX_WORDS]


@dataclass
class Query:
    q: str = ""
    category_id: int | None = None
    min_price: int | None = None  # fen
    max_price: int | None = None  # fen
    sort: str = "default"
    page: int = 1
    per_page: int = DEFAULT_PER_PAGE
    status: str | None = None  # console only; shoppers always see on-shelf products


@dataclass
class Page:
    items: list
    total: int
    page: int
    per_page: int
    #: ``{product id: lowest active SKU price in fen}`` of the items
    min_prices: dict

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def has_prev(self) -> bool:
        return self.page > 1


def _whole(args, key: str, errors: Errors, minimum: int, maximum: int, default):
    raw = args.get(key)
    if raw is None or (isinstance(raw, str) and raw.strip() == ""):
        return default
    if isinstance(raw, bool):
        errors.add(key, "invalid", _("Enter a whole number."))
        return default
    try:
        value = int(str(raw).strip())
    except ValueError:
        errors.add(key, "invalid", _("Enter a whole number."))
        return default
    if not minimum <= value <= maximum:
        errors.add(key, "out_of_range", _("Enter a number from %(min)s to %(max)s.", min=minimum, max=maximum))
        return default
    return value


def parse_query(args, *, console: bool = False, price_parser=None) -> Query:
    """Read a search from query parameters (``q``, ``category``, ``min_price``, ``max_price``,
    ``sort``, ``page``, ``per_page``; the console adds ``status``). Prices are fen unless
    ``price_parser`` reads them (the storefront form takes yuan). Raises ``ValidationFailed``."""
    errors = Errors()
    q = args.get("q") or ""
    if len(q) > MAX_QUERY:
        errors.add("q", "too_long", _("Use at most %(max)s characters.", max=MAX_QUERY))
    category_id = _whole(args, "category", errors, 1, ID_MAX, None)
    prices = {}
    for key in ("min_price", "max_price"):
        if price_parser is not None:
            prices[key] = price_parser(args, key, errors)
        else:
            prices[key] = _whole(args, key, errors, 0, 10**12, None)
    if (
        prices["min_price"] is not None
        and prices["max_price"] is not None
        and prices["min_price"] > prices["max_price"]
    ):
        errors.add("max_price", "below_min", _("The highest price is below the lowest price."))
    sort = args.get("sort") or "default"
    if sort not in SORT_KEYS:
        errors.add("sort", "unknown", _("Sort by one of: %(keys)s.", keys=", ".join(SORT_KEYS)))
    page = _whole(args, "page", errors, 1, MAX_PAGE, 1)
    per_page = _whole(args, "per_page", errors, 1, MAX_PER_PAGE, DEFAULT_PER_PAGE)
    status = None
    if console:
        status = args.get("status") or None
        if status not in (None, "draft", "on_shelf", "off_shelf"):
            errors.add("status", "unknown", _("Choose a shelf status."))
    errors.raise_if_any()
    return Query(
        q=q,
        category_id=category_id,
        min_price=prices["min_price"],
        max_price=prices["max_price"],
        sort=sort,
        page=page,
        per_page=per_page,
        status=status,
    )


def _min_price_subquery():
    return (
        sa.select(Sku.product_id.label("product_id"), sa.func.min(Sku.price).label("min_price"))
        .where(Sku.active.is_(True))
        .group_by(Sku.product_id)
        .subquery("sku_prices")
    )


@dataclass(frozen=True)
class Cover:
    """A product's first picture, as a listing shows it."""

    path: str
    thumb_path: str
    width: int
    height: int


@dataclass(frozen=True)
class Summary:
    """A product as a listing shows it: no description, SKUs or gallery (:func:`summaries`)."""

    id: int
    title: str
    subtitle: str
    category_id: int | None
    sales: int
    status: str
    sort: int
    created_at: object
    updated_at: object
    min_price: int | None
    cover: Cover | None


_SUMMARY_COLUMNS = (
    Product.id,
    Product.title,
    Product.subtitle,
    Product.category_id,
    Product.sales,
    Product.status,
    Product.sort,
    Product.created_at,
    Product.updated_at,
)


def _listing(query: Query, shopper: bool):
    """The FROM, WHERE and ORDER BY of a listing, and its min-price column, for :func:`search`
    and :func:`summaries` alike."""
    if query.sort not in SORT_KEYS:
        raise ValueError(f"unknown sort {query.sort!r}")  # parse_query refuses it first
    prices = _min_price_subquery()
    min_price = prices.c.min_price
    conditions = []
    if shopper:
        conditions.append(Product.status == "on_shelf")
    elif query.status:
        conditions.append(Product.status == query.status)
    for word in keywords(query.q):
        conditions.append(Product.search_text.contains(word, autoescape=True))
    if query.category_id is not None:
        ids = categories.descendant_ids(query.category_id, active_only=shopper)
        conditions.append(Product.category_id.in_(ids) if ids else sa.false())
    if query.min_price is not None:
        conditions.append(min_price >= query.min_price)
    if query.max_price is not None:
        conditions.append(min_price <= query.max_price)
    join = sa.join(Product.__table__, prices, prices.c.product_id == Product.id, isouter=not shopper)
    order = {
        "default": [Product.sort.desc(), Product.created_at.desc(), Product.id.desc()],
        "sales": [Product.sales.desc(), Product.id.desc()],
        "price_asc": [min_price.asc().nulls_last(), Product.id.desc()],
        "price_desc": [min_price.desc().nulls_last(), Product.id.desc()],
        "newest": [Product.created_at.desc(), Product.id.desc()],
    }[query.sort]
    return join, conditions, order, min_price


def _count(join, conditions) -> int:
    base = sa.select(Product.id).select_from(join).where(*conditions)
    return db.session.execute(sa.select(sa.func.count()).select_from(base.subquery())).scalar_one()


def search(query: Query, *, shopper: bool = True) -> Page:
    """One page of products matching ``query`` in the active store, and the total count.

    Shoppers see only on-shelf products that have an active SKU; the console sees every product
    (optionally filtered by ``query.status``)."""
    join, conditions, order, min_price = _listing(query, shopper)
    total = _count(join, conditions)
    # listings show each product's cover (and, in the console, its stock): load them in one go
    eager = [selectinload(Product.images)] + ([] if shopper else [selectinload(Product.skus)])
    rows = db.session.execute(
        sa.select(Product, min_price)
        .select_from(join)
        .where(*conditions)
        .order_by(*order)
        .options(*eager)
        .limit(query.per_page)
        .offset((query.page - 1) * query.per_page)
    ).all()
    return Page(
        items=[row[0] for row in rows],
        total=total,
        page=query.page,
        per_page=query.per_page,
        min_prices={row[0].id: row[1] for row in rows},
    )


#: the statements of listings without keywords, built once per shape (sort, filters present) with
#: their values bound at execution: building a statement costs more than running it
_KEPT_LISTINGS: dict[tuple, sa.Select] = {}


def _summary_statement(query: Query, shopper: bool) -> tuple[sa.Select, dict]:
    """``(statement, parameters)`` of :func:`summaries`' first statement."""
    if keywords(query.q):  # words are bound one by one (escaped): built per query
        join, conditions, order, min_price = _listing(query, shopper)
        params = {}
    else:
        shape = (
            query.sort,
            shopper,
            None if shopper else query.status,
            query.category_id is not None,
            query.min_price is not None,
            query.max_price is not None,
        )
        kept = _KEPT_LISTINGS.get(shape)
        params = {"min_price": query.min_price, "max_price": query.max_price}
        if query.category_id is not None:
            params["category_ids"] = categories.descendant_ids(query.category_id, active_only=shopper)
        if kept is not None:
            return kept, {**params, "limit": query.per_page, "offset": (query.page - 1) * query.per_page}
        join, conditions, order, min_price = _listing(
            Query(sort=query.sort, status=query.status, category_id=None),
            shopper,
        )
        if query.category_id is not None:
            conditions.append(Product.category_id.in_(sa.bindparam("category_ids", expanding=True)))
        if query.min_price is not None:
            conditions.append(min_price >= sa.bindparam("min_price"))
        if query.max_price is not None:
            conditions.append(min_price <= sa.bindparam("max_price"))
    statement = (
        sa.select(*_SUMMARY_COLUMNS, min_price.label("min_price"), sa.func.count().over().label("total"))
        .select_from(join)
        .where(*conditions)
        .order_by(*order)
        .limit(sa.bindparam("limit", type_=sa.Integer))
        .offset(sa.bindparam("offset", type_=sa.Integer))
    )
    if not keywords(query.q):
        _KEPT_LISTINGS[shape] = statement
    return statement, {**params, "limit": query.per_page, "offset": (query.page - 1) * query.per_page}


def summaries(query: Query, *, shopper: bool = True) -> Page:
    """The page :func:`search` finds, as :class:`Summary` values, in two statements whatever the
    page size: the listed columns with the total counted alongside (a window count), then the
    covers. No ORM rows are built: the JSON API lists many products per request."""
    if query.sort not in SORT_KEYS:
        raise ValueError(f"unknown sort {query.sort!r}")  # parse_query refuses it first
    statement, params = _summary_statement(query, shopper)
    rows = db.session.execute(statement, params).all()
    if rows:
        total = rows[0].total
    elif query.page > 1:  # past the last page the window counts nothing: ask for the total itself
        join, conditions, _order, _min_price = _listing(query, shopper)
        total = _count(join, conditions)
    else:
        total = 0
    covers = _covers([row.id for row in rows])
    items = [
        Summary(**{key: value for key, value in row._mapping.items() if key != "total"}, cover=covers.get(row.id))
        for row in rows
    ]
    return Page(
        items=items,
        total=total,
        page=query.page,
        per_page=query.per_page,
        min_prices={item.id: item.min_price for item in items},
    )


def _covers(product_ids: list[int]) -> dict[int, Cover]:
    """``{product id: its first image}`` for these products, in one statement."""
    if not product_ids:
        return {}
    rows = db.session.execute(_covers_statement(), {"product_ids": list(product_ids)}).all()
    return {row.product_id: Cover(row.path, row.thumb_path, row.width, row.height) for row in rows}


@cache
def _covers_statement() -> sa.Select:
    """:func:`_covers`' statement (built once; the ids are bound when it runs)."""
    first = sa.func.row_number().over(
        partition_by=ProductImage.product_id, order_by=(ProductImage.sort, ProductImage.id)
    )
    ranked = (
        sa.select(
            ProductImage.product_id,
            ProductImage.path,
            ProductImage.thumb_path,
            ProductImage.width,
            ProductImage.height,
            first.label("rank"),
        )
        .where(ProductImage.product_id.in_(sa.bindparam("product_ids", expanding=True)))
        .subquery()
    )
    return sa.select(ranked).where(ranked.c.rank == 1)


@dataclass(frozen=True)
class Listing:
    """A short on-shelf listing a page shows (a product grid): the first ``count`` products of a
    category (its subcategories included) or of the whole store, in the order of ``sort``."""

    category_id: int | None
    sort: str
    count: int


class Card(NamedTuple):
    """A product as a page's product card shows it (:func:`shelf_cards`): only the columns a card
    uses, read as a plain tuple (a page of grids reads dozens per render)."""

    id: int
    title: str
    subtitle: str | None
    min_price: int | None
    cover: Cover | None


def shelf_cards(product_ids=(), listings=()) -> tuple[dict[int, Card], dict[Listing, list[Card]]]:
    """``({id: Card}, {listing: [Card, …]})``: those of ``product_ids`` a shopper may see
    (on the shelf, with an active SKU, as :func:`search` lists them) and the products of each :class:`Listing` (as :func:`summaries`
    finds them), every one with its cover, in **one** statement whatever their number: a page
    with several product grids asks once. Built once per shape (how many listings, which sorts,
    which have a category), its values bound when it runs; no ORM rows, and only the columns a
    card shows (:class:`Card`)."""
    ids = sorted({int(i) for i in product_ids})
    listings = tuple(dict.fromkeys(listings))  # each distinct listing once, in order
    if not ids and not listings:
        return {}, {}
    for listing in listings:
        if listing.sort not in SORT_KEYS:
            raise ValueError(f"unknown sort {listing.sort!r}")
    session = db.session()
    connection = session.connection(bind_arguments=_STORE_PRODUCTS)
    arrays = lists.arrays(connection)  # each list one parameter: one text, sent by sqltext
    shape = (bool(ids), tuple((listing.sort, listing.category_id is not None) for listing in listings), arrays)
    statement = _KEPT_CARDS.get(shape)
    if statement is None:
        statement = _KEPT_CARDS[shape] = _cards_statement(*shape)
    params: dict = {}
    if ids:
        params["ids"] = ids
    if any(listing.category_id is not None for listing in listings):
        categories.all_categories()  # the tree, kept for the transaction: the lookups below find their rows in it
    for number, listing in enumerate(listings, 1):
        params[f"limit_{number}"] = max(0, int(listing.count))
        if listing.category_id is not None:
            params[f"category_ids_{number}"] = categories.descendant_ids(listing.category_id, active_only=True)
    if session.autoflush:  # as the session's own execute would (nothing to do unless something is pending)
        session.flush()
    picked: dict[int, Card] = {}
    found: dict[Listing, list[Card]] = {listing: [] for listing in listings}
    by_part = [found[listing] for listing in listings]
    rows = sqltext.rows(connection, statement, params) if arrays else connection.execute(statement, params)
    # the columns of _cards_statement, in order (unpacked: a row's names cost a lookup each)
    for product_id, title, subtitle, min_price, part, _position, path, thumb_path, width, height in rows:
        cover = Cover(path, thumb_path, width, height) if path is not None else None
        card = Card(product_id, title, subtitle, min_price, cover)
        if part == 0:
            picked[product_id] = card
        else:
            by_part[part - 1].append(card)
    return picked, found


_KEPT_CARDS: dict[tuple, sa.Select] = {}
#: the product columns of a :class:`Card` (its price and cover come from their own tables)
_CARD_COLUMNS = (Product.id, Product.title, Product.subtitle)
#: how a statement on the store's products finds its connection (the tenant session's bind)
_STORE_PRODUCTS = {"mapper": sa.inspect(Product)}


def _cards_statement(picked: bool, shapes: tuple, arrays: str = "") -> sa.Select:
    """:func:`shelf_cards`' statement: a ``UNION ALL`` of one part per kind (0: the picked ids;
    n: the n-th listing, numbered in its order), then each product's first image joined to it.
    ``arrays``: how lists are bound (:func:`mallow.db.lists.arrays`)."""
    parts = []
    if picked:
        prices = _min_price_subquery()
        parts.append(
            sa.select(
                *_CARD_COLUMNS,
                prices.c.min_price.label("min_price"),
                sa.literal(0, sa.Integer).label("part"),
                sa.literal(0, sa.Integer).label("position"),
            )
            .select_from(sa.join(Product.__table__, prices, prices.c.product_id == Product.id))
            .where(lists.one_of(Product.id, "ids", arrays), Product.status == "on_shelf")
        )
    for number, (sort, with_category) in enumerate(shapes, 1):
        join, conditions, order, min_price = _listing(Query(sort=sort), True)
        if with_category:
            conditions.append(lists.one_of(Product.category_id, f"category_ids_{number}", arrays))
        first = (
            sa.select(
                *_CARD_COLUMNS,
                min_price.label("min_price"),
                sa.literal(number, sa.Integer).label("part"),
                sa.func.row_number().over(order_by=order).label("position"),
            )
            .select_from(join)
            .where(*conditions)
            .order_by(*order)
            .limit(sa.bindparam(f"limit_{number}", type_=sa.Integer))
            .subquery(f"listing_{number}")
        )
        parts.append(sa.select(*first.c))
    found = (parts[0] if len(parts) == 1 else sa.union_all(*parts)).subquery("cards")
    image = ProductImage.__table__
    other = image.alias("other_image")
    cover_id = (
        sa.select(other.c.id)
        .where(other.c.product_id == found.c.id)
        .order_by(other.c.sort, other.c.id)
        .limit(1)
        .scalar_subquery()
    )
    return (
        sa.select(found, image.c.path, image.c.thumb_path, image.c.width, image.c.height)
        .select_from(found.outerjoin(image, image.c.id == cover_id))
        .order_by(found.c.part, found.c.position)
    )
