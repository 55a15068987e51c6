"""Coupons (优惠券): the merchant's coupons, the shoppers' coupons, the coupon stage of pricing.

Modules: :mod:`~mallow.coupons.models` (coupons and holdings, their state machines),
:mod:`~mallow.coupons.rules` (what a coupon takes off a cart, or why it cannot), :mod:`~mallow.coupons.service`
(create/edit/status with the Advertising-Law screening, claim, issue, new members, expiry, the
best coupon for a cart), :mod:`~mallow.coupons.pricing` (Mallow's own hooks: the coupon stage,
locking on the order, used on payment, given back on cancel or full refund) and
:mod:`~mallow.coupons.jobs` (issuing to a list, the expiry sweep).
"""
