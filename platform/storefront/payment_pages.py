"""The ``payments_pages`` blueprint: the storefront's payment pages other than the cashier --
the sandbox's simulated cashier (:mod:`mallow.storefront.sandbox`), WeChat web authorisation and
the JS-SDK's signed ``wx.config`` (:mod:`mallow.storefront.wechat`). Every route is under the
store's prefix and gets its store from the resolver like any other store route; a store that is
not open answers 503 here too. Forms carry the CSRF token (CSRFProtect applies).
"""

from __future__ import annotations

from flask import Blueprint

from mallow.tenants.resolve import store_url_prefix
from mallow.web import blueprints

bp = Blueprint("payments_pages", __name__, url_prefix=store_url_prefix())
bp.before_request(blueprints.only_open_stores)  # like every storefront page
