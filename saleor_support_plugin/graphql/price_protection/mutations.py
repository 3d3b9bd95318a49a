"""Price-claim mutations: a customer's claim, and staff decisions on claims."""

from __future__ import annotations

import uuid

import graphene
from django.core.exceptions import ValidationError

from ...core.errors import SupportErrorCode, error
from ...price_protection import services
from ...price_protection.models import PriceClaim
from ..base import decode_id
from ..tickets import SupportMutation
from .types import SupportPriceClaim

# The service names fields by what it stores; the errors name the input's fields.
CREATE_FIELDS = {"line_id": "order_line_id"}


def _renamed(exc: ValidationError, names: dict[str, str]) -> ValidationError:
    if not hasattr(exc, "error_dict"):
        return exc
    return ValidationError(
        {names.get(field, field): errors for field, errors in exc.error_dict.items()}
    )


def line_pk(value: str) -> str | None:
    """Saleor's `OrderLine:<uuid>` or the bare UUID, as the snapshot stores it; None otherwise."""
    decoded = decode_id(value, "OrderLine")
    if decoded is not None:
        return decoded
    try:
        return str(uuid.UUID(value.strip()))
    except (AttributeError, ValueError):
        return None


def claim_pk(value: str) -> str:
    # A malformed ID reaches the service as "", which answers NOT_FOUND like a missing claim.
    return decode_id(value, "SupportPriceClaim") or ""


class SupportPriceClaimCreateInput(graphene.InputObjectType):
    order_line_id = graphene.ID(
        required=True,
        description="Saleor's order line ID (`OrderLine:<uuid>`) or its UUID, of one of the caller's orders.",
    )
    url = graphene.String(
        required=True,
        description="The http(s) address of the page showing the lower price (max 2,048 characters).",
    )
    price = graphene.String(
        required=True,
        description="The lower unit price as a decimal number, e.g. `79.90` (at most the currency's decimal places).",
    )
    currency = graphene.String(
        required=True, description="ISO 4217 code of the price; the order's currency."
    )
    note = graphene.String(description="Anything to add (max 2,000 characters).")

    class Meta:
        description = "A customer's claim of a lower price for one order line."


class SupportPriceClaimCreate(SupportMutation):
    claim = graphene.Field(SupportPriceClaim, description="The new claim.")

    class Arguments:
        input = SupportPriceClaimCreateInput(required=True, description="The claim.")

    class Meta:
        description = (
            "Claim a lower price for a line of one of your orders (customers, guests with "
            "a guest token); staff review it in the linked ticket."
        )

    @classmethod
    def perform(cls, info, input):
        context = info.context
        try:
            line_id = line_pk(input["order_line_id"])
            if line_id is None:
                # Answered exactly as a line that is missing or not the caller's.
                raise error(
                    "line_id", "Order line not found.", SupportErrorCode.NOT_FOUND
                )
            claim = services.claim_create(
                requestor=context.requestor,
                settings=context.settings,
                data=services.ClaimInput(
                    line_id=line_id,
                    url=input["url"],
                    price=input["price"],
                    currency=input["currency"],
                    note=input.get("note") or "",
                ),
            )
        except ValidationError as exc:
            raise _renamed(exc, CREATE_FIELDS) from None
        return {"claim": claim}


def _reloaded(claim: PriceClaim) -> PriceClaim:
    return PriceClaim.objects.select_related("order", "line").get(pk=claim.pk)


class SupportPriceClaimApprove(SupportMutation):
    claim = graphene.Field(SupportPriceClaim, description="The approved claim.")

    class Arguments:
        id = graphene.ID(required=True, description="Claim ID.")
        amount = graphene.String(
            description="Approve less than the claim's amount (a decimal number); default: all of it."
        )

    class Meta:
        description = "Approve a claim under review, optionally for less; the refund follows (staff)."

    @classmethod
    def perform(cls, info, id, amount=None):
        claim = services.claim_approve(
            requestor=info.context.requestor,
            settings=info.context.settings,
            claim_id=claim_pk(id),
            amount=amount,
        )
        return {"claim": _reloaded(claim)}


class SupportPriceClaimReject(SupportMutation):
    claim = graphene.Field(SupportPriceClaim, description="The rejected claim.")

    class Arguments:
        id = graphene.ID(required=True, description="Claim ID.")
        reason = graphene.String(
            required=True,
            description="Why, for the customer: shown to them and emailed (max 1,000 characters).",
        )

    class Meta:
        description = "Reject a claim under review or whose refund failed, with the reason the customer sees (staff)."

    @classmethod
    def perform(cls, info, id, reason):
        claim = services.claim_reject(
            requestor=info.context.requestor,
            settings=info.context.settings,
            claim_id=claim_pk(id),
            reason=reason,
        )
        return {"claim": _reloaded(claim)}


class SupportPriceClaimRetry(SupportMutation):
    claim = graphene.Field(SupportPriceClaim, description="The claim, approved again.")

    class Arguments:
        id = graphene.ID(required=True, description="Claim ID.")

    class Meta:
        description = "Request the refund of a failed or manual claim again, as a new step (staff)."

    @classmethod
    def perform(cls, info, id):
        claim = services.claim_retry(
            requestor=info.context.requestor,
            settings=info.context.settings,
            claim_id=claim_pk(id),
        )
        return {"claim": _reloaded(claim)}


class SupportPriceClaimMarkRefunded(SupportMutation):
    claim = graphene.Field(SupportPriceClaim, description="The refunded claim.")

    class Arguments:
        id = graphene.ID(required=True, description="Claim ID.")
        reference = graphene.String(
            description="Your reference of the refund made by hand (max 255 characters)."
        )

    class Meta:
        description = "Record that a claim needing a manual refund was refunded by hand; the customer is told (staff)."

    @classmethod
    def perform(cls, info, id, reference=None):
        claim = services.claim_mark_refunded(
            requestor=info.context.requestor,
            settings=info.context.settings,
            claim_id=claim_pk(id),
            reference=reference or "",
        )
        return {"claim": _reloaded(claim)}
