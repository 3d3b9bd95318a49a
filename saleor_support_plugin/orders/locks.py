"""One lock per order, for everything that decides something about it."""

from __future__ import annotations

from django.db import connection


def lock_order(order_id: str) -> None:
    """Serialize work on one order until the transaction ends (no row needs to exist).

    A PostgreSQL advisory lock: the reconciler, carrier news, delay checks and
    inbound replies about the order take it, so their decisions are made one
    at a time on what the previous one committed.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
            [f"saleor-support-plugin:order:{order_id}"],
        )
