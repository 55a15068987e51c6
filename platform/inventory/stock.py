"""Taking and giving back stock (atomically, at most once per order), the ledger of stock the
merchant set by hand, and the SKUs running low.

Stock moves by ``UPDATE`` statements, not flushes, so it does not move the store's stamp
(:mod:`mallow.tenants.stamps`) by itself: pages kept in memory may show a stock figure up to
``MALLOW_EDGE_CACHE_SECONDS`` old, but a SKU selling out, or coming back from sold out, moves the
stamp at commit, so no kept page offers what cannot be bought (or hides what can)."""

from __future__ import annotations

import functools

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from mallow import settings
from mallow.catalog.models import Product, Sku
from mallow.db import db, utcnow
from mallow.inventory.models import StockMovement
from mallow.tenants import stamps


def reserve(quantities: list[tuple[int, int]], order_id: int) -> dict[int, int]:
    """Take every line's units for an order in one statement; ``{sku_id: stock left}`` of the SKUs
    taken. A SKU missing from the answer had not enough units (or is inactive): then nothing of
    the order may be kept, the caller rolls the transaction back (the others were taken). When
    all were taken, their ledger rows (``reserve``) are written in one more statement.

    ``UPDATE … FROM`` the wanted quantities (bound parameters: the SQL is cached per line
    count) with ``stock >= quantity`` re-checked on the current row, so stock never goes below
    zero (a CHECK constraint backs this up). On PostgreSQL the rows are first locked in SKU id order (a materialised ``SELECT … ORDER BY id FOR NO KEY
    UPDATE``): two orders sharing SKUs queue instead of deadlocking. ``NO KEY`` is the lock an
    UPDATE takes anyway; a plain ``FOR UPDATE`` would also wait for the key-share locks that the
    foreign keys of other orders' new lines hold on the SKU, and deadlock with them. SQLite has
    one writer at a time.
    """
    params: dict = {"order_id": order_id, "at": utcnow()}
    for position, (sku_id, quantity) in enumerate(quantities):
        params[f"sku_{position}"], params[f"quantity_{position}"] = sku_id, quantity
    with_ledger = db.engine.dialect.name == "postgresql"  # stores are on the platform's backend
    taken = db.session.execute(_reserve_statement(len(quantities), with_ledger), params).all()
    left = {sku_id: stock for sku_id, stock in taken}
    taken_for_order(left, len(quantities))
    if len(left) == len(quantities):
        if not with_ledger:
            db.session.execute(
                _ledger_insert(),
                [
                    {"sku_id": sku_id, "delta": -quantity, "reason": "reserve", "order_id": order_id}
                    for sku_id, quantity in quantities
                ],
            )
    return left


@functools.lru_cache(maxsize=128)
def _reserve_statement(count: int, with_ledger: bool) -> sa.Select | sa.Update:
    """The stock ``UPDATE`` of :func:`reserve` for ``count`` lines, built once per line count:
    building it per order (a ``SELECT`` per line, two CTEs) and computing its cache key cost more
    Python time than the rest of the order's writes. The lines' SKUs and quantities are bound
    parameters ``sku_<n>`` and ``quantity_<n>``. ``with_ledger`` (PostgreSQL): the ledger rows
    are written by the same statement (the ``UPDATE … RETURNING`` and an ``INSERT … SELECT``
    from it as data-modifying CTEs), one round trip less; when a line was short they are rolled
    back with the rest of the order."""
    wanted = sa.union_all(  # not sa.values(): a VALUES with data is compiled anew every time
        *(
            sa.select(
                sa.bindparam(f"sku_{n}", type_=sa.Integer).label("sku_id"),
                sa.bindparam(f"quantity_{n}", type_=sa.Integer).label("quantity"),
            )
            for n in range(count)
        )
    ).cte("wanted")
    if not with_ledger:
        skus = Sku.__table__
        return _taking_update(wanted, skus).returning(skus.c.id, skus.c.stock)
    taken, ledger = taking(
        wanted, sa.bindparam("order_id", type_=sa.Integer), sa.bindparam("at", type_=StockMovement.at.type)
    )
    return sa.select(taken.c.id, taken.c.stock).add_cte(ledger)


def _taking_update(wanted: sa.CTE, skus: sa.TableClause, *also: sa.ColumnElement) -> sa.Update:
    """``UPDATE skus … FROM wanted`` taking each wanted ``quantity`` from its ``sku_id`` where the
    SKU is active and has that many (``stock >= quantity``, re-checked on the current row, so
    stock never goes below zero; a CHECK constraint backs this up), the rows first locked in SKU
    id order on PostgreSQL (a materialised ``SELECT … ORDER BY id FOR NO KEY UPDATE``): two
    orders sharing SKUs queue instead of deadlocking. ``NO KEY`` is the lock an UPDATE takes
    anyway; a plain ``FOR UPDATE`` would also wait for the key-share locks that the foreign keys
    of other orders' new lines hold on the SKU, and deadlock with them. ``also``: more
    conditions (e.g. the order row exists). ``skus``: the table (Core, not the ORM's bulk UPDATE:
    nothing in the session is synchronised), or on PostgreSQL an alias of it (shorter SQL)."""
    locked = (
        sa.select(skus.c.id)
        .join(wanted, wanted.c.sku_id == skus.c.id)
        .order_by(skus.c.id)
        .with_for_update(of=skus, key_share=True)  # FOR NO KEY UPDATE
        .cte("locked")
        .prefix_with("MATERIALIZED", dialect="postgresql")
    )
    return (
        sa.update(skus)
        .where(
            skus.c.id == wanted.c.sku_id,
            skus.c.id.in_(sa.select(locked.c.id)),
            skus.c.active.is_(True),
            skus.c.stock >= wanted.c.quantity,
            *also,
        )
        .values(stock=skus.c.stock - wanted.c.quantity)
    )


def taking(
    wanted: sa.CTE, order_id: sa.ColumnElement, at: sa.ColumnElement, *also: sa.ColumnElement
) -> tuple[sa.CTE, sa.CTE]:
    """PostgreSQL: the data-modifying CTEs that take the ``wanted`` units (a CTE of ``sku_id,
    quantity``, one row per SKU) for an order inside a bigger statement: ``taken`` (the stock
    ``UPDATE … RETURNING id, stock, quantity``: a SKU missing from it had too few units or is
    inactive) and ``ledger`` (its ``reserve`` rows, an ``INSERT … SELECT`` from ``taken``).
    ``order_id`` may be a column of another CTE (the order's ``INSERT … RETURNING id``); ``also``:
    more conditions of the ``UPDATE`` (e.g. that CTE's id is not null: then the stock is taken
    only if it wrote a row). PostgreSQL runs every data-modifying CTE
    once, whether or not the statement reads it; the caller hands the answer of ``taken`` to
    :func:`taken_for_order`."""
    skus = Sku.__table__.alias("s")  # the schema's name once, not in every column
    taken = (
        _taking_update(wanted, skus, *also)
        .returning(skus.c.id, skus.c.stock, wanted.c.quantity.label("quantity"))
        .cte("taken")
    )
    movements = StockMovement.__table__
    ledger = sa.insert(movements).from_select(
        ["sku_id", "delta", "reason", "order_id", "at"],
        sa.select(taken.c.id, -taken.c.quantity, sa.literal("reserve", sa.String), order_id, at),
    )
    return taken, ledger.cte("ledger")


@functools.cache
def last_taking_statement() -> sa.Select:
    """PostgreSQL: every line's stock taken for an order as its transaction's **last** statement,
    sent with the ``COMMIT`` (:func:`mallow.db.with_commit.commit_with`), so the SKUs' row locks
    are held for the server's time only. Parameters: ``t_sku`` and ``t_quantity`` (arrays, one
    element per line, any number of lines: the SQL is the same, psycopg keeps it prepared),
    ``t_order`` and ``t_at`` (the order's id and creation time: its ledger rows'). Rows:
    ``(sku id, stock left)`` of every line.

    All or nothing without a look at the answer (the ``COMMIT`` is already on its way): the ledger
    row of each wanted line is written from the ``UPDATE``'s answer for its SKU, so a line whose
    SKU was not taken (too few units, or inactive: :func:`_taking_update`) has a ledger row with
    no SKU, which the ledger's ``NOT NULL`` refuses. The statement fails, the server skips the
    ``COMMIT``, and nothing of the order is kept; the caller tells the shopper which line is short
    (:func:`short_line`)."""
    wanted = (
        sa.func.unnest(
            sa.bindparam("t_sku", type_=sa.ARRAY(sa.Integer())),
            sa.bindparam("t_quantity", type_=sa.ARRAY(sa.Integer())),
        )
        .table_valued(sa.column("sku_id", sa.Integer()), sa.column("quantity", sa.Integer()))
        .render_derived(name="w")
    )
    wanted = sa.select(*wanted.c).cte("wanted")
    skus = Sku.__table__.alias("s")
    taken = _taking_update(wanted, skus).returning(skus.c.id, skus.c.stock).cte("taken")
    movements = StockMovement.__table__
    ledger = sa.insert(movements).from_select(
        ["sku_id", "delta", "reason", "order_id", "at"],
        sa.select(
            taken.c.id,  # NULL for a line not taken: refused by the ledger (the statement fails)
            -wanted.c.quantity,
            sa.literal("reserve", sa.String),
            sa.bindparam("t_order", type_=sa.Integer),
            sa.bindparam("t_at", type_=StockMovement.at.type),
        ).select_from(wanted.outerjoin(taken, taken.c.id == wanted.c.sku_id)),
    )
    return sa.select(taken.c.id, taken.c.stock).add_cte(ledger.cte("ledger"))


def is_short_line_refusal(error: BaseException) -> bool:
    """Whether ``error`` is :func:`last_taking_statement` refusing an order a line of which was
    not taken (the ledger's ``NOT NULL`` on its SKU), not another failure."""
    diag = getattr(getattr(error, "orig", None), "diag", None)
    return (
        isinstance(error, sa.exc.IntegrityError)
        and diag is not None
        and diag.table_name == StockMovement.__tablename__
        and diag.column_name == "sku_id"
    )


def short_line(quantities: list[tuple[int, int]]) -> int:
    """After :func:`last_taking_statement` refused an order and the transaction was rolled back:
    the SKU of the first line that cannot be taken now (too few units, or inactive), or of the
    first line when every line could be taken again (stock came back meanwhile)."""
    ids = [sku_id for sku_id, _quantity in quantities]
    have = dict(db.session.execute(sa.select(Sku.id, Sku.stock).where(Sku.id.in_(ids), Sku.active.is_(True))).all())
    return next((sku_id for sku_id, quantity in quantities if have.get(sku_id, 0) < quantity), ids[0])


def taken_for_order(left: dict[int, int], count: int) -> None:
    """After the statement of :func:`taking` answered ``{sku_id: stock left}`` for an order of
    ``count`` SKUs: what :func:`reserve` does after its own (a SKU that sold out moves the
    store's stamp at commit, so pages kept with it on sale go)."""
    if len(left) == count and 0 in left.values():
        stamps.changed_at_commit(db.session)


@functools.cache
def _ledger_insert() -> sa.Insert:
    """The ledger rows of :func:`reserve`: a Core ``INSERT`` (executemany), no ORM bulk insert."""
    return sa.insert(StockMovement.__table__)


def release(sku_id: int, quantity: int, order_id: int, reason: str = "release") -> bool:
    """Give an order's units back, once: a second call for the same order and SKU does nothing."""
    try:
        with db.session.begin_nested():
            db.session.add(StockMovement(sku_id=sku_id, delta=quantity, reason=reason, order_id=order_id))
            db.session.flush()
    except IntegrityError:
        return False
    now = db.session.execute(
        sa.update(Sku)
        .where(Sku.id == sku_id)
        .values(stock=Sku.stock + quantity)
        .returning(Sku.stock)
        .execution_options(synchronize_session=False)
    ).scalar_one_or_none()
    if now is not None and now == quantity:  # back from sold out: pages kept showing it sold out go
        stamps.changed_at_commit(db.session)
    return True


def record_adjustments(_app, changes) -> None:
    """Receives the catalogue's ``stock_adjusted`` (:mod:`mallow.catalog.events`): one ledger row
    (``adjust``) per SKU whose stock the merchant set, ``changes`` being ``[(sku, delta)]``."""
    for sku, delta in changes:
        db.session.add(StockMovement(sku_id=sku.id, delta=delta, reason="adjust"))


def low_stock(limit: int = 500) -> tuple[int, list[tuple[Sku, Product]]]:
    """``(threshold, [(sku, product)])``: active SKUs below the store's threshold, fewest first
    (products in draft are left out: nothing is sold from them)."""
    threshold = int(settings.get("low_stock_threshold"))
    rows = db.session.execute(
        sa.select(Sku, Product)
        .join(Product, Product.id == Sku.product_id)
        .where(Sku.active.is_(True), Sku.stock < threshold, Product.status != "draft")
        .order_by(Sku.stock, Sku.id)
        .limit(limit)
    ).all()
    return threshold, [(row[0], row[1]) for row in rows]
