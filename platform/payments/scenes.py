"""WeChat Pay's scenes: which one a browser gets, and which one an open attempt was made for.

WeChat Pay takes money through one API per *scene*:

* ``jsapi`` -- inside WeChat (``MicroMessenger`` in the user agent): WeChat's payment sheet, with
  the payer's openid from WeChat web authorisation.
* ``h5`` -- a phone's browser outside WeChat: WeChat Pay's page opens WeChat to pay.
* ``native`` (扫码支付) -- a desktop browser: the cashier shows a QR code of the ``code_url`` and
  the payer scans it with WeChat on the phone (H5 pay is for phone browsers only).

:func:`browser_scene` decides from the user agent (the cashier asks it; the ``payOrder`` API takes
the scene from the caller). At WeChat Pay an ``out_trade_no`` belongs to one scene -- the same
number with another trade type is refused -- so a retry reuses an open attempt only for the same
scene (:mod:`mallow.payments.paying`). The scene is kept on the attempt's ``payment_started``
timeline entry (``detail.scene``); entries written before it was kept count as JSAPI with an
openid, H5 without.
"""

from __future__ import annotations

import re

import sqlalchemy as sa

from mallow.db import db
from mallow.orders.models import OrderEvent

WECHATPAY = "wechatpay"
SCENES = ("jsapi", "h5", "native")
#: a phone's (or a tablet's) browser: H5 pay works there, a QR code on its own screen cannot be scanned
PHONE_UA = re.compile(
    r"Mobi|Android|iPhone|iPad|iPod|HarmonyOS|OpenHarmony|Windows Phone|IEMobile|Opera Mini|"
    r"BlackBerry|webOS",
    re.IGNORECASE,
)


def in_wechat(user_agent: str | None) -> bool:
    """The page is open in WeChat's browser (``MicroMessenger`` in the user agent)."""
    return "micromessenger" in (user_agent or "").lower()


def is_phone(user_agent: str | None) -> bool:
    """A phone's or tablet's browser (``Mobi``, ``Android``, ``iPhone``, ``iPad`` … in the user agent)."""
    return bool(PHONE_UA.search(user_agent or ""))


def browser_scene(user_agent: str | None) -> str:
    """The WeChat Pay scene for this browser: ``jsapi`` inside WeChat, ``h5`` on a phone, ``native``
    (a QR code to scan) on a desktop browser."""
    if in_wechat(user_agent):
        return "jsapi"
    return "h5" if is_phone(user_agent) else "native"


def attempt_scene(provider_name: str, scene: str | None, payer_openid: str | None) -> str | None:
    """The scene an attempt is made for: ``None`` for providers without scenes; for WeChat Pay
    JSAPI whenever the payer's openid goes with it, else Native when asked for, else H5."""
    if provider_name != WECHATPAY:
        return None
    if payer_openid:
        return "jsapi"
    return "native" if scene == "native" else "h5"


def recorded_scenes(attempts) -> dict[int, str | None]:
    """The scene of each attempt (``Payment``) of one order, by the attempt's id, from its
    ``payment_started`` timeline entry."""
    attempts = list(attempts)
    if not attempts:
        return {}
    entries = (
        db.session.execute(
            sa.select(OrderEvent.detail).where(
                OrderEvent.order_id == attempts[0].order_id, OrderEvent.kind == "payment_started"
            )
        )
        .scalars()
        .all()
    )
    said = {(detail or {}).get("out_trade_no"): (detail or {}).get("scene") for detail in entries}
    return {
        attempt.id: said.get(attempt.out_trade_no) or attempt_scene(attempt.provider, None, attempt.payer_openid)
        for attempt in attempts
    }
