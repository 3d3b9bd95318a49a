"""Business days and hours in the merchant's time zone, with holidays."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from ..conf import SupportSettings


@dataclass(frozen=True)
class BusinessCalendar:
    timezone: ZoneInfo
    workdays: frozenset[int]  # 0 = Monday
    holidays: frozenset[date]
    hours: tuple[int, int] = (9 * 60, 17 * 60)  # working minutes after midnight

    @classmethod
    def from_settings(cls, settings: SupportSettings) -> BusinessCalendar:
        return cls(
            ZoneInfo(settings.business_timezone),
            frozenset(settings.business_days),
            frozenset(settings.holidays),
            settings.business_hours,
        )

    def _day_window(self, day: date) -> tuple[datetime, datetime]:
        midnight = datetime.combine(day, time.min, tzinfo=self.timezone)
        return midnight + timedelta(minutes=self.hours[0]), midnight + timedelta(
            minutes=self.hours[1]
        )

    def add_business_hours(self, start: datetime, hours: float) -> datetime:
        """Return the moment `hours` working hours after `start` (working days and hours only)."""
        remaining = timedelta(hours=hours)
        moment = start.astimezone(self.timezone)
        for _ in range(3660):
            day = moment.date()
            open_at, close_at = self._day_window(day)
            if self.is_business_day(day) and moment < close_at:
                moment = max(moment, open_at)
                if remaining <= close_at - moment:
                    return moment + remaining
                remaining -= close_at - moment
            moment = self._day_window(self.next_business_day(day))[0]
        raise ValueError("The business calendar has no working hours.")

    def business_seconds(self, start: datetime, end: datetime) -> int:
        """Working seconds between `start` and `end` (0 when `end` is not after `start`)."""
        if end <= start:
            return 0
        total = timedelta()
        day = start.astimezone(self.timezone).date()
        last = end.astimezone(self.timezone).date()
        while day <= last:
            if self.is_business_day(day):
                open_at, close_at = self._day_window(day)
                # Compared as instants: aware datetimes of one zone subtract as
                # wall-clock times, which is wrong across a DST change.
                lower = max(open_at.astimezone(UTC), start.astimezone(UTC))
                upper = min(close_at.astimezone(UTC), end.astimezone(UTC))
                if upper > lower:
                    total += upper - lower
            day += timedelta(days=1)
        return int(total.total_seconds())

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
