"""The price-claim API: customers' claims with every error code, staff decisions, who sees what."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from graphql_relay import to_global_id

from saleor_support_plugin.notifications.models import Notification
from saleor_support_plugin.price_protection.models import (
    ClaimState,
    PriceClaim,
    PriceClaimTransition,
)
from saleor_support_plugin.saleor import hooks
from saleor_support_plugin.tickets.guest import make_guest_token
from saleor_support_plugin.tickets.models import Ticket, TicketCategory
from sandbox.order.models import Refund

from .factories import refund
from .fixtures.graphql import SupportApiClient, get_graphql_content
from .fixtures.price_protection import buy, reconcile_all
from .fixtures.tickets import GuestApiClient

SHOP = "https://shop.example"

MUTATION_CLAIM_CREATE = """
mutation claim($input: SupportPriceClaimCreateInput!) {
  supportPriceClaimCreate(input: $input) {
    claim {
      id reference state source quantity priceBasis paidUnitPrice newUnitPrice amount
      approvedAmount currency refundMethod evidenceUrl otherShop note customerEmail
      order { id number }
      line { id productName variantName sku }
      ticket { id reference category }
      transitions { fromState toState actorKind actorEmail note }
    }
    errors { field code message }
  }
}
"""

MUTATION_APPROVE = """
mutation approve($id: ID!, $amount: String) {
  supportPriceClaimApprove(id: $id, amount: $amount) {
    claim { state amount approvedAmount }
    errors { field code message }
  }
}
"""

MUTATION_REJECT = """
mutation reject($id: ID!, $reason: String!) {
  supportPriceClaimReject(id: $id, reason: $reason) {
    claim { state rejectionReason }
    errors { field code message }
  }
}
"""

MUTATION_RETRY = """
mutation retry($id: ID!) {
  supportPriceClaimRetry(id: $id) { claim { state } errors { field code message } }
}
"""

MUTATION_MARK_REFUNDED = """
mutation markRefunded($id: ID!, $reference: String) {
  supportPriceClaimMarkRefunded(id: $id, reference: $reference) {
    claim { state refundReference refundedAt }
    errors { field code message }
  }
}
"""

QUERY_CLAIM = """
query claim($id: ID!) {
  supportPriceClaim(id: $id) {
    reference state amount approvedAmount rejectionReason failureReason refundReference
    refundedAt ticket { reference }
    transitions { fromState toState at actorKind actorId actorEmail note }
  }
}
"""

QUERY_CLAIMS = """
query claims($first: Int, $after: String, $filter: SupportPriceClaimFilterInput) {
  supportPriceClaims(first: $first, after: $after, filter: $filter) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { node {
      reference state source customerEmail channel order { number }
      ticket { reference } transitions { toState actorEmail }
    } }
  }
}
"""

QUERY_TICKET_ORDER_CLAIMS = """
query ticket($id: ID!) {
  supportTicket(id: $id) { order { number priceClaims { reference state amount } } }
}
"""


@pytest.fixture
def shop(db, price_config):
    """Price protection on; the store's own pages are on shop.example."""
    price_config(public_url=SHOP)
    return price_config


def line_gid(line) -> str:
    return to_global_id("OrderLine", str(line.id))


def claim_gid(claim: PriceClaim) -> str:
    return to_global_id("SupportPriceClaim", str(claim.pk))


def claim_input(line, **overrides) -> dict:
    return {
        "input": {
            "orderLineId": line_gid(line),
            "url": f"{SHOP}/products/trail-runner",
            "price": "80.00",
            "currency": "USD",
            **overrides,
        }
    }


def create(client, line, **overrides) -> dict:
    response = client.post_graphql(
        MUTATION_CLAIM_CREATE, claim_input(line, **overrides)
    )
    return get_graphql_content(response)["data"]["supportPriceClaimCreate"]


def written() -> tuple[int, int, int, int]:
    """Count what a claim writes: claims, their transitions, tickets, notifications."""
    return (
        PriceClaim.objects.count(),
        PriceClaimTransition.objects.count(),
        Ticket.objects.count(),
        Notification.objects.count(),
    )


def claimed(client, line, **overrides) -> PriceClaim:
    result = create(client, line, **overrides)
    assert result["errors"] == []
    return PriceClaim.objects.get(line__line_id=str(line.id))


def data(client, query, variables, name):
    return get_graphql_content(client.post_graphql(query, variables))["data"][name]


def decide(client, mutation, name, **variables) -> dict:
    return data(client, mutation, variables, name)


# --- a customer's claim


def test_customer_claims_a_lower_price_for_review_with_a_ticket(
    customer_api_client, customer_user, shop
):
    # given
    order, line = buy(price="100.00", quantity=2, user=customer_user)

    # when
    result = create(customer_api_client, line, note="Same shoe, 80 on your site.")

    # then
    assert result["errors"] == []
    claim = result["claim"]
    assert claim["state"] == "PENDING_REVIEW"
    assert claim["source"] == "CUSTOMER"
    assert claim["reference"].startswith("PC-")
    assert claim["quantity"] == 2
    assert claim["priceBasis"] == "GROSS"
    assert claim["paidUnitPrice"] == "100.00"
    assert claim["newUnitPrice"] == "80.00"
    assert claim["amount"] == "40.00"
    assert claim["approvedAmount"] is None
    assert claim["currency"] == "USD"
    assert claim["refundMethod"] == "ORIGINAL_PAYMENT"
    assert claim["evidenceUrl"] == f"{SHOP}/products/trail-runner"
    assert claim["otherShop"] is False
    assert claim["note"] == "Same shoe, 80 on your site."
    assert claim["customerEmail"] == "alice@example.com"
    assert claim["order"] == {
        "id": to_global_id("Order", str(order.id)),
        "number": str(order.number),
    }
    assert claim["line"]["id"] == line_gid(line)
    assert claim["line"]["productName"] == line.product_name
    assert claim["line"]["sku"] == line.product_sku
    assert claim["transitions"] == [
        {
            "fromState": None,
            "toState": "PENDING_REVIEW",
            "actorKind": "CUSTOMER",
            "actorEmail": None,
            "note": "claimed by the customer",
        }
    ]
    ticket = Ticket.objects.get()
    assert ticket.category == TicketCategory.PRICE_PROTECTION
    assert claim["ticket"] == {
        "id": to_global_id("SupportTicket", str(ticket.pk)),
        "reference": f"T-{ticket.number}",
        "category": "PRICE_PROTECTION",
    }
    assert PriceClaim.objects.get().ticket == ticket
    received = Notification.objects.get(kind="price_claim_received")
    assert received.recipient == "alice@example.com"


def test_guest_claims_with_a_guest_token_and_a_raw_line_uuid(shop):
    # given
    order, line = buy(price="100.00", user=None, user_email="guest@example.com")
    guest = GuestApiClient(make_guest_token(str(order.id), "guest@example.com"))

    # when
    result = create(guest, line, orderLineId=str(line.id), price="99.00")

    # then
    assert result["errors"] == []
    assert result["claim"]["state"] == "PENDING_REVIEW"
    assert result["claim"]["amount"] == "1.00"
    assert result["claim"]["transitions"][0]["actorKind"] == "CUSTOMER"
    assert Ticket.objects.get().category == TicketCategory.PRICE_PROTECTION
    assert Notification.objects.filter(
        kind="price_claim_received", recipient="guest@example.com"
    ).exists()


def test_claim_of_another_shop_when_accepted_is_marked(
    customer_api_client, customer_user, shop
):
    # given
    shop(public_url=SHOP, price_protection_other_shops=True)
    _, line = buy(price="100.00", user=customer_user)

    # when
    result = create(customer_api_client, line, url="https://cheaper.example/deal")

    # then
    assert result["errors"] == []
    assert result["claim"]["otherShop"] is True


# --- a customer's claim refused: a coded error, and nothing written


def test_another_customers_line_answers_exactly_like_a_missing_line(
    customer_api_client, other_customer_user, shop
):
    # given
    _, bobs_line = buy(price="100.00", user=other_customer_user)
    before = written()

    # when
    answers = [
        create(customer_api_client, bobs_line)["errors"],
        create(customer_api_client, bobs_line, orderLineId=str(bobs_line.id))["errors"],
        create(
            customer_api_client,
            bobs_line,
            orderLineId=to_global_id("OrderLine", str(uuid.uuid4())),
        )["errors"],
        create(customer_api_client, bobs_line, orderLineId="not-an-id")["errors"],
        create(
            customer_api_client,
            bobs_line,
            orderLineId=to_global_id("Order", str(bobs_line.order_id)),
        )["errors"],
    ]

    # then
    expected = [
        {
            "field": "orderLineId",
            "code": "NOT_FOUND",
            "message": "Order line not found.",
        }
    ]
    assert answers == [expected] * 5
    assert written() == before


def test_guest_token_of_another_order_answers_not_found(shop):
    # given
    _, line = buy(price="100.00", user=None, user_email="guest@example.com")
    other, _ = buy(price="100.00", user=None, user_email="guest@example.com")
    guest = GuestApiClient(make_guest_token(str(other.id), "guest@example.com"))
    before = written()

    # when
    result = create(guest, line)

    # then
    assert [e["code"] for e in result["errors"]] == ["NOT_FOUND"]
    assert written() == before


def test_order_outside_the_window(customer_api_client, customer_user, shop):
    # given
    shop(public_url=SHOP, price_protection_window_days=30)
    _, line = buy(
        price="100.00",
        user=customer_user,
        placed_at=datetime.now(UTC) - timedelta(days=45),
    )
    before = written()

    # when
    result = create(customer_api_client, line)

    # then
    assert [(e["field"], e["code"]) for e in result["errors"]] == [
        ("orderLineId", "OUTSIDE_WINDOW")
    ]
    assert result["claim"] is None
    assert written() == before


def test_product_excluded_by_listing_metadata(customer_api_client, customer_user, shop):
    # given
    _, line = buy(
        price="100.00", user=customer_user, metadata={"price_protection": "exclude"}
    )
    before = written()

    # when
    result = create(customer_api_client, line)

    # then
    assert [(e["field"], e["code"]) for e in result["errors"]] == [
        ("orderLineId", "EXCLUDED_PRODUCT")
    ]
    assert written() == before


@pytest.mark.parametrize("price", ["100.00", "120.00"])
def test_price_not_lower_than_paid(customer_api_client, customer_user, shop, price):
    # given
    _, line = buy(price="100.00", user=customer_user)
    before = written()

    # when
    result = create(customer_api_client, line, price=price)

    # then
    assert [(e["field"], e["code"]) for e in result["errors"]] == [
        ("price", "PRICE_NOT_LOWER")
    ]
    assert written() == before


def test_price_in_another_currency(customer_api_client, customer_user, shop):
    # given
    _, line = buy(price="100.00", user=customer_user)
    before = written()

    # when
    result = create(customer_api_client, line, currency="EUR")

    # then
    assert [(e["field"], e["code"]) for e in result["errors"]] == [
        ("currency", "CURRENCY_MISMATCH")
    ]
    assert written() == before


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(document.cookie)",
        "JavaScript://shop.example/%0aalert(1)",
        "not a url",
        "ftp://shop.example/trail-runner",
        "https://",
        "https://shop.example/<script>",
        "",
    ],
)
def test_malformed_url(customer_api_client, customer_user, shop, url):
    # given
    _, line = buy(price="100.00", user=customer_user)
    before = written()

    # when
    result = create(customer_api_client, line, url=url)

    # then
    assert [(e["field"], e["code"]) for e in result["errors"]] == [
        ("url", "INVALID_URL")
    ]
    assert written() == before


def test_other_shop_while_not_accepted(customer_api_client, customer_user, shop):
    # given: only the store's own prices are accepted (the default)
    _, line = buy(price="100.00", user=customer_user)
    before = written()

    # when
    result = create(customer_api_client, line, url="https://cheaper.example/deal")

    # then
    assert [(e["field"], e["code"]) for e in result["errors"]] == [
        ("url", "OTHER_SHOP_NOT_ACCEPTED")
    ]
    assert written() == before


@pytest.mark.parametrize("price", ["80.00", "70.00"])
def test_second_claim_while_one_is_open(
    customer_api_client, customer_user, shop, price
):
    # given: the same claim submitted twice, or a lower price while the first is open
    _, line = buy(price="100.00", user=customer_user)
    claimed(customer_api_client, line, price="80.00")
    before = written()

    # when
    result = create(customer_api_client, line, price=price)

    # then
    assert [(e["field"], e["code"]) for e in result["errors"]] == [
        ("orderLineId", "DUPLICATE_CLAIM")
    ]
    assert written() == before


def test_nothing_left_to_refund(customer_api_client, customer_user, shop, on_commit):
    # given: the shop refunded the whole order
    order, line = buy(price="100.00", user=customer_user)
    refund(order, Decimal("100.00"))
    on_commit(hooks.order_refunded, order)
    on_commit(reconcile_all)
    before = written()

    # when
    result = create(customer_api_client, line)

    # then
    assert [(e["field"], e["code"]) for e in result["errors"]] == [
        ("price", "AMOUNT_TOO_HIGH")
    ]
    assert written() == before


def test_anonymous_and_staff_cannot_claim(api_client, staff_api_client, shop):
    # given
    _, line = buy(price="100.00")
    before = written()

    # when
    answers = [
        create(client, line)["errors"] for client in (api_client, staff_api_client)
    ]

    # then
    assert [[e["code"] for e in errors] for errors in answers] == [
        ["PERMISSION_DENIED"],
        ["PERMISSION_DENIED"],
    ]
    assert written() == before


# --- staff decisions


def test_staff_approve_for_less_refunds_exactly_that_through_the_sandbox(
    customer_api_client,
    customer_user,
    staff_api_client,
    shop,
    django_capture_on_commit_callbacks,
):
    # given
    order, line = buy(price="100.00", user=customer_user)
    claim = claimed(customer_api_client, line, price="80.00")

    # when
    with django_capture_on_commit_callbacks(execute=True):
        result = decide(
            staff_api_client,
            MUTATION_APPROVE,
            "supportPriceClaimApprove",
            id=claim_gid(claim),
            amount="15.00",
        )

    # then
    assert result["errors"] == []
    assert result["claim"]["approvedAmount"] == "15.00"
    assert result["claim"]["amount"] == "20.00"
    made = Refund.objects.get()
    assert made.amount == Decimal("15.000")
    assert made.order_id == order.pk
    seen = data(
        customer_api_client, QUERY_CLAIM, {"id": claim_gid(claim)}, "supportPriceClaim"
    )
    assert seen["state"] == "REFUNDED"
    assert seen["approvedAmount"] == "15.00"
    assert seen["refundedAt"] is not None
    assert [t["toState"] for t in seen["transitions"]] == [
        "PENDING_REVIEW",
        "APPROVED",
        "REFUND_REQUESTED",
        "REFUNDED",
    ]
    assert Notification.objects.filter(kind="price_refunded").count() == 1


def test_staff_approve_above_the_claimed_amount(
    customer_api_client,
    customer_user,
    staff_api_client,
    shop,
    django_capture_on_commit_callbacks,
):
    # given
    _, line = buy(price="100.00", user=customer_user)
    claim = claimed(customer_api_client, line, price="80.00")

    # when
    with django_capture_on_commit_callbacks(execute=True):
        result = decide(
            staff_api_client,
            MUTATION_APPROVE,
            "supportPriceClaimApprove",
            id=claim_gid(claim),
            amount="20.01",
        )

    # then
    assert [(e["field"], e["code"]) for e in result["errors"]] == [
        ("amount", "AMOUNT_TOO_HIGH")
    ]
    assert result["claim"] is None
    claim.refresh_from_db()
    assert claim.state == ClaimState.PENDING_REVIEW
    assert claim.approved_amount is None
    assert not Refund.objects.exists()


def test_staff_reject_with_a_reason_the_customer_sees(
    customer_api_client, customer_user, staff_api_client, shop
):
    # given
    _, line = buy(price="100.00", user=customer_user)
    claim = claimed(customer_api_client, line, price="80.00")

    # when
    result = decide(
        staff_api_client,
        MUTATION_REJECT,
        "supportPriceClaimReject",
        id=claim_gid(claim),
        reason="That price was for members of the outlet club only.",
    )

    # then
    assert result["errors"] == []
    assert result["claim"]["state"] == "REJECTED"
    seen = data(
        customer_api_client, QUERY_CLAIM, {"id": claim_gid(claim)}, "supportPriceClaim"
    )
    assert seen["state"] == "REJECTED"
    assert (
        seen["rejectionReason"] == "That price was for members of the outlet club only."
    )
    rejected = Notification.objects.get(kind="price_claim_rejected")
    assert rejected.recipient == "alice@example.com"
    assert not Refund.objects.exists()


def test_staff_reject_needs_a_reason(
    customer_api_client, customer_user, staff_api_client, shop
):
    # given
    _, line = buy(price="100.00", user=customer_user)
    claim = claimed(customer_api_client, line)

    # when
    result = decide(
        staff_api_client,
        MUTATION_REJECT,
        "supportPriceClaimReject",
        id=claim_gid(claim),
        reason="  ",
    )

    # then
    assert [(e["field"], e["code"]) for e in result["errors"]] == [
        ("reason", "REQUIRED")
    ]
    assert not Notification.objects.filter(kind="price_claim_rejected").exists()


def test_staff_retry_of_a_failed_refund_requests_a_new_step(
    customer_api_client,
    customer_user,
    staff_api_client,
    shop,
    django_capture_on_commit_callbacks,
):
    # given: the payment app refused the first refund step
    _, line = buy(price="100.00", user=customer_user)
    claim = claimed(customer_api_client, line, price="80.00")
    PriceClaim.objects.filter(pk=claim.pk).update(
        state=ClaimState.FAILED,
        approved_amount=Decimal("20.00"),
        refund_attempt=1,
        refund_key=f"ssp-price-claim-{claim.number}-1",
        failure_reason="card expired",
    )

    # when
    with django_capture_on_commit_callbacks(execute=True):
        result = decide(
            staff_api_client,
            MUTATION_RETRY,
            "supportPriceClaimRetry",
            id=claim_gid(claim),
        )

    # then
    assert result["errors"] == []
    made = Refund.objects.get()
    assert made.key == f"ssp-price-claim-{claim.number}-2"
    assert made.amount == Decimal("20.000")
    claim.refresh_from_db()
    assert claim.state == ClaimState.REFUNDED


def test_retry_of_a_claim_under_review_is_refused(
    customer_api_client, customer_user, staff_api_client, shop
):
    # given
    _, line = buy(price="100.00", user=customer_user)
    claim = claimed(customer_api_client, line)

    # when
    result = decide(
        staff_api_client, MUTATION_RETRY, "supportPriceClaimRetry", id=claim_gid(claim)
    )

    # then
    assert [(e["field"], e["code"]) for e in result["errors"]] == [
        ("id", "INVALID_STATUS")
    ]
    assert not Refund.objects.exists()


def manual_claim(customer_api_client, staff_api_client, customer_user, capture):
    """Return a claim staff approved on an order no payment can refund (marked paid by hand)."""
    order, line = buy(price="100.00", user=customer_user)
    order.payment_transactions.update(charged_value=Decimal(0))
    claim = claimed(customer_api_client, line, price="80.00")
    with capture(execute=True):
        decide(
            staff_api_client,
            MUTATION_APPROVE,
            "supportPriceClaimApprove",
            id=claim_gid(claim),
        )
    claim.refresh_from_db()
    assert claim.state == ClaimState.MANUAL_REFUND
    return claim


def test_staff_mark_refunded_settles_a_manual_claim(
    customer_api_client,
    customer_user,
    staff_api_client,
    shop,
    django_capture_on_commit_callbacks,
):
    # given
    claim = manual_claim(
        customer_api_client,
        staff_api_client,
        customer_user,
        django_capture_on_commit_callbacks,
    )

    # when
    result = decide(
        staff_api_client,
        MUTATION_MARK_REFUNDED,
        "supportPriceClaimMarkRefunded",
        id=claim_gid(claim),
        reference="bank transfer 4711",
    )

    # then
    assert result["errors"] == []
    assert result["claim"]["state"] == "REFUNDED"
    assert result["claim"]["refundReference"] == "bank transfer 4711"
    assert result["claim"]["refundedAt"] is not None
    assert not Refund.objects.exists()
    assert Notification.objects.filter(kind="price_refunded").count() == 1
    assert Notification.objects.filter(kind="price_refund_manual").exists()


@pytest.mark.parametrize(
    "caller",
    [
        "customer_api_client",
        "guest_api_client",
        "staff_without_permission_api_client",
        "api_client",
    ],
)
def test_only_staff_with_the_permission_decide(
    request, customer_api_client, customer_user, shop, caller
):
    # given
    _, line = buy(price="100.00", user=customer_user)
    claim = claimed(customer_api_client, line)
    client = request.getfixturevalue(caller)

    # when
    answers = [
        decide(
            client, MUTATION_APPROVE, "supportPriceClaimApprove", id=claim_gid(claim)
        ),
        decide(
            client,
            MUTATION_REJECT,
            "supportPriceClaimReject",
            id=claim_gid(claim),
            reason="no",
        ),
        decide(client, MUTATION_RETRY, "supportPriceClaimRetry", id=claim_gid(claim)),
        decide(
            client,
            MUTATION_MARK_REFUNDED,
            "supportPriceClaimMarkRefunded",
            id=claim_gid(claim),
        ),
    ]

    # then
    assert [[e["code"] for e in answer["errors"]] for answer in answers] == [
        ["PERMISSION_DENIED"]
    ] * 4
    claim.refresh_from_db()
    assert claim.state == ClaimState.PENDING_REVIEW
    assert PriceClaimTransition.objects.filter(claim=claim).count() == 1


def test_staff_decision_on_an_unknown_claim(staff_api_client, shop):
    # when
    answers = [
        decide(staff_api_client, MUTATION_APPROVE, "supportPriceClaimApprove", id=value)
        for value in (
            to_global_id("SupportPriceClaim", str(uuid.uuid4())),
            to_global_id("SupportTicket", str(uuid.uuid4())),
            "garbage",
        )
    ]

    # then
    assert [[(e["field"], e["code"]) for e in a["errors"]] for a in answers] == [
        [("id", "NOT_FOUND")]
    ] * 3


# --- who sees what


def test_customers_never_see_anothers_claims(
    customer_api_client,
    other_customer_api_client,
    customer_user,
    other_customer_user,
    shop,
):
    # given
    _, alices_line = buy(price="100.00", user=customer_user)
    _, bobs_line = buy(price="100.00", user=other_customer_user)
    alices = claimed(customer_api_client, alices_line)
    bobs = claimed(other_customer_api_client, bobs_line)

    # when
    alice_list = data(
        customer_api_client, QUERY_CLAIMS, {"first": 10}, "supportPriceClaims"
    )
    bob_list = data(
        other_customer_api_client, QUERY_CLAIMS, {"first": 10}, "supportPriceClaims"
    )
    alice_reads_bobs = data(
        customer_api_client, QUERY_CLAIM, {"id": claim_gid(bobs)}, "supportPriceClaim"
    )
    alice_filters_bobs_order = data(
        customer_api_client,
        QUERY_CLAIMS,
        {"first": 10, "filter": {"orderId": str(bobs_line.order_id)}},
        "supportPriceClaims",
    )

    # then
    assert alice_list["totalCount"] == 1
    assert [e["node"]["reference"] for e in alice_list["edges"]] == [alices.reference]
    assert [e["node"]["reference"] for e in bob_list["edges"]] == [bobs.reference]
    assert alice_reads_bobs is None
    assert alice_filters_bobs_order["totalCount"] == 0


@pytest.mark.parametrize(
    ("caller", "count"),
    [
        ("api_client", 0),
        ("staff_without_permission_api_client", 0),
        ("guest_api_client", 0),
        ("staff_api_client", 2),
    ],
)
def test_listing_by_caller(
    request, customer_api_client, customer_user, shop, caller, count
):
    # given: two claims of a signed-in customer
    for _ in range(2):
        _, line = buy(price="100.00", user=customer_user)
        claimed(customer_api_client, line)
    client = request.getfixturevalue(caller)

    # when
    listed = data(client, QUERY_CLAIMS, {"first": 10}, "supportPriceClaims")
    read = data(
        client,
        QUERY_CLAIM,
        {"id": claim_gid(PriceClaim.objects.earliest("created_at"))},
        "supportPriceClaim",
    )

    # then
    assert listed["totalCount"] == count
    assert len(listed["edges"]) == count
    assert (read is not None) == (count > 0)


def test_guest_sees_the_claims_of_the_proven_order_only(
    customer_api_client, customer_user, shop
):
    # given
    order, line = buy(price="100.00", user=None, user_email="guest@example.com")
    guest = GuestApiClient(make_guest_token(str(order.id), "guest@example.com"))
    mine = claimed(guest, line)
    _, alices_line = buy(price="100.00", user=customer_user)
    claimed(customer_api_client, alices_line)

    # when
    listed = data(guest, QUERY_CLAIMS, {"first": 10}, "supportPriceClaims")

    # then
    assert [e["node"]["reference"] for e in listed["edges"]] == [mine.reference]
    assert listed["edges"][0]["node"]["ticket"] is not None


def test_staff_only_fields_are_null_for_customers(
    customer_api_client,
    customer_user,
    staff_api_client,
    staff_user,
    shop,
    django_capture_on_commit_callbacks,
):
    # given: a refund no payment could make, settled by hand
    claim = manual_claim(
        customer_api_client,
        staff_api_client,
        customer_user,
        django_capture_on_commit_callbacks,
    )
    decide(
        staff_api_client,
        MUTATION_MARK_REFUNDED,
        "supportPriceClaimMarkRefunded",
        id=claim_gid(claim),
        reference="bank transfer 4711",
    )
    variables = {"id": claim_gid(claim)}

    # when
    customer_sees = data(
        customer_api_client, QUERY_CLAIM, variables, "supportPriceClaim"
    )
    staff_sees = data(staff_api_client, QUERY_CLAIM, variables, "supportPriceClaim")

    # then
    assert customer_sees["state"] == staff_sees["state"] == "REFUNDED"
    assert customer_sees["failureReason"] is None
    assert customer_sees["refundReference"] is None
    assert {(t["actorId"], t["actorEmail"]) for t in customer_sees["transitions"]} == {
        (None, None)
    }
    host_notes = [
        t["note"] for t in customer_sees["transitions"] if t["actorKind"] == "HOST"
    ]
    assert host_notes == [None]
    assert staff_sees["failureReason"] == (
        "no payment on the order has enough charged value left"
    )
    assert staff_sees["refundReference"] == "bank transfer 4711"
    staff_steps = [
        (t["toState"], t["actorKind"], t["actorEmail"])
        for t in staff_sees["transitions"]
    ]
    assert staff_steps == [
        ("PENDING_REVIEW", "CUSTOMER", "alice@example.com"),
        ("APPROVED", "STAFF", "staff@example.com"),
        ("REFUND_REQUESTED", "SYSTEM", None),
        ("MANUAL_REFUND", "HOST", None),
        ("REFUNDED", "STAFF", "staff@example.com"),
    ]
    assert staff_sees["transitions"][1]["actorId"] == to_global_id(
        "User", str(staff_user.pk)
    )
    assert staff_sees["transitions"][3]["note"] == staff_sees["failureReason"]


def test_staff_filters(
    customer_api_client,
    other_customer_api_client,
    customer_user,
    other_customer_user,
    staff_api_client,
    shop,
):
    # given
    alice_order, alices_line = buy(price="100.00", user=customer_user)
    bob_order, bobs_line = buy(price="100.00", user=other_customer_user, channel="eu")
    alices = claimed(customer_api_client, alices_line)
    bobs = claimed(other_customer_api_client, bobs_line)
    decide(
        staff_api_client,
        MUTATION_REJECT,
        "supportPriceClaimReject",
        id=claim_gid(bobs),
        reason="Not the same model.",
    )
    PriceClaim.objects.filter(pk=alices.pk).update(
        created_at=datetime.now(UTC) - timedelta(days=3)
    )
    now = datetime.now(UTC)

    def refs(**filter_):
        listed = data(
            staff_api_client,
            QUERY_CLAIMS,
            {"first": 10, "filter": filter_},
            "supportPriceClaims",
        )
        return [e["node"]["reference"] for e in listed["edges"]]

    # when / then
    assert refs() == [bobs.reference, alices.reference]
    assert refs(states=["REJECTED"]) == [bobs.reference]
    assert refs(states=["PENDING_REVIEW", "REJECTED"]) == [
        bobs.reference,
        alices.reference,
    ]
    assert refs(orderId=to_global_id("Order", str(alice_order.id))) == [
        alices.reference
    ]
    assert refs(orderId=str(bob_order.id)) == [bobs.reference]
    assert refs(orderNumber=f"#{alice_order.number}") == [alices.reference]
    assert refs(customerEmail="Bob@Example.com") == [bobs.reference]
    assert refs(channel="eu") == [bobs.reference]
    assert refs(source="CUSTOMER") == [bobs.reference, alices.reference]
    assert refs(source="AUTOMATIC") == []
    assert refs(createdFrom=(now - timedelta(days=1)).isoformat()) == [bobs.reference]
    assert refs(createdTo=(now - timedelta(days=1)).isoformat()) == [alices.reference]


def test_filter_refusals(customer_api_client, staff_api_client, shop):
    # when
    by_customer = customer_api_client.post_graphql(
        QUERY_CLAIMS, {"first": 10, "filter": {"customerEmail": "bob@example.com"}}
    )
    bad_order = staff_api_client.post_graphql(
        QUERY_CLAIMS, {"first": 10, "filter": {"orderId": "nope"}}
    )
    no_page = staff_api_client.post_graphql(QUERY_CLAIMS, {})

    # then
    messages = [
        get_graphql_content(response, ignore_errors=True)["errors"][0]["message"]
        for response in (by_customer, bad_order, no_page)
    ]
    assert messages == [
        "Filtering by customer is for staff.",
        "`orderId` is not an order ID.",
        "Pass `first` or `last` (at most 100).",
    ]


def test_pagination_and_a_constant_number_of_queries(
    customer_api_client, customer_user, staff_api_client, shop
):
    # given
    for _ in range(6):
        _, line = buy(price="100.00", user=customer_user)
        claimed(customer_api_client, line)

    def page(client: SupportApiClient, first: int, after: str | None = None):
        with CaptureQueriesContext(connection) as queries:
            listed = data(
                client,
                QUERY_CLAIMS,
                {"first": first, "after": after},
                "supportPriceClaims",
            )
        return listed, len(queries)

    # when
    first_page, _ = page(staff_api_client, 4)
    second_page, _ = page(staff_api_client, 4, first_page["pageInfo"]["endCursor"])
    _, queries_for_two = page(customer_api_client, 2)
    _, queries_for_six = page(customer_api_client, 6)

    # then
    assert first_page["totalCount"] == 6
    assert first_page["pageInfo"]["hasNextPage"] is True
    assert len(first_page["edges"]) == 4
    assert len(second_page["edges"]) == 2
    assert second_page["pageInfo"]["hasNextPage"] is False
    listed = [
        e["node"]["reference"] for e in first_page["edges"] + second_page["edges"]
    ]
    assert len(set(listed)) == 6
    assert queries_for_two == queries_for_six


def test_ticket_order_shows_the_claims_the_caller_may_see(
    customer_api_client,
    customer_user,
    staff_api_client,
    other_customer_api_client,
    shop,
):
    # given
    _, line = buy(price="100.00", user=customer_user)
    claim = claimed(customer_api_client, line)
    ticket_id = to_global_id("SupportTicket", str(claim.ticket_id))
    expected = [
        {"reference": claim.reference, "state": "PENDING_REVIEW", "amount": "20.00"}
    ]

    # when
    as_customer = data(
        customer_api_client,
        QUERY_TICKET_ORDER_CLAIMS,
        {"id": ticket_id},
        "supportTicket",
    )
    as_staff = data(
        staff_api_client, QUERY_TICKET_ORDER_CLAIMS, {"id": ticket_id}, "supportTicket"
    )
    as_other = data(
        other_customer_api_client,
        QUERY_TICKET_ORDER_CLAIMS,
        {"id": ticket_id},
        "supportTicket",
    )

    # then
    assert as_customer["order"]["priceClaims"] == expected
    assert as_staff["order"]["priceClaims"] == expected
    assert as_other is None


def test_guest_token_for_an_account_order_opens_none_of_its_claims(
    customer_api_client, customer_user, shop
):
    # given: a token naming an order placed with an account (as tokens minted
    # before guest tokens were limited to guest orders could)
    order, line = buy(price="100.00", user=customer_user)
    alices = claimed(customer_api_client, line)
    guest = GuestApiClient(make_guest_token(str(order.id), customer_user.email))

    # when
    listed = data(guest, QUERY_CLAIMS, {"first": 10}, "supportPriceClaims")
    read = data(guest, QUERY_CLAIM, {"id": claim_gid(alices)}, "supportPriceClaim")

    # then
    assert listed["totalCount"] == 0
    assert read is None
