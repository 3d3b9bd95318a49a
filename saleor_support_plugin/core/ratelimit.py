"""Fixed-window rate limits counted in the database (one UPSERT per hit)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from django.db import connection
from django.utils import timezone


@dataclass(frozen=True)
class Limit:
    scope: str
    limit: int
    window_seconds: int = 3600


def hit(limit: Limit, identity: str, *, now: datetime | None = None) -> int | None:
    """Count one hit; return seconds to wait when over the limit, else None."""
    if limit.limit <= 0:
        return None
    now = now or timezone.now()
    epoch = int(now.timestamp())
    start = epoch - epoch % limit.window_seconds
    from .models import RateLimitCounter

    table = RateLimitCounter._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (key, window_start, count) VALUES (%s, %s, 1)"  # noqa: S608
            " ON CONFLICT (key, window_start) DO UPDATE SET count = {table}.count + 1 RETURNING count".replace(
                "{table}", table
            ),
            [f"{limit.scope}:{identity}", datetime.fromtimestamp(start, tz=UTC)],
        )
        count = cursor.fetchone()[0]
    if count > limit.limit:
        return start + limit.window_seconds - epoch
    return None


def _window_start(limit: Limit, now: datetime) -> datetime:
    epoch = int(now.timestamp())
    return datetime.fromtimestamp(epoch - epoch % limit.window_seconds, tz=UTC)


def is_over(limit: Limit, identity: str, *, now: datetime | None = None) -> bool:
    """Whether `identity` already used up its window, without counting a hit."""
    if limit.limit <= 0:
        return False
    from .models import RateLimitCounter

    start = _window_start(limit, now or timezone.now())
    return RateLimitCounter.objects.filter(
        key=f"{limit.scope}:{identity}", window_start=start, count__gte=limit.limit
    ).exists()
