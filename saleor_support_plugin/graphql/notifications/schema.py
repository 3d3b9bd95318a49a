"""Staff queries over the outbox: "did the customer get the shipping email?"."""

from __future__ import annotations

import graphene
from graphql import GraphQLError

from ...core.errors import PermissionDenied
from ...notifications.selectors import order_id_for_number, order_updates
from ..base import decode_id
from .types import SupportOrderUpdates


class NotificationQueries(graphene.ObjectType):
    support_order_updates = graphene.Field(
        SupportOrderUpdates,
        order=graphene.Argument(
            graphene.ID, description="Saleor's order ID (`Order:<uuid>`)."
        ),
        order_number=graphene.String(description="Or the order number."),
        description=(
            "Every update planned for one order with its delivery state, and every "
            "event recorded for it (staff). Null when no such order is known."
        ),
    )

    @staticmethod
    def resolve_support_order_updates(_root, info, order=None, order_number=None):
        if (order is None) == (order_number is None):
            raise GraphQLError("Pass exactly one of `order` and `orderNumber`.")
        context = info.context
        if not context.requestor.has_perm(context.settings.staff_permission):
            raise GraphQLError(
                "Order updates are for staff with the support permission."
            )
        order_id = (
            decode_id(order, "Order")
            if order is not None
            else order_id_for_number(order_number or "")
        )
        if order_id is None:
            return None
        try:
            updates = order_updates(
                requestor=context.requestor,
                settings=context.settings,
                order_id=order_id,
            )
        except PermissionDenied:
            raise GraphQLError(
                "Order updates are for staff with the support permission."
            ) from None
        if updates.order is None and not updates.notifications and not updates.events:
            return None
        return updates
