"""`supportStatistics`, mixed into the plugin's schema."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import graphene
from django.core.exceptions import ValidationError
from graphql import GraphQLError

from ...core.errors import SupportErrorCode
from ...metrics.statistics import compute_statistics
from ..base import errors_from
from .types import SupportStatistics

CHANNEL_MAX_LENGTH = 255


def _coded(message: str, code: SupportErrorCode, field: str | None) -> GraphQLError:
    return GraphQLError(message, extensions={"code": code.name, "field": field})


def _aware(moment: datetime, zone: str) -> datetime:
    """Read a time without an offset in the business time zone."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=ZoneInfo(zone))
    return moment


class StatisticsQueries(graphene.ObjectType):
    support_statistics = graphene.Field(
        SupportStatistics,
        channel=graphene.String(description="Only this channel (slug); all when null."),
        from_=graphene.Argument(
            graphene.DateTime,
            name="from",
            required=True,
            description="Start (included); without an offset: business time zone.",
        ),
        to=graphene.Argument(
            graphene.DateTime,
            required=True,
            description="End (excluded), after `from`, at most 400 days later.",
        ),
        description=(
            "Service statistics for a period, each figure beside the period of the "
            "same length before it (staff with the support permission). Errors: "
            "PERMISSION_DENIED; INVALID (`to` not after `from`, a channel slug over "
            "255 characters); OUT_OF_RANGE (more than 400 days)."
        ),
    )

    @staticmethod
    def resolve_support_statistics(_root, info, from_, to, channel=None):
        context = info.context
        requestor, settings = context.requestor, context.settings
        if not (requestor.is_staff and requestor.has_perm(settings.staff_permission)):
            raise _coded(
                "Statistics are for staff with the support permission.",
                SupportErrorCode.PERMISSION_DENIED,
                None,
            )
        if channel is not None and len(channel) > CHANNEL_MAX_LENGTH:
            raise _coded("Not a channel slug.", SupportErrorCode.INVALID, "channel")
        start = _aware(from_, settings.business_timezone)
        end = _aware(to, settings.business_timezone)
        try:
            return compute_statistics(channel=channel, start=start, end=end)
        except ValidationError as exc:
            (first, *_rest) = errors_from(exc)
            raise _coded(
                first.message, SupportErrorCode(first.code), first.field
            ) from None
