"""The weekly report's schedule: once a week, on the configured day and time, through the outbox.

Level, not edge: a task every 15 minutes asks "which report should the team
have by now?" — the one of the latest scheduled moment, for the seven days
before that day — and writes it unless the outbox has it. The outbox key
(`weekly_report:<period start>`) makes it one email per address and period
however often, late or concurrently the task runs.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from django.db import connection, transaction

from ..conf import SupportSettings
from ..notifications.identity import message_id_domain, store_name
from ..notifications.kinds import NotificationKind
from ..notifications.models import Notification
from ..notifications.services import create_ticket_notification
from .report import build_report, report_context

logger = logging.getLogger(__name__)

# A report not sent within a day of its moment (workers down all Monday) is
# skipped: last week's figures on a Thursday help no one, and a plugin switched
# on mid-week does not mail the week before it was installed.
SEND_WITHIN = timedelta(days=1)
REPORT_DAYS = 7


@dataclass(frozen=True)
class WeeklySlot:
    """One scheduled report: when it is due and the period it covers."""

    due_at: datetime
    start: datetime
    end: datetime

    @property
    def key(self) -> str:
        return f"weekly_report:{self.start.date().isoformat()}"


def latest_slot(now: datetime, settings: SupportSettings) -> WeeklySlot:
    """Find the latest scheduled moment at or before `now`, in the business time zone.

    The period is the seven days before the report's day, midnight to midnight
    local time (167 or 169 hours across a DST change). A time the clocks skip
    (02:30 on the spring change) is read with the offset before the change.
    """
    zone = ZoneInfo(settings.business_timezone)
    # Aware datetimes of one zone compare and subtract as wall-clock times,
    # which is wrong across a DST change: compare instants in UTC.
    now = now.astimezone(UTC)
    today = now.astimezone(zone).date()
    day = today - timedelta(days=(today.weekday() - settings.weekly_report_day) % 7)
    due_at = datetime.combine(day, settings.weekly_report_time, tzinfo=zone)
    if due_at > now:
        day -= timedelta(days=7)
        due_at = datetime.combine(day, settings.weekly_report_time, tzinfo=zone)
    end = datetime.combine(day, datetime.min.time(), tzinfo=zone)
    start = datetime.combine(
        day - timedelta(days=REPORT_DAYS), datetime.min.time(), tzinfo=zone
    )
    return WeeklySlot(due_at=due_at, start=start, end=end)


def due_slot(now: datetime, settings: SupportSettings) -> WeeklySlot | None:
    """Return the report due at `now`; None from a day after one report until the next."""
    slot = latest_slot(now, settings)
    late = now.astimezone(UTC) - slot.due_at.astimezone(UTC)
    return slot if late < SEND_WITHIN else None


def _recipients(settings: SupportSettings) -> list[str]:
    return list(
        dict.fromkeys(address.lower() for address in settings.support_staff_addresses)
    )


def _written(slot: WeeklySlot, recipients: list[str]) -> bool:
    # The keys create_ticket_notification gives each address's row.
    keys = [f"{slot.key}:{address}:email" for address in recipients]
    return Notification.objects.filter(dedupe_key__in=keys).count() == len(keys)


def send_weekly_report(
    *, now: datetime, settings: SupportSettings
) -> list[Notification]:
    """Write the weekly report for the team if it is due and not written yet."""
    if not (settings.active and settings.weekly_report_enabled):
        return []
    slot = due_slot(now, settings)
    recipients = _recipients(settings)
    if slot is None or not recipients or _written(slot, recipients):
        return []
    with transaction.atomic():
        # One worker builds the report; a concurrent run skips instead of
        # computing the same figures (the outbox key would drop its rows anyway).
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_try_advisory_xact_lock(hashtextextended(%s, 0))", [slot.key]
            )
            (locked,) = cursor.fetchone()
        if not locked or _written(slot, recipients):
            return []
        report = build_report(
            channel=None, start=slot.start, end=slot.end, settings=settings
        )
        context = report_context(
            report,
            settings,
            cid_domain=message_id_domain(settings),
            store=store_name(settings),
        )
        created = create_ticket_notification(
            kind=NotificationKind.WEEKLY_REPORT,
            key=slot.key,
            recipients=recipients,
            context=context,
            order_id=None,
            language_code="en",
            settings=settings,
        )
    if created:
        logger.info(
            "Weekly report %s written for %d addresses.", slot.key, len(created)
        )
    return created
