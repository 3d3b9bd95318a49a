"""Price claims as the API shows them: customers see their own, staff everything."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

import graphene

from ...core.money import quantize
from ...price_protection.data import RefundMethod
from ...price_protection.models import (
    ActorKind,
    ClaimSource,
    ClaimState,
    PriceClaim,
    PriceClaimTransition,
)
from ...tickets.selectors import visible_tickets
from ..base import CountableConnection, described_enum, global_id
from ..context import SupportContext

PriceClaimStateEnum = described_enum(
    "SupportPriceClaimState",
    {
        ClaimState.DETECTED: "The shop's price dropped below what was paid; being decided.",
        ClaimState.PENDING_REVIEW: "Waiting for staff to approve or reject it.",
        ClaimState.APPROVED: "Approved; the refund is about to be requested.",
        ClaimState.REFUND_REQUESTED: "Refund requested; waiting for the payment to confirm it.",
        ClaimState.REFUNDED: "The difference was refunded.",
        ClaimState.FAILED: "The refund failed; staff can retry it.",
        ClaimState.MANUAL_REFUND: "No payment can refund it automatically; staff refund by hand.",
        ClaimState.REJECTED: "Rejected; `rejectionReason` says why.",
    },
    "Where a price claim is in its life.",
)
PriceClaimSourceEnum = described_enum(
    "SupportPriceClaimSource",
    {
        ClaimSource.AUTOMATIC: "The plugin saw the shop's own price drop.",
        ClaimSource.CUSTOMER: "The customer showed a lower price.",
    },
    "Where a price claim came from.",
)
PriceBasisEnum = described_enum(
    "SupportPriceBasis",
    {
        "gross": "Prices with tax (the channel enters prices with tax).",
        "net": "Prices without tax (the channel enters prices without tax).",
    },
    "Whether unit prices include tax.",
)
RefundMethodEnum = described_enum(
    "SupportPriceRefundMethod",
    {
        RefundMethod.ORIGINAL_PAYMENT: "Back to the original payment.",
        RefundMethod.GIFT_CARD: "A gift card (store credit) sent to the customer.",
    },
    "How a price claim is refunded.",
)
ActorKindEnum = described_enum(
    "SupportPriceClaimActorKind",
    {
        ActorKind.SYSTEM: "The plugin itself (detection, refund execution).",
        ActorKind.STAFF: "A staff member.",
        ActorKind.CUSTOMER: "The customer.",
        ActorKind.HOST: "The shop's payment system reporting back.",
    },
    "Who made a claim's state change.",
)


def is_claim_staff(context: SupportContext) -> bool:
    """Staff with the support permission: they see every claim and its internals."""
    return context.requestor.has_perm(context.settings.staff_permission)


def money(amount: Decimal | None, currency: str) -> str | None:
    return None if amount is None else str(quantize(amount, currency))


def _ticket_type() -> type[graphene.ObjectType]:
    # tickets.py shows a ticket's claims on its order: imported when the schema is built.
    from ..tickets import SupportTicket

    return SupportTicket


class SupportPriceClaimOrder(graphene.ObjectType):
    id = graphene.ID(required=True, description="Saleor's order ID (`Order:<uuid>`).")
    number = graphene.String(required=True, description="Order number.")

    class Meta:
        description = "The order a price claim is about."


class SupportPriceClaimLine(graphene.ObjectType):
    id = graphene.ID(
        required=True, description="Saleor's order line ID (`OrderLine:<uuid>`)."
    )
    product_name = graphene.String(
        required=True, description="Product name at purchase."
    )
    variant_name = graphene.String(
        required=True, description="Variant name at purchase."
    )
    sku = graphene.String(description="SKU at purchase.")

    class Meta:
        description = "The order line a price claim is about, as bought."


class SupportPriceClaimTransition(graphene.ObjectType):
    from_state = graphene.Field(
        PriceClaimStateEnum, description="State before; null for the claim's opening."
    )
    to_state = graphene.Field(
        PriceClaimStateEnum, required=True, description="State after."
    )
    at = graphene.DateTime(required=True, description="When it changed.")
    actor_kind = graphene.Field(
        ActorKindEnum, required=True, description="Who or what changed it."
    )
    actor_id = graphene.ID(
        description="Saleor user ID of the staff member or customer (staff only)."
    )
    actor_email = graphene.String(
        description="Email of the staff member or customer (staff only)."
    )
    note = graphene.String(
        description=(
            "What was decided and why; the payment system's own words only for staff."
        )
    )

    class Meta:
        description = "One state change of a price claim."

    @staticmethod
    def resolve_from_state(root: PriceClaimTransition, _info):
        return root.from_state or None

    @staticmethod
    def resolve_at(root: PriceClaimTransition, _info):
        return root.created_at

    @staticmethod
    def resolve_actor_id(root: PriceClaimTransition, info):
        if not is_claim_staff(info.context) or not root.actor_id:
            return None
        return global_id("User", root.actor_id)

    @staticmethod
    def resolve_actor_email(root: PriceClaimTransition, info):
        if not is_claim_staff(info.context):
            return None
        return root.actor_email or None

    @staticmethod
    def resolve_note(root: PriceClaimTransition, info):
        # The payment system's answers (a refused card, a provider's error)
        # are the claim's `failureReason`: staff only.
        if root.actor_kind == ActorKind.HOST and not is_claim_staff(info.context):
            return None
        return root.note or None


class SupportPriceClaim(graphene.ObjectType):
    id = graphene.ID(
        required=True, description="Global ID (`SupportPriceClaim:<uuid>`)."
    )
    reference = graphene.String(
        required=True, description="The claim as people say it, `PC-<number>`."
    )
    state = graphene.Field(
        PriceClaimStateEnum, required=True, description="Where the claim is."
    )
    source = graphene.Field(
        PriceClaimSourceEnum, required=True, description="Detected or claimed."
    )
    order = graphene.Field(
        SupportPriceClaimOrder, required=True, description="The order."
    )
    line = graphene.Field(
        SupportPriceClaimLine, required=True, description="The order line."
    )
    customer_email = graphene.String(required=True, description="The customer's email.")
    channel = graphene.String(
        required=True, description="Slug of the channel the order was placed in."
    )
    quantity = graphene.Int(
        required=True, description="Items the claim covers (those the customer kept)."
    )
    price_basis = graphene.Field(
        PriceBasisEnum,
        required=True,
        description="Whether the unit prices below include tax.",
    )
    paid_unit_price = graphene.String(
        required=True, description="Unit price paid, quantized to the currency."
    )
    new_unit_price = graphene.String(
        required=True, description="The lower unit price, quantized to the currency."
    )
    amount = graphene.String(
        required=True,
        description="What the policy found refundable, quantized to the currency.",
    )
    approved_amount = graphene.String(
        description="What was approved (at most `amount`); null until approved."
    )
    currency = graphene.String(required=True, description="ISO 4217 currency code.")
    refund_method = graphene.Field(
        RefundMethodEnum, required=True, description="How it is refunded."
    )
    evidence_url = graphene.String(
        description="Where the customer saw the lower price; null for detected drops."
    )
    other_shop = graphene.Boolean(
        required=True, description="The lower price is another shop's."
    )
    note = graphene.String(description="The customer's note; null when none.")
    rejection_reason = graphene.String(
        description="Why it was rejected, for the customer; null unless rejected."
    )
    failure_reason = graphene.String(
        description="Why the refund failed or needs a manual refund (staff only)."
    )
    refund_reference = graphene.String(
        description="The payment system's reference of the refund (staff only)."
    )
    created_at = graphene.DateTime(required=True, description="When it was opened.")
    updated_at = graphene.DateTime(required=True, description="Last change.")
    refunded_at = graphene.DateTime(description="When the refund was confirmed.")
    ticket = graphene.Field(
        _ticket_type,
        description="The support ticket about the claim, when the caller may see it.",
    )
    transitions = graphene.List(
        graphene.NonNull(SupportPriceClaimTransition),
        required=True,
        description="Every state change, oldest first.",
    )

    class Meta:
        description = "A claim to be refunded the difference of a lower price."

    @staticmethod
    def resolve_id(root: PriceClaim, _info):
        return global_id("SupportPriceClaim", root.pk)

    @staticmethod
    def resolve_order(root: PriceClaim, _info):
        return SupportPriceClaimOrder(
            id=global_id("Order", root.order.order_id), number=root.order.number
        )

    @staticmethod
    def resolve_line(root: PriceClaim, _info):
        line = root.line
        return SupportPriceClaimLine(
            id=global_id("OrderLine", line.line_id),
            product_name=line.product_name,
            variant_name=line.variant_name,
            sku=line.sku,
        )

    @staticmethod
    def resolve_channel(root: PriceClaim, _info):
        return root.channel_slug

    @staticmethod
    def resolve_paid_unit_price(root: PriceClaim, _info):
        return money(root.paid_unit_price, root.currency)

    @staticmethod
    def resolve_new_unit_price(root: PriceClaim, _info):
        return money(root.new_unit_price, root.currency)

    @staticmethod
    def resolve_amount(root: PriceClaim, _info):
        return money(root.amount, root.currency)

    @staticmethod
    def resolve_approved_amount(root: PriceClaim, _info):
        return money(root.approved_amount, root.currency)

    @staticmethod
    def resolve_evidence_url(root: PriceClaim, _info):
        return root.evidence_url or None

    @staticmethod
    def resolve_note(root: PriceClaim, _info):
        return root.note or None

    @staticmethod
    def resolve_rejection_reason(root: PriceClaim, _info):
        return root.rejection_reason or None

    @staticmethod
    def resolve_failure_reason(root: PriceClaim, info):
        return (root.failure_reason or None) if is_claim_staff(info.context) else None

    @staticmethod
    def resolve_refund_reference(root: PriceClaim, info):
        if not is_claim_staff(info.context):
            return None
        return root.refund_reference or None

    @staticmethod
    def resolve_ticket(root: PriceClaim, info):
        if root.ticket_id is None:
            return None
        if hasattr(root, VISIBLE_TICKET):
            return getattr(root, VISIBLE_TICKET)
        context = info.context
        return (
            visible_tickets(context.requestor, context.settings)
            .filter(pk=root.ticket_id)
            .first()
        )

    @staticmethod
    def resolve_transitions(root: PriceClaim, _info):
        return root.transitions.all()


# Set on the claims of a page: the ticket the caller may see, read for all at once.
VISIBLE_TICKET = "_support_visible_ticket"


def with_visible_tickets(
    claims: Iterable[PriceClaim], context: SupportContext
) -> list[PriceClaim]:
    """Read the tickets the caller may see of these claims in one query."""
    claims = list(claims)
    ids = {claim.ticket_id for claim in claims if claim.ticket_id is not None}
    tickets = (
        {
            ticket.pk: ticket
            for ticket in visible_tickets(context.requestor, context.settings).filter(
                pk__in=ids
            )
        }
        if ids
        else {}
    )
    for claim in claims:
        ticket = tickets.get(claim.ticket_id) if claim.ticket_id is not None else None
        setattr(claim, VISIBLE_TICKET, ticket)
    return claims


class SupportPriceClaimCountableConnection(CountableConnection):
    class Meta:
        node = SupportPriceClaim
        description = "A page of price claims."
