"""Products of one store: fields, SKUs built from specs, images, shelf status, bulk edits.

The API (JSON, integer fen) and the console forms (yuan text, see :mod:`mallow.catalog.forms`)
both end in :func:`create` / :func:`update`, which take one dict::

    {"title": "临安山核桃仁", "subtitle": "", "category_id": 3, "description_html": "<p>…</p>",
     "video_url": "https://…", "sort": 0, "status": "on_shelf",
     "specs": [{"name": "规格", "values": ["120g", "250g"]}],
     "skus": [{"spec_values": {"规格": "120g"}, "price": 3990, "market_price": 4990, "stock": 100,
               "weight_g": 150, "code": "HT-120", "image": 12}, …]}

Images are images of the store's media library (:mod:`mallow.media.library`): ``"media_ids":
[12, 7]`` makes them exactly these library images in this order; uploads (``uploads=``) join the
library first; the console form also adds chosen library images (``picks=``) and removes or
reorders the product's images. Removing an image from a product keeps it in the library. A SKU's
``image`` (规格图) is a library image id too (:mod:`mallow.catalog.sku_images`).

SKUs are the cartesian product of the spec axes. Each is identified by its ``spec_key``
(``"规格:120g"``; axes sorted by name, so reordering axes changes nothing); saving updates
SKUs in place by that key, so a SKU's id (and every order line pointing at it) stays valid. A
combination that disappears from the specs is deactivated, never deleted. Field errors name
the place: ``skus.<index in the given list>.<field>``.
"""
from __future__ import annotations

import dataclasses
import itertools
import re
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask_babel import gettext as _

from mallow import audit, compliance, settings
from mallow.catalog import categories, richtext, sku_images
from mallow.catalog.models import PRODUCT_STATES, Product, ProductImage, Sku
from mallow.money import MAX_FEN, fen_to_yuan
from mallow.catalog.search import normalise
from mallow.db import db
from mallow.inventory.models import StockMovement
from mallow.media import library
from mallow.qualifications import selling
from mallow.tenants.context import current_store
from mallow.validation import Errors, ValidationFailed
from mallow.web.ids import ID_MAX, id_value

TITLE_MAX = 120
SUBTITLE_MAX = 200
VIDEO_MAX = 500
MAX_AXES = 3
MAX_VALUES = 30
SPEC_NAME_MAX = 20
SPEC_VALUE_MAX = 30
MAX_SKUS = 200
MAX_STOCK = 1_000_000_000
MAX_WEIGHT_G = 1_000_000
CODE_MAX = 64
MAX_IMAGES = 9
MAX_BULK = 1000
#: characters that would make a spec key ambiguous
_RESERVED = re.compile(r"[:;\x00-\x1f]")


# -- specs and SKU keys -----------------------------------------------------------------------

def spec_key(spec_values: dict) -> str:
    """``{"颜色": "红", "尺码": "M"}`` → ``"尺码:M;颜色:红"`` (``""`` for a product without specs)."""
    return ";".join(f"{name}:{spec_values[name]}" for name in sorted(spec_values))


def combinations(specs: list[dict]) -> list[dict]:
    """Every combination of the spec axes in display order (``[{}]`` without specs)."""
    if not specs:
        return [{}]
    names = [axis["name"] for axis in specs]
    return [dict(zip(names, values)) for values in itertools.product(*(axis["values"] for axis in specs))]


def spec_label(spec_values: dict, specs: list[dict] | None = None) -> str:
    """``"红 / M"``: the values in axis order."""
    names = [axis["name"] for axis in specs] if specs else list(spec_values)
    return " / ".join(str(spec_values[n]) for n in names if n in spec_values)


def clean_specs(raw, errors: Errors, field: str = "specs") -> list[dict]:
    """Validated spec axes: names and values stripped, unique, without ``:`` or ``;``."""
    if raw in (None, ""):
        return []
    if not isinstance(raw, list):
        errors.add(field, "invalid", _("Specs must be a list of names with values."))
        return []
    if len(raw) > MAX_AXES:
        errors.add(field, "too_many", _("Use at most %(max)s spec axes.", max=MAX_AXES))
        return []
    axes, names = [], set()
    for i, axis in enumerate(raw):
        where = f"{field}.{i}"
        if not isinstance(axis, dict):
            errors.add(where, "invalid", _("Specs must be a list of names with values."))
            continue
        name = str(axis.get("name") or "").strip()
        values_raw = axis.get("values")
        if not name:
            errors.add(where, "name_required", _("Give every spec a name, e.g. Colour."))
            continue
        if len(name) > SPEC_NAME_MAX or _RESERVED.search(name):
            errors.add(where, "invalid_name", _("A spec name has at most %(max)s characters and no colon or semicolon.",
                                                max=SPEC_NAME_MAX))
            continue
        if name in names:
            errors.add(where, "duplicate", _("The spec %(name)s is there twice.", name=name))
            continue
        names.add(name)
        if not isinstance(values_raw, list) or not values_raw:
            errors.add(where, "values_required", _("Give the spec %(name)s at least one value.", name=name))
            continue
        values: list[str] = []
        for value in values_raw:
            value = str(value if value is not None else "").strip()
            if not value:
                continue
            if len(value) > SPEC_VALUE_MAX or _RESERVED.search(value):
                errors.add(where, "invalid_value", _("A spec value has at most %(max)s characters and no colon or semicolon.",
                                                     max=SPEC_VALUE_MAX))
                break
            if value in values:
                errors.add(where, "duplicate_value", _("The value %(value)s is there twice.", value=value))
                break
            values.append(value)
        if not values and where not in errors:
            errors.add(where, "values_required", _("Give the spec %(name)s at least one value.", name=name))
        if len(values) > MAX_VALUES:
            errors.add(where, "too_many_values", _("A spec has at most %(max)s values.", max=MAX_VALUES))
        axes.append({"name": name, "values": values})
    total = 1
    for axis in axes:
        total *= max(1, len(axis["values"]))
    if total > MAX_SKUS:
        errors.add(field, "too_many_skus", _("These specs make %(count)s combinations; at most %(max)s are allowed.",
                                             count=total, max=MAX_SKUS))
    return axes


# -- field checks -----------------------------------------------------------------------------

def _whole(value, *, minimum: int, maximum: int):
    """An int in range, or a code: never a float (12.0 is refused: send integer fen)."""
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, str) and re.fullmatch(r"\s*-?\d{1,13}\s*", value):
            value = int(value)
        else:
            return None, "invalid"
    if value < minimum:
        return None, "negative" if minimum == 0 else "too_small"
    if value > maximum:
        return None, "too_large"
    return value, None


NUMBER_MESSAGES = {
    "invalid": lambda: _("Enter a whole number."),
    "negative": lambda: _("Cannot be negative."),
    "too_small": lambda: _("The number is too small."),
    "too_large": lambda: _("The number is too large."),
    "required": lambda: _("Required."),
}
PRICE_MESSAGES = {
    "invalid": lambda: _("Send the price as a whole number of fen (1 yuan = 100 fen)."),
    "negative": lambda: _("A price cannot be negative."),
    "too_large": lambda: _("The price is too large."),
    "required": lambda: _("Enter a price."),
    "too_precise": lambda: _("Use at most two decimals (fen)."),
}


def check_video_url(raw) -> tuple[str | None, str | None]:
    """``(url, None)`` for an https URL (or ``(None, None)`` for none), else ``(None, code)``."""
    if raw is None:
        return None, None
    url = str(raw).strip()
    if not url:
        return None, None
    if len(url) > VIDEO_MAX or re.search(r"[\s\x00-\x1f\"'<>\\]", url):
        return None, "invalid"
    try:
        parts = urlsplit(url)
    except ValueError:
        return None, "invalid"
    if parts.scheme.lower() != "https" or not parts.hostname or parts.username or parts.password:
        return None, "not_https"
    return url, None


def _category_id(raw, errors: Errors):
    if raw in (None, "", 0, "0"):
        return None
    category = categories.get(raw) if not isinstance(raw, bool) else None
    if category is None:
        errors.add("category_id", "not_found", _("Choose a category of this store."))
        return None
    return category.id


def _shipping_template_id(raw, errors: Errors):
    """None (the store's default template) or a shipping template of this store."""
    from mallow.shipping.models import ShippingTemplate

    if raw in (None, ""):
        return None
    template_id = id_value(raw)
    if template_id is None or db.session.get(ShippingTemplate, template_id) is None:
        errors.add("shipping_template_id", "unknown", _("Choose a shipping template of this store."))
        return None
    return template_id


def _text(data: dict, key: str, limit: int, errors: Errors, required: bool = False) -> str:
    value = data.get(key)
    value = "" if value is None else (value if isinstance(value, str) else str(value)).strip()
    if required and not value:
        errors.add(key, "required", _("Enter a title.") if key == "title" else _("Required."))
    elif len(value) > limit:
        errors.add(key, "too_long", _("Use at most %(max)s characters.", max=limit))
    return value


# -- create and update ------------------------------------------------------------------------

def _check_sku_entry(entry, index: int, existing: Sku | None, errors: Errors) -> dict:
    """The values for one SKU: the given fields over the existing SKU's (a new SKU needs a price)."""
    where = f"skus.{index}"
    values = {}
    if "price" in entry or existing is None:
        price, code = _whole(entry.get("price"), minimum=0, maximum=MAX_FEN) if entry.get("price") is not None \
            else (None, "required")
        if code:
            errors.add(f"{where}.price", code, PRICE_MESSAGES[code]())
        values["price"] = price
    if "market_price" in entry:
        if entry.get("market_price") in (None, ""):
            values["market_price"] = None
        else:
            market, code = _whole(entry["market_price"], minimum=0, maximum=MAX_FEN)
            if code:
                errors.add(f"{where}.market_price", code, PRICE_MESSAGES[code]())
            values["market_price"] = market
    for key, maximum, default in (("stock", MAX_STOCK, 0), ("weight_g", MAX_WEIGHT_G, 0)):
        if key in entry or existing is None:
            raw = entry.get(key)
            if raw in (None, ""):
                values[key] = default
                continue
            number, code = _whole(raw, minimum=0, maximum=maximum)
            if code:
                errors.add(f"{where}.{key}", code, NUMBER_MESSAGES[code]())
            values[key] = number
    if "code" in entry or existing is None:
        code_value = str(entry.get("code") or "").strip()
        if len(code_value) > CODE_MAX:
            errors.add(f"{where}.code", "too_long", _("Use at most %(max)s characters.", max=CODE_MAX))
        values["code"] = code_value
    if "image" in entry:
        values["media_id"] = sku_images.checked_id(entry["image"], f"{where}.image", errors)
    price = values.get("price", existing.price if existing is not None else None)
    market = values.get("market_price", existing.market_price if existing is not None else None)
    if price is not None and market is not None and market < price and f"{where}.market_price" not in errors:
        errors.add(f"{where}.market_price", "below_price", _("The market price cannot be below the price."))
    return values


def _plan_skus(product: Product | None, specs: list[dict], entries, errors: Errors) -> list[tuple[dict, Sku | None, dict]]:
    """``[(spec_values, existing SKU or None, new field values)]`` for every combination."""
    existing = {sku.spec_key: sku for sku in (product.skus if product is not None else [])}
    wanted = combinations(specs)
    wanted_keys = {spec_key(values): values for values in wanted}
    given: dict[str, tuple[int, dict]] = {}
    if entries is not None:
        if not isinstance(entries, list):
            errors.add("skus", "invalid", _("SKUs must be a list."))
            entries = []
        if len(entries) > MAX_SKUS:
            errors.add("skus", "too_many", _("At most %(max)s SKUs.", max=MAX_SKUS))
            entries = []
        for i, entry in enumerate(entries):
            if not isinstance(entry, dict):
                errors.add(f"skus.{i}", "invalid", _("Each SKU must be an object."))
                continue
            values = entry.get("spec_values") or {}
            if not isinstance(values, dict):
                errors.add(f"skus.{i}.spec_values", "invalid", _("Give the SKU's value for each spec."))
                continue
            key = spec_key({str(k).strip(): str(v).strip() for k, v in values.items()})
            if key not in wanted_keys:
                errors.add(f"skus.{i}.spec_values", "unknown",
                           _("This combination is not one of the specs: %(label)s.", label=spec_label(values) or "—"))
                continue
            if key in given:
                errors.add(f"skus.{i}.spec_values", "duplicate", _("This combination is there twice."))
                continue
            given[key] = (i, entry)
    plan, missing = [], []
    for values in wanted:
        key = spec_key(values)
        sku = existing.get(key)
        if key in given:
            index, entry = given[key]
            plan.append((values, sku, _check_sku_entry(entry, index, sku, errors)))
        elif sku is not None:
            plan.append((values, sku, {}))
        else:
            missing.append(spec_label(values, specs) or _("(no specs)"))
    if missing:
        errors.add("skus", "missing", _("Give a price for every combination: %(missing)s.",
                                        missing=", ".join(missing[:10]) + ("…" if len(missing) > 10 else "")))
    return plan


def _apply(product: Product, data: dict, *, creating: bool, uploads=None, picks=(), sku_uploads=None,
           files: _Files) -> None:
    """Validate ``data`` and write it onto ``product`` (not committed). Uploaded images (the
    product's, and ``sku_uploads``: ``{index in data["skus"]: file}``) join the library in the
    same transaction; their files are listed in ``files`` for the caller to delete if it rolls
    back."""
    errors = Errors()
    fields: dict = {}
    if creating or "title" in data:
        fields["title"] = _text(data, "title", TITLE_MAX, errors, required=True)
    if creating or "subtitle" in data:
        fields["subtitle"] = _text(data, "subtitle", SUBTITLE_MAX, errors)
    if "category_id" in data:
        fields["category_id"] = _category_id(data.get("category_id"), errors)
    if "description_html" in data:
        raw = data.get("description_html") or ""
        if not isinstance(raw, str):
            errors.add("description_html", "invalid", _("Send the description as HTML text."))
        elif len(raw) > richtext.MAX_INPUT:
            errors.add("description_html", "too_long", _("The description is too long."))
        else:
            fields["description_html"] = richtext.sanitise(raw)
    if "video_url" in data:
        url, code = check_video_url(data.get("video_url"))
        if code:
            errors.add("video_url", code, _("Enter a video address starting with https://."))
        fields["video_url"] = url
    if "shipping_template_id" in data:
        fields["shipping_template_id"] = _shipping_template_id(data.get("shipping_template_id"), errors)
    if "sort" in data:
        sort, code = _whole(data.get("sort") if data.get("sort") not in (None, "") else 0,
                            minimum=-1_000_000, maximum=1_000_000)
        if code:
            errors.add("sort", code, NUMBER_MESSAGES[code]())
        fields["sort"] = sort
    target_status = None
    if "status" in data and data.get("status") not in (None, ""):
        target_status = data["status"]
        if target_status not in PRODUCT_STATES.states:
            errors.add("status", "unknown", _("Choose a shelf status."))
            target_status = None
        elif not creating and target_status != product.status and not PRODUCT_STATES.can(product.status, target_status):
            errors.add("status", "not_allowed", _("A product cannot go back to draft."))
            target_status = None

    rebuild = creating or "specs" in data or "skus" in data
    specs = clean_specs(data.get("specs"), errors) if "specs" in data else list(product.specs or [])
    specs_ok = not any(k.startswith("specs") for k in errors.errors)
    plan = None
    if rebuild and specs_ok:
        entries = sku_images.store_uploads(data.get("skus"), sku_uploads, errors, files.new) if "skus" in data else None
        plan = _plan_skus(None if creating else product, specs, entries, errors)
    if "specs" in data and specs_ok:
        fields["specs"] = specs

    # images are checked (and uploads stored) before anything is written: a bad file leaves no
    # product and no library image
    kept = [] if creating else sorted(product.images, key=lambda image: (image.sort, image.id or 0))
    chosen: list = []
    if "media_ids" in data:
        chosen = _library_images(data.get("media_ids"), "media_ids", errors)
        kept = []
    on_product = {image.path for image in kept} | {asset.path for asset in chosen}
    chosen += [asset for asset in _library_images(list(picks or ()), "images", errors) if asset.path not in on_product]
    uploads = [f for f in (uploads or []) if f is not None and getattr(f, "filename", None)]
    if len(kept) + len(chosen) + len(uploads) > MAX_IMAGES:
        errors.add("images", "too_many", _("A product has at most %(max)s images.", max=MAX_IMAGES))
        uploads = []
    for upload in uploads:
        try:
            asset = library.add(upload)
        except ValidationFailed as failed:
            code, text = next(iter(failed.errors.values()))
            errors.add("images", code, text)
            break
        files.new += library.files_of(asset)
        chosen.append(asset)
    errors.raise_if_any()

    for key, value in fields.items():
        setattr(product, key, value)
    if creating:
        product.specs = specs
        product.status = "draft"
        db.session.add(product)
    if plan is not None:
        _write_skus(product, plan)
    files.drop(_set_images(product, kept, chosen))
    if target_status and target_status != product.status:
        _move_status(product, target_status)
    product.search_text = build_search_text(product)


def _library_images(raw, field: str, errors: Errors) -> list:
    """The library images (of this store) named by ``raw``, a list of ids, in its order."""
    if raw in (None, ""):
        return []
    if not isinstance(raw, list) or any(isinstance(v, bool) for v in raw):
        errors.add(field, "invalid", _("Choose images from this store's media library."))
        return []
    if len(raw) > MAX_IMAGES:
        errors.add(field, "too_many", _("A product has at most %(max)s images.", max=MAX_IMAGES))
        return []
    found = library.get_many(raw)
    chosen: list = []
    for value in raw:
        asset = found.get(library.as_id(value))
        if asset is None:
            errors.add(field, "not_found", _("Choose images from this store's media library."))
            return []
        if asset in chosen:
            errors.add(field, "duplicate", _("An item is chosen twice."))
            return []
        chosen.append(asset)
    return chosen


def _set_images(product: Product, kept: list, assets: list) -> list[ProductImage]:
    """The product's images become ``kept`` (rows it has, in order) then ``assets`` (library
    images); the rows left out are taken off the product and returned."""
    rows = {image.path: image for image in product.images}
    ordered = list(kept)
    for asset in assets:
        row = rows.get(asset.path)
        if row is None:
            row = ProductImage(path=asset.path, thumb_path=asset.thumbnails.get(library.PRODUCT_THUMB) or asset.path,
                               width=asset.width, height=asset.height)
            product.images.append(row)
        ordered.append(row)
    removed = [image for image in product.images if image not in ordered]
    for image in removed:
        product.images.remove(image)
    for index, image in enumerate(ordered):
        image.sort = index
    return removed


def _write_skus(product: Product, plan) -> None:
    keep = set()
    movements = []
    for values, sku, changes in plan:
        key = spec_key(values)
        keep.add(key)
        if sku is None:
            sku = Sku(spec_values=values, spec_key=key, price=changes["price"], market_price=changes.get("market_price"),
                      stock=changes.get("stock", 0), weight_g=changes.get("weight_g", 0), code=changes.get("code", ""),
                      media_id=changes.get("media_id"), active=True)
            product.skus.append(sku)
            if sku.stock:
                movements.append((sku, sku.stock))
            continue
        if "stock" in changes and changes["stock"] != sku.stock:
            movements.append((sku, changes["stock"] - sku.stock))
        for field, value in changes.items():
            setattr(sku, field, value)
        sku.spec_values = values
        sku.active = True
    for sku in product.skus:
        if sku.spec_key not in keep:
            sku.active = False  # kept: order lines may point at it
            sku.media_id = None  # its picture no longer holds a library image in use
    if movements:
        db.session.flush()
        for sku, delta in movements:
            db.session.add(StockMovement(sku_id=sku.id, delta=delta, reason="adjust"))


def _move_status(product: Product, target: str) -> None:
    """Every status change of the form, the list and the API: checked here, then moved."""
    if target == "on_shelf" and not any(sku.active for sku in product.skus):
        raise ValidationFailed({"status": ("no_skus", _("Add at least one SKU before putting the product on the shelf."))})
    if target == "on_shelf":  # held, or a permit the store needs lapsed (today, sweep or not): refused
        selling.refuse_on_shelf(product)
    PRODUCT_STATES.move(product, target)


def _lock_skus(product: Product) -> None:
    """Load the product's SKUs fresh and locked (PostgreSQL): a concurrent order's stock
    reservation waits, so a stock edit never overwrites it unseen."""
    db.session.execute(sa.select(Sku).where(Sku.product_id == product.id).with_for_update()
                       .execution_options(populate_existing=True)).scalars().all()
    db.session.expire(product, ["skus"])


@dataclasses.dataclass
class _Files:
    """Files a save uploaded (deleted if it fails) and files of older product uploads that are
    not library images and that it removed (deleted once it is committed)."""

    new: list = dataclasses.field(default_factory=list)
    dropped: list = dataclasses.field(default_factory=list)

    def drop(self, rows) -> None:
        self.dropped += [path for row in rows if not library.owns(row.path) for path in (row.path, row.thumb_path)]


def create(data: dict, *, actor=None, uploads=None, picks=(), sku_uploads=None) -> Product:
    product = Product(title="", subtitle="", description_html="", specs=[], search_text="")
    files = _Files()
    try:
        _apply(product, data, creating=True, uploads=uploads, picks=picks, sku_uploads=sku_uploads, files=files)
        db.session.flush()
        compliance.screen_product(product)  # 极限词: a blocking term raises, flagged ones are recorded
        audit.record("product.created", actor=actor, store_id=current_store().id, target=f"product:{product.id}")
        db.session.commit()
    except Exception:
        db.session.rollback()
        library.delete_files(*files.new)
        raise
    return product


def update(product: Product, data: dict, *, actor=None, uploads=None, picks=(), remove_image_ids=(),
           image_order=None, sku_uploads=None) -> Product:
    """Change the fields given in ``data`` (absent keys are kept); optionally remove images,
    reorder them (``image_order``: ``{image id: sort}``), then add library images (``picks``: ids)
    and ``uploads``; ``sku_uploads`` (``{index in data["skus"]: file}``) become those SKUs' images."""
    files = _Files()
    try:
        if "specs" in data or "skus" in data:
            _lock_skus(product)
        files.drop(_remove_images(product, remove_image_ids))
        if image_order:
            for image in product.images:
                if image.id in image_order:
                    image.sort = image_order[image.id]
        _apply(product, data, creating=False, uploads=uploads, picks=picks, sku_uploads=sku_uploads, files=files)
        compliance.screen_product(product)
        audit.record("product.updated", actor=actor, store_id=current_store().id, target=f"product:{product.id}",
                     detail={"fields": sorted(k for k in data if k != "description_html")})
        db.session.commit()
    except Exception:
        db.session.rollback()
        library.delete_files(*files.new)
        raise
    library.delete_files(*files.dropped)
    return product


def _remove_images(product: Product, image_ids) -> list[ProductImage]:
    ids = {number for number in map(library.as_id, image_ids or ()) if number is not None}
    removed = [image for image in product.images if image.id in ids]
    for image in removed:
        product.images.remove(image)
    return removed


def remove_image(product: Product, image_id: int, *, actor=None) -> bool:
    """Take one image off the product (a library image stays in the library)."""
    files = _Files()
    removed = _remove_images(product, [image_id])
    if not removed:
        return False
    files.drop(removed)
    _set_images(product, sorted(product.images, key=lambda image: image.sort), [])
    audit.record("product.image_removed", actor=actor, store_id=current_store().id, target=f"product:{product.id}")
    db.session.commit()
    library.delete_files(*files.dropped)
    return True


def set_status(product: Product, target: str, *, actor=None) -> None:
    """On / off the shelf (``PRODUCT_STATES``); an invalid move raises ``InvalidTransition``."""
    previous = product.status
    _move_status(product, target)
    audit.record("product.status", actor=actor, store_id=current_store().id, target=f"product:{product.id}",
                 detail={"from": previous, "to": target})
    db.session.commit()


def build_search_text(product: Product) -> str:
    """Normalised title, subtitle, description text, spec values and SKU codes."""
    parts = [product.title or "", product.subtitle or "", richtext.text_of(product.description_html)]
    for axis in product.specs or []:
        parts.extend(str(v) for v in axis.get("values", []))
    parts.extend(sku.code for sku in product.skus if sku.code and sku.active)
    return normalise(" ".join(p for p in parts if p))


def get(product_id, *, shopper: bool = False) -> Product | None:
    """A product of the active store; shoppers only get it while it is on the shelf."""
    try:
        product_id = int(product_id)
    except (TypeError, ValueError):
        return None
    product = db.session.get(Product, product_id)
    if product is None or (shopper and product.status != "on_shelf"):
        return None
    return product


# -- bulk edit and low stock ------------------------------------------------------------------

def bulk_update_skus(items, *, actor=None) -> list[Sku]:
    """Set price and/or stock of many SKUs in one transaction: every item is checked first,
    and one bad item changes nothing. ``items``: ``[{"sku_id": 1, "price": 990, "stock": 5}]``.
    Errors name ``items.<index>.<field>``."""
    errors = Errors()
    if not isinstance(items, list) or not items:
        raise ValidationFailed({"items": ("required", _("Change at least one SKU."))})
    if len(items) > MAX_BULK:
        raise ValidationFailed({"items": ("too_many", _("At most %(max)s SKUs at once.", max=MAX_BULK))})
    wanted: dict[int, dict] = {}
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            errors.add(f"items.{i}", "invalid", _("Each item must be an object."))
            continue
        sku_id, code = _whole(item.get("sku_id"), minimum=1, maximum=ID_MAX)
        if code:
            errors.add(f"items.{i}.sku_id", "invalid", _("Choose a SKU."))
            continue
        if sku_id in wanted:
            errors.add(f"items.{i}.sku_id", "duplicate", _("This SKU is there twice."))
            continue
        change = {"index": i}
        if item.get("price") is not None:
            price, code = _whole(item["price"], minimum=0, maximum=MAX_FEN)
            if code:
                errors.add(f"items.{i}.price", code, PRICE_MESSAGES[code]())
            change["price"] = price
        if item.get("stock") is not None:
            stock, code = _whole(item["stock"], minimum=0, maximum=MAX_STOCK)
            if code:
                errors.add(f"items.{i}.stock", code, NUMBER_MESSAGES[code]())
            change["stock"] = stock
        if "price" not in change and "stock" not in change:
            errors.add(f"items.{i}", "empty", _("Give a price or a stock."))
        wanted[sku_id] = change
    errors.raise_if_any()
    try:
        skus = {sku.id: sku for sku in db.session.execute(
            sa.select(Sku).where(Sku.id.in_(list(wanted))).with_for_update()
            .execution_options(populate_existing=True)).scalars()}
        for sku_id, change in wanted.items():
            sku = skus.get(sku_id)
            if sku is None:
                errors.add(f"items.{change['index']}.sku_id", "not_found", _("There is no such SKU in this store."))
            elif "price" in change and sku.market_price is not None and change["price"] > sku.market_price:
                errors.add(f"items.{change['index']}.price", "above_market",
                           _("The price cannot be above the market price (%(market)s).",
                             market=fen_to_yuan(sku.market_price)))
        errors.raise_if_any()
        for sku_id, change in wanted.items():
            sku = skus[sku_id]
            if "stock" in change and change["stock"] != sku.stock:
                db.session.add(StockMovement(sku_id=sku.id, delta=change["stock"] - sku.stock, reason="adjust"))
                sku.stock = change["stock"]
            if "price" in change:
                sku.price = change["price"]
        audit.record("sku.bulk_update", actor=actor, store_id=current_store().id, target=f"skus:{len(wanted)}",
                     detail={"skus": sorted(wanted)[:100]})
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return [skus[sku_id] for sku_id in wanted]


def low_stock(limit: int = 500) -> tuple[int, list[tuple[Sku, Product]]]:
    """``(threshold, [(sku, product)])``: active SKUs below the store's threshold, fewest first
    (products in draft are left out: nothing is sold from them)."""
    threshold = int(settings.get("low_stock_threshold"))
    rows = db.session.execute(
        sa.select(Sku, Product).join(Product, Product.id == Sku.product_id)
        .where(Sku.active.is_(True), Sku.stock < threshold, Product.status != "draft")
        .order_by(Sku.stock, Sku.id).limit(limit)).all()
    return threshold, [(row[0], row[1]) for row in rows]


# -- JSON -------------------------------------------------------------------------------------

def min_price(product: Product) -> int | None:
    prices = [sku.price for sku in product.skus if sku.active]
    return min(prices) if prices else None


def sku_json(sku: Sku, *, private: bool = False, image: dict | None = None) -> dict:
    """``image``: :func:`mallow.catalog.sku_images.image_json` of the SKU's picture."""
    data = {"id": sku.id, "spec_values": sku.spec_values or {}, "spec_key": sku.spec_key, "price": sku.price,
            "market_price": sku.market_price, "stock": sku.stock, "weight_g": sku.weight_g, "image": image}
    if private:
        data.update(code=sku.code, active=sku.active)
    return data


def product_json(product: Product, image_url, *, private: bool = False, summary: bool = False,
                 price: int | None = None) -> dict:
    """``image_url(path)`` makes a URL for a stored image path."""
    images = sorted(product.images, key=lambda image: image.sort)
    data = {"id": product.id, "title": product.title, "subtitle": product.subtitle,
            "category_id": product.category_id, "min_price": price if price is not None else min_price(product),
            "sales": product.sales,
            "cover": ({"url": image_url(images[0].path), "thumb_url": image_url(images[0].thumb_path),
                       "width": images[0].width, "height": images[0].height} if images else None)}
    if private:
        data.update(status=product.status, sort=product.sort,
                    created_at=product.created_at.isoformat() if product.created_at else None,
                    updated_at=product.updated_at.isoformat() if product.updated_at else None)
    if summary:
        return data
    skus = [sku for sku in product.skus if private or sku.active]
    assets = sku_images.assets_of(skus)
    data.update(
        description_html=product.description_html, video_url=product.video_url, specs=product.specs or [],
        shipping_template_id=product.shipping_template_id,
        images=[{"id": image.id, "url": image_url(image.path), "thumb_url": image_url(image.thumb_path),
                 "width": image.width, "height": image.height} for image in images],
        skus=[sku_json(sku, private=private, image=sku_images.image_json(assets.get(sku.media_id), image_url))
              for sku in skus])
    if private:  # the library image each one is (None for an upload from before the library)
        media_ids = library.ids_by_path(image.path for image in images)
        for entry, image in zip(data["images"], images):
            entry["media_id"] = media_ids.get(image.path)
    return data
