"""Service KPIs for a period and the one before it, with SQL aggregates.

Five statements whatever the data (`selectors`: tickets, surveys, price
claims, orders, sent emails), each computing both periods in one pass, read
from the host's replica (`ports.read_replica`). Business-hours durations are
not replayed here: the ticket keeps them, taken when the first reply and the
resolution happen (`tickets.sla`), without the waits for the customer. Every
figure is defined in the README ("Service statistics").
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import connections, transaction
from django.utils import timezone

from .. import ports
from ..core.errors import SupportErrorCode, error
from . import selectors
from .data import Figure, Statistics
from .selectors import Period

MAX_SPAN = timedelta(days=400)
CURRENT, PREVIOUS = "cur", "prev"


def clean_period(start: datetime, end: datetime) -> datetime:
    """Check [start, end) and return the start of the period of the same length before it."""
    if start >= end:
        raise error("to", "`to` must be later than `from`.", SupportErrorCode.INVALID)
    if end - start > MAX_SPAN:
        raise error(
            "to",
            f"A period spans at most {MAX_SPAN.days} days.",
            SupportErrorCode.OUT_OF_RANGE,
        )
    try:
        # Near the ends of the calendar the previous period (or a bound in UTC,
        # as the database compares them) does not exist.
        previous_start = start - (end - start)
        previous_start.astimezone(UTC), end.astimezone(UTC)
    except OverflowError:
        raise error(
            "from",
            "The period and the one before it must lie within the years 1 to 9999.",
            SupportErrorCode.OUT_OF_RANGE,
        ) from None
    return previous_start


def _rate(part: int | None, whole: int | None) -> float | None:
    """Percent; None when there is nothing to divide by."""
    if not whole or part is None:
        return None
    return 100.0 * part / whole


def _hours(seconds: float | None) -> float | None:
    return None if seconds is None else seconds / 3600


def _percentile(values: list[Any] | None, index: int) -> Any:
    return values[index] if values else None


def _money_figure(
    rows: list[dict[str, Any]],
) -> tuple[Figure, dict[str, Decimal], dict[str, Decimal]]:
    current = {row["currency"]: row[f"refunded_{CURRENT}"] for row in rows}
    previous = {row["currency"]: row[f"refunded_{PREVIOUS}"] for row in rows}
    current = {currency: amount for currency, amount in current.items() if amount}
    previous = {currency: amount for currency, amount in previous.items() if amount}
    currencies = set(current) | set(previous)
    label = "Price-protection refunds"
    if len(currencies) > 1:
        # Amounts in different currencies do not add up: see the breakdown.
        figure = Figure("price_refunded_amount", label, "money", None, None)
    else:
        currency = next(iter(currencies), "")
        figure = Figure(
            "price_refunded_amount",
            label,
            "money",
            current.get(currency, Decimal(0)),
            previous.get(currency, Decimal(0)),
            currency,
        )
    return figure, current, previous


def compute_statistics(
    *,
    channel: str | None,
    start: datetime,
    end: datetime,
    now: datetime | None = None,
) -> Statistics:
    """Every KPI for [start, end) and for the period of the same length before it.

    The durations the figures read were taken with the merchant's calendar
    when they happened (`tickets.sla`): no settings are needed here.
    """
    previous_start = clean_period(start, end)
    now = now or timezone.now()
    periods = (
        Period(CURRENT, start, end),
        Period(PREVIOUS, previous_start, start),
    )
    alias = ports.read_replica()
    with transaction.atomic(using=alias), connections[alias].cursor() as cursor:
        # Compiling these sub-second aggregates (JIT) costs more than it saves.
        cursor.execute("SET LOCAL jit = off")
        tickets = selectors.ticket_aggregates(cursor, periods, channel, now)
        surveys = selectors.survey_aggregates(alias, periods, channel)
        claims = selectors.claim_totals(alias, periods, channel)
        returns = selectors.order_aggregates(cursor, periods, channel)
        updates = selectors.updates_sent(alias, periods, channel)

    def both(compute: Any) -> tuple[Any, Any]:
        return compute(CURRENT), compute(PREVIOUS)

    def t(name: str) -> Any:
        return lambda tag: tickets[f"{name}_{tag}"]

    def backlog_age(tag: str) -> float | None:
        opened = tickets[f"backlog_opened_{tag}"]
        if opened is None:
            return None
        period_end = end if tag == CURRENT else start
        return (period_end.timestamp() - opened) / 3600

    def duration(name: str, index: int) -> Any:
        return lambda tag: _hours(_percentile(tickets[f"{name}_{tag}"], index))

    def ticket_rate(part: str, whole: str) -> Any:
        return lambda tag: _rate(tickets[f"{part}_{tag}"], tickets[f"{whole}_{tag}"])

    def survey_rate(part: str, whole: str) -> Any:
        return lambda tag: _rate(surveys[f"{part}_{tag}"], surveys[f"{whole}_{tag}"])

    def nps(tag: str) -> float | None:
        answers = surveys[f"nps_answers_{tag}"]
        if not answers:
            return None
        promoters, detractors = (
            surveys[f"nps_promoters_{tag}"],
            surveys[f"nps_detractors_{tag}"],
        )
        return 100.0 * (promoters - detractors) / answers

    def claims_opened(tag: str) -> int:
        return sum(row[f"opened_{tag}"] for row in claims)

    def updates_sent(tag: str) -> int:
        return sum(row[f"sent_{tag}"] for row in updates)

    money, refunded, refunded_before = _money_figure(claims)
    specs: list[tuple[str, str, str, tuple[Any, Any]]] = [
        ("tickets_opened", "Tickets opened", "count", both(t("opened"))),
        ("tickets_solved", "Tickets solved", "count", both(t("solved"))),
        ("backlog", "Open tickets at the end", "count", both(t("backlog"))),
        (
            "backlog_age_median",
            "Age of open tickets (median)",
            "hours",
            both(backlog_age),
        ),
        (
            "first_response_median",
            "First response time (median, business hours)",
            "hours",
            both(duration("first_response", 0)),
        ),
        (
            "first_response_p90",
            "First response time (90th percentile, business hours)",
            "hours",
            both(duration("first_response", 1)),
        ),
        (
            "resolution_median",
            "Resolution time (median, business hours)",
            "hours",
            both(duration("resolution", 0)),
        ),
        (
            "resolution_p90",
            "Resolution time (90th percentile, business hours)",
            "hours",
            both(duration("resolution", 1)),
        ),
        (
            "first_contact_resolution_rate",
            "First-contact resolution",
            "percent",
            both(ticket_rate("first_contact", "solved")),
        ),
        ("reopen_rate", "Reopened", "percent", both(ticket_rate("reopened", "solved"))),
        (
            "sla_first_response",
            "First responses within the SLA",
            "percent",
            both(ticket_rate("first_response_met", "first_response_decided")),
        ),
        (
            "sla_resolution",
            "Resolutions within the SLA",
            "percent",
            both(ticket_rate("resolution_met", "resolution_decided")),
        ),
        (
            "csat",
            "CSAT (4 or 5 of 5)",
            "percent",
            both(survey_rate("csat_satisfied", "csat_answers")),
        ),
        ("nps", "NPS", "points", both(nps)),
        (
            "survey_response_rate",
            "Survey response rate",
            "percent",
            both(survey_rate("sent_answered", "sent")),
        ),
        (
            "wismo_share",
            "Tickets about order status or shipping",
            "percent",
            both(ticket_rate("wismo", "opened")),
        ),
        (
            "return_rate",
            "Orders returned",
            "percent",
            both(
                lambda tag: _rate(returns[f"returned_{tag}"], returns[f"placed_{tag}"])
            ),
        ),
        (
            "price_claims_opened",
            "Price-protection claims",
            "count",
            both(claims_opened),
        ),
    ]
    figures = [
        Figure(key, label, unit, value, previous)
        for key, label, unit, (value, previous) in specs
    ]
    figures.append(money)
    figures.append(
        Figure(
            "proactive_updates_sent",
            "Proactive updates sent",
            "count",
            *both(updates_sent),
        )
    )
    # The knowledge base does not exist yet: nothing deflects a ticket.
    figures.append(Figure("deflection_rate", "Deflection rate", "percent", None, None))
    return Statistics(
        channel=channel,
        start=start,
        end=end,
        previous_start=previous_start,
        figures=tuple(figures),
        breakdowns={
            "proactive_updates_sent": {
                row["kind"]: row[f"sent_{CURRENT}"]
                for row in updates
                if row[f"sent_{CURRENT}"]
            }
        },
        previous_breakdowns={
            "proactive_updates_sent": {
                row["kind"]: row[f"sent_{PREVIOUS}"]
                for row in updates
                if row[f"sent_{PREVIOUS}"]
            }
        },
        amounts={"price_refunded_amount": refunded},
        previous_amounts={"price_refunded_amount": refunded_before},
    )
