"""Imports every model module, so that both metadata sets are complete (app start, Alembic)."""

from mallow.accounts import models as _accounts  # noqa: F401
from mallow.analytics import models as _analytics  # noqa: F401
from mallow.aftersales import models as _aftersales  # noqa: F401
from mallow.audit import AuditEntry as _audit  # noqa: F401
from mallow.builder import models as _builder  # noqa: F401
from mallow.cart import models as _cart  # noqa: F401
from mallow.chat import models as _chat  # noqa: F401
from mallow.catalog import models as _catalog  # noqa: F401
from mallow.compliance import findings as _findings, terms as _terms  # noqa: F401
from mallow.coupons import models as _coupons  # noqa: F401
from mallow.developers import models as _developers  # noqa: F401
from mallow.inventory import models as _inventory  # noqa: F401
from mallow.media import models as _media  # noqa: F401
from mallow.membership import models as _membership  # noqa: F401
from mallow.notices import Notice as _notice  # noqa: F401
from mallow.notifications import models as _notifications  # noqa: F401
from mallow.orders import models as _orders  # noqa: F401
from mallow.payments import models as _payments  # noqa: F401
from mallow.plugin_host import models as _plugin_releases  # noqa: F401
from mallow.plugins import models as _store_plugins  # noqa: F401
from mallow.privacy import models as _privacy  # noqa: F401
from mallow.qualifications import matrix as _matrix, models as _qualifications  # noqa: F401
from mallow import settings as _settings  # noqa: F401
from mallow.sharing import models as _sharing  # noqa: F401
from mallow.shipping import models as _shipping  # noqa: F401
from mallow.tenants import models as _tenants  # noqa: F401
