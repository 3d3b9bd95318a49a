"""Business days in the merchant's time zone, with holidays."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from ..conf import SupportSettings


@dataclass(frozen=True)
class BusinessCalendar:
    timezone: ZoneInfo
    workdays: frozenset[int]  # 0 = Monday
    holidays: frozenset[date]

    @classmethod
    def from_settings(cls, settings: SupportSettings) -> BusinessCalendar:
        return cls(
            ZoneInfo(settings.business_timezone),
            frozenset(settings.business_days),
            frozenset(settings.holidays),
        )

    def is_business_day(self, day: date) -> bool:
        return day.weekday() in self.workdays and day not in self.holidays

    def next_business_day(self, day: date) -> date:
        day += timedelta(days=1)
        for _ in range(
            3660
        ):  # ten years of holidays is a configuration error, not a loop
            if self.is_business_day(day):
                return day
            day += timedelta(days=1)
        raise ValueError("The business calendar has no working day.")

    def add_business_days(self, day: date, count: int) -> date:
        """Return the business day `count` business days after `day` (0: `day` or the next business day)."""
        if not self.is_business_day(day):
            day = self.next_business_day(day)
        for _ in range(count):
            day = self.next_business_day(day)
        return day

    def ship_by(self, placed_at: datetime, business_days: int) -> datetime:
        """End of the business day by which an order placed at `placed_at` should have shipped.

        Day 0 is the day of the order if it is a business day, else the next one;
        the target is the end of day `business_days` after it, in local time.
        """
        local_day = placed_at.astimezone(self.timezone).date()
        target = self.add_business_days(local_day, business_days)
        return datetime.combine(
            target + timedelta(days=1), time.min, tzinfo=self.timezone
        )
