"""The plugin's own GraphQL schema, served at `graphql/` behind the plugin route.

Saleor's schema cannot be extended by plugins, so every top-level field is
prefixed `support` to allow composing both schemas later without collisions.
"""

import graphene

from .. import __version__
from .core import SupportRequestor
from .metrics.schema import StatisticsQueries
from .notifications.schema import NotificationQueries
from .price_protection.schema import PriceClaimMutations, PriceClaimQueries
from .staff_tools import StaffToolMutations, StaffToolQueries
from .surveys.schema import SurveyMutations, SurveyQueries
from .tickets import TicketMutations, TicketQueries


class Query(
    TicketQueries,
    StaffToolQueries,
    NotificationQueries,
    PriceClaimQueries,
    SurveyQueries,
    StatisticsQueries,
    graphene.ObjectType,
):
    class Meta:
        description = "Reads from the support API."

    support_version = graphene.String(
        required=True, description="Version of the support plugin serving this API."
    )
    support_requestor = graphene.Field(
        SupportRequestor,
        required=True,
        description="Who the API sees as the caller of this request.",
    )

    @staticmethod
    def resolve_support_version(_root, _info):
        return __version__

    @staticmethod
    def resolve_support_requestor(_root, info):
        requestor = info.context.requestor
        return SupportRequestor(kind=requestor.kind.value, email=requestor.email)


class Mutation(
    TicketMutations,
    StaffToolMutations,
    PriceClaimMutations,
    SurveyMutations,
    graphene.ObjectType,
):
    class Meta:
        description = "Changes through the support API."


schema = graphene.Schema(query=Query, mutation=Mutation)
