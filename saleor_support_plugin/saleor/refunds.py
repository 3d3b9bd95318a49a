"""The refund executor inside Saleor: one price-protection refund step, at most once.

Each step is named by `RefundRequest.key`, and the key is stored where Saleor
keeps the refund, so a repeat finds it instead of moving money again:

- Transactions API: the granted refund's reason ends with "[price protection <key>]";
- legacy Payments: the payment's private metadata maps the key to the refund transaction;
- gift cards: the card's private metadata holds the key and the order id.

Every step runs under a row lock on Saleor's order, so concurrent calls with
the same key (duplicate hooks, parallel sweeps, task retries) run one after the
other and the second finds the first one's refund.
"""

from __future__ import annotations

import logging
import uuid
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction

from ..price_protection.data import (
    RefundMethod,
    RefundRequest,
    RefundResult,
    RefundStatus,
)

logger = logging.getLogger(__name__)

GIFT_CARD_KEY = "saleor_support_plugin.price_protection.key"
GIFT_CARD_ORDER = "saleor_support_plugin.price_protection.order"
PAYMENT_KEY_PREFIX = "saleor_support_plugin.price_protection:"
# TransactionEvent.message is a CharField(max_length=512).
EVENT_MESSAGE_LIMIT = 512


def _database() -> str:
    return getattr(settings, "DATABASE_CONNECTION_DEFAULT_NAME", "default")


def _marker(key: str) -> str:
    return f"[price protection {key}]"


def _reason(request: RefundRequest, limit: int | None = None) -> str:
    """Build the reason staff see, ending with the key (bracketed: "k1" never matches "k10")."""
    marker = _marker(request.key)
    text = " ".join(request.reason.split())
    if limit is not None:
        text = text[: max(limit - len(marker) - 1, 0)].rstrip()
    return f"{text} {marker}" if text else marker


def _global_id(type_name: str, pk: Any) -> str:
    import graphene

    return graphene.Node.to_global_id(type_name, pk)


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except (TypeError, ValueError):
        return False
    return True


def _granted_refund_result(granted_refund: Any) -> RefundResult:
    from saleor.order import OrderGrantedRefundStatus
    from saleor.payment import TransactionEventType

    reference = _global_id("OrderGrantedRefund", granted_refund.pk)
    if granted_refund.status == OrderGrantedRefundStatus.SUCCESS:
        return RefundResult(RefundStatus.SUCCEEDED, reference=reference)
    if granted_refund.status == OrderGrantedRefundStatus.FAILURE:
        failure = (
            granted_refund.transaction_events.filter(
                type=TransactionEventType.REFUND_FAILURE
            )
            .order_by("created_at")
            .last()
        )
        message = (failure.message if failure else "") or "the refund failed"
        return RefundResult(RefundStatus.FAILED, reference=reference, message=message)
    # NONE or PENDING: asked for, the payment app has not confirmed yet.
    return RefundResult(
        RefundStatus.PENDING,
        reference=reference,
        message="waiting for the payment app to confirm the refund",
    )


def _payment_result(payment: Any, transaction_id: Any) -> RefundResult:
    from saleor.payment import TransactionKind
    from saleor.payment.models import Transaction

    reference = _global_id("Payment", payment.pk)
    refund = (
        Transaction.objects.using(_database())
        .filter(pk=transaction_id, payment_id=payment.pk)
        .first()
    )
    if refund is None or not refund.is_success:
        message = (refund.error if refund else "") or "the refund failed"
        return RefundResult(RefundStatus.FAILED, reference=reference, message=message)
    if refund.kind == TransactionKind.REFUND:
        return RefundResult(RefundStatus.SUCCEEDED, reference=reference)
    return RefundResult(
        RefundStatus.PENDING,
        reference=reference,
        message="the payment gateway has not confirmed the refund yet",
    )


def _find(order_id: str, request: RefundRequest) -> RefundResult | None:
    """Return what Saleor holds for this step's key, or None when it never saw it."""
    from saleor.giftcard.models import GiftCard
    from saleor.order.models import OrderGrantedRefund
    from saleor.payment.models import Payment

    database = _database()
    granted_refund = (
        OrderGrantedRefund.objects.using(database)
        .filter(order_id=order_id, reason__contains=_marker(request.key))
        .order_by("created_at", "pk")
        .first()
    )
    if granted_refund is not None:
        return _granted_refund_result(granted_refund)
    gift_card = (
        GiftCard.objects.using(database)
        .filter(
            private_metadata__contains={
                GIFT_CARD_KEY: request.key,
                GIFT_CARD_ORDER: order_id,
            }
        )
        .first()
    )
    if gift_card is not None:
        return RefundResult(
            RefundStatus.SUCCEEDED,
            reference=_global_id("GiftCard", gift_card.pk),
            gift_card_code=gift_card.code,
        )
    payment_key = PAYMENT_KEY_PREFIX + request.key
    payment = (
        Payment.objects.using(database)
        .filter(order_id=order_id, private_metadata__has_key=payment_key)
        .first()
    )
    if payment is not None:
        return _payment_result(payment, payment.private_metadata[payment_key])
    return None


def refund_status(request: RefundRequest) -> RefundResult | None:
    """Return what Saleor knows of this refund step; None when it never saw its key."""
    from saleor.core.db.connection import allow_writer

    if not _is_uuid(request.order_id):
        return None
    try:
        # The writer: a replica could lag behind a refund just requested.
        with allow_writer():
            return _find(request.order_id, request)
    except Exception:
        logger.exception(
            "Could not read the state of price-protection refund %s", request.key
        )
        # Not None: "never seen" would invite a second request.
        return RefundResult(
            RefundStatus.PENDING, message="could not read the refund's state"
        )


def request_refund(request: RefundRequest) -> RefundResult:
    """Execute one refund step in Saleor; a repeat of its key moves no money. Never raises."""
    from saleor.core.db.connection import allow_writer

    try:
        return _request_refund(request)
    except Exception:
        logger.exception("Price-protection refund %s failed unexpectedly", request.key)
    # The failure may have come after the commit (an on-commit dispatch): say
    # what Saleor holds now, so a refund that was made is never called failed.
    try:
        with allow_writer():
            found = _find(request.order_id, request)
    except Exception:
        logger.exception(
            "Could not read the state of price-protection refund %s", request.key
        )
        return RefundResult(
            RefundStatus.PENDING, message="could not read the refund's state"
        )
    if found is not None:
        return found
    return RefundResult(
        RefundStatus.FAILED, message="unexpected error while requesting the refund"
    )


def _request_refund(request: RefundRequest) -> RefundResult:
    from saleor.core.db.connection import allow_writer
    from saleor.order.lock_objects import order_qs_select_for_update
    from saleor.plugins.manager import get_plugins_manager

    if not _is_uuid(request.order_id):
        return RefundResult(RefundStatus.FAILED, message="no such order")
    if request.amount <= 0:
        return RefundResult(
            RefundStatus.FAILED, message="the refund amount must be positive"
        )
    database = _database()
    with allow_writer():
        with transaction.atomic(using=database):
            # Serializes every step of this order: a concurrent call with the
            # same key waits here and then finds the refund this one made.
            order = (
                order_qs_select_for_update()
                .using(database)
                .select_related("channel", "user")
                .filter(pk=request.order_id)
                .first()
            )
            if order is None:
                return RefundResult(RefundStatus.FAILED, message="no such order")
            found = _find(str(order.pk), request)
            if found is not None:
                return found
            if request.currency != order.currency:
                return RefundResult(
                    RefundStatus.FAILED,
                    message=(
                        f"the refund is in {request.currency}, "
                        f"the order in {order.currency}"
                    ),
                )
            manager = get_plugins_manager(allow_replica=False)
            if request.method == RefundMethod.GIFT_CARD:
                return _issue_gift_card(order, request, manager)
            result = _refund_original_payment(order, request, manager)
        # Committed: Saleor hands the request to the payment app on commit (a
        # Celery task; it runs inline where Celery is eager), so the app may
        # have answered already.
        if result.status == RefundStatus.PENDING:
            return _find(str(order.pk), request) or result
        return result


def _refund_original_payment(
    order: Any, request: RefundRequest, manager: Any
) -> RefundResult:
    from saleor.payment.models import Payment

    database = _database()
    amount = request.amount
    # Read under the order lock: charged values are current.
    transactions = list(
        order.payment_transactions.using(database).order_by("created_at", "pk")
    )
    with_app = [item for item in transactions if item.app_id or item.app_identifier]
    able = [item for item in with_app if item.charged_value >= amount]
    if able:
        # The one with most charged left; the oldest among equals.
        item = max(able, key=lambda item: item.charged_value)
        return _refund_transaction(order, item, request, manager)
    payments = list(
        Payment.objects.using(database)
        .filter(order_id=order.pk, is_active=True)
        .order_by("-pk")
    )
    for payment in payments:
        if (
            not payment.is_manual()
            and payment.can_refund()
            and payment.captured_amount >= amount
        ):
            return _refund_payment(order, payment, request, manager)
    return RefundResult(
        RefundStatus.MANUAL,
        message=_why_manual(amount, order.currency, transactions, with_app, payments),
    )


def _why_manual(
    amount: Decimal,
    currency: str,
    transactions: list[Any],
    with_app: list[Any],
    payments: list[Any],
) -> str:
    from saleor.core.prices import quantize_price

    wanted = f"{quantize_price(amount, currency)} {currency}"
    if with_app:
        most = quantize_price(max(item.charged_value for item in with_app), currency)
        return (
            f"no payment transaction has {wanted} charged left to refund "
            f"(the most is {most} {currency}): refund it by hand"
        )
    if transactions:
        return (
            "the order was paid without a payment app (e.g. marked as paid): "
            "refund it by hand"
        )
    if payments:
        if all(payment.is_manual() for payment in payments):
            return "the order was marked as paid by hand: refund it by hand"
        return (
            f"no payment of the order can refund {wanted} "
            "(not charged or too little captured): refund it by hand"
        )
    return "the order has no payment to refund: refund it by hand"


def _reason_page(reference: str) -> Any:
    """Find the refund-reason page by global id or pk; None when unknown."""
    from graphql_relay import from_global_id
    from saleor.page.models import Page

    if not reference:
        return None
    pk = reference
    if not reference.isdigit():
        try:
            type_name, pk = from_global_id(reference)
        except Exception:
            type_name = ""
        if type_name != "Page" or not str(pk).isdigit():
            logger.warning("Refund reason reference is not a page id")
            return None
    page = Page.objects.using(_database()).filter(pk=int(pk)).first()
    if page is None:
        logger.warning("Refund reason page %s does not exist", pk)
    return page


def _refund_transaction(
    order: Any, item: Any, request: RefundRequest, manager: Any
) -> RefundResult:
    """Grant and request a refund as Saleor's transactionRequestRefundForGrantedRefund does."""
    from saleor.giftcard.const import GIFT_CARD_PAYMENT_GATEWAY_ID
    from saleor.giftcard.gateway import refund_gift_card_transaction
    from saleor.graphql.payment.mutations.transaction.utils import (
        create_transaction_event_requested,
    )
    from saleor.order.utils import (
        calculate_order_granted_refund_status,
        update_order_charge_data,
    )
    from saleor.payment import PaymentError, TransactionAction
    from saleor.payment.gateway import request_refund_action

    # Never more than the transaction can give back (chosen so it can).
    amount = min(request.amount, item.charged_value)
    page = _reason_page(request.reason_reference)
    granted_refund = order.granted_refunds.create(
        amount_value=amount,
        currency=order.currency,
        reason=_reason(request),
        transaction_item=item,
        reason_reference=page,
    )
    update_order_charge_data(order)
    is_gift_card = item.app_identifier == GIFT_CARD_PAYMENT_GATEWAY_ID
    request_event = create_transaction_event_requested(
        item,
        amount,
        TransactionAction.REFUND,
        app_identifier=GIFT_CARD_PAYMENT_GATEWAY_ID if is_gift_card else None,
        reason=_reason(request, limit=EVENT_MESSAGE_LIMIT),
        reason_reference=page,
        related_granted_refund=granted_refund,
    )
    if is_gift_card:
        # Paid with a Saleor gift card: the money goes back onto it, at once.
        refund_gift_card_transaction(item, request_event)
        calculate_order_granted_refund_status(granted_refund)
        return _granted_refund_result(granted_refund)
    try:
        request_refund_action(
            transaction=item,
            manager=manager,
            refund_value=amount,
            request_event=request_event,
            channel_slug=order.channel.slug,
            user=None,
            app=None,
            granted_refund=granted_refund,
        )
    except PaymentError as error:
        # Saleor recorded the failure on the transaction; the granted refund
        # stays (FAILURE) for staff to see and retry.
        calculate_order_granted_refund_status(granted_refund)
        return RefundResult(
            RefundStatus.FAILED,
            reference=_global_id("OrderGrantedRefund", granted_refund.pk),
            message=str(error) or "the payment app cannot refund",
        )
    calculate_order_granted_refund_status(granted_refund)
    return _granted_refund_result(granted_refund)


def _refund_payment(
    order: Any, payment: Any, request: RefundRequest, manager: Any
) -> RefundResult:
    """Refund a legacy payment as Saleor's orderRefund does."""
    from saleor.order import events
    from saleor.order.actions import order_refunded
    from saleor.payment import PaymentError, TransactionKind, gateway

    reference = _global_id("Payment", payment.pk)
    try:
        refund = gateway.refund(
            payment, manager, channel_slug=order.channel.slug, amount=request.amount
        )
    except PaymentError as error:
        message = str(error) or "the payment gateway refused the refund"
        events.payment_failed_event(
            order=order, user=None, app=None, message=message, payment=payment
        )
        return RefundResult(RefundStatus.FAILED, reference=reference, message=message)
    payment.refresh_from_db()
    # In the same transaction as the refund: a repeat of the key finds it.
    payment.store_value_in_private_metadata(
        {PAYMENT_KEY_PREFIX + request.key: str(refund.pk)}
    )
    payment.save(update_fields=["private_metadata"])
    if refund.kind != TransactionKind.REFUND:
        # The gateway confirms later (e.g. REFUND_ONGOING).
        return _payment_result(payment, refund.pk)
    order_refunded(
        order=order,
        user=None,
        app=None,
        amount=request.amount,
        payment=payment,
        manager=manager,
    )
    return RefundResult(RefundStatus.SUCCEEDED, reference=reference)


def _issue_gift_card(order: Any, request: RefundRequest, manager: Any) -> RefundResult:
    """Issue a Saleor gift card for the amount (store credit); the plugin mails the code."""
    from django.contrib.sites.models import Site
    from saleor.core.utils.events import call_event
    from saleor.core.utils.promo_code import generate_promo_code
    from saleor.giftcard import events
    from saleor.giftcard.models import GiftCard, GiftCardEvent
    from saleor.giftcard.utils import calculate_expiry_date

    database = _database()
    site_settings = Site.objects.get_current().settings  # type: ignore[attr-defined]
    # A registered customer's card is restricted to them (a leaked code is of
    # no use to anyone else); a guest's card is usable by whoever holds the code.
    customer = order.user if order.user_id else None
    gift_card = GiftCard.objects.using(database).create(
        code=generate_promo_code(),
        currency=order.currency,
        initial_balance_amount=request.amount,
        current_balance_amount=request.amount,
        expiry_date=calculate_expiry_date(site_settings),
        assigned_to=customer,
        assigned_to_email=customer.email if customer else None,
        private_metadata={GIFT_CARD_KEY: request.key, GIFT_CARD_ORDER: str(order.pk)},
    )
    issued = events.gift_card_issued_event(gift_card=gift_card, user=None, app=None)
    # Linked to the order, so staff see which order the card was issued for.
    GiftCardEvent.objects.using(database).filter(pk=issued.pk).update(order=order)
    if customer is not None:
        events.gift_card_assigned_event(
            gift_card=gift_card,
            previous_user_id=None,
            previous_email=None,
            user=None,
            app=None,
        )
    call_event(manager.gift_card_created, gift_card)
    return RefundResult(
        RefundStatus.SUCCEEDED,
        reference=_global_id("GiftCard", gift_card.pk),
        gift_card_code=gift_card.code,
    )
