"""A store as plugin code sees it: who it is and whether it is open, nothing that leads to its
owner or the platform (the ``Store`` row's ``owner`` relationship reaches the merchant's account).
The SDK's ``current_store()`` answers one, and hooks that take a store are handed one."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mallow.tenants.models import Store


@dataclass(frozen=True)
class StoreView:
    id: int
    slug: str
    name: str
    status: str

    @property
    def is_open(self) -> bool:
        return self.status == "open"


def store_view(store: Store | StoreView | None) -> StoreView | None:
    """The :class:`StoreView` of ``store`` (None stays None; a view is returned as it is)."""
    if store is None or isinstance(store, StoreView):
        return store
    return StoreView(id=store.id, slug=store.slug, name=store.name, status=store.status)
