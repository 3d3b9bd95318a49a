"""Plain data exchanged with the host's price and refund ports (no Saleor here)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum


@dataclass(frozen=True)
class VariantPrice:
    """A variant's current effective price in one channel, as the shop sells it now.

    `amount` is the discounted price when a promotion applies, else the listing
    price; `gross` says whether the channel enters prices with tax (Saleor's
    `TaxConfiguration.prices_entered_with_tax`), so the policy compares it with
    what the customer paid on the same basis. `metadata`: the product's public
    metadata overlaid with the variant's, where the merchant marks exclusions
    (e.g. `price_protection: exclude`).
    """

    variant_id: str
    channel_slug: str
    amount: Decimal
    currency: str
    gross: bool = True
    metadata: Mapping[str, str] = field(default_factory=dict)


class RefundMethod(StrEnum):
    ORIGINAL_PAYMENT = "original_payment"
    GIFT_CARD = "gift_card"


class RefundStatus(StrEnum):
    # The host reports the money moved (Saleor: REFUND_SUCCESS / a legacy refund).
    SUCCEEDED = "succeeded"
    # Requested; the payment app has not confirmed yet.
    PENDING = "pending"
    # Refused by the payment app or the host (the claim can be retried).
    FAILED = "failed"
    # Nothing on the order can refund: staff must refund by hand.
    MANUAL = "manual"


@dataclass(frozen=True)
class RefundRequest:
    """One refund step of a claim; `key` names it, so the host executes it at most once."""

    key: str
    claim_id: str
    order_id: str
    line_id: str
    amount: Decimal
    currency: str
    method: RefundMethod
    customer_email: str
    channel_slug: str
    # Shown to staff in the host (Saleor: the granted refund's reason).
    reason: str
    # Saleor's refund-reason page id when the store requires one ("" otherwise).
    reason_reference: str = ""


@dataclass(frozen=True)
class RefundResult:
    status: RefundStatus
    # The host's reference: transaction / payment / gift card id (never a secret).
    reference: str = ""
    message: str = ""
    # Gift cards: the code, for the customer's email only (never stored or logged).
    gift_card_code: str = ""
