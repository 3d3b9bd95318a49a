"""Price protection inside a real Saleor 3.24: the refund executor and the price port.

The executor (`saleor_support_plugin.saleor.refunds`) moves money through
Saleor's own refund paths: a granted refund requested from the payment App
owning a transaction, a legacy payment's gateway, or a Saleor gift card; the
price port (`saleor_support_plugin.saleor.prices`) reads channel listings.
"""

from __future__ import annotations

import threading
import time
from decimal import Decimal

import pytest

pytest.importorskip(
    "saleor",
    reason="Saleor is not installed: the Saleor suite runs only in a Saleor environment",
)

import graphene  # noqa: E402
from django.db import connections  # noqa: E402
from saleor.channel import MarkAsPaidStrategy  # noqa: E402
from saleor.core.jwt import create_access_token  # noqa: E402
from saleor.giftcard import GiftCardEvents  # noqa: E402
from saleor.giftcard.models import GiftCard  # noqa: E402
from saleor.graphql.tests.utils import get_graphql_content  # noqa: E402
from saleor.order import OrderGrantedRefundStatus  # noqa: E402
from saleor.order import events as order_events  # noqa: E402
from saleor.payment import ChargeStatus, TransactionKind  # noqa: E402
from saleor.payment.models import TransactionItem  # noqa: E402
from saleor.plugins.models import PluginConfiguration  # noqa: E402
from saleor.product.models import ProductVariant, ProductVariantChannelListing  # noqa: E402

from saleor_support_plugin import PLUGIN_ID  # noqa: E402
from saleor_support_plugin.notifications.models import (  # noqa: E402
    Notification,
    NotificationStatus,
)
from saleor_support_plugin.price_protection.data import (  # noqa: E402
    RefundMethod,
    RefundRequest,
    RefundResult,
    RefundStatus,
    VariantPrice,
)
from saleor_support_plugin.price_protection.models import (  # noqa: E402
    ClaimSource,
    ClaimState,
    PriceChange,
    PriceClaim,
)
from saleor_support_plugin.saleor import prices, refunds  # noqa: E402
from saleor_support_plugin.tasks import price_protection_sweep_task  # noqa: E402

from . import payment_app as app_fixtures  # noqa: E402
from . import test_worker_in_saleor as worker_fixtures  # noqa: E402
from .fixtures import PLUGIN_PATH, SUPPORT_SENDER_ADDRESS  # noqa: E402
from .payment_app import (  # noqa: E402
    LATER,
    REFUND_FAILURE,
    charge_through_app,
    report_refund,
)

# The test payment App's fixtures, by name.
payment_app_server = app_fixtures.payment_app_server
payment_app = app_fixtures.payment_app
payment_app_api_client = app_fixtures.payment_app_api_client
# A real Celery worker of Saleor's app with Redis and an SMTP server, as in
# test_worker_in_saleor.py.
redis_broker = worker_fixtures.redis_broker
smtp_server = worker_fixtures.smtp_server
saleor_publishes_to = worker_fixtures.saleor_publishes_to
saleor_worker = worker_fixtures.saleor_worker

WEBHOOK_PLUGIN = "saleor.plugins.webhook.plugin.WebhookPlugin"
# Saleor 3.24 keeps its dummy gateway among its test modules.
DUMMY_GATEWAY_PLUGIN = "saleor.plugins.tests.gateways.dummy.DummyGatewayPlugin"

MUTATION_ORDER_MARK_AS_PAID = """
mutation markAsPaid($id: ID!, $reference: String) {
  orderMarkAsPaid(id: $id, transactionReference: $reference) {
    order { isPaid }
    errors { field code message }
  }
}
"""


def refund_request(
    order,
    amount: str,
    *,
    key: str = "claim-1:refund-1",
    method: RefundMethod = RefundMethod.ORIGINAL_PAYMENT,
) -> RefundRequest:
    line = order.lines.order_by("product_sku").first()
    return RefundRequest(
        key=key,
        claim_id="1",
        order_id=str(order.pk),
        line_id=str(line.pk),
        amount=Decimal(amount),
        currency=order.currency,
        method=method,
        customer_email=order.user_email,
        channel_slug=order.channel.slug,
        reason=f"Price protection: {line.product_name} is cheaper now",
    )


def global_id(type_name: str, pk) -> str:
    return graphene.Node.to_global_id(type_name, pk)


# --- Transactions API: a payment App owns the order's transaction ------------


def test_request_refund_grants_and_requests_the_exact_amount_once(
    settings,
    order_with_lines,
    payment_app_server,
    payment_app_api_client,
    django_capture_on_commit_callbacks,
):
    # given an order paid through a transaction the payment App owns, the App
    # answering refund requests with REFUND_SUCCESS
    settings.PLUGINS = [WEBHOOK_PLUGIN]
    order = order_with_lines
    charged = order.total_gross_amount
    transaction_id = charge_through_app(payment_app_api_client, order, charged)
    request = refund_request(order, "7.50")

    # when the plugin requests the refund step, then asks for it again
    with django_capture_on_commit_callbacks(execute=True):
        first = refunds.request_refund(request)
    status = refunds.refund_status(request)
    with django_capture_on_commit_callbacks(execute=True):
        again = refunds.request_refund(request)

    # then Saleor granted 7.50 and asked the App for exactly 7.50, once
    granted_refund = order.granted_refunds.get()
    reference = global_id("OrderGrantedRefund", granted_refund.pk)
    # the request is handed to the App when the transaction commits
    assert first == RefundResult(
        RefundStatus.PENDING,
        reference=reference,
        message="waiting for the payment app to confirm the refund",
    )
    assert status == RefundResult(RefundStatus.SUCCEEDED, reference=reference)
    assert again == status
    assert [
        (seen.amount, seen.currency, seen.transaction_id, seen.granted_refund_id)
        for seen in payment_app_server.requests
    ] == [(Decimal("7.50"), "USD", transaction_id, reference)]
    assert granted_refund.amount_value == Decimal("7.50")
    assert granted_refund.status == OrderGrantedRefundStatus.SUCCESS
    assert granted_refund.reason == (
        "Price protection: Test product is cheaper now [price protection claim-1:refund-1]"
    )
    item = TransactionItem.objects.get(order_id=order.pk)
    assert global_id("TransactionItem", item.token) == transaction_id
    assert granted_refund.transaction_item_id == item.pk
    assert item.refunded_value == Decimal("7.50")
    assert item.charged_value == charged - Decimal("7.50")


def test_request_refund_succeeds_at_once_when_the_app_answers_before_it_returns(
    transactional_db,
    settings,
    order_with_lines,
    payment_app_server,
    payment_app_api_client,
):
    # given the App answering REFUND_SUCCESS, and no transaction around the
    # call: Saleor's eager task sends the webhook as the executor commits
    settings.PLUGINS = [WEBHOOK_PLUGIN]
    order = order_with_lines
    charge_through_app(payment_app_api_client, order, order.total_gross_amount)

    # when
    result = refunds.request_refund(refund_request(order, "3.00"))

    # then the executor reports the App's answer
    granted_refund = order.granted_refunds.get()
    assert result == RefundResult(
        RefundStatus.SUCCEEDED,
        reference=global_id("OrderGrantedRefund", granted_refund.pk),
    )
    assert [seen.amount for seen in payment_app_server.requests] == [Decimal("3.00")]


@pytest.mark.parametrize("by", ["global id", "pk"])
def test_granted_refund_cites_the_refund_reason_page(
    by, settings, order_with_lines, page, payment_app_server, payment_app_api_client
):
    # given a store that cites a refund-reason page, by global id or pk
    settings.PLUGINS = [WEBHOOK_PLUGIN]
    order = order_with_lines
    charge_through_app(payment_app_api_client, order, order.total_gross_amount)
    reference = global_id("Page", page.pk) if by == "global id" else str(page.pk)
    request = RefundRequest(
        **{**refund_request(order, "1.00").__dict__, "reason_reference": reference}
    )

    # when
    refunds.request_refund(request)

    # then the granted refund and its request event cite the page
    granted_refund = order.granted_refunds.get()
    assert granted_refund.reason_reference_id == page.pk
    (event,) = granted_refund.transaction_events.filter(type="refund_request")
    assert event.reason_reference_id == page.pk
    assert event.message == granted_refund.reason


def test_refund_confirmed_later_by_the_app_is_pending_until_its_report(
    settings,
    order_with_lines,
    payment_app_server,
    payment_app_api_client,
    django_capture_on_commit_callbacks,
):
    # given an App that answers with a PSP reference only
    settings.PLUGINS = [WEBHOOK_PLUGIN]
    payment_app_server.answer = LATER
    order = order_with_lines
    transaction_id = charge_through_app(
        payment_app_api_client, order, order.total_gross_amount
    )
    request = refund_request(order, "2.00")
    with django_capture_on_commit_callbacks(execute=True):
        refunds.request_refund(request)

    # when the refund is asked for again before the App reports, then after
    before = refunds.request_refund(request)
    (seen,) = payment_app_server.requests
    report_refund(
        payment_app_api_client, transaction_id, seen.psp_reference, seen.amount
    )
    after = refunds.refund_status(request)

    # then
    assert before.status == RefundStatus.PENDING
    assert after == RefundResult(RefundStatus.SUCCEEDED, reference=before.reference)
    assert len(payment_app_server.requests) == 1
    assert order.granted_refunds.count() == 1


def test_refund_the_app_refuses_fails_and_is_not_requested_again(
    settings,
    order_with_lines,
    payment_app_server,
    payment_app_api_client,
    django_capture_on_commit_callbacks,
):
    # given an App that answers REFUND_FAILURE
    settings.PLUGINS = [WEBHOOK_PLUGIN]
    payment_app_server.answer = REFUND_FAILURE
    order = order_with_lines
    charged = order.total_gross_amount
    charge_through_app(payment_app_api_client, order, charged)
    request = refund_request(order, "2.00")

    # when
    with django_capture_on_commit_callbacks(execute=True):
        refunds.request_refund(request)
    with django_capture_on_commit_callbacks(execute=True):
        again = refunds.request_refund(request)

    # then
    granted_refund = order.granted_refunds.get()
    assert again == RefundResult(
        RefundStatus.FAILED,
        reference=global_id("OrderGrantedRefund", granted_refund.pk),
        message="the refund failed",
    )
    assert granted_refund.status == OrderGrantedRefundStatus.FAILURE
    assert len(payment_app_server.requests) == 1
    assert TransactionItem.objects.get(order_id=order.pk).charged_value == charged


def test_refund_through_an_app_without_a_refund_webhook_fails_with_saleors_reason(
    settings, order_with_lines, app, transaction_item_generator
):
    # given a transaction owned by an App that subscribes to no refund requests
    settings.PLUGINS = [WEBHOOK_PLUGIN]
    order = order_with_lines
    transaction_item_generator(
        order_id=order.pk,
        app=app,
        charged_value=Decimal(50),
        available_actions=["refund"],
    )
    request = refund_request(order, "5.00")

    # when
    result = refunds.request_refund(request)

    # then Saleor's PaymentError is the message; the granted refund stays for staff
    granted_refund = order.granted_refunds.get()
    assert result == RefundResult(
        RefundStatus.FAILED,
        reference=global_id("OrderGrantedRefund", granted_refund.pk),
        message="No app or plugin is configured to handle payment action requests.",
    )
    assert granted_refund.status == OrderGrantedRefundStatus.FAILURE
    assert refunds.refund_status(request) == result


def test_refund_larger_than_any_transaction_can_give_back_is_manual(
    settings, order_with_lines, payment_app, transaction_item_generator
):
    # given two App transactions of 5.00 each
    settings.PLUGINS = [WEBHOOK_PLUGIN]
    order = order_with_lines
    for _ in range(2):
        transaction_item_generator(
            order_id=order.pk, app=payment_app, charged_value=Decimal(5)
        )

    # when a step of 6.00 is requested
    result = refunds.request_refund(refund_request(order, "6.00"))

    # then nothing is granted or requested: staff refund by hand
    assert result == RefundResult(
        RefundStatus.MANUAL,
        message=(
            "no payment transaction has 6.00 USD charged left to refund "
            "(the most is 5.00 USD): refund it by hand"
        ),
    )
    assert not order.granted_refunds.exists()


def test_concurrent_requests_with_one_key_make_one_refund(
    transactional_db,
    settings,
    monkeypatch,
    order_with_lines,
    payment_app_server,
    payment_app_api_client,
):
    # given
    settings.PLUGINS = [WEBHOOK_PLUGIN]
    # Django points the test replica at the test database for this thread's
    # connection only; other threads would read the real database's replica.
    monkeypatch.setitem(
        connections.settings,
        settings.DATABASE_CONNECTION_REPLICA_NAME,
        connections.settings[settings.DATABASE_CONNECTION_DEFAULT_NAME],
    )
    order = order_with_lines
    charge_through_app(payment_app_api_client, order, order.total_gross_amount)
    request = refund_request(order, "4.00")
    barrier = threading.Barrier(8)
    results: list[RefundResult] = []

    def call() -> None:
        try:
            barrier.wait()
            results.append(refunds.request_refund(request))
        finally:
            connections.close_all()

    # when eight workers request the same step at once
    threads = [threading.Thread(target=call) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    # then one refund was granted and requested; every call saw it
    granted_refund = order.granted_refunds.get()
    reference = global_id("OrderGrantedRefund", granted_refund.pk)
    assert len(results) == 8
    assert {result.reference for result in results} == {reference}
    assert [seen.amount for seen in payment_app_server.requests] == [Decimal("4.00")]
    assert refunds.refund_status(request) == RefundResult(
        RefundStatus.SUCCEEDED, reference=reference
    )


# --- Legacy payments ---------------------------------------------------------


def test_request_refund_refunds_a_legacy_payment_through_its_gateway(
    settings, payment_txn_captured, django_capture_on_commit_callbacks
):
    # given an order paid through Saleor's dummy gateway (legacy Payments)
    settings.PLUGINS = [DUMMY_GATEWAY_PLUGIN]
    payment = payment_txn_captured
    order = payment.order
    request = refund_request(order, "5.00")

    # when
    with django_capture_on_commit_callbacks(execute=True):
        first = refunds.request_refund(request)
    with django_capture_on_commit_callbacks(execute=True):
        again = refunds.request_refund(request)

    # then the payment was refunded 5.00 once, and the order knows it
    assert first == RefundResult(
        RefundStatus.SUCCEEDED, reference=global_id("Payment", payment.pk)
    )
    assert again == first
    assert refunds.refund_status(request) == first
    payment.refresh_from_db()
    assert payment.captured_amount == payment.total - Decimal("5.00")
    assert payment.charge_status == ChargeStatus.PARTIALLY_REFUNDED
    assert list(
        payment.transactions.filter(kind=TransactionKind.REFUND).values_list(
            "amount", "is_success"
        )
    ) == [(Decimal("5.00"), True)]
    (event,) = order.events.filter(type=order_events.OrderEvents.PAYMENT_REFUNDED)
    assert event.parameters["amount"] == "5.00"
    assert not order.granted_refunds.exists()


# --- Nothing on the order can refund ------------------------------------------


@pytest.mark.parametrize(
    ("strategy", "message"),
    [
        (
            MarkAsPaidStrategy.TRANSACTION_FLOW,
            "the order was paid without a payment app (e.g. marked as paid): "
            "refund it by hand",
        ),
        (
            MarkAsPaidStrategy.PAYMENT_FLOW,
            "the order was marked as paid by hand: refund it by hand",
        ),
    ],
)
def test_order_marked_as_paid_needs_a_manual_refund(
    strategy,
    message,
    settings,
    order_with_lines,
    staff_api_client,
    permission_group_manage_orders,
):
    # given staff marked the order as paid (no payment app, no gateway)
    settings.PLUGINS = [WEBHOOK_PLUGIN]
    order = order_with_lines
    order.channel.order_mark_as_paid_strategy = strategy
    order.channel.save(update_fields=["order_mark_as_paid_strategy"])
    permission_group_manage_orders.user_set.add(staff_api_client.user)
    response = staff_api_client.post_graphql(
        MUTATION_ORDER_MARK_AS_PAID,
        {"id": global_id("Order", order.pk), "reference": "bank transfer 42"},
    )
    result = get_graphql_content(response)["data"]["orderMarkAsPaid"]
    assert result["errors"] == []
    request = refund_request(order, "5.00")

    # when
    refund = refunds.request_refund(request)

    # then staff must refund by hand; Saleor holds nothing for the key
    assert refund == RefundResult(RefundStatus.MANUAL, message=message)
    assert not order.granted_refunds.exists()
    assert refunds.refund_status(request) is None


# --- Gift cards ----------------------------------------------------------------


def test_request_refund_as_gift_card_issues_one_card_for_the_amount(
    site_settings, order_with_lines
):
    # given
    order = order_with_lines
    request = refund_request(order, "4.25", method=RefundMethod.GIFT_CARD)

    # when
    first = refunds.request_refund(request)
    again = refunds.request_refund(request)

    # then one card of 4.25 USD exists, restricted to the customer
    (gift_card,) = GiftCard.objects.all()
    assert first == RefundResult(
        RefundStatus.SUCCEEDED,
        reference=global_id("GiftCard", gift_card.pk),
        gift_card_code=gift_card.code,
    )
    assert again == first
    assert refunds.refund_status(request) == first
    assert gift_card.initial_balance_amount == Decimal("4.25")
    assert gift_card.current_balance_amount == Decimal("4.25")
    assert gift_card.currency == "USD"
    assert gift_card.is_active
    assert gift_card.assigned_to_id == order.user_id
    assert gift_card.assigned_to_email == order.user.email
    issued = gift_card.events.get(type=GiftCardEvents.ISSUED)
    assert issued.order_id == order.pk
    assert gift_card.events.filter(type=GiftCardEvents.ASSIGNED_TO_USER).exists()


def test_request_refund_in_another_currency_fails_and_moves_nothing(
    site_settings, order_with_lines
):
    # given
    order = order_with_lines
    request = refund_request(order, "4.25", method=RefundMethod.GIFT_CARD)
    request = RefundRequest(**{**request.__dict__, "currency": "EUR"})

    # when
    result = refunds.request_refund(request)

    # then
    assert result == RefundResult(
        RefundStatus.FAILED, message="the refund is in EUR, the order in USD"
    )
    assert not GiftCard.objects.exists()


# --- The price port ----------------------------------------------------------


def test_read_variant_prices_reads_the_effective_price_tax_basis_and_metadata(
    order_with_lines, channel_USD, channel_PLN
):
    # given variant 1 on promotion (8.00 instead of 10.00), variant 2 at its
    # base price only, a variant listed without a price, and a channel whose
    # prices are entered without tax
    first, second = (
        line.variant for line in order_with_lines.lines.order_by("product_sku")
    )
    ProductVariantChannelListing.objects.filter(variant=first).update(
        discounted_price_amount=Decimal(8)
    )
    ProductVariantChannelListing.objects.filter(variant=second).update(
        discounted_price_amount=None
    )
    unpriced = ProductVariant.objects.create(product=second.product, sku="UNPRICED")
    ProductVariantChannelListing.objects.create(
        variant=unpriced, channel=channel_USD, currency="USD", price_amount=None
    )
    ProductVariantChannelListing.objects.create(
        variant=second, channel=channel_PLN, currency="PLN", price_amount=Decimal(80)
    )
    channel_PLN.tax_configuration.prices_entered_with_tax = False
    channel_PLN.tax_configuration.save(update_fields=["prices_entered_with_tax"])
    first.product.metadata = {"price_protection": "exclude", "brand": "product"}
    first.product.save(update_fields=["metadata"])
    first.metadata = {"brand": "variant"}
    first.save(update_fields=["metadata"])
    usd, pln = channel_USD.slug, channel_PLN.slug

    # when
    found = prices.read_variant_prices(
        [
            (str(first.pk), usd),
            (str(second.pk), usd),
            (str(second.pk), pln),
            (str(unpriced.pk), usd),
            ("not-a-number", usd),
            (str(first.pk), "no-such-channel"),
        ]
    )

    # then
    assert found == {
        (str(first.pk), usd): VariantPrice(
            variant_id=str(first.pk),
            channel_slug=usd,
            amount=Decimal(8),
            currency="USD",
            gross=True,
            metadata={"price_protection": "exclude", "brand": "variant"},
        ),
        (str(second.pk), usd): VariantPrice(
            variant_id=str(second.pk),
            channel_slug=usd,
            amount=Decimal(20),
            currency="USD",
            gross=True,
            metadata={},
        ),
        (str(second.pk), pln): VariantPrice(
            variant_id=str(second.pk),
            channel_slug=pln,
            amount=Decimal(80),
            currency="PLN",
            gross=False,
            metadata={},
        ),
    }


@pytest.mark.parametrize("count", [1, 20])
def test_read_variant_prices_takes_one_query_however_many_pairs(
    count, product, channel_USD, django_assert_num_queries
):
    # given count variants listed in the channel
    variants = ProductVariant.objects.bulk_create(
        [ProductVariant(product=product, sku=f"BULK-{n}") for n in range(count)]
    )
    ProductVariantChannelListing.objects.bulk_create(
        [
            ProductVariantChannelListing(
                variant=variant,
                channel=channel_USD,
                currency="USD",
                price_amount=Decimal(n + 1),
            )
            for n, variant in enumerate(variants)
        ]
    )
    pairs = [(str(variant.pk), channel_USD.slug) for variant in variants]

    # when
    with django_assert_num_queries(1):
        found = prices.read_variant_prices(pairs)

    # then
    assert [found[pair].amount for pair in pairs] == [
        Decimal(n + 1) for n in range(count)
    ]


# --- End to end: Saleor's mutations, the plugin's hooks and tasks ---------------

SHOP_URL = "https://shop.example"

MUTATION_VARIANT_LISTING_UPDATE = """
mutation setPrice($id: ID!, $input: [ProductVariantChannelListingAddInput!]!) {
  productVariantChannelListingUpdate(id: $id, input: $input) {
    variant { channelListings { price { amount } } }
    errors { field code message }
  }
}
"""

MUTATION_CLAIM_CREATE = """
mutation claim($input: SupportPriceClaimCreateInput!) {
  supportPriceClaimCreate(input: $input) {
    claim { id reference state amount currency priceBasis ticket { category } }
    errors { field code message }
  }
}
"""

MUTATION_CLAIM_APPROVE = """
mutation approve($id: ID!) {
  supportPriceClaimApprove(id: $id) {
    claim { state approvedAmount }
    errors { field code message }
  }
}
"""

QUERY_CLAIM = """
query claim($id: ID!) {
  supportPriceClaim(id: $id) { reference state amount refundReference }
}
"""


@pytest.fixture
def price_protection_plugin(support_plugin_with_sender, settings):
    """Turn price protection on, beside Saleor's webhook plugin (for payment apps)."""
    support_plugin_with_sender.configuration += [
        {"name": "price_protection_enabled", "value": True},
        {"name": "price_protection_refund_method", "value": "original_payment"},
        {"name": "public_url", "value": SHOP_URL},
    ]
    support_plugin_with_sender.save(update_fields=["configuration"])
    settings.PLUGINS = [PLUGIN_PATH, WEBHOOK_PLUGIN]
    return support_plugin_with_sender


@pytest.fixture
def paid_order(
    price_protection_plugin,
    order_with_lines,
    payment_app_api_client,
    snapshot_saleor_order,
):
    """Return a customer's order paid through the payment App, which the plugin was told about.

    Saleor's fixture: SKU_AA 3 × 10.00 net (12.30 gross), SKU_B 2 × 20.00 net (24.60 gross).
    """
    order = order_with_lines
    charge_through_app(payment_app_api_client, order, order.total_gross_amount)
    snapshot_saleor_order(order)
    return order


def subjects(mailoutbox, order) -> list[str]:
    """Subjects of the plugin's emails about this order, in order sent."""
    return [
        mail.subject
        for mail in mailoutbox
        if SUPPORT_SENDER_ADDRESS in mail.from_email
        and f"#{order.number}" in mail.subject
    ]


@pytest.fixture
def net_prices(channel_USD):
    """Let the channel enter prices net: the fixture's 10.00 net lines match their listings."""
    channel_USD.tax_configuration.prices_entered_with_tax = False
    channel_USD.tax_configuration.save(update_fields=["prices_entered_with_tax"])
    return channel_USD


@pytest.fixture
def set_price(staff_api_client, permission_manage_products, channel_USD):
    """Change a variant's price in the channel with Saleor's own mutation, as staff."""
    staff_api_client.user.user_permissions.add(permission_manage_products)

    def set_price(variant_id, price: str) -> None:
        variables = {
            "id": global_id("ProductVariant", variant_id),
            "input": [
                {"channelId": global_id("Channel", channel_USD.pk), "price": price}
            ],
        }
        response = staff_api_client.post_graphql(
            MUTATION_VARIANT_LISTING_UPDATE, variables
        )
        result = get_graphql_content(response)["data"][
            "productVariantChannelListingUpdate"
        ]
        assert result["errors"] == []

    return set_price


def test_lowering_a_listing_price_refunds_the_difference_once_through_the_payment_app(
    net_prices, paid_order, set_price, payment_app_server, mailoutbox
):
    # given SKU_AA bought at 10.00 net, its listing's price
    order = paid_order
    line = order.lines.get(product_sku="SKU_AA")

    # when staff lower the price to 7.00 with Saleor's mutation, save it again
    # unchanged, and the hourly sweep runs twice
    set_price(line.variant_id, "7.00")
    set_price(line.variant_id, "7.00")
    for _ in range(2):
        price_protection_sweep_task()

    # then one claim was refunded: 3.00 net less per unit is 3.69 gross, × 3
    claim = PriceClaim.objects.get()
    assert claim.state == ClaimState.REFUNDED
    assert claim.source == ClaimSource.AUTOMATIC
    assert claim.refund_amount == Decimal("11.07")
    # Saleor granted and the App was asked for exactly that, once
    granted_refund = order.granted_refunds.get()
    assert granted_refund.amount_value == Decimal("11.07")
    assert granted_refund.status == OrderGrantedRefundStatus.SUCCESS
    assert claim.refund_reference == global_id("OrderGrantedRefund", granted_refund.pk)
    assert [seen.amount for seen in payment_app_server.requests] == [Decimal("11.07")]
    # the customer got the price-protection email, and no second "refund issued"
    assert subjects(mailoutbox, order) == [
        f"We refunded the price difference on order #{order.number}"
    ]


def test_customer_claim_approved_by_staff_is_refunded_once(
    paid_order,
    customer_user,
    staff_users,
    permission_group_manage_orders,
    post_plugin_graphql,
    payment_app_server,
    django_capture_on_commit_callbacks,
    mailoutbox,
):
    # given the customer saw SKU_B (24.60 gross paid) for 20.00 in the store
    order = paid_order
    line = order.lines.get(product_sku="SKU_B")
    customer_token = create_access_token(customer_user)
    staff = staff_users[1]
    assert staff.has_perm("order.manage_orders")
    staff_token = create_access_token(staff)

    # when the customer claims it with their Saleor JWT (each request commits)
    with django_capture_on_commit_callbacks(execute=True):
        response = post_plugin_graphql(
            MUTATION_CLAIM_CREATE,
            token=customer_token,
            variables={
                "input": {
                    "orderLineId": global_id("OrderLine", line.pk),
                    "url": f"{SHOP_URL}/products/test-product-9",
                    "price": "20.00",
                    "currency": "USD",
                }
            },
        )
    created = get_graphql_content(response)["data"]["supportPriceClaimCreate"]
    # and staff approve it
    with django_capture_on_commit_callbacks(execute=True):
        response = post_plugin_graphql(
            MUTATION_CLAIM_APPROVE,
            token=staff_token,
            variables={"id": created["claim"]["id"]},
        )
    approved = get_graphql_content(response)["data"]["supportPriceClaimApprove"]
    # and the refund settles (the App confirmed it on commit) and the sweep runs
    price_protection_sweep_task()
    response = post_plugin_graphql(
        QUERY_CLAIM, token=customer_token, variables={"id": created["claim"]["id"]}
    )
    seen = get_graphql_content(response)["data"]["supportPriceClaim"]

    # then the claim waited for review with a price-protection ticket, 2 × 4.60
    assert created["errors"] == []
    assert created["claim"]["state"] == "PENDING_REVIEW"
    assert created["claim"]["amount"] == "9.20"
    assert created["claim"]["ticket"]["category"] == "PRICE_PROTECTION"
    assert approved["errors"] == []
    assert approved["claim"]["state"] == "APPROVED"
    # and the customer sees it refunded; Saleor refunded exactly 9.20, once
    granted_refund = order.granted_refunds.get()
    assert seen["state"] == "REFUNDED"
    assert granted_refund.amount_value == Decimal("9.20")
    assert granted_refund.status == OrderGrantedRefundStatus.SUCCESS
    assert [seen.amount for seen in payment_app_server.requests] == [Decimal("9.20")]
    assert subjects(mailoutbox, order) == [
        f"We received your price claim {created['claim']['reference']} for order #{order.number}",
        f"We refunded the price difference on order #{order.number}",
    ]


def test_price_drop_on_a_legacy_payment_order_is_refunded_through_its_gateway(
    net_prices,
    price_protection_plugin,
    settings,
    payment_txn_captured,
    snapshot_saleor_order,
    set_price,
    mailoutbox,
):
    # given an order paid through Saleor's dummy gateway (legacy Payments)
    settings.PLUGINS = [PLUGIN_PATH, DUMMY_GATEWAY_PLUGIN]
    payment = payment_txn_captured
    order = payment.order
    snapshot_saleor_order(order)
    line = order.lines.get(product_sku="SKU_AA")

    # when the price drops to 7.00 and the sweep runs
    set_price(line.variant_id, "7.00")
    price_protection_sweep_task()

    # then the payment itself was refunded 11.07, once
    claim = PriceClaim.objects.get()
    assert claim.state == ClaimState.REFUNDED
    assert claim.refund_reference == global_id("Payment", payment.pk)
    payment.refresh_from_db()
    assert payment.captured_amount == payment.total - Decimal("11.07")
    assert list(
        payment.transactions.filter(kind=TransactionKind.REFUND).values_list(
            "amount", flat=True
        )
    ) == [Decimal("11.07")]
    assert not order.granted_refunds.exists()
    assert subjects(mailoutbox, order) == [
        f"We refunded the price difference on order #{order.number}"
    ]


def test_price_drop_on_an_order_marked_as_paid_becomes_a_manual_claim(
    net_prices,
    price_protection_plugin,
    order_with_lines,
    snapshot_saleor_order,
    staff_api_client,
    permission_group_manage_orders,
    set_price,
    mailoutbox,
):
    # given an order staff marked as paid (a transaction without a payment App)
    price_protection_plugin.configuration += [
        {"name": "support_staff_addresses", "value": "desk@shop.example"}
    ]
    price_protection_plugin.save(update_fields=["configuration"])
    order = order_with_lines
    order.channel.order_mark_as_paid_strategy = MarkAsPaidStrategy.TRANSACTION_FLOW
    order.channel.save(update_fields=["order_mark_as_paid_strategy"])
    permission_group_manage_orders.user_set.add(staff_api_client.user)
    response = staff_api_client.post_graphql(
        MUTATION_ORDER_MARK_AS_PAID,
        {"id": global_id("Order", order.pk), "reference": "bank transfer 42"},
    )
    assert get_graphql_content(response)["data"]["orderMarkAsPaid"]["errors"] == []
    snapshot_saleor_order(order)
    line = order.lines.get(product_sku="SKU_AA")

    # when the price drops to 7.00 and the sweep runs twice
    set_price(line.variant_id, "7.00")
    for _ in range(2):
        price_protection_sweep_task()

    # then nothing was granted; the claim waits for a manual refund and
    # staff were emailed once
    claim = PriceClaim.objects.get()
    assert claim.state == ClaimState.MANUAL_REFUND
    assert claim.failure_reason == (
        "the order was paid without a payment app (e.g. marked as paid): "
        "refund it by hand"
    )
    assert not order.granted_refunds.exists()
    staff_mails = [mail for mail in mailoutbox if mail.to == ["desk@shop.example"]]
    assert [mail.subject for mail in staff_mails] == [
        f"Manual refund needed: price claim {claim.reference} on order #{order.number}"
    ]


# --- With a real worker --------------------------------------------------------

SETTLE_TIMEOUT_SECONDS = 120.0


@pytest.fixture
def loopback_webhooks(monkeypatch):
    """Let the worker's Saleor send webhooks to the test App on 127.0.0.1.

    The worker runs Saleor's production settings, which refuse loopback
    addresses; set before the worker starts (it reads its environment).
    """
    monkeypatch.setenv("HTTP_IP_FILTER_ALLOW_LOOPBACK_IPS", "True")


@pytest.fixture
def worker_site(transactional_db, site_settings):
    """Give the worker a current Site: its settings say SITE_ID = 1.

    Saleor's `site_settings` fixture makes a site under the next free id (and
    points this process's SITE_ID at it); the worker needs one with id 1, as
    in a migrated database, to sign and send webhooks.
    """
    from saleor.site.models import Site, SiteSettings

    site, _ = Site.objects.get_or_create(
        pk=1, defaults={"domain": "worker.example.com", "name": "Worker"}
    )
    SiteSettings.objects.get_or_create(
        site=site,
        defaults={
            "default_mail_sender_name": "Example",
            "default_mail_sender_address": "example@example.com",
        },
    )
    return site


def wait_for(done, what: str, worker_log) -> None:
    deadline = time.monotonic() + SETTLE_TIMEOUT_SECONDS
    while not done():
        if time.monotonic() > deadline:
            pytest.fail(
                f"{what} not within {SETTLE_TIMEOUT_SECONDS:.0f} s; "
                f"worker log: {worker_log.read_text()[-5000:]}"
            )
        time.sleep(0.2)


def settled() -> bool:
    return (
        not PriceChange.objects.filter(processed_at__isnull=True).exists()
        and not PriceClaim.objects.exclude(state=ClaimState.REFUNDED).exists()
        and not Notification.objects.filter(status=NotificationStatus.PENDING).exists()
    )


def test_price_drop_with_a_real_worker_is_refunded_once(
    loopback_webhooks,
    transactional_db,
    worker_site,
    net_prices,
    paid_order,
    smtp_server,
    saleor_worker,
    set_price,
    payment_app_server,
):
    # given the plugin mailing through a real SMTP server, and a real worker
    # (four processes) doing the plugin's and Saleor's tasks, webhooks included
    order = paid_order
    plugin = PluginConfiguration.objects.get(identifier=PLUGIN_ID)
    plugin.configuration += [{"name": "smtp_url", "value": smtp_server.url}]
    plugin.save(update_fields=["configuration"])
    line = order.lines.get(product_sku="SKU_AA")

    # when staff lower SKU_AA to 7.00 and save it again (two hooks, two tasks
    # racing in the worker), and two hourly sweeps are queued
    set_price(line.variant_id, "7.00")
    set_price(line.variant_id, "7.00")
    wait_for(
        lambda: PriceClaim.objects.exists() and settled(),
        "the claim refunded",
        saleor_worker,
    )
    for _ in range(2):
        price_protection_sweep_task.delay()
    wait_for(settled, "the sweeps", saleor_worker)

    # then the App was asked for 11.07 once, and Saleor holds one refund of it
    claim = PriceClaim.objects.get()
    assert claim.state == ClaimState.REFUNDED
    assert claim.refund_amount == Decimal("11.07")
    assert [seen.amount for seen in payment_app_server.requests] == [Decimal("11.07")]
    granted_refund = order.granted_refunds.get()
    assert granted_refund.amount_value == Decimal("11.07")
    assert granted_refund.status == OrderGrantedRefundStatus.SUCCESS
    # and the customer got one email about it, and no "refund issued"
    mails = [
        str(message["Subject"])
        for message in smtp_server.messages()
        if f"#{order.number}" in str(message["Subject"])
    ]
    assert mails == [f"We refunded the price difference on order #{order.number}"]
