"""What the fake WeChat Pay keeps: merchants, orders, refunds (each as WeChat Pay's JSON), and
the log of requests it answered."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa

TRADE_STATE_DESC = {"NOTPAY": "订单未支付", "SUCCESS": "支付成功", "CLOSED": "订单已关闭", "REFUND": "转入退款"}


@dataclass
class FakeMerchantAccount:
    """What WeChat Pay knows about one merchant."""

    mchid: str
    appid: str
    merchant_public_key: rsa.RSAPublicKey
    merchant_serial: str
    platform_private_key: rsa.RSAPrivateKey
    platform_serial: str
    apiv3_key: str


@dataclass
class FakeOrder:
    mchid: str
    appid: str
    out_trade_no: str
    trade_type: str
    description: str
    total_fen: int
    notify_url: str
    identity: dict[str, Any]
    prepay_id: str
    payer_openid: str | None = None
    attach: str | None = None
    h5_url: str | None = None
    code_url: str | None = None
    trade_state: str = "NOTPAY"
    transaction_id: str | None = None
    success_time: str | None = None
    refund_nos: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "appid": self.appid,
            "mchid": self.mchid,
            "out_trade_no": self.out_trade_no,
            "trade_type": self.trade_type,
            "trade_state": self.trade_state,
            "trade_state_desc": TRADE_STATE_DESC[self.trade_state],
            "amount": {"total": self.total_fen, "currency": "CNY"},
        }
        if self.attach is not None:
            data["attach"] = self.attach
        if self.transaction_id is not None:
            data.update(transaction_id=self.transaction_id, bank_type="OTHERS", success_time=self.success_time)
            data["amount"].update(payer_total=self.total_fen, payer_currency="CNY")
        if self.payer_openid is not None:
            data["payer"] = {"openid": self.payer_openid}
        return data


@dataclass
class FakeRefund:
    mchid: str
    out_refund_no: str
    refund_id: str
    out_trade_no: str
    transaction_id: str
    refund_fen: int
    total_fen: int
    create_time: str
    notify_url: str | None
    reason: str | None
    status: str = "PROCESSING"
    success_time: str | None = None

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "refund_id": self.refund_id,
            "out_refund_no": self.out_refund_no,
            "transaction_id": self.transaction_id,
            "out_trade_no": self.out_trade_no,
            "channel": "ORIGINAL",
            "user_received_account": "支付用户零钱",
            "create_time": self.create_time,
            "status": self.status,
            "funds_account": "AVAILABLE",
            "amount": {
                "total": self.total_fen,
                "refund": self.refund_fen,
                "payer_total": self.total_fen,
                "payer_refund": self.refund_fen,
                "settlement_total": self.total_fen,
                "settlement_refund": self.refund_fen,
                "discount_refund": 0,
                "currency": "CNY",
            },
        }
        if self.success_time is not None:
            data["success_time"] = self.success_time
        return data

    def notification_json(self) -> dict[str, Any]:
        """The refund notification's resource schema (``refund_status``, fewer amount fields)."""
        data = {
            "mchid": self.mchid,
            "out_trade_no": self.out_trade_no,
            "transaction_id": self.transaction_id,
            "out_refund_no": self.out_refund_no,
            "refund_id": self.refund_id,
            "refund_status": self.status,
            "user_received_account": "支付用户零钱",
            "amount": {
                "total": self.total_fen,
                "refund": self.refund_fen,
                "payer_total": self.total_fen,
                "payer_refund": self.refund_fen,
            },
        }
        if self.success_time is not None:
            data["success_time"] = self.success_time
        return data


@dataclass(frozen=True)
class RecordedRequest:
    """One request the fake received and how it answered."""

    method: str
    path: str
    mchid: str | None
    status: int
    code: str | None
