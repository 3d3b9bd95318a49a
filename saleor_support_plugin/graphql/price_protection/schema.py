"""Price-claim queries and mutations, mixed into the plugin's schema."""

from __future__ import annotations

import graphene
from graphql import GraphQLError

from ...price_protection.selectors import claim_list
from ..base import PaginationError, decode_id, paginate
from .filters import SupportPriceClaimFilterInput, claim_filters, visible_claims
from .mutations import (
    SupportPriceClaimApprove,
    SupportPriceClaimCreate,
    SupportPriceClaimMarkRefunded,
    SupportPriceClaimReject,
    SupportPriceClaimRetry,
)
from .types import (
    SupportPriceClaim,
    SupportPriceClaimCountableConnection,
    is_claim_staff,
    with_visible_tickets,
)


class PriceClaimQueries(graphene.ObjectType):
    support_price_claim = graphene.Field(
        SupportPriceClaim,
        id=graphene.Argument(
            graphene.ID, required=True, description="Global ID of the claim."
        ),
        description="One price claim the caller may see (null when missing or not theirs).",
    )
    support_price_claims = graphene.Field(
        SupportPriceClaimCountableConnection,
        first=graphene.Int(description="Page size from the start (max 100)."),
        last=graphene.Int(description="Page size from the end (max 100)."),
        after=graphene.String(description="Cursor to start after."),
        before=graphene.String(description="Cursor to end before."),
        filter=graphene.Argument(SupportPriceClaimFilterInput, description="Filter."),
        description=(
            "Price claims the caller may see, newest first: their own, or all for staff "
            "with the permission."
        ),
    )

    @staticmethod
    def resolve_support_price_claim(_root, info, id):
        context = info.context
        pk = decode_id(id, "SupportPriceClaim")
        if pk is None:
            return None
        return visible_claims(context.requestor, context.settings).filter(pk=pk).first()

    @staticmethod
    def resolve_support_price_claims(
        _root, info, first=None, last=None, after=None, before=None, filter=None
    ):
        context = info.context
        claims = claim_list(
            visible_claims(context.requestor, context.settings),
            filters=claim_filters(filter, staff=is_claim_staff(context)),
        ).prefetch_related("transitions")
        try:
            page = paginate(
                claims,
                SupportPriceClaimCountableConnection,
                first=first,
                last=last,
                after=after,
                before=before,
            )
        except PaginationError as exc:
            raise GraphQLError(str(exc)) from None
        with_visible_tickets([edge.node for edge in page.edges], context)
        return page


class PriceClaimMutations(graphene.ObjectType):
    support_price_claim_create = SupportPriceClaimCreate.Field(
        description=SupportPriceClaimCreate._meta.description
    )
    support_price_claim_approve = SupportPriceClaimApprove.Field(
        description=SupportPriceClaimApprove._meta.description
    )
    support_price_claim_reject = SupportPriceClaimReject.Field(
        description=SupportPriceClaimReject._meta.description
    )
    support_price_claim_retry = SupportPriceClaimRetry.Field(
        description=SupportPriceClaimRetry._meta.description
    )
    support_price_claim_mark_refunded = SupportPriceClaimMarkRefunded.Field(
        description=SupportPriceClaimMarkRefunded._meta.description
    )
