"""Hook cost on real Saleor orders (run in a Saleor environment, against a populated database).

    DJANGO_SETTINGS_MODULE=saleor.settings DATABASE_URL=... SECRET_KEY=... python -m benchmarks.saleor_hook_cost

Calls the plugin's hooks with Saleor's own Order and Fulfillment objects (fresh
from the database, nothing prefetched), inside a transaction that is rolled
back, and prints SQL statements and microseconds per call.
"""

from __future__ import annotations

import statistics
import sys
import time

import django


def main() -> None:
    django.setup()
    from django.db import connection, transaction
    from django.test.utils import CaptureQueriesContext
    from saleor.order.models import Fulfillment, Order

    from saleor_support_plugin.saleor import hooks

    orders = list(
        Order.objects.exclude(status="draft").values_list("pk", flat=True)[:20]
    )
    fulfillments = list(Fulfillment.objects.values_list("pk", flat=True)[:20])
    if not orders:
        sys.exit("No orders: run `python manage.py populatedb` first.")
    rows: list[tuple[str, int, int, int, float, str]] = []
    cases = [
        (
            "order_confirmed",
            hooks.order_confirmed,
            lambda pk: Order.objects.get(pk=pk),
            orders,
        ),
        (
            "order_updated",
            hooks.order_updated,
            lambda pk: Order.objects.get(pk=pk),
            orders,
        ),
        (
            "fulfillment_created",
            hooks.fulfillment_created,
            lambda pk: Fulfillment.objects.get(pk=pk),
            fulfillments,
        ),
        (
            "tracking_number_updated",
            hooks.tracking_number_updated,
            lambda pk: Fulfillment.objects.get(pk=pk),
            fulfillments,
        ),
    ]
    for name, hook, load, pks in cases:
        if not pks:
            continue
        timings: list[float] = []
        counts: list[int] = []
        statements: set[str] = set()
        for pk in pks:
            subject = load(pk)
            with transaction.atomic():
                with CaptureQueriesContext(connection) as queries:
                    started = time.perf_counter_ns()
                    hook(subject)
                    timings.append((time.perf_counter_ns() - started) / 1000)
                counts.append(len(queries.captured_queries))
                statements.update(q["sql"].split()[0] for q in queries.captured_queries)
                transaction.set_rollback(True)
        rows.append(
            (
                name,
                len(pks),
                min(counts),
                max(counts),
                statistics.median(timings),
                ",".join(sorted(statements)),
            )
        )
    out = sys.stdout
    out.write(
        f"{'hook':<25}{'calls':>6}{'SQL min':>9}{'SQL max':>9}{'median µs':>11}  statements\n"
    )
    for name, calls, low, high, median, kinds in rows:
        out.write(f"{name:<25}{calls:>6}{low:>9}{high:>9}{median:>11.0f}  {kinds}\n")
    out.write(
        "SQL includes SAVEPOINT/RELEASE (hooks run in a savepoint inside a transaction) and one INSERT.\n"
    )


if __name__ == "__main__":
    main()
