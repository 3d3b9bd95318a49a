"""The statements behind the statistics: one per table, both periods in one pass.

Each returns plain values keyed `<name>_<period tag>`. Tickets and orders are
read with SQL of our own: a subquery (kept apart with OFFSET 0, so PostgreSQL
does not inline it) works out each row's resolution and SLA outcome once,
and the aggregates above it only compare columns; the ORM would repeat those
CASE expressions in every FILTER.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Count, Q, Sum
from django.db.models.functions import Coalesce

from ..notifications.kinds import NotificationKind
from ..notifications.models import Notification, NotificationChannel, NotificationStatus
from ..orders.models import FulfillmentSnapshot, OrderSnapshot
from ..orders.reconcile import RETURN_STATUSES
from ..price_protection.models import ClaimState, PriceClaim
from ..surveys.models import Survey, SurveyKind
from ..tickets.models import UNCOUNTED_TAGS, Ticket, TicketCategory, TicketStatus

DONE = (TicketStatus.SOLVED.value, TicketStatus.CLOSED.value)
WISMO_CATEGORIES = (TicketCategory.ORDER_STATUS.value, TicketCategory.SHIPPING.value)
# The proactive order updates customers get by email (not ticket, survey or
# price-protection mail, nor staff's).
ORDER_UPDATE_KINDS = (
    NotificationKind.CONFIRMED,
    NotificationKind.SHIPPED,
    NotificationKind.TRACKING_UPDATED,
    NotificationKind.DELAYED,
    NotificationKind.OUT_FOR_DELIVERY,
    NotificationKind.DELIVERED,
    NotificationKind.DELIVERY_EXCEPTION,
    NotificationKind.CANCELLED,
    NotificationKind.RETURN_RECEIVED,
    NotificationKind.REFUND_ISSUED,
)


@dataclass(frozen=True)
class Period:
    tag: str
    start: datetime
    end: datetime

    def q(self, field: str) -> Q:
        return Q(**{f"{field}__gte": self.start, f"{field}__lt": self.end})

    def sql(self, column: str) -> str:
        return f"{column} >= %({self.tag}_start)s AND {column} < %({self.tag}_end)s"


def _constants(values: tuple[str, ...]) -> str:
    """Write our own constant codes as an SQL list.

    Written out rather than bound, so that the planner sees them: a partial
    index's condition is matched against the statement's constants.
    """
    assert all(value.replace("_", "").isalnum() for value in values), values
    return "(" + ", ".join(f"'{value}'" for value in values) + ")"


def _span(periods: tuple[Period, ...]) -> tuple[datetime, datetime]:
    return min(p.start for p in periods), max(p.end for p in periods)


def _params(periods: tuple[Period, ...], **extra: Any) -> dict[str, Any]:
    first, last = _span(periods)
    params: dict[str, Any] = {"first": first, "last": last, **extra}
    for period in periods:
        params[f"{period.tag}_start"] = period.start
        params[f"{period.tag}_end"] = period.end
    return params


def _fetch_one(cursor: Any, sql: str, params: dict[str, Any]) -> dict[str, Any]:
    cursor.execute(sql, params)
    names = [column.name for column in cursor.description]
    return dict(zip(names, cursor.fetchone(), strict=True))


def _ticket_aggregates(period: Period) -> list[str]:
    tag = period.tag
    opened = period.sql("created_at")
    resolved = period.sql("resolved_at")
    open_at_end = (
        f"created_at < %({tag}_end)s"
        f" AND (resolved_at IS NULL OR resolved_at >= %({tag}_end)s)"
    )
    first_response = period.sql("first_response_decided_at")
    resolution = period.sql("resolution_decided_at")
    return [
        f"count(*) FILTER (WHERE {opened}) AS opened_{tag}",
        f"count(*) FILTER (WHERE {resolved}) AS solved_{tag}",
        f"count(*) FILTER (WHERE {open_at_end}) AS backlog_{tag}",
        # The median age is the end minus the median opening time.
        "percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM created_at))"
        f" FILTER (WHERE {open_at_end}) AS backlog_opened_{tag}",
        "percentile_cont(ARRAY[0.5, 0.9]) WITHIN GROUP (ORDER BY first_response)"
        f" FILTER (WHERE {period.sql('first_responded_at')}) AS first_response_{tag}",
        "percentile_cont(ARRAY[0.5, 0.9]) WITHIN GROUP (ORDER BY resolution)"
        f" FILTER (WHERE {resolved}) AS resolution_{tag}",
        f"count(*) FILTER (WHERE {resolved} AND first_contact) AS first_contact_{tag}",
        f"count(*) FILTER (WHERE {resolved} AND reopened) AS reopened_{tag}",
        f"count(*) FILTER (WHERE {first_response}) AS first_response_decided_{tag}",
        f"count(*) FILTER (WHERE {first_response} AND first_response_met)"
        f" AS first_response_met_{tag}",
        f"count(*) FILTER (WHERE {resolution}) AS resolution_decided_{tag}",
        f"count(*) FILTER (WHERE {resolution} AND resolution_met)"
        f" AS resolution_met_{tag}",
        f"count(*) FILTER (WHERE {opened} AND wismo) AS wismo_{tag}",
    ]


def ticket_aggregates(
    cursor: Any, periods: tuple[Period, ...], channel: str | None, now: datetime
) -> dict[str, Any]:
    """Count the tickets, their percentiles and SLA outcomes, for every period."""
    table = Ticket._meta.db_table
    orders = OrderSnapshot._meta.db_table
    join = (
        f"JOIN {orders} o ON o.id = t.order_id AND o.channel_slug = %(channel)s"
        if channel is not None
        else ""
    )
    aggregates = ",\n".join(a for p in periods for a in _ticket_aggregates(p))
    # Inside out: each row's resolution and flags, then when its SLA targets
    # were decided; the aggregates only compare those columns. (Measured:
    # labelling each row's periods in a third level instead is slower.)
    sql = f"""
        SELECT {aggregates}
        FROM (
            SELECT *,
                -- When an SLA target was decided: met when reached in time, missed
                -- when its due time passed; undecided while its clock stands still
                -- (waiting for the customer) and, for the first response, never
                -- due for a ticket resolved in time without a reply.
                CASE WHEN first_response_met THEN first_responded_at
                     WHEN first_response_due_at IS NULL
                          OR first_response_due_at > %(now)s THEN NULL
                     WHEN first_responded_at IS NULL
                          AND (waiting OR resolved_at <= first_response_due_at) THEN NULL
                     ELSE first_response_due_at
                END AS first_response_decided_at,
                CASE WHEN resolution_met THEN resolved_at
                     WHEN resolution_due_at IS NULL
                          OR resolution_due_at > %(now)s THEN NULL
                     WHEN resolved_at IS NULL AND waiting THEN NULL
                     ELSE resolution_due_at
                END AS resolution_decided_at
            FROM (
                SELECT t.created_at, t.first_responded_at, t.first_response_due_at,
                       t.resolution_due_at, r.resolved_at,
                       t.first_response_business_seconds AS first_response,
                       t.resolution_business_seconds AS resolution,
                       t.status = '{TicketStatus.PENDING_CUSTOMER.value}' AS waiting,
                       t.first_responded_at <= t.first_response_due_at
                           AS first_response_met,
                       r.resolved_at <= t.resolution_due_at AS resolution_met,
                       t.staff_public_replies = 1 AND t.reopen_count = 0
                           AS first_contact,
                       t.reopen_count > 0 AS reopened,
                       t.category IN {_constants(WISMO_CATEGORIES)} AS wismo
                FROM {table} t
                {join}
                -- Resolved: solved, or closed without being solved; NULL while open.
                CROSS JOIN LATERAL (
                    SELECT CASE WHEN t.status IN {_constants(DONE)}
                                THEN coalesce(t.solved_at, t.closed_at) END AS resolved_at
                ) r
                -- Every ticket that can count in a period: opened in the span, or
                -- opened before it and still open or resolved since (each branch
                -- has its index: created_at, open tickets, resolution time).
                WHERE ((t.created_at >= %(first)s AND t.created_at < %(last)s)
                       OR (t.created_at < %(first)s
                           AND t.status NOT IN {_constants(DONE)})
                       OR (t.created_at < %(first)s
                           AND coalesce(t.solved_at, t.closed_at) >= %(first)s))
                  -- Spam and merged duplicates are no customer contact.
                  AND NOT (t.tags && %(uncounted)s::varchar[])
                -- Each level apart (not inlined into the aggregates above):
                -- computed once per row.
                OFFSET 0
            ) ticket_rows
            OFFSET 0
        ) tickets
    """
    params = _params(periods, now=now, channel=channel, uncounted=list(UNCOUNTED_TAGS))
    return _fetch_one(cursor, sql, params)


def order_aggregates(
    cursor: Any, periods: tuple[Period, ...], channel: str | None
) -> dict[str, Any]:
    """Count the orders placed, and those with a returned fulfillment."""
    orders = OrderSnapshot._meta.db_table
    fulfillments = FulfillmentSnapshot._meta.db_table
    aggregates = ",\n".join(
        f"count(*) FILTER (WHERE {p.sql('placed_at')}) AS placed_{p.tag},"
        f" count(*) FILTER (WHERE {p.sql('placed_at')} AND returned) AS returned_{p.tag}"
        for p in periods
    )
    channel_filter = "AND o.channel_slug = %(channel)s" if channel is not None else ""
    sql = f"""
        SELECT {aggregates}
        FROM (
            SELECT o.placed_at, EXISTS (
                SELECT 1 FROM {fulfillments} f
                WHERE f.order_id = o.id AND f.status IN {_constants(tuple(sorted(RETURN_STATUSES)))}
            ) AS returned
            FROM {orders} o
            WHERE o.placed_at >= %(first)s AND o.placed_at < %(last)s {channel_filter}
            OFFSET 0
        ) placed
    """
    params = _params(periods, channel=channel)
    return _fetch_one(cursor, sql, params)


def survey_aggregates(
    alias: str, periods: tuple[Period, ...], channel: str | None
) -> dict[str, Any]:
    """Count CSAT and NPS answers, and surveys sent and answered, for every period."""
    first, last = _span(periods)
    surveys = Survey.objects.using(alias).filter(
        Q(answered_at__gte=first, answered_at__lt=last)
        | Q(sent_at__gte=first, sent_at__lt=last)
    )
    if channel is not None:
        surveys = surveys.filter(channel_slug=channel)
    aggregates: dict[str, Any] = {}
    for period in periods:
        answered = period.q("answered_at") & Q(score__isnull=False)
        csat = answered & Q(kind=SurveyKind.CSAT)
        nps = answered & Q(kind=SurveyKind.NPS)
        sent = period.q("sent_at")
        tag = period.tag
        aggregates |= {
            f"csat_answers_{tag}": Count("pk", filter=csat),
            f"csat_satisfied_{tag}": Count("pk", filter=csat & Q(score__gte=4)),
            f"nps_answers_{tag}": Count("pk", filter=nps),
            f"nps_promoters_{tag}": Count("pk", filter=nps & Q(score__gte=9)),
            f"nps_detractors_{tag}": Count("pk", filter=nps & Q(score__lte=6)),
            f"sent_{tag}": Count("pk", filter=sent),
            f"sent_answered_{tag}": Count(
                "pk", filter=sent & Q(answered_at__isnull=False)
            ),
        }
    return surveys.aggregate(**aggregates)


def claim_totals(
    alias: str, periods: tuple[Period, ...], channel: str | None
) -> list[dict[str, Any]]:
    """Count price claims opened and sum refunds, per currency, for every period."""
    first, last = _span(periods)
    refunded = Q(state=ClaimState.REFUNDED)
    claims = PriceClaim.objects.using(alias).filter(
        Q(created_at__gte=first, created_at__lt=last)
        | (refunded & Q(refunded_at__gte=first, refunded_at__lt=last))
    )
    if channel is not None:
        claims = claims.filter(channel_slug=channel)
    aggregates: dict[str, Any] = {}
    for period in periods:
        aggregates |= {
            f"opened_{period.tag}": Count("pk", filter=period.q("created_at")),
            f"refunded_{period.tag}": Sum(
                Coalesce("approved_amount", "amount"),
                filter=refunded & period.q("refunded_at"),
            ),
        }
    return list(claims.values("currency").annotate(**aggregates).order_by("currency"))


def updates_sent(
    alias: str, periods: tuple[Period, ...], channel: str | None
) -> list[dict[str, Any]]:
    """Count the order-update emails sent, per kind, for every period."""
    first, last = _span(periods)
    sent = Notification.objects.using(alias).filter(
        status=NotificationStatus.SENT,
        channel=NotificationChannel.EMAIL,
        kind__in=[kind.value for kind in ORDER_UPDATE_KINDS],
        sent_at__gte=first,
        sent_at__lt=last,
    )
    if channel is not None:
        sent = sent.filter(
            order_id__in=OrderSnapshot.objects.using(alias)
            .filter(channel_slug=channel)
            .values("order_id")
        )
    aggregates = {
        f"sent_{period.tag}": Count("pk", filter=period.q("sent_at"))
        for period in periods
    }
    return list(sent.values("kind").annotate(**aggregates).order_by("kind"))
