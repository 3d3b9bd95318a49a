"""Reads for price protection: eligible lines in one statement, sums for the caps, listings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import connection
from django.db.models import Q, QuerySet

from ..auth import Requestor
from ..orders.models import OrderLineSnapshot, OrderSnapshot
from .data import VariantPrice
from .models import COUNTED_STATES, ClaimState, PriceClaim

_COUNTED = [state.value for state in COUNTED_STATES]
_OPEN_EXCLUDED = [ClaimState.REJECTED.value, ClaimState.REFUNDED.value]


@dataclass(frozen=True)
class EligibleLine:
    line_pk: int
    line_id: str
    order_pk: int
    variant_id: str
    channel_slug: str
    placed_at: datetime
    currency: str
    quantity_kept: int
    unit_price_gross: Decimal
    unit_price_net: Decimal
    customer_email: str
    user_id: str | None
    # Money the line already stands for in claims (not rejected).
    already_claimed: Decimal
    # The lowest new price of a rejected claim on this line (a drop to it, or
    # above it, was already decided against).
    rejected_price: Decimal | None


def bought_pairs(variant_ids: list[str], since: datetime) -> list[tuple[str, str]]:
    """Return the channels each variant was bought in within the window (one indexed query)."""
    rows = (
        OrderLineSnapshot.objects.filter(
            variant_id__in=variant_ids, placed_at__gte=since, quantity_kept__gt=0
        )
        .values_list("variant_id", "channel_slug")
        .distinct()
    )
    return [(variant, channel) for variant, channel in rows if variant]


def all_bought_pairs(since: datetime) -> list[tuple[str, str]]:
    """Every (variant, channel) bought within the window: what the sweep re-reads."""
    rows = (
        OrderLineSnapshot.objects.filter(
            placed_at__gte=since, quantity_kept__gt=0, variant_id__isnull=False
        )
        .values_list("variant_id", "channel_slug")
        .distinct()
        .order_by("variant_id", "channel_slug")
    )
    return [(variant, channel) for variant, channel in rows if variant]


# One statement over the purchase snapshot: the prices arrive as arrays, are
# joined to the lines through the (variant, channel, placed_at) index, and each
# line carries its claims' sums; lines with an open claim or not paid above
# the new price never leave the database.
ELIGIBLE_LINES_SQL = """
WITH price AS (
    SELECT * FROM unnest(%(variants)s::text[], %(channels)s::text[],
                         %(amounts)s::numeric[], %(currencies)s::text[], %(gross)s::bool[])
           AS p(variant_id, channel_slug, amount, currency, gross)
)
SELECT l.id, l.line_id, l.order_id, l.variant_id, l.channel_slug, l.placed_at,
       l.currency, l.quantity_kept, l.unit_price_gross, l.unit_price_net,
       o.customer_email, o.user_id,
       coalesce(c.claimed, 0), c.rejected_price, p.amount, p.gross
FROM price p
JOIN {lines} l
  ON l.variant_id = p.variant_id AND l.channel_slug = p.channel_slug
 AND l.placed_at >= %(since)s AND l.quantity_kept > 0
JOIN {orders} o ON o.id = l.order_id
LEFT JOIN LATERAL (
    SELECT sum(coalesce(approved_amount, amount))
               FILTER (WHERE state = ANY(%(counted)s)) AS claimed,
           min(new_unit_price) FILTER (WHERE state = 'rejected') AS rejected_price,
           bool_or(NOT (state = ANY(%(closed)s))) AS has_open
    FROM {claims} WHERE line_id = l.id
) c ON true
WHERE l.currency = p.currency
  AND (CASE WHEN p.gross THEN l.unit_price_gross ELSE l.unit_price_net END) > p.amount
  AND NOT coalesce(c.has_open, false)
  AND (c.rejected_price IS NULL OR p.amount < c.rejected_price)
ORDER BY l.placed_at, l.id
"""


def eligible_lines(
    prices: list[VariantPrice], since: datetime
) -> list[tuple[EligibleLine, VariantPrice]]:
    """Lines bought since `since`, still kept, paid above the variant's price now, with no open claim."""
    if not prices:
        return []
    by_pair = {(p.variant_id, p.channel_slug): p for p in prices}
    sql = ELIGIBLE_LINES_SQL.format(
        lines=OrderLineSnapshot._meta.db_table,
        orders=OrderSnapshot._meta.db_table,
        claims=PriceClaim._meta.db_table,
    )
    with connection.cursor() as cursor:
        cursor.execute(
            sql,
            {
                "variants": [p.variant_id for p in prices],
                "channels": [p.channel_slug for p in prices],
                "amounts": [p.amount for p in prices],
                "currencies": [p.currency for p in prices],
                "gross": [p.gross for p in prices],
                "since": since,
                "counted": _COUNTED,
                "closed": _OPEN_EXCLUDED,
            },
        )
        rows = cursor.fetchall()
    found = []
    for row in rows:
        line = EligibleLine(*row[:14])
        found.append((line, by_pair[(line.variant_id, line.channel_slug)]))
    return found


@dataclass(frozen=True)
class OrderMoney:
    total_gross: Decimal
    # Refunds the shop made other than price protection's own.
    other_refunds: Decimal
    claimed: Decimal

    @property
    def refundable(self) -> Decimal:
        return max(self.total_gross - self.other_refunds - self.claimed, Decimal(0))


ORDER_MONEY_SQL = """
SELECT o.id, o.total_gross, o.total_refunded,
       coalesce(sum(coalesce(c.approved_amount, c.amount))
                FILTER (WHERE c.state = ANY(%(counted)s)), 0),
       coalesce(sum(coalesce(c.approved_amount, c.amount))
                FILTER (WHERE c.state = 'refunded' AND c.refund_method = 'original_payment'), 0)
FROM {orders} o LEFT JOIN {claims} c ON c.order_id = o.id
WHERE o.id = ANY(%(ids)s)
GROUP BY o.id
"""


def order_money(order_pks: list[int]) -> dict[int, OrderMoney]:
    """Per order: paid, refunded by others, and what claims already stand for."""
    if not order_pks:
        return {}
    sql = ORDER_MONEY_SQL.format(
        orders=OrderSnapshot._meta.db_table, claims=PriceClaim._meta.db_table
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, {"ids": order_pks, "counted": _COUNTED})
        rows = cursor.fetchall()
    # The shop's refunded total includes price protection's refunds once it
    # has seen them: what is left is what others refunded.
    return {
        pk: OrderMoney(total, max(refunded - ours, Decimal(0)), claimed)
        for pk, total, refunded, claimed, ours in rows
    }


def claimed_by_customers(emails: list[str], since: datetime) -> dict[str, Decimal]:
    """Sum what price protection stands for per customer since `since` (the rolling cap)."""
    if not emails:
        return {}
    sql = f"""
        SELECT customer_email, sum(coalesce(approved_amount, amount))
        FROM {PriceClaim._meta.db_table}
        WHERE customer_email = ANY(%s) AND created_at >= %s AND state = ANY(%s)
        GROUP BY customer_email
    """  # noqa: S608 (table name from the model)
    with connection.cursor() as cursor:
        cursor.execute(sql, [emails, since, _COUNTED])
        return dict(cursor.fetchall())


def explained_refunds(order_id: str) -> Decimal:
    """Refunds of the order price protection made (or is making) back to the original payment.

    The order reconciler leaves these out of its own "refund issued" email:
    the customer hears about them in the price-protection email instead.
    """
    rows = PriceClaim.objects.filter(
        order__order_id=order_id,
        refund_method="original_payment",
        state__in=[ClaimState.REFUND_REQUESTED, ClaimState.REFUNDED],
    ).values_list("approved_amount", "amount")
    return sum(
        ((approved if approved is not None else amount) for approved, amount in rows),
        Decimal(0),
    )


# --- listings


def claims_visible_to(requestor: Requestor, *, staff: bool) -> QuerySet[PriceClaim]:
    """Staff see every claim; a customer their own; a guest the claims of their proven order."""
    claims = PriceClaim.objects.select_related("order", "line")
    if staff:
        return claims
    if requestor.is_guest and requestor.guest_order_id:
        # A guest token proves an order placed without an account, as for tickets.
        return claims.filter(
            order__order_id=requestor.guest_order_id, order__user_id__isnull=True
        )
    if requestor.user_id:
        return claims.filter(
            Q(customer_user_id=requestor.user_id) | Q(order__user_id=requestor.user_id)
        )
    return claims.none()


def claim_list(
    claims: QuerySet[PriceClaim], *, filters: dict[str, Any]
) -> QuerySet[PriceClaim]:
    if filters.get("states"):
        claims = claims.filter(state__in=filters["states"])
    if filters.get("order_id"):
        claims = claims.filter(order__order_id=filters["order_id"])
    if filters.get("order_number"):
        claims = claims.filter(order__number=filters["order_number"])
    if filters.get("customer_email"):
        claims = claims.filter(customer_email=filters["customer_email"].lower())
    if filters.get("channel"):
        claims = claims.filter(channel_slug=filters["channel"])
    if filters.get("source"):
        claims = claims.filter(source=filters["source"])
    if filters.get("created_from"):
        claims = claims.filter(created_at__gte=filters["created_from"])
    if filters.get("created_to"):
        claims = claims.filter(created_at__lt=filters["created_to"])
    return claims.order_by("-created_at", "-number")
