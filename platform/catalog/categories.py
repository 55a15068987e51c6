"""The category tree of one store: create, rename, move, delete, with clear field errors.

Rules: a parent must be a category of this store (the table *is* the store's, so an id from
another store simply is not there), a category cannot be moved under itself or one of its
descendants (no cycles), and a category that still has products or children cannot be deleted.
"""

from __future__ import annotations

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy import event

from mallow import audit
from mallow.catalog.models import Product, ProductCategory
from mallow.db import db
from mallow.db.session import TenantSession
from mallow.tenants.context import current_store
from mallow.validation import Errors, ValidationFailed, text
from mallow.web.ids import id_value

NAME_MAX = 40
MAX_DEPTH = 4  # levels, root included
MAX_CATEGORIES = 500


_KEPT = "mallow.catalog.categories"


def all_categories(active_only: bool = False) -> list[ProductCategory]:
    """Every category of the active store in display order (only the shown ones with
    ``active_only``). A page asks several times (the category, its path, its subtree, its
    children, the filter's list): the rows are read once per transaction and kept in the
    session, until a flush writes a category, the transaction ends or another store is active;
    with unflushed changes in the session they are read afresh."""
    session = db.session()
    store = current_store()
    kept = session.info.get(_KEPT)
    transaction = session.get_transaction()
    pending = session.new or session.dirty or session.deleted
    if (
        kept is not None
        and transaction is not None
        and kept[0] is transaction
        and kept[1] == (store.id if store is not None else None)
        and not pending
    ):
        rows = kept[2]
    else:
        query = sa.select(ProductCategory).order_by(ProductCategory.sort, ProductCategory.id)
        rows = list(session.execute(query).scalars())
        if session.get_transaction() is not None:
            session.info[_KEPT] = (session.get_transaction(), store.id if store is not None else None, rows)
    return [c for c in rows if c.active] if active_only else list(rows)


@event.listens_for(TenantSession, "after_flush")
def _forget_written(session, _context) -> None:
    """A flush that writes a category (or runs while categories are kept): read them again."""
    if _KEPT in session.info and any(
        isinstance(row, ProductCategory) for row in (*session.new, *session.dirty, *session.deleted)
    ):
        session.info.pop(_KEPT, None)


@event.listens_for(TenantSession, "do_orm_execute")
def _forget_bulk(state) -> None:
    """An UPDATE or DELETE statement through the session may write categories."""
    if (state.is_update or state.is_delete) and _KEPT in state.session.info:
        state.session.info.pop(_KEPT, None)


def get(category_id) -> ProductCategory | None:
    category_id = id_value(category_id)
    return db.session.get(ProductCategory, category_id) if category_id is not None else None


def tree(active_only: bool = False) -> list[tuple[ProductCategory, int]]:
    """Every category as ``(category, depth)`` in display order (parents before children).
    With ``active_only``, a hidden category hides everything below it too."""
    rows = all_categories()
    children: dict[int | None, list[ProductCategory]] = {}
    ids = {c.id for c in rows}
    for category in rows:
        parent = category.parent_id if category.parent_id in ids else None
        children.setdefault(parent, []).append(category)
    out: list[tuple[ProductCategory, int]] = []

    def walk(parent_id, depth):
        for category in children.get(parent_id, []):
            if active_only and not category.active:
                continue
            out.append((category, depth))
            if depth < 32:  # cycles cannot be saved; this only guards the walk itself
                walk(category.id, depth + 1)

    walk(None, 0)
    return out


def visible(category_id) -> ProductCategory | None:
    """The category if shoppers may see it: it and every category above it are shown."""
    category = get(category_id)
    if category is None:
        return None
    parents = {c.id: c for c in all_categories()}
    current, seen = category, set()
    while current is not None and current.id not in seen:
        if not current.active:
            return None
        seen.add(current.id)
        current = parents.get(current.parent_id) if current.parent_id is not None else None
    return category


def nested(active_only: bool = True) -> list[dict]:
    """The tree as nested dicts (the API's shape)."""
    rows = tree(active_only)
    by_id: dict[int, dict] = {}
    roots: list[dict] = []
    for category, _depth in rows:
        node = {
            "id": category.id,
            "name": category.name,
            "parent_id": category.parent_id,
            "sort": category.sort,
            "active": category.active,
            "children": [],
        }
        by_id[category.id] = node
        parent = by_id.get(category.parent_id)
        (parent["children"] if parent else roots).append(node)
    return roots


def descendant_ids(category_id: int, active_only: bool = False) -> list[int]:
    """``category_id`` and every category below it (``[]`` for an unknown id, or, with
    ``active_only``, for a category hidden from shoppers; hidden branches are left out)."""
    if active_only:
        if visible(category_id) is None:
            return []
    elif get(category_id) is None:
        return []
    children: dict[int | None, list[int]] = {}
    for category in all_categories(active_only):
        children.setdefault(category.parent_id, []).append(category.id)
    found, todo = [], [category_id]
    while todo:
        current = todo.pop()
        if current in found:
            continue
        found.append(current)
        todo.extend(children.get(current, []))
    return found


def _ancestor_ids(category_id: int | None) -> list[int]:
    parents = {c.id: c.parent_id for c in all_categories()}
    chain, current = [], category_id
    while current is not None and current not in chain:
        chain.append(current)
        current = parents.get(current)
    return chain


def _validate(data, category: ProductCategory | None) -> dict:
    """Checked values; on an update, keys missing from ``data`` keep the category's values."""
    errors = Errors()
    has = (lambda key: key in data) if category is not None else (lambda key: True)
    name = text(data, "name") if has("name") else category.name
    if not name:
        errors.add("name", "required", _("Enter a name."))
    elif len(name) > NAME_MAX:
        errors.add("name", "too_long", _("Use at most %(max)s characters.", max=NAME_MAX))
    parent_id = category.parent_id if category is not None else None
    if has("parent_id"):
        parent_id = None
        raw_parent = data.get("parent_id")
        if raw_parent not in (None, "", 0, "0"):
            parent = get(raw_parent) if not isinstance(raw_parent, bool) else None
            if parent is None:
                errors.add("parent_id", "not_found", _("Choose a category of this store."))
            else:
                parent_id = parent.id
                chain = _ancestor_ids(parent_id)
                if category is not None and category.id in chain:
                    errors.add(
                        "parent_id", "cycle", _("A category cannot be placed under itself or one of its subcategories.")
                    )
                elif len(chain) + 1 + (_subtree_height(category.id) if category is not None else 0) > MAX_DEPTH:
                    errors.add("parent_id", "too_deep", _("Categories go at most %(max)s levels deep.", max=MAX_DEPTH))
    sort = _int(data, "sort", 0) if has("sort") else category.sort
    if sort is None or not -100000 <= sort <= 100000:
        errors.add("sort", "invalid", _("Enter a whole number."))
    active = data.get("active", True) if has("active") else category.active
    if isinstance(active, str):
        active = active.lower() in ("1", "true", "on", "yes")
    errors.raise_if_any()
    duplicate = db.session.execute(
        sa.select(ProductCategory.id).where(
            ProductCategory.name == name,
            ProductCategory.parent_id.is_(None) if parent_id is None else ProductCategory.parent_id == parent_id,
            ProductCategory.id != (category.id if category is not None else -1),
        )
    ).first()
    if duplicate:
        raise ValidationFailed({"name": ("taken", _("There is a category with this name here already."))})
    return {"name": name, "parent_id": parent_id, "sort": sort, "active": bool(active)}


def _subtree_height(category_id: int) -> int:
    """Levels below ``category_id`` (0 for a leaf)."""
    rows = all_categories()
    children: dict[int | None, list[int]] = {}
    for c in rows:
        children.setdefault(c.parent_id, []).append(c.id)

    def height(node, seen):
        if node in seen:
            return 0
        seen = seen | {node}
        return max((1 + height(child, seen) for child in children.get(node, [])), default=0)

    return height(category_id, frozenset())


def _int(data, key, default):
    value = data.get(key, default) if hasattr(data, "get") else default
    if value in (None, ""):
        return default
    if isinstance(value, bool):
        return None
    try:
        return int(str(value).strip())
    except ValueError:
        return None


def create(data, actor=None) -> ProductCategory:
    values = _validate(data, None)
    count = db.session.execute(sa.select(sa.func.count(ProductCategory.id))).scalar_one()
    if count >= MAX_CATEGORIES:
        raise ValidationFailed({"name": ("too_many", _("A store has at most %(max)s categories.", max=MAX_CATEGORIES))})
    category = ProductCategory(**values)
    db.session.add(category)
    db.session.flush()
    audit.record("category.created", actor=actor, store_id=current_store().id, target=f"category:{category.id}")
    db.session.commit()
    return category


def update(category: ProductCategory, data, actor=None) -> ProductCategory:
    values = _validate(data, category)
    for key, value in values.items():
        setattr(category, key, value)
    audit.record("category.updated", actor=actor, store_id=current_store().id, target=f"category:{category.id}")
    db.session.commit()
    return category


def delete(category: ProductCategory, actor=None) -> None:
    has_children = db.session.execute(
        sa.select(ProductCategory.id).where(ProductCategory.parent_id == category.id).limit(1)
    ).first()
    if has_children:
        raise ValidationFailed({"category": ("has_children", _("Move or delete its subcategories first."))})
    has_products = db.session.execute(sa.select(Product.id).where(Product.category_id == category.id).limit(1)).first()
    if has_products:
        raise ValidationFailed({"category": ("has_products", _("Move its products to another category first."))})
    db.session.delete(category)
    audit.record("category.deleted", actor=actor, store_id=current_store().id, target=f"category:{category.id}")
    db.session.commit()


def category_json(category: ProductCategory) -> dict:
    return {
        "id": category.id,
        "name": category.name,
        "parent_id": category.parent_id,
        "sort": category.sort,
        "active": category.active,
    }
