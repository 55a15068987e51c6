"""What the pages and the API share: blueprint names, endpoints, JSON shapes."""

from __future__ import annotations

from datetime import UTC
from pathlib import Path

from flask import abort, current_app, url_for

from mallow.sdk import current_store, static_version

TEMPLATES = str(Path(__file__).parent / "templates")
STATIC = str(Path(__file__).parent / "static")


def asset_version(name: str) -> str:
    """A content hash of one of the plugin's static files, for ``?v=``."""
    return static_version(STATIC, name)


#: our blueprint names, one per area (Mallow mounts each under its own name)
BLUEPRINTS = {
    "storefront": "distribution_shop",
    "console": "distribution_console",
    "store_api": "distribution_shop_api",
    "console_api": "distribution_console_api",
}


def endpoint(area: str, view: str) -> str:
    """The app's endpoint of one of our views, whatever name Mallow mounted the blueprint under
    (found through the blueprint object itself; ``.view`` works only inside the same one)."""
    wanted = BLUEPRINTS[area]
    for mounted, blueprint in current_app.blueprints.items():
        if blueprint.name == wanted and blueprint.import_name.startswith("mallow_distribution"):
            return f"{mounted}.{view}"
    return f"{wanted}.{view}"


def referral_link(distributor, target: str | None = None) -> str:
    """The distributor's link; with ``target`` (a path on this site), landing there."""
    values = {"next": target} if target else {}
    return url_for(endpoint("storefront", "referral"), code=distributor.code, _external=True, **values)


def only_open_store():
    store = current_store()
    if store is None or not store.is_open:
        abort(404)


def masked(nickname: str | None) -> str:
    """A shopper's nickname as another shopper sees it: first character and stars."""
    value = (nickname or "").strip()
    if len(value) <= 1:
        return (value or "*") + "**"
    return value[0] + "*" * min(len(value) - 1, 4) + (value[-1] if len(value) > 2 else "")


def iso(moment) -> str | None:
    """An aware UTC timestamp in ISO 8601 (SQLite hands back naive UTC values)."""
    if moment is None:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).isoformat()


def distributor_json(distributor, balances: dict | None = None, link: bool = True) -> dict:
    data = {
        "id": distributor.id,
        "status": distributor.status,
        "code": distributor.code,
        "grade_id": distributor.grade_id,
        "reason": distributor.reason,
        "applied_at": iso(distributor.applied_at),
    }
    if link and distributor.status == "approved":
        data["link"] = referral_link(distributor)
    if balances is not None:
        data["balances"] = {k: v for k, v in balances.items() if k != "merchant"}
    return data


def commission_json(commission, for_staff: bool = False) -> dict:
    data = {
        "id": commission.id,
        "order_number": commission.order_number,
        "level": commission.level,
        "base": commission.base,
        "rate_bp": commission.rate_bp,
        "amount": commission.amount,
        "reversed_amount": commission.reversed_amount,
        "net": commission.net,
        "status": commission.status,
        "created_at": iso(commission.created_at),
        "release_at": iso(commission.release_at),
    }
    if for_staff:
        data.update(
            order_id=commission.order_id,
            distributor_id=commission.distributor_id,
            buyer_id=commission.buyer_id,
            product_id=commission.product_id,
        )
    return data


def withdrawal_json(withdrawal) -> dict:
    return {
        "id": withdrawal.id,
        "distributor_id": withdrawal.distributor_id,
        "amount": withdrawal.amount,
        "status": withdrawal.status,
        "reason": withdrawal.reason,
        "payout_method": withdrawal.payout_method,
        "payout_reference": withdrawal.payout_reference,
        "requested_at": iso(withdrawal.requested_at),
        "decided_at": iso(withdrawal.decided_at),
    }
