"""The sandbox's refund executor: records the refund as a payment app would, and emails staff.

Idempotent by the request's key (a unique column, under the order's row
lock), so a repeated or concurrent request moves money once.
"""

from __future__ import annotations

import logging
import secrets
import time
from decimal import Decimal

from django.conf import settings as django_settings
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone

from saleor_support_plugin.ports import load_settings
from saleor_support_plugin.price_protection.data import (
    RefundMethod,
    RefundRequest,
    RefundResult,
    RefundStatus,
)
from saleor_support_plugin.saleor import hooks

from .models import Order, Refund

logger = logging.getLogger(__name__)


def _result(refund: Refund) -> RefundResult:
    return RefundResult(
        RefundStatus.SUCCEEDED,
        reference=f"sandbox-refund-{refund.pk}",
        message=f"{refund.method} refund recorded by the sandbox",
        gift_card_code=refund.gift_card_code,
    )


def refund_status(request: RefundRequest) -> RefundResult | None:
    refund = Refund.objects.filter(key=request.key).first()
    return _result(refund) if refund is not None else None


def request_refund(request: RefundRequest) -> RefundResult:
    with transaction.atomic():
        order = Order.objects.select_for_update().filter(pk=request.order_id).first()
        if order is None:
            return RefundResult(RefundStatus.FAILED, message="the order does not exist")
        existing = Refund.objects.filter(key=request.key).first()
        if existing is not None:
            return _result(existing)
        code = ""
        if request.method == RefundMethod.GIFT_CARD:
            code = secrets.token_hex(6).upper()
        else:
            item = next(
                (
                    t
                    for t in order.payment_transactions.select_for_update()
                    if t.charged_value - t.refunded_value >= request.amount
                ),
                None,
            )
            if item is None:
                return RefundResult(
                    RefundStatus.MANUAL,
                    message="no payment on the order has enough charged value left",
                )
            item.refunded_value += Decimal(request.amount)
            item.modified_at = timezone.now()
            item.save(update_fields=["refunded_value", "modified_at"])
        refund = Refund.objects.create(
            key=request.key,
            order=order,
            amount=request.amount,
            currency=request.currency,
            method=request.method.value,
            gift_card_code=code,
            reason=request.reason,
        )
    # A slow payment provider, for the demo and the crash test: the refund is
    # made (committed) and the answer is late.
    pause = float(getattr(django_settings, "SANDBOX_REFUND_PAUSE_SECONDS", 0) or 0)
    if pause:
        time.sleep(pause)
    _email_staff(refund)
    if request.method != RefundMethod.GIFT_CARD:
        # As Saleor does when a payment app reports REFUND_SUCCESS.
        hooks.order_refunded(refund.order)
    return _result(refund)


def _email_staff(refund: Refund) -> None:
    staff = list(load_settings().support_staff_addresses)
    if not staff:
        return
    try:
        send_mail(
            f"[sandbox] Price-protection refund of {refund.amount} {refund.currency} "
            f"on order #{refund.order.number}",
            f"The sandbox's payment stand-in refunded {refund.amount} {refund.currency} "
            f"({refund.method}) on order #{refund.order.number}.\n\n{refund.reason}\n",
            None,
            staff,
        )
    except Exception:
        logger.warning("Could not email staff about sandbox refund %s", refund.pk)
