"""One pricing pipeline for carts, checkout and orders (see :mod:`.pipeline`)."""

from mallow.pricing.model import Adjustment, PricedOrder, PricingContext, PricingLine, Problem  # noqa: F401
