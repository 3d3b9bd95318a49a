"""The statistics as the API shows them: figures beside the previous period, and breakdowns."""

from __future__ import annotations

from decimal import Decimal

import graphene

from ...core.money import quantize
from ...metrics.data import Figure, Statistics, breakdown_label
from ..base import described_enum

UNITS = {
    "count": "A number of things (tickets, claims, emails).",
    "percent": "Percent, 0 to 100.",
    "hours": "Hours (business hours where the label says so).",
    "money": "An amount in `currency`.",
    "points": "NPS points, −100 to 100.",
}
StatisticsUnitEnum = described_enum(
    "SupportStatisticsUnit", UNITS, "What a figure's value measures."
)

BREAKDOWN_LABELS = {
    "proactive_updates_sent": "Proactive updates sent, by kind",
    "price_refunded_amount": "Price-protection refunds, by currency",
}


def _number(value: float | Decimal | int | None, currency: str = "") -> float | None:
    if value is None:
        return None
    if isinstance(value, Decimal):
        return float(quantize(value, currency) if currency else value)
    return float(value)


def _change(
    value: float | Decimal | int | None, previous: float | Decimal | int | None
) -> float | Decimal | int | None:
    if value is None or previous is None:
        return None
    if isinstance(value, Decimal) or isinstance(previous, Decimal):
        return Decimal(value) - Decimal(previous)
    return value - previous


class SupportStatisticsFigure(graphene.ObjectType):
    key = graphene.String(
        required=True, description="Stable name of the figure (README: definitions)."
    )
    label = graphene.String(required=True, description="Name for people (English).")
    unit = graphene.Field(StatisticsUnitEnum, required=True, description="Unit.")
    value = graphene.Float(
        description="The figure for the period; null where undefined (nothing to divide by)."
    )
    previous = graphene.Float(
        description="The figure for the period of the same length just before."
    )
    change = graphene.Float(
        description=(
            "`value` − `previous` in the figure's unit (percentage points for "
            "percentages); null when either is null."
        )
    )
    currency = graphene.String(description="ISO 4217 code for money figures.")

    class Meta:
        description = "One service figure beside the previous period."

    @staticmethod
    def resolve_unit(root: Figure, _info):
        return root.unit

    @staticmethod
    def resolve_value(root: Figure, _info):
        return _number(root.value, root.currency)

    @staticmethod
    def resolve_previous(root: Figure, _info):
        return _number(root.previous, root.currency)

    @staticmethod
    def resolve_change(root: Figure, _info):
        return _number(_change(root.value, root.previous), root.currency)

    @staticmethod
    def resolve_currency(root: Figure, _info):
        return root.currency or None


class SupportStatisticsBreakdownEntry(graphene.ObjectType):
    key = graphene.String(
        required=True,
        description="What the entry counts: a notification kind, a currency code.",
    )
    label = graphene.String(required=True, description="Name for people (English).")
    value = graphene.Float(required=True, description="In the period.")
    previous = graphene.Float(
        required=True, description="In the period of the same length just before."
    )
    currency = graphene.String(description="ISO 4217 code for money entries.")

    class Meta:
        description = "One line of a breakdown."


class SupportStatisticsBreakdown(graphene.ObjectType):
    key = graphene.String(
        required=True, description="The figure it breaks down (`figures.key`)."
    )
    label = graphene.String(required=True, description="Name for people (English).")
    entries = graphene.List(
        graphene.NonNull(SupportStatisticsBreakdownEntry),
        required=True,
        description="Entries, largest first.",
    )

    class Meta:
        description = "A figure split by kind or by currency."


def breakdowns(stats: Statistics) -> list[SupportStatisticsBreakdown]:
    result = []
    for key, counts in stats.breakdowns.items():
        before = stats.previous_breakdowns.get(key, {})
        names = sorted(
            set(counts) | set(before),
            key=lambda name: (-counts.get(name, 0), -before.get(name, 0), name),
        )
        result.append(
            SupportStatisticsBreakdown(
                key=key,
                label=BREAKDOWN_LABELS.get(key, key),
                entries=[
                    SupportStatisticsBreakdownEntry(
                        key=name,
                        label=breakdown_label(name),
                        value=counts.get(name, 0),
                        previous=before.get(name, 0),
                    )
                    for name in names
                ],
            )
        )
    for key, amounts in stats.amounts.items():
        earlier = stats.previous_amounts.get(key, {})
        currencies = sorted(
            set(amounts) | set(earlier),
            key=lambda code: (-amounts.get(code, Decimal(0)), code),
        )
        result.append(
            SupportStatisticsBreakdown(
                key=key,
                label=BREAKDOWN_LABELS.get(key, key),
                entries=[
                    SupportStatisticsBreakdownEntry(
                        key=code,
                        label=code,
                        value=_number(amounts.get(code, Decimal(0)), code),
                        previous=_number(earlier.get(code, Decimal(0)), code),
                        currency=code,
                    )
                    for code in currencies
                ],
            )
        )
    return result


class SupportStatistics(graphene.ObjectType):
    channel = graphene.String(description="The channel slug; null: every channel.")
    from_ = graphene.DateTime(
        name="from", required=True, description="Start of the period (included)."
    )
    to = graphene.DateTime(required=True, description="End of the period (excluded).")
    previous_from = graphene.DateTime(
        required=True,
        description="Start of the previous period, which ends at `from`.",
    )
    figures = graphene.List(
        graphene.NonNull(SupportStatisticsFigure),
        required=True,
        description="Every figure, in a fixed order.",
    )
    breakdowns = graphene.List(
        graphene.NonNull(SupportStatisticsBreakdown),
        required=True,
        description="Figures split by kind or currency.",
    )

    class Meta:
        description = "Service statistics for a period and the period of the same length before it."

    @staticmethod
    def resolve_from_(root: Statistics, _info):
        return root.start

    @staticmethod
    def resolve_to(root: Statistics, _info):
        return root.end

    @staticmethod
    def resolve_previous_from(root: Statistics, _info):
        return root.previous_start

    @staticmethod
    def resolve_figures(root: Statistics, _info):
        return list(root.figures)

    @staticmethod
    def resolve_breakdowns(root: Statistics, _info):
        return breakdowns(root)
