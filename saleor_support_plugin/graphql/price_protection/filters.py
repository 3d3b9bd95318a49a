"""Which claims a caller may see, and the staff filter over them."""

from __future__ import annotations

import uuid
from typing import Any

import graphene
from django.db.models import Q, QuerySet
from graphql import GraphQLError

from ...auth import Requestor
from ...conf import SupportSettings
from ...price_protection.models import PriceClaim
from ...price_protection.selectors import claims_visible_to
from ..base import decode_id
from .types import PriceClaimSourceEnum, PriceClaimStateEnum


def visible_claims(
    requestor: Requestor, settings: SupportSettings
) -> QuerySet[PriceClaim]:
    """Claims the caller may see: all for staff with the permission, else their own.

    As with tickets, staff without the permission see none, and a guest token
    opens only an order placed without an account, for the address it was made for.
    """
    staff = requestor.has_perm(settings.staff_permission)
    if requestor.is_staff and not staff:
        return PriceClaim.objects.none()
    claims = claims_visible_to(requestor, staff=staff)
    if requestor.is_guest:
        claims = claims.filter(
            Q(order__user_id__isnull=True) | Q(order__user_id=""),
            order__customer_email__iexact=requestor.email or "",
        )
    return claims


class SupportPriceClaimFilterInput(graphene.InputObjectType):
    states = graphene.List(
        graphene.NonNull(PriceClaimStateEnum), description="Any of these states."
    )
    order_id = graphene.ID(
        description="Of this order: Saleor's order ID (`Order:<uuid>`) or its UUID."
    )
    order_number = graphene.String(description="Of this order number.")
    customer_email = graphene.String(description="Of this customer (staff only).")
    channel = graphene.String(description="In this channel (slug).")
    source = graphene.Field(
        PriceClaimSourceEnum, description="Detected drops or customers' claims."
    )
    created_from = graphene.DateTime(description="Opened at or after this time.")
    created_to = graphene.DateTime(description="Opened before this time.")

    class Meta:
        description = "Filter price claims."


STAFF_ONLY_FILTERS = ("customer_email",)


def order_pk(value: str) -> str | None:
    """Saleor's `Order:<uuid>` or the bare UUID, as the snapshot stores it; None otherwise."""
    decoded = decode_id(value, "Order")
    if decoded is not None:
        return decoded
    try:
        return str(uuid.UUID(value.strip()))
    except (AttributeError, ValueError):
        return None


def claim_filters(data: dict[str, Any] | None, *, staff: bool) -> dict[str, Any]:
    """Turn the filter input into `selectors.claim_list` filters; refuse what the caller may not use."""
    data = dict(data or {})
    if not staff and any(data.get(name) is not None for name in STAFF_ONLY_FILTERS):
        raise GraphQLError("Filtering by customer is for staff.")
    if data.get("order_id") is not None:
        data["order_id"] = order_pk(data["order_id"])
        if data["order_id"] is None:
            raise GraphQLError("`orderId` is not an order ID.")
    if data.get("order_number"):
        data["order_number"] = data["order_number"].strip().lstrip("#")
    if data.get("customer_email"):
        data["customer_email"] = data["customer_email"].strip()
    return data
