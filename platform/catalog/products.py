"""Saving a product of one store: its fields, SKUs, images and shelf status in one transaction.

The API (JSON, integer fen) and the console forms (yuan text, see :mod:`mallow.catalog.forms`)
both end in :func:`create` / :func:`update`, which take one dict::

    {"title": "临安山核桃仁", "subtitle": "", "category_id": 3, "description_html": "<p>…</p>",
     "video_url": "https://…", "sort": 0, "status": "on_shelf", "shipping_template_id": 2,
     "specs": [{"name": "规格", "values": ["120g", "250g"]}],
     "skus": [{"spec_values": {"规格": "120g"}, "price": 3990, "market_price": 4990, "stock": 100,
               "weight_g": 150, "code": "HT-120", "image": 12}, …],
     "media_ids": [12, 7]}

The parts of a save, each in its own module: single fields (:mod:`.field_checks`), the spec axes
(:mod:`.specs`), the SKUs built from them (:mod:`.sku_matrix`), the product's images
(:mod:`.product_images`) and a SKU's own picture (:mod:`.sku_images`). A save is announced
(``product_saved``, :mod:`.events`) before it is committed: compliance screens its texts there.
Elsewhere: the SKU bulk edit (:mod:`.sku_bulk_edit`) and the JSON shapes (:mod:`.product_json`).
"""

from __future__ import annotations

from flask_babel import gettext as _

from mallow import audit
from mallow.catalog import events, field_checks, product_images, richtext, sku_images, sku_matrix
from mallow.catalog.field_checks import NUMBER_MESSAGES, SUBTITLE_MAX, TITLE_MAX
from mallow.catalog.models import PRODUCT_STATES, Product
from mallow.catalog.search import normalise
from mallow.catalog.specs import clean_specs
from mallow.db import db
from mallow.media import library
from mallow.qualifications import selling
from mallow.tenants.context import current_store
from mallow.validation import Errors, ValidationFailed


def create(data: dict, *, actor=None, uploads=None, picks=(), sku_uploads=None) -> Product:
    product = Product(title="", subtitle="", description_html="", specs=[], search_text="")
    files = product_images.SavedFiles()
    try:
        _apply(product, data, creating=True, uploads=uploads, picks=picks, sku_uploads=sku_uploads, files=files)
        db.session.flush()
        events.send(events.product_saved, product=product)  # 极限词: a blocking term raises, flagged ones are recorded
        audit.record("product.created", actor=actor, store_id=current_store().id, target=f"product:{product.id}")
        db.session.commit()
    except Exception:
        db.session.rollback()
        library.delete_files(*files.new)
        raise
    return product


def update(
    product: Product,
    data: dict,
    *,
    actor=None,
    uploads=None,
    picks=(),
    remove_image_ids=(),
    image_order=None,
    sku_uploads=None,
) -> Product:
    """Change the fields given in ``data`` (absent keys are kept); optionally remove images,
    reorder them (``image_order``: ``{image id: sort}``), then add library images (``picks``: ids)
    and ``uploads``; ``sku_uploads`` (``{index in data["skus"]: file}``) become those SKUs' images."""
    files = product_images.SavedFiles()
    try:
        if "specs" in data or "skus" in data:
            sku_matrix.lock(product)
        files.drop(product_images.remove_images(product, remove_image_ids))
        if image_order:
            for image in product.images:
                if image.id in image_order:
                    image.sort = image_order[image.id]
        _apply(product, data, creating=False, uploads=uploads, picks=picks, sku_uploads=sku_uploads, files=files)
        events.send(events.product_saved, product=product)
        audit.record(
            "product.updated",
            actor=actor,
            store_id=current_store().id,
            target=f"product:{product.id}",
            detail={"fields": sorted(k for k in data if k != "description_html")},
        )
        db.session.commit()
    except Exception:
        db.session.rollback()
        library.delete_files(*files.new)
        raise
    library.delete_files(*files.dropped)
    return product


def set_status(product: Product, target: str, *, actor=None) -> None:
    """On / off the shelf (``PRODUCT_STATES``); an invalid move raises ``InvalidTransition``."""
    previous = product.status
    _move_status(product, target)
    audit.record(
        "product.status",
        actor=actor,
        store_id=current_store().id,
        target=f"product:{product.id}",
        detail={"from": previous, "to": target},
    )
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


def _apply(
    product: Product,
    data: dict,
    *,
    creating: bool,
    uploads=None,
    picks=(),
    sku_uploads=None,
    files: product_images.SavedFiles,
) -> None:
    """Validate ``data`` and write it onto ``product`` (not committed). Uploaded images (the
    product's, and ``sku_uploads``: ``{index in data["skus"]: file}``) join the library in the
    same transaction; their files are listed in ``files`` for the caller to delete if it rolls
    back."""
    errors = Errors()
    fields: dict = {}
    if creating or "title" in data:
        fields["title"] = field_checks.text_field(data, "title", TITLE_MAX, errors, required=True)
    if creating or "subtitle" in data:
        fields["subtitle"] = field_checks.text_field(data, "subtitle", SUBTITLE_MAX, errors)
    if "category_id" in data:
        fields["category_id"] = field_checks.category_id(data.get("category_id"), errors)
    if "description_html" in data:
        raw = data.get("description_html") or ""
        if not isinstance(raw, str):
            errors.add("description_html", "invalid", _("Send the description as HTML text."))
        elif len(raw) > richtext.MAX_INPUT:
            errors.add("description_html", "too_long", _("The description is too long."))
        else:
            fields["description_html"] = richtext.sanitise(raw)
    if "video_url" in data:
        url, code = field_checks.check_video_url(data.get("video_url"))
        if code:
            errors.add("video_url", code, _("Enter a video address starting with https://."))
        fields["video_url"] = url
    if "shipping_template_id" in data:
        fields["shipping_template_id"] = field_checks.shipping_template_id(data.get("shipping_template_id"), errors)
    if "sort" in data:
        sort, code = field_checks.whole(
            data.get("sort") if data.get("sort") not in (None, "") else 0, minimum=-1_000_000, maximum=1_000_000
        )
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
    planned = None
    if rebuild and specs_ok:
        entries = sku_images.store_uploads(data.get("skus"), sku_uploads, errors, files.new) if "skus" in data else None
        planned = sku_matrix.plan(None if creating else product, specs, entries, errors)
    if "specs" in data and specs_ok:
        fields["specs"] = specs

    # images are checked (and uploads stored) before anything is written
    kept, chosen = product_images.gather(
        product, data, creating=creating, picks=picks, uploads=uploads, errors=errors, files=files
    )
    errors.raise_if_any()

    for key, value in fields.items():
        setattr(product, key, value)
    if creating:
        product.specs = specs
        product.status = "draft"
        db.session.add(product)
    if planned is not None:
        sku_matrix.write(product, planned)
    files.drop(product_images.set_images(product, kept, chosen))
    if target_status and target_status != product.status:
        _move_status(product, target_status)
    product.search_text = build_search_text(product)


def _move_status(product: Product, target: str) -> None:
    """Every status change of the form, the list and the API: checked here, then moved."""
    if target == "on_shelf" and not any(sku.active for sku in product.skus):
        raise ValidationFailed(
            {"status": ("no_skus", _("Add at least one SKU before putting the product on the shelf."))}
        )
    if target == "on_shelf":  # held, or a permit the store needs lapsed (today, sweep or not): refused
        selling.refuse_on_shelf(product)
    PRODUCT_STATES.move(product, target)
