"""The events Mallow notifies about: who receives each, the channels on by default, and the
message template in Chinese and English.

Templates are part of the code (not of the translation catalogue): a message is written in the
*recipient's* language (their preference), which is not the language of the request that caused
it. They are short and factual, with no advertising words (they are Mallow's texts, not the
merchant's, so the compliance screening does not run on them).

Channels: ``in_app`` (the 站内信 / 消息 inbox, always on), ``email`` (SMTP), ``sms`` (the SMS
provider), ``wechat`` (a WeChat subscribe message, only after the shopper accepted its template).
Text channels for shoppers are on by default only for the few events a shopper needs to hear of
outside the store (shipped, refund done, a failed group); a coupon about to expire stays in the
inbox unless the shopper turns more on (an SMS about a coupon is marketing).
"""

from __future__ import annotations

from dataclasses import dataclass

CHANNELS = ("in_app", "email", "sms", "wechat")
LANGUAGES = ("zh_CN", "en")


@dataclass(frozen=True)
class Event:
    name: str
    audience: str  # "staff" | "customer"
    #: channels on by default (in_app is always on)
    defaults: tuple[str, ...]
    #: language → (title, body); ``{name}`` placeholders filled from the event's params
    templates: dict[str, tuple[str, str]]
    #: the channels a recipient may choose for this event
    allowed: tuple[str, ...] = ("in_app", "email")


EVENTS: dict[str, Event] = {
    event.name: event
    for event in (
        # --- the merchant's staff ------------------------------------------------------------
        Event(
            "order_paid",
            "staff",
            ("in_app", "email"),
            {
                "zh_CN": ("新订单已付款", "订单 {number} 已付款，金额 ¥{total}，请及时发货。"),
                "en": ("New paid order", "Order {number} was paid (¥{total}). Please ship it."),
            },
        ),
        Event(
            "aftersale_requested",
            "staff",
            ("in_app", "email"),
            {
                "zh_CN": ("新的售后申请", "订单 {number} 申请售后，金额 ¥{amount}，原因：{reason}。请在期限内处理。"),
                "en": (
                    "New after-sales request",
                    "Order {number}: an after-sales request for ¥{amount} ({reason}). Please decide in time.",
                ),
            },
        ),
        Event(
            "qualification_approved",
            "staff",
            ("in_app", "email"),
            {
                "zh_CN": ("资质审核已通过", "您提交的资质已审核通过。"),
                "en": ("Qualification approved", "Your qualification was approved."),
            },
        ),
        Event(
            "qualification_rejected",
            "staff",
            ("in_app", "email"),
            {
                "zh_CN": ("资质审核未通过", "您提交的资质未通过审核，原因：{reason}。请修改后重新提交。"),
                "en": (
                    "Qualification rejected",
                    "Your qualification was rejected: {reason}. Please fix it and resubmit.",
                ),
            },
        ),
        Event(
            "qualification_expiring",
            "staff",
            ("in_app", "email"),
            {
                "zh_CN": ("资质即将到期", "您的资质文件即将到期或需要更新：{message}"),
                "en": ("Qualification expiring", "A qualification document expires soon or needs renewing: {message}"),
            },
        ),
        Event(
            "low_stock",
            "staff",
            ("in_app",),
            {
                "zh_CN": ("库存不足", "{name} 仅剩 {stock} 件。"),
                "en": ("Low stock", "{name} has {stock} left."),
            },
        ),
        # --- the shopper ---------------------------------------------------------------------
        Event(
            "order_shipped",
            "customer",
            ("in_app", "sms", "email", "wechat"),
            {
                "zh_CN": ("订单已发货", "您的订单 {number} 已发货，{carrier} 运单号 {tracking_number}。"),
                "en": ("Order shipped", "Your order {number} has shipped: {carrier} {tracking_number}."),
            },
            CHANNELS,
        ),
        Event(
            "refund_done",
            "customer",
            ("in_app", "sms", "email", "wechat"),
            {
                "zh_CN": ("退款成功", "订单 {number} 已退款 ¥{amount}，将原路退回。"),
                "en": ("Refund done", "Order {number}: ¥{amount} was refunded to the original payment method."),
            },
            CHANNELS,
        ),
        Event(
            "group_succeeded",
            "customer",
            ("in_app", "wechat"),
            {
                "zh_CN": ("拼团成功", "您参加的拼团已成团：{title}。我们将尽快发货。"),
                "en": ("Group complete", "Your group is complete: {title}. Your order will ship soon."),
            },
            CHANNELS,
        ),
        Event(
            "group_failed",
            "customer",
            ("in_app", "sms", "email", "wechat"),
            {
                "zh_CN": ("拼团未成功", "您参加的拼团未成团：{title}。已付款项将原路退回。"),
                "en": ("Group not complete", "Your group did not complete: {title}. Your payment will be refunded."),
            },
            CHANNELS,
        ),
        Event(
            "share_reward",
            "customer",
            ("in_app",),
            {
                "zh_CN": ("好友首单奖励已到账", "您邀请的好友完成了首单，奖励「{reward}」已发放到您的账户。"),
                "en": (
                    "Referral reward received",
                    "A friend you invited completed their first order: your reward “{reward}” is in your account.",
                ),
            },
        ),
        Event(
            "coupon_expiring",
            "customer",
            ("in_app",),
            {
                "zh_CN": ("优惠券即将过期", "您的优惠券「{name}」将于 {expires} 过期。"),
                "en": ("Coupon expiring", "Your coupon “{name}” expires on {expires}."),
            },
            CHANNELS,
        ),
    )
}


def of_audience(audience: str) -> list[Event]:
    return [event for event in EVENTS.values() if event.audience == audience]


class _Params(dict):
    def __missing__(self, key: str) -> str:  # a missing parameter shows as nothing, never a KeyError
        return ""


def render(event: str, language: str, params: dict) -> tuple[str, str]:
    """The title and body of ``event`` in ``language`` (Chinese when the language is unknown)."""
    templates = EVENTS[event].templates
    title, body = templates.get(language) or templates["zh_CN"]
    values = _Params({key: str(value)[:100] for key, value in (params or {}).items()})
    return title.format_map(values)[:120], body.format_map(values)[:500]
