"""The shape of the statistics: what `statistics.compute_statistics` returns and the report reads."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from ..notifications.kinds import NotificationKind


@dataclass(frozen=True)
class Figure:
    """One KPI for a period, beside the previous period of the same length.

    `value`/`previous` are None where the figure is undefined (no division by
    zero: e.g. CSAT with no answers). `unit`: "count", "percent", "hours",
    "money" (then `currency` is set) or "points" (NPS, −100…100).
    """

    key: str
    label: str
    unit: str
    value: float | Decimal | int | None
    previous: float | Decimal | int | None
    currency: str = ""


@dataclass(frozen=True)
class Statistics:
    channel: str | None
    start: datetime
    end: datetime
    previous_start: datetime
    figures: tuple[Figure, ...]
    # Breakdowns (e.g. proactive updates sent by kind): key -> {label: count}.
    # `proactive_updates_sent` is by notification kind value ("shipped", ...;
    # `breakdown_label` names it).
    breakdowns: dict[str, dict[str, int]] = field(default_factory=dict)
    # The same breakdowns for the previous period.
    previous_breakdowns: dict[str, dict[str, int]] = field(default_factory=dict)
    # Money figures per currency, key -> {currency: amount}: the figure itself
    # is None when the amounts are in more than one currency.
    amounts: dict[str, dict[str, Decimal]] = field(default_factory=dict)
    previous_amounts: dict[str, dict[str, Decimal]] = field(default_factory=dict)

    def figure(self, key: str) -> Figure:
        return next(f for f in self.figures if f.key == key)


def breakdown_label(label: str) -> str:
    """Name a notification kind ("shipped") as the dashboard does; other labels as they are."""
    try:
        return NotificationKind(label).label
    except ValueError:
        return label
