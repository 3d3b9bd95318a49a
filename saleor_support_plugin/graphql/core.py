"""Shared GraphQL types."""

import graphene

from ..auth import RequestorKind


class SupportRequestorKind(graphene.Enum):
    ANONYMOUS = RequestorKind.ANONYMOUS.value
    GUEST = RequestorKind.GUEST.value
    CUSTOMER = RequestorKind.CUSTOMER.value
    STAFF = RequestorKind.STAFF.value

    class Meta:
        description = "Who is calling the support API."

    @property
    def description(self):
        return {
            RequestorKind.ANONYMOUS.value: "No credentials were sent.",
            RequestorKind.GUEST.value: "A guest who proved an order is theirs.",
            RequestorKind.CUSTOMER.value: "A signed-in customer.",
            RequestorKind.STAFF.value: "A staff member.",
        }.get(self.value)


class SupportRequestor(graphene.ObjectType):
    kind = graphene.Field(
        SupportRequestorKind, required=True, description="What kind of caller this is."
    )
    email = graphene.String(
        description="The caller's email address; null for anonymous callers."
    )

    class Meta:
        description = "The caller of the support API, as the plugin authenticated it."
