"""Share links: the canonical address of a product, a landing page (微页面) or a plugin's shared
thing (:mod:`mallow.sharing.targets`), with the sharer's code when the shopper who shares is
signed in.

* An approved distributor (the distribution plugin, asked through ``mallow_share_code``) shares
  with their distributor code: the link is their referral link landing on the page.
* Any other signed-in shopper shares with a referral code of their own (:class:`ShareCode`,
  stable, unguessable, made the first time they share): ``/share/r/<code>/product/<id>``
  remembers the code for the visitor (:mod:`mallow.sharing.visits`) and lands on the product.
* A visitor who is not signed in shares the plain canonical address.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass

import sqlalchemy as sa
from flask import request, url_for
from sqlalchemy.exc import IntegrityError

from mallow.db import db
from mallow.plugins.manager import hooks
from mallow.sharing.models import ShareCode
from mallow.tenants.context import current_store
from mallow.tenants.views import store_view

log = logging.getLogger("mallow.sharing")

#: a referral code: 10 characters of an unambiguous alphabet (no 0/o, 1/l/i): 31^10 ≈ 8·10^14
ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"
CODE_LENGTH = 10
KINDS = ("product", "page")


@dataclass(frozen=True)
class Shared:
    """What is shared: ``kind`` ``"product"`` (``ref`` its id), ``"page"`` (``ref`` its slug), or a
    plugin's kind (:mod:`mallow.sharing.targets`: ``page`` is the path of its page on this site)."""

    kind: str
    ref: int | str
    page: str | None = None

    def path(self) -> str:
        """The page's own address on this site (a path)."""
        if self.kind == "product":
            return url_for("storefront.product", product_id=self.ref)
        if self.kind == "page":
            return url_for("pages.landing", slug=self.ref)
        return self.page or url_for("storefront.home")

    def canonical(self) -> str:
        """The page's absolute address, with no code."""
        if self.kind == "product":
            return url_for("storefront.product", product_id=self.ref, _external=True)
        if self.kind == "page":
            return url_for("pages.landing", slug=self.ref, _external=True)
        return request.host_url.rstrip("/") + self.path()

    def through(self, code: str) -> str:
        """The absolute address that records ``code`` and lands on the page."""
        if self.kind == "product":
            return url_for("storefront.share_visit_product", code=code, product_id=self.ref, _external=True)
        if self.kind == "page":
            return url_for("storefront.share_visit_page", code=code, slug=self.ref, _external=True)
        return url_for("storefront.share_visit_target", code=code, kind=self.kind, ref=self.ref, _external=True)


@dataclass(frozen=True)
class Link:
    url: str
    #: the sharer's code in ``url`` (None: no sharer)
    code: str | None
    #: ``"distributor"`` (a plugin's code), ``"referral"`` (the shopper's own) or ``"none"``
    source: str


def new_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


def find_code(code: str | None) -> ShareCode | None:
    """The referral code ``code`` of this store, or None."""
    if not code or len(code) != CODE_LENGTH or any(c not in ALPHABET for c in code):
        return None
    return db.session.execute(sa.select(ShareCode).where(ShareCode.code == code)).scalar_one_or_none()


def own_code(customer_id: int) -> str:
    """The shopper's referral code, made (and flushed) the first time: the caller commits."""
    found = db.session.execute(
        sa.select(ShareCode.code).where(ShareCode.customer_id == customer_id)
    ).scalar_one_or_none()
    if found is not None:
        return found
    for _attempt in range(5):  # a clash of two random codes is all but impossible; retry anyway
        row = ShareCode(customer_id=customer_id, code=new_code())
        try:
            with db.session.begin_nested():
                db.session.add(row)
        except IntegrityError:
            again = db.session.execute(
                sa.select(ShareCode.code).where(ShareCode.customer_id == customer_id)
            ).scalar_one_or_none()
            if again is not None:  # the shopper's other tab made it a moment ago
                return again
            continue
        return row.code
    raise RuntimeError("could not make a unique share code")


def _plugin_code(customer, target: str) -> tuple[str, str] | None:
    """A plugin's code for the shopper (a distributor's), as ``(code, url)``, or None."""
    answer = hooks().mallow_share_code(store=store_view(current_store()), customer=customer, target=target)
    if isinstance(answer, dict) and isinstance(answer.get("code"), str) and isinstance(answer.get("url"), str):
        if answer["code"] and answer["url"].startswith(("http://", "https://")):
            return answer["code"], answer["url"]
    if answer is not None:
        log.warning("mallow_share_code answered %r: ignored", answer)
    return None


def share_link(shared: Shared, customer=None) -> Link:
    """The link to share ``shared`` by ``customer`` (None: a visitor who is not signed in)."""
    if customer is None:
        return Link(shared.canonical(), None, "none")
    found = _plugin_code(customer, shared.path())
    if found is not None:
        return Link(found[1], found[0], "distributor")
    code = own_code(customer.id)
    return Link(shared.through(code), code, "referral")
