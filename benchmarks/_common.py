"""Shared plumbing of the benchmarks: database, Django, statistics, output."""

from __future__ import annotations

import itertools
import math
import os
import statistics
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sandbox.services.postgres import LocalPostgres
from sandbox.services.redis import LocalRedis


def out(line: str = "") -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def database_url(name: str) -> str:
    """Return BENCH_DATABASE_URL, or a database `name` on the local cluster (created)."""
    explicit = os.environ.get("BENCH_DATABASE_URL")
    if explicit:
        return explicit
    cluster = LocalPostgres.default()
    cluster.ensure_running()
    cluster.ensure_database(name)
    return cluster.url(name)


def redis_or_none() -> LocalRedis | None:
    """Start the local Redis if possible; None when redis-server is not installed."""
    server = LocalRedis.default()
    try:
        server.ensure_running()
    except (RuntimeError, OSError) as exc:
        out(f"(Redis unavailable: {exc})")
        return None
    return server


def setup_django(database: str, env: dict[str, str] | None = None) -> str:
    """Point the test settings at the benchmark database, set Django up, migrate.

    Everything here must happen before the first import of `sandbox.celery` or
    Django settings; `env` is exported too, so child processes inherit it.
    """
    url = database_url(database)
    os.environ["DJANGO_SETTINGS_MODULE"] = "tests.settings"
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ.update(env or {})

    import django

    django.setup()

    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    return url


def clear_plugin_rows() -> None:
    """Delete everything the plugin wrote (the benchmark database is ours alone)."""
    from saleor_support_plugin.notifications.models import Notification
    from saleor_support_plugin.orders.models import OrderEvent, OrderSnapshot

    Notification.objects.all().delete()
    OrderEvent.objects.all().delete()
    OrderSnapshot.objects.all().delete()  # cascades to lines and fulfillments


def clear_orders() -> None:
    """Delete the sandbox's orders the factories created (cascades to lines, fulfillments)."""
    from sandbox.order.models import Order

    Order.objects.all().delete()


_numbers: Iterator[int] | None = None


def _next_number() -> int:
    """Return an unused order number: above any left in the database (a killed run, a child)."""
    global _numbers
    if _numbers is None:
        from django.db.models import Max

        from sandbox.order.models import Order

        highest = Order.objects.aggregate(n=Max("number"))["n"] or 0
        _numbers = itertools.count(max(highest + 1, 1000))
    return next(_numbers)


def make_order(
    n_lines: int = 3, *, fulfilled: bool = True, status: str = "unfulfilled"
) -> Any:
    """Create a sandbox order (database rows) with `n_lines` lines; fulfilled and refunded a bit.

    Unfulfilled, it is an order Saleor would only confirm (one "confirmed"
    email); fulfilled, it also has one shipment with a tracking number and a
    refund of 10.00.
    """
    from tests.factories import (
        SaleorOrderFactory,
        SaleorOrderLineFactory,
        fulfill,
        refund,
    )

    lines = [SaleorOrderLineFactory.build() for _ in range(n_lines)]
    order: Any = SaleorOrderFactory(
        number=_next_number(),
        status=status,
        lines=lines,
        total_gross_amount=sum(
            (line.unit_price_gross_amount for line in lines), Decimal(0)
        ),
    )
    if fulfilled:
        fulfill(order, tracking_number=f"1ZBENCH{order.number}")
        refund(order, Decimal("10.00"))
    return order


@dataclass(frozen=True)
class Stats:
    """Latency figures of a list of samples in nanoseconds, reported in µs."""

    count: int
    median_us: float
    p95_us: float
    mean_us: float
    min_us: float
    max_us: float

    @classmethod
    def of(cls, samples_ns: Sequence[int]) -> Stats:
        ordered = sorted(samples_ns)
        rank95 = max(math.ceil(0.95 * len(ordered)) - 1, 0)
        return cls(
            count=len(ordered),
            median_us=statistics.median(ordered) / 1000,
            p95_us=ordered[rank95] / 1000,
            mean_us=statistics.fmean(ordered) / 1000,
            min_us=ordered[0] / 1000,
            max_us=ordered[-1] / 1000,
        )


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """Print an aligned table: the first column left-aligned, the others right."""
    cells = [[str(cell) for cell in row] for row in rows]
    widths = [
        max([len(headers[i]), *(len(row[i]) for row in cells)])
        for i in range(len(headers))
    ]

    def line(values: Sequence[str]) -> str:
        return "  ".join(
            value.ljust(width) if i == 0 else value.rjust(width)
            for i, (value, width) in enumerate(zip(values, widths, strict=True))
        )

    out(line(headers))
    out(line(["-" * width for width in widths]))
    for row in cells:
        out(line(row))


def bulk_load(
    *,
    truncate: Sequence[str],
    statements: Sequence[tuple[str, str]],
    marker_table: str,
    marker: str,
    params: dict[str, Any],
) -> None:
    """Empty `truncate`, run the named seed statements in one transaction, mark it, analyze.

    The marker (a table comment) tells a later run which seed is loaded.
    """
    from django.db import connection, transaction

    started = time.monotonic()
    width = max(len(name) for name, _ in statements)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {', '.join(truncate)} RESTART IDENTITY CASCADE")
        for name, sql in statements:
            step = time.monotonic()
            cursor.execute(sql, params)
            rows = max(cursor.rowcount, 0)
            out(f"  {name:<{width}} {rows:>9,} rows  {time.monotonic() - step:6.1f}s")
        cursor.execute(f"COMMENT ON TABLE {marker_table} IS %s", [marker])
    step = time.monotonic()
    with connection.cursor() as cursor:
        # After a bulk load, as autovacuum would eventually: planner statistics
        # and the visibility map (index-only scans).
        cursor.execute("VACUUM (ANALYZE)")
    out(f"  {'vacuum analyze':<{width}} {'':>9}       {time.monotonic() - step:6.1f}s")
    out(f"  loaded in {time.monotonic() - started:.0f}s")
