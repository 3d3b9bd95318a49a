"""Price protection at 1,000,000 purchase lines: a drop on a variant with 10,000 eligible lines.

Run: `.venv/bin/python -m benchmarks.price_protection [--runs 5] [--loop-runs 2]
[--hook-calls 2000] [--reseed] [--explain]`.

Loads database `support_bench_price` once (kept between runs; reloaded when
the seed version or counts differ, when it is older than 20 hours, so that the
window still holds, or with `--reseed`) with INSERT ... SELECT over
generate_series and deterministic hashes: 400,000 order snapshots in four
channels (USD, EUR entered net, GBP, JPY) placed over 120 days, 1,000,000
purchase lines of 5,000 variants (returned, partly returned and cancelled
lines keep 0 or fewer items), the sandbox's price table (20,000 listings), and
for the target variant 35,500 lines: 10,000 eligible (default channel, within
the 30-day window, still kept, paid 90.00-100.00; 1,000 of them with an earlier
refunded claim of 5.00 per item), and, not to be claimed, 1,000 returned, 500
bought below the new price, 20,000 outside the window and 4,000 in other
channels.

Then, per run, the target's listing drops from 100.00 to 80.00 through the
sandbox (`sandbox.order.prices.set_price`: the listing UPDATE, then Saleor's
`product_variant_updated` hook, which records the change; not timed), and the
benchmark times, as wall-clock seconds until every claim is committed:

- set-based: the body of the Celery task the hook's change enqueues
  (`tasks.process_price_changes_task.run`: load_settings, then
  `process_price_changes` → `detect_price_drops` → the one eligible-lines
  statement, the caps, one INSERT of all claims and transitions);
- per-order loop, written here for the comparison: for each order that has
  the variant within the window, load the order, its lines and its claims with
  the ORM, decide with the same `PricePolicy`, create claim and transitions
  with the ORM.

Both use the plugin's settings (price protection on, otherwise the defaults:
auto-approve up to 50.00, so every claim here is approved), and both hand the
approved claims' refunds to the publisher thread on commit
(`core.background.in_background`); Celery is not eager and the broker is
`memory://`, so those publishes happen after the timing, off the timed thread,
and no refund task runs. Claims are reset between runs; both must produce the
same claims (count, total, and a digest of line, amount, state and price).
Finally the cost of the variant hook in the sandbox (per call, statements).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
from collections import Counter, defaultdict, deque
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from ._common import Stats, bulk_load, out, table

DATABASE = "support_bench_price"
SEED_VERSION = "benchmarks.price_protection seed v1"
RESEED_AFTER = timedelta(hours=20)

ORDERS = 400_000
LINES = 1_000_000
VARIANTS = 5_000
TARGET = VARIANTS  # variant 5000; generic lines use 1..4999
DAYS = 120
CUSTOMERS = 100_000
CHANNEL = "default-channel"

# (slug, currency, factor against USD, tax divisor, minor-unit exponent, prices entered with tax)
CHANNELS = (
    (CHANNEL, "USD", "1", "1.10", 2, True),
    ("channel-eu", "EUR", "0.92", "1.19", 2, False),
    ("channel-uk", "GBP", "0.79", "1.20", 2, True),
    ("channel-jp", "JPY", "150", "1.10", 0, True),
)

OLD_PRICE = Decimal("100.00")
NEW_PRICE = Decimal("80.00")
ELIGIBLE = 10_000
RETURNED = 1_000  # in the window, quantity kept 0
BELOW = 500  # in the window, paid 75.00: not lower
OUTSIDE = 20_000  # placed 31-120 days ago
OTHER_CHANNELS = 4_000  # in the window, paid the unchanged price of their channel
TARGET_LINES = ELIGIBLE + RETURNED + BELOW + OUTSIDE + OTHER_CHANNELS
EARLIER_CLAIMS = ELIGIBLE // 10  # refunded 5.00 per item at an earlier drop to 95.00

LINES_TABLE = "saleor_support_plugin_orderlinesnapshot"
ORDERS_TABLE = "saleor_support_plugin_ordersnapshot"
CLAIMS_TABLE = "saleor_support_plugin_priceclaim"
TRANSITIONS_TABLE = "saleor_support_plugin_priceclaimtransition"
CHANGES_TABLE = "saleor_support_plugin_pricechange"
LISTINGS_TABLE = "order_variantchannellisting"

SETTINGS_OVERRIDE = {"price_protection_enabled": True}


def _hash(key: str, modulo: int) -> str:
    """Return SQL for a deterministic integer in [0, modulo) from text SQL `key`."""
    return f"mod(hashtext({key})::bigint + 2147483648, {modulo})"


def _channels_cte() -> str:
    rows = ", ".join(
        f"({idx}, '{slug}', '{currency}', {factor}::numeric, {tax}::numeric, {exponent}, {gross})"
        for idx, (slug, currency, factor, tax, exponent, gross) in enumerate(CHANNELS)
    )
    return f"channels(idx, slug, currency, factor, tax, exponent, gross) AS (VALUES {rows})"


LINE_COLUMNS = (
    "line_id, variant_id, sku, product_name, variant_name, quantity, quantity_fulfilled,"
    " currency, unit_price_gross, unit_price_net, undiscounted_unit_price_gross,"
    " order_id, channel_slug, placed_at, quantity_kept"
)


def _target_lines(
    prefix: str,
    where: str,
    limit: int,
    offset: int,
    paid: str,
    quantity: str,
    kept: str,
) -> str:
    """INSERT lines of the target variant into `limit` orders matching `where`, spread by hash."""
    return f"""
        WITH {_channels_cte()},
        picked AS (
            SELECT o.*, ch.tax, ch.exponent, ch.factor,
                   row_number() OVER (ORDER BY md5('target' || o.id)) AS rn
            FROM bench_order o JOIN channels ch ON ch.slug = o.channel_slug
            WHERE o.status = 'fulfilled' AND {where}
            ORDER BY md5('target' || o.id)
            LIMIT {limit + offset}
        ), priced AS (
            SELECT *, ({paid}) AS paid, ({quantity}) AS q FROM picked WHERE rn > {offset}
        )
        INSERT INTO {LINES_TABLE} ({LINE_COLUMNS})
        SELECT '{prefix}' || (rn - {offset}), '{TARGET}', 'SKU-{TARGET}', 'Espresso machine',
               'Black', q, q, currency, paid, round(paid / tax, exponent),
               round({OLD_PRICE} * factor, exponent), id, channel_slug, placed_at, ({kept})
        FROM priced
    """


def _seed_statements() -> list[tuple[str, str]]:
    generic = LINES - TARGET_LINES
    step_seconds = DAYS * 86400 / ORDERS
    in_window = "o.placed_at >= %(anchor)s - INTERVAL '29 days'"
    base = "(5.99 + mod(v * 37, 300))"
    # The orders first in a temporary table: lines are generated from them,
    # and the snapshots are inserted last, with their totals (the lines'
    # foreign key is checked at commit).
    orders = f"""
        CREATE TEMPORARY TABLE bench_order ON COMMIT DROP AS
        WITH {_channels_cte()},
        o AS (
            SELECT i, {_hash("'channel' || i", 10)} AS hc, {_hash("'status' || i", 100)} AS hs,
                   1 + mod(i::bigint * 7919, {CUSTOMERS}) AS customer,
                   {_hash("'guest' || i", 10)} < 3 AS guest,
                   %(anchor)s - INTERVAL '1 minute' - (i - 1) * INTERVAL '{step_seconds} seconds'
                       AS placed
            FROM generate_series(1, {ORDERS}) AS i
        )
        SELECT i::bigint AS id, md5('order-' || i)::uuid::text AS order_id,
               (100000 + i)::text AS number, ch.slug AS channel_slug,
               CASE WHEN hs < 3 THEN 'canceled' ELSE 'fulfilled' END AS status,
               placed AS placed_at,
               'customer' || lpad(customer::text, 6, '0') || '@example.com' AS customer_email,
               'Alex' AS customer_first_name,
               CASE WHEN guest THEN NULL ELSE (2000000 + customer)::text END AS user_id,
               'en' AS language_code, ch.currency
        FROM o JOIN channels ch
          ON ch.idx = CASE WHEN hc < 6 THEN 0 WHEN hc < 8 THEN 1 WHEN hc = 8 THEN 2 ELSE 3 END
    """
    lines = f"""
        WITH {_channels_cte()},
        g AS (
            SELECT j, 1 + mod(j - 1, {ORDERS}) AS order_pk,
                   -- popular variants first: the square of a uniform number
                   least({VARIANTS - 1}, 1 + floor({VARIANTS - 1} * power(
                       {_hash("'variant' || j", 1000000)} / 1000000.0, 2)))::int AS v,
                   {_hash("'quantity' || j", 10)} AS hq,
                   {_hash("'returned' || j", 100)} AS hr,
                   {_hash("'promotion' || j", 4)} AS hp
            FROM generate_series(1, {generic}) AS j
        ), priced AS (
            SELECT g.*, o.status, o.currency, o.channel_slug, o.placed_at, ch.tax, ch.exponent,
                   1 + (hq >= 7)::int + (hq = 9)::int AS q,
                   round({base} * ch.factor, ch.exponent) AS list_gross
            FROM g JOIN bench_order o ON o.id = g.order_pk
            JOIN channels ch ON ch.slug = o.channel_slug
        ), paid AS (
            SELECT *, CASE WHEN hp = 0 THEN round(list_gross * 0.9, exponent)
                           ELSE list_gross END AS gross
            FROM priced
        )
        INSERT INTO {LINES_TABLE} ({LINE_COLUMNS})
        SELECT 'line-' || j, v::text, 'SKU-' || v, 'Product ' || v, 'Variant ' || v, q,
               CASE WHEN status = 'canceled' THEN 0 ELSE q END, currency, gross,
               round(gross / tax, exponent), list_gross, order_pk, channel_slug, placed_at,
               CASE WHEN status = 'canceled' OR hr < 6 THEN 0
                    WHEN hr < 10 AND q > 1 THEN q - 1 ELSE q END
        FROM paid
    """
    default_in_window = f"o.channel_slug = '{CHANNEL}' AND {in_window}"
    eligible = _target_lines(
        "target-eligible-",
        default_in_window,
        ELIGIBLE,
        0,
        paid=f"{OLD_PRICE} - 2.5 * mod(rn, 5)",
        quantity="CASE mod(rn, 20) WHEN 0 THEN 3 WHEN 1 THEN 2 ELSE 1 END",
        kept="CASE mod(rn, 20) WHEN 0 THEN 1 ELSE q END",  # 3 bought, 2 returned
    )
    returned = _target_lines(
        "target-returned-",
        default_in_window,
        RETURNED,
        ELIGIBLE,
        paid=str(OLD_PRICE),
        quantity="1",
        kept="0",
    )
    below = _target_lines(
        "target-below-",
        default_in_window,
        BELOW,
        ELIGIBLE + RETURNED,
        paid="75.00",
        quantity="1",
        kept="1",
    )
    outside = _target_lines(
        "target-outside-",
        f"o.channel_slug = '{CHANNEL}' AND o.placed_at < %(anchor)s - INTERVAL '31 days'",
        OUTSIDE,
        0,
        paid=str(OLD_PRICE),
        quantity="1",
        kept="1",
    )
    other = _target_lines(
        "target-channel-",
        f"o.channel_slug <> '{CHANNEL}' AND {in_window}",
        OTHER_CHANNELS,
        0,
        paid=f"round({OLD_PRICE} * factor, exponent)",
        quantity="1",
        kept="1",
    )
    earlier_claims = f"""
        INSERT INTO {CLAIMS_TABLE} (id, number, idempotency_key, order_id, line_id, source,
            state, customer_user_id, customer_email, channel_slug, currency, price_basis,
            paid_unit_price, new_unit_price, quantity, amount, approved_amount,
            refund_method, evidence_url, other_shop, note, rejection_reason,
            failure_reason, refund_attempt, refund_key, refund_reference,
            refund_requested_at, refunded_at, created_at, updated_at)
        SELECT gen_random_uuid(), nextval('ssp_price_claim_number_seq'), 'seed:' || l.id,
               o.id, l.id, 'automatic', 'refunded', o.user_id, o.customer_email,
               o.channel_slug, o.currency, 'gross', l.unit_price_gross, 95.00,
               l.quantity_kept, 5.00 * l.quantity_kept, 5.00 * l.quantity_kept,
               'original_payment', '', false, '', '', '', 1, 'seed-' || l.id, '',
               l.placed_at + INTERVAL '1 day', l.placed_at + INTERVAL '1 day',
               l.placed_at + INTERVAL '1 day', l.placed_at + INTERVAL '1 day'
        FROM {LINES_TABLE} l JOIN bench_order o ON o.id = l.order_id
        WHERE l.line_id LIKE 'target-eligible-%%'
          AND mod(substr(l.line_id, 17)::int, 10) = 0
    """
    snapshots = f"""
        INSERT INTO {ORDERS_TABLE} (id, order_id, number, channel_slug, status, placed_at,
            customer_email, customer_first_name, user_id, language_code, currency,
            total_gross, total_refunded, observed_at, updated_at)
        SELECT o.*, coalesce(s.total, 0),
               coalesce(s.refunded, 0) + coalesce(c.refunded, 0), o.placed_at, o.placed_at
        FROM bench_order o
        LEFT JOIN (SELECT order_id, sum(unit_price_gross * quantity) AS total,
                          sum(unit_price_gross * (quantity - quantity_kept)) AS refunded
                   FROM {LINES_TABLE} GROUP BY order_id) s ON s.order_id = o.id
        LEFT JOIN (SELECT order_id, sum(amount) AS refunded FROM {CLAIMS_TABLE}
                   GROUP BY order_id) c ON c.order_id = o.id
        ORDER BY o.id
    """
    listings = f"""
        WITH {_channels_cte()}
        INSERT INTO {LISTINGS_TABLE} (variant_id, channel_slug, product_name, currency,
            price_amount, discounted_price_amount, prices_entered_with_tax, metadata)
        SELECT v, ch.slug, CASE WHEN v = {TARGET} THEN 'Espresso machine' ELSE 'Product ' || v END,
               ch.currency,
               CASE WHEN ch.gross THEN p.gross ELSE round(p.gross / ch.tax, ch.exponent) END,
               NULL, ch.gross,
               CASE WHEN mod(v, 100) = 7 THEN '{{"price_protection": "exclude"}}'::jsonb
                    ELSE '{{}}'::jsonb END
        FROM generate_series(1, {VARIANTS}) AS v CROSS JOIN channels ch
        CROSS JOIN LATERAL (SELECT round(CASE WHEN v = {TARGET} THEN {OLD_PRICE}
                                         ELSE {base} END * ch.factor, ch.exponent) AS gross) p
    """
    return [
        ("orders (temp)", orders),
        ("lines", lines),
        ("target eligible", eligible),
        ("target returned", returned),
        ("target below", below),
        ("target outside", outside),
        ("target channels", other),
        ("earlier claims", earlier_claims),
        ("order snapshots", snapshots),
        ("listings", listings),
        (
            "sequence",
            f"SELECT setval(pg_get_serial_sequence('{ORDERS_TABLE}', 'id'), {ORDERS})",
        ),
    ]


def _seed_marker() -> tuple[str, datetime] | None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"SELECT obj_description('{LINES_TABLE}'::regclass, 'pg_class')")
        row = cursor.fetchone()
    if not row or not row[0] or "|" not in row[0]:
        return None
    version, _, anchor = row[0].partition("|")
    return version, datetime.fromisoformat(anchor)


def seed(*, force: bool = False) -> datetime:
    """Load the data set unless it is there and fresh; return its anchor (the "now" of placing times)."""
    from django.db import connection
    from django.utils import timezone

    marker = _seed_marker()
    if not force and marker is not None and marker[0] == SEED_VERSION:
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT (SELECT count(*) FROM {LINES_TABLE}), (SELECT count(*) FROM {ORDERS_TABLE})"
            )
            counts = cursor.fetchone()
        age = timezone.now() - marker[1]
        if counts == (LINES, ORDERS) and age < RESEED_AFTER:
            out(
                f"data: already loaded {age.total_seconds() / 3600:.1f} h ago "
                f"({LINES:,} lines, {ORDERS:,} orders)"
            )
            return marker[1]
    anchor = timezone.now()
    out(f"data: loading {ORDERS:,} orders and {LINES:,} purchase lines ...")
    bulk_load(
        truncate=(
            LINES_TABLE,
            ORDERS_TABLE,
            CLAIMS_TABLE,
            TRANSITIONS_TABLE,
            CHANGES_TABLE,
            LISTINGS_TABLE,
        ),
        statements=_seed_statements(),
        marker_table=LINES_TABLE,
        marker=f"{SEED_VERSION}|{anchor.isoformat()}",
        params={"anchor": anchor},
    )
    return anchor


# --- instruments


class Publishes:
    """Celery publishes by task name (before_task_publish fires on the publishing thread)."""

    def __init__(self) -> None:
        self.by_task: Counter[str] = Counter()
        self.on_main = 0
        self._main = threading.get_ident()
        self._lock = threading.Lock()

    def install(self) -> None:
        from celery.signals import before_task_publish

        before_task_publish.connect(self._on_publish, weak=False)

    def _on_publish(self, sender: Any = None, **kwargs: Any) -> None:
        with self._lock:
            self.by_task[str(sender).rsplit(".", 1)[-1]] += 1
            if threading.get_ident() == self._main:
                self.on_main += 1

    def wait(self, task: str, at_least: int, timeout: float = 300) -> float:
        """Wait until `task` was published `at_least` times; return the seconds waited."""
        started = time.monotonic()
        while self.by_task[task] < at_least and time.monotonic() - started < timeout:
            time.sleep(0.005)
        return time.monotonic() - started


# --- one run


@dataclass(frozen=True)
class Outcome:
    claims: int
    approved: int
    amount: Decimal
    approved_amount: Decimal
    transitions: int
    wrong_lines: int  # claims on target lines that must not be claimed, or others
    digest: str


def reset() -> None:
    """Drop the claims of earlier runs (the seeded ones stay) and restore the old price."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {TRANSITIONS_TABLE} WHERE claim_id IN (SELECT id FROM {CLAIMS_TABLE}"
            " WHERE idempotency_key NOT LIKE 'seed:%%')"
        )
        cursor.execute(
            f"DELETE FROM {CLAIMS_TABLE} WHERE idempotency_key NOT LIKE 'seed:%%'"
        )
        cursor.execute(f"DELETE FROM {CHANGES_TABLE}")
        cursor.execute(
            f"UPDATE {LISTINGS_TABLE} SET price_amount = %s, discounted_price_amount = NULL"
            " WHERE variant_id = %s AND channel_slug = %s",
            [OLD_PRICE, TARGET, CHANNEL],
        )
        # So that every run finds the tables as the first did.
        cursor.execute(f"VACUUM (ANALYZE) {CLAIMS_TABLE}, {TRANSITIONS_TABLE}")


def drop_price(publishes: Publishes) -> float:
    """Lower the target's price as Saleor would (listing UPDATE, then the hook); return seconds."""
    from sandbox.order.prices import set_price

    before = publishes.by_task["process_price_changes_task"]
    started = time.perf_counter()
    set_price(TARGET, price=NEW_PRICE, channel_slug=CHANNEL)
    elapsed = time.perf_counter() - started
    # The hook hands the task's publish to the publisher thread: let it finish
    # before anything is timed (the task itself is not consumed).
    publishes.wait("process_price_changes_task", before + 1)
    return elapsed


def outcome() -> Outcome:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT count(*), count(*) FILTER (WHERE c.state = 'approved'),
                   coalesce(sum(c.amount), 0), coalesce(sum(c.approved_amount), 0),
                   count(*) FILTER (WHERE l.line_id NOT LIKE 'target-eligible-%%'),
                   md5(coalesce(string_agg(l.line_id || ':' || c.amount || ':' || c.state
                       || ':' || c.new_unit_price || ':' || c.quantity, ',' ORDER BY l.line_id), ''))
            FROM {CLAIMS_TABLE} c JOIN {LINES_TABLE} l ON l.id = c.line_id
            WHERE c.idempotency_key NOT LIKE 'seed:%%'
            """
        )
        claims, approved, amount, approved_amount, wrong, digest = cursor.fetchone()
        cursor.execute(
            f"SELECT count(*) FROM {TRANSITIONS_TABLE} t JOIN {CLAIMS_TABLE} c ON c.id = t.claim_id"
            " WHERE c.idempotency_key NOT LIKE 'seed:%%'"
        )
        transitions = cursor.fetchone()[0]
    return Outcome(
        claims, approved, amount, approved_amount, transitions, wrong, digest
    )


def expected() -> tuple[int, Decimal]:
    """Return what the seed's facts owe: (paid - 80.00) x kept, minus earlier claims."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT count(*), sum((l.unit_price_gross - %s) * l.quantity_kept
                                 - coalesce(c.amount, 0))
            FROM {LINES_TABLE} l
            LEFT JOIN {CLAIMS_TABLE} c ON c.line_id = l.id AND c.idempotency_key LIKE 'seed:%%'
            WHERE l.line_id LIKE 'target-eligible-%%'
            """,
            [NEW_PRICE],
        )
        count, total = cursor.fetchone()
    return count, total


def set_based() -> None:
    """Run what the worker runs for the hook's change: the task's body, without the broker."""
    from saleor_support_plugin.tasks import process_price_changes_task

    process_price_changes_task.run([str(TARGET)])


def per_order_loop() -> None:
    """Detect the straightforward way, for the comparison: order by order with the ORM.

    Same rules (the same PricePolicy), same claims, same refund hand-off; the
    variant's price per channel is read once through the port and reused.
    """
    from django.db import transaction
    from django.utils import timezone

    from saleor_support_plugin import ports
    from saleor_support_plugin.core.background import in_background
    from saleor_support_plugin.orders.models import OrderSnapshot
    from saleor_support_plugin.price_protection.models import (
        COUNTED_STATES,
        OPEN_STATES,
        ClaimSource,
        ClaimState,
        PriceClaim,
        PriceClaimTransition,
    )
    from saleor_support_plugin.price_protection.policy import (
        Limits,
        LineFacts,
        get_policy,
    )
    from saleor_support_plugin.price_protection.services import (
        enqueue_refund,
        lock_detection,
        next_claim_number,
    )

    settings = ports.load_settings()
    if not (settings.active and settings.price_protection_enabled):
        return
    variant = str(TARGET)
    now = timezone.now()
    policy = get_policy(settings)
    since = policy.window_start(now)
    counted = {s.value for s in COUNTED_STATES}
    open_states = {s.value for s in OPEN_STATES}
    prices: dict[str, Any] = {}
    approved: list[str] = []
    with transaction.atomic():
        lock_detection()
        order_pks = list(
            OrderSnapshot.objects.filter(
                lines__variant_id=variant, placed_at__gte=since
            )
            .values_list("pk", flat=True)
            .distinct()
        )
        for pk in order_pks:
            order = OrderSnapshot.objects.get(pk=pk)
            lines = list(order.lines.all())
            claims = list(PriceClaim.objects.filter(order=order))
            if order.channel_slug not in prices:
                prices[order.channel_slug] = ports.read_variant_prices(
                    [(variant, order.channel_slug)]
                ).get((variant, order.channel_slug))
            price = prices[order.channel_slug]
            if price is None or policy.is_excluded(price):
                continue
            claimed = sum(
                (c.refund_amount for c in claims if c.state in counted), Decimal(0)
            )
            ours = sum(
                (
                    c.refund_amount
                    for c in claims
                    if c.state == ClaimState.REFUNDED
                    and c.refund_method == "original_payment"
                ),
                Decimal(0),
            )
            others = max(order.total_refunded - ours, Decimal(0))
            room = max(order.total_gross - others - claimed, Decimal(0))
            cap = policy.order_cap()
            cap_room = None if cap is None else max(cap - claimed, Decimal(0))
            customer_room = None
            customer_cap = policy.customer_cap()
            if customer_cap is not None:
                total = sum(
                    (
                        c.refund_amount
                        for c in PriceClaim.objects.filter(
                            customer_email=order.customer_email,
                            created_at__gte=now - policy.customer_cap_period(),
                            state__in=counted,
                        )
                    ),
                    Decimal(0),
                )
                customer_room = max(customer_cap - total, Decimal(0))
            for line in lines:
                if line.variant_id != variant or line.quantity_kept <= 0:
                    continue
                if not policy.in_window(order.placed_at, now):
                    continue
                if line.currency != price.currency:
                    continue
                mine = [c for c in claims if c.line_id == line.pk]
                if any(c.state in open_states for c in mine):
                    continue
                rejected = [
                    c.new_unit_price for c in mine if c.state == ClaimState.REJECTED
                ]
                if rejected and price.amount >= min(rejected):
                    continue
                facts = LineFacts(
                    line_id=line.line_id,
                    placed_at=order.placed_at,
                    currency=line.currency,
                    quantity_kept=line.quantity_kept,
                    unit_price_gross=line.unit_price_gross,
                    unit_price_net=line.unit_price_net,
                    already_claimed=sum(
                        (c.refund_amount for c in mine if c.state in counted),
                        Decimal(0),
                    ),
                )
                amount = policy.additional_amount(
                    facts, price.amount, gross=price.gross
                )
                limits = Limits(
                    order=room if cap_room is None else min(room, cap_room),
                    customer=customer_room,
                )
                amount = policy.apply_caps(amount, limits, line.currency)
                if not policy.worth_refunding(amount):
                    continue
                room -= amount
                if cap_room is not None:
                    cap_room -= amount
                if customer_room is not None:
                    customer_room -= amount
                state = (
                    ClaimState.APPROVED
                    if policy.auto_approves(amount, automatic=True)
                    else ClaimState.PENDING_REVIEW
                )
                basis = "gross" if price.gross else "net"
                claim = PriceClaim.objects.create(
                    number=next_claim_number(),
                    idempotency_key=f"drop:{line.pk}:{basis}:{price.amount.normalize()}",
                    order=order,
                    line=line,
                    source=ClaimSource.AUTOMATIC,
                    state=state,
                    customer_user_id=order.user_id,
                    customer_email=order.customer_email,
                    channel_slug=line.channel_slug,
                    currency=line.currency,
                    price_basis=basis,
                    paid_unit_price=policy.paid_unit_price(facts, gross=price.gross),
                    new_unit_price=price.amount,
                    quantity=line.quantity_kept,
                    amount=amount,
                    approved_amount=amount if state == ClaimState.APPROVED else None,
                    refund_method=policy.refund_method().value,
                    created_at=now,
                )
                PriceClaimTransition.objects.create(
                    claim=claim,
                    from_state="",
                    to_state=ClaimState.DETECTED,
                    actor_kind="system",
                    note="the price dropped below what the customer paid",
                    created_at=now,
                )
                PriceClaimTransition.objects.create(
                    claim=claim,
                    from_state=ClaimState.DETECTED,
                    to_state=state,
                    actor_kind="system",
                    note="within the automatic-approval limit"
                    if state == ClaimState.APPROVED
                    else "above the automatic-approval limit: staff review",
                    created_at=now,
                )
                claims.append(claim)
                if state == ClaimState.APPROVED:
                    approved.append(str(claim.pk))
        if approved:
            transaction.on_commit(lambda: in_background(enqueue_refund, approved))


@dataclass(frozen=True)
class Run:
    seconds: float
    handoff: float  # seconds until the publisher thread had published every refund task
    result: Outcome
    # (sql, seconds) of a captured run
    statements: list[tuple[str, float]] | None = None


def measure(path: Any, publishes: Publishes, *, capture: bool = False) -> Run:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    reset()
    drop_price(publishes)
    refunds_before = publishes.by_task["execute_claim_refund_task"]
    statements = None
    if capture:
        connection.queries_log.clear()
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            path()
            seconds = time.perf_counter() - started
        statements = [(q["sql"], float(q["time"])) for q in queries.captured_queries]
    else:
        started = time.perf_counter()
        path()
        seconds = time.perf_counter() - started
    result = outcome()
    handoff = publishes.wait(
        "execute_claim_refund_task", refunds_before + result.approved
    )
    return Run(seconds, seconds + handoff, result, statements)


def explain(statement: str, *, full: bool) -> list[str]:
    """EXPLAIN (ANALYZE, BUFFERS) the eligible-lines statement as the path sent it (no claims yet)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + statement.replace("%", "%%"))
        plan = [row[0] for row in cursor.fetchall()]
    if full:
        return plan
    # The top node, its buffers, every scan (which index), and the times.
    buffers = next((i for i, row in enumerate(plan) if "Buffers:" in row), None)
    return [
        row
        for i, row in enumerate(plan)
        if i in (0, buffers)
        or "Scan" in row
        or "Index Cond" in row
        or row.startswith(("Planning Time", "Execution Time"))
    ]


def _kind(sql: str) -> str:
    """Name a statement by its verb and table (values left out)."""
    text = " ".join(sql.split())
    if text.startswith("WITH price AS"):
        return (
            "SELECT eligible lines (WITH price AS (unnest ...) ... JOIN LATERAL claims)"
        )
    if text.startswith("WITH input AS"):
        return "INSERT claims + transitions (WITH input AS (unnest ...) ...)"
    if "pg_advisory_xact_lock" in text:
        return "SELECT pg_advisory_xact_lock(...)"
    if text.startswith("SELECT nextval"):
        return "SELECT nextval(claim number)"
    words = text.split()
    verb = words[0] if words else ""
    if verb in {"SELECT", "INSERT", "DELETE"}:
        marker = "FROM" if verb != "INSERT" else "INTO"
        table_name = words[words.index(marker) + 1] if marker in words else ""
    elif verb == "UPDATE":
        table_name = words[1]
    else:
        return " ".join(words[:1])
    name = table_name.strip('"').replace("saleor_support_plugin_", "ssp_")
    if verb == "SELECT" and "FOR UPDATE" in text:
        verb = "SELECT ... FOR UPDATE"
    return f"{verb} {name}"


# --- the variant hook


class _Variant:
    """What Saleor passes to product_variant_updated: a ProductVariant (only pk is read)."""

    def __init__(self, pk: int) -> None:
        self.pk = pk


@dataclass(frozen=True)
class HookFigures:
    in_txn_call: Stats
    in_txn_callback: Stats
    sql_in_call: float
    callbacks_per_call: float
    sql_in_callback: Counter[str]
    committed: Stats
    committed_sql: float
    committed_repeat: Stats
    main_publishes: int
    bg_publishes: int
    repeat_publishes: int
    rows: int
    floor: Stats


def hook_cost(calls: int, publishes: Publishes) -> HookFigures:
    from django.db import connection, transaction
    from django.test.utils import CaptureQueriesContext

    from saleor_support_plugin.price_protection.models import PriceChange
    from saleor_support_plugin.saleor import hooks

    PriceChange.objects.all().delete()
    first = publishes.by_task["process_price_changes_task"]
    hook = hooks.product_variant_updated
    base = 1_000_000  # variant ids with no listing: nothing reads them here

    def take(start: int) -> list[Any]:
        taken = connection.run_on_commit[start:]
        del connection.run_on_commit[start:]
        return [entry[1] for entry in taken]

    # 1. Inside the host's transaction (rolled back): the call defers its INSERT.
    call_ns: list[int] = []
    callback_ns: list[int] = []
    in_call: list[int] = []
    registered: list[int] = []
    kinds: Counter[str] = Counter()
    with transaction.atomic():
        for i in range(100):  # counted, not timed
            start = len(connection.run_on_commit)
            with CaptureQueriesContext(connection) as queries:
                hook(_Variant(base + i))
            in_call.append(len(queries.captured_queries))
            callbacks = take(start)
            registered.append(len(callbacks))
            with CaptureQueriesContext(connection) as queries:
                for callback in callbacks:
                    callback()
            kinds.update(_kind(q["sql"]) for q in queries.captured_queries)
        for i in range(calls):
            variant = _Variant(base + 100 + i)
            start = len(connection.run_on_commit)
            t0 = time.perf_counter_ns()
            hook(variant)
            call_ns.append(time.perf_counter_ns() - t0)
            callbacks = take(start)
            t0 = time.perf_counter_ns()
            for callback in callbacks:
                callback()
            callback_ns.append(time.perf_counter_ns() - t0)
        transaction.set_rollback(True)
    # Let the publisher thread finish those hand-offs before the next part.
    publishes.wait("process_price_changes_task", first + 100 + calls)

    # 2. As Saleor fires it: after its COMMIT, in autocommit (INSERT at once).
    before = publishes.by_task["process_price_changes_task"]
    before_main = publishes.on_main
    committed_sql: list[int] = []
    for i in range(20):
        with CaptureQueriesContext(connection) as queries:
            hook(_Variant(base + 10_000 + i))
        committed_sql.append(len(queries.captured_queries))
    committed_ns = []
    for i in range(calls):
        variant = _Variant(base + 20_000 + i)
        t0 = time.perf_counter_ns()
        hook(variant)
        committed_ns.append(time.perf_counter_ns() - t0)
    publishes.wait("process_price_changes_task", before + 20 + calls)
    bg = publishes.by_task["process_price_changes_task"] - before
    # The same variant again and again (a bulk edit of one variant's channels):
    # publishes are coalesced per variant while one is queued.
    before = publishes.by_task["process_price_changes_task"]
    repeat_ns = []
    for _ in range(calls):
        t0 = time.perf_counter_ns()
        hook(_Variant(base + 50_000))
        repeat_ns.append(time.perf_counter_ns() - t0)
    time.sleep(0.5)
    repeat_publishes = publishes.by_task["process_price_changes_task"] - before
    rows = PriceChange.objects.count()
    main = publishes.on_main - before_main

    floor_ns = []
    with connection.cursor() as cursor:
        for _ in range(calls):
            t0 = time.perf_counter_ns()
            cursor.execute("SELECT 1")
            cursor.fetchone()
            floor_ns.append(time.perf_counter_ns() - t0)
    PriceChange.objects.all().delete()
    return HookFigures(
        in_txn_call=Stats.of(call_ns),
        in_txn_callback=Stats.of(callback_ns),
        sql_in_call=statistics.fmean(in_call),
        callbacks_per_call=statistics.fmean(registered),
        sql_in_callback=kinds,
        committed=Stats.of(committed_ns),
        committed_sql=statistics.fmean(committed_sql),
        committed_repeat=Stats.of(repeat_ns),
        main_publishes=main,
        bg_publishes=bg,
        repeat_publishes=repeat_publishes,
        rows=rows,
        floor=Stats.of(floor_ns),
    )


# --- main


def _fmt_money(value: Decimal) -> str:
    return f"{value:,.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="timed set-based runs")
    parser.add_argument(
        "--loop-runs", type=int, default=2, help="timed per-order loop runs"
    )
    parser.add_argument(
        "--hook-calls", type=int, default=2000, help="timed calls of the variant hook"
    )
    parser.add_argument(
        "--reseed", action="store_true", help="reload the data even if present"
    )
    parser.add_argument(
        "--explain", action="store_true", help="print the whole EXPLAIN plan"
    )
    args = parser.parse_args()

    from ._common import setup_django

    url = setup_django(
        DATABASE,
        {
            "TEST_CELERY_BROKER_URL": "memory://localhost/",
            "CELERY_TASK_ALWAYS_EAGER": "false",
        },
    )
    import django
    from django.conf import settings
    from django.db import connection

    from sandbox import celery_app

    celery_app.conf.update(CELERY_TASK_ALWAYS_EAGER=False)
    # CaptureQueriesContext reads Django's query log, 9,000 entries by default:
    # the per-order loop sends more.
    connection.queries_log = deque(maxlen=1_000_000)
    plugin: dict[str, Any] = dict(settings.SUPPORT_PLUGIN)
    plugin["configuration"] = {**plugin["configuration"], **SETTINGS_OVERRIDE}
    settings.SUPPORT_PLUGIN = plugin

    from saleor_support_plugin import ports

    plugin_settings = ports.load_settings()
    out(
        f"database: {url} (PostgreSQL {connection.cursor().connection.info.server_version})"
    )
    out(
        f"python:   {sys.version.split()[0]}, Django {django.get_version()}, "
        f"{os.cpu_count()} CPUs; broker {settings.CELERY_BROKER_URL}, "
        f"eager {celery_app.conf.task_always_eager}"
    )
    out(
        f"settings: price protection {plugin_settings.price_protection_enabled}, window "
        f"{plugin_settings.price_protection_window_days} days ({plugin_settings.business_timezone}), "
        f"minimum {plugin_settings.price_protection_minimum}, auto-approve up to "
        f"{plugin_settings.price_protection_auto_approve_limit}, caps "
        f"{plugin_settings.price_protection_order_cap}/{plugin_settings.price_protection_customer_cap} "
        "(0: off)"
    )
    seed(force=args.reseed)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT (SELECT count(*) FROM {ORDERS_TABLE}), (SELECT count(*) FROM {LINES_TABLE}),"
            f" (SELECT count(*) FROM {LINES_TABLE} WHERE quantity_kept = 0),"
            f" (SELECT count(DISTINCT variant_id) FROM {LINES_TABLE}),"
            f" (SELECT count(*) FROM {LINES_TABLE} WHERE variant_id = %s),"
            f" (SELECT count(*) FROM {LISTINGS_TABLE})",
            [str(TARGET)],
        )
        n_orders, n_lines, n_zero, n_variants, n_target, n_listings = cursor.fetchone()
    out(
        f"data: {n_orders:,} orders, {n_lines:,} lines ({n_zero:,} with nothing kept), "
        f"{n_variants:,} variants, {n_listings:,} listings; variant {TARGET}: {n_target:,} lines "
        f"({ELIGIBLE:,} eligible; not: {RETURNED:,} returned, {BELOW:,} paid below the "
        f"new price, {OUTSIDE:,} outside the window, {OTHER_CHANNELS:,} in other channels; "
        f"{EARLIER_CLAIMS:,} with an earlier refunded claim)"
    )
    want_count, want_total = expected()
    out(
        f"drop: variant {TARGET} in {CHANNEL} {OLD_PRICE} → {NEW_PRICE}; the seed's facts owe "
        f"{want_count:,} claims, {_fmt_money(want_total)} USD"
    )

    publishes = Publishes()
    publishes.install()

    try:
        # Warm-up of each path, counted (CaptureQueriesContext), not in the figures.
        warm_set = measure(set_based, publishes, capture=True)
        warm_loop = measure(per_order_loop, publishes, capture=True)

        # The eligible-lines statement as the set-based path sent it, with no claims yet.
        assert warm_set.statements is not None
        eligible_sql = next(s for s, _ in warm_set.statements if "WITH price AS" in s)
        reset()
        drop_price(publishes)
        plan = explain(eligible_sql, full=args.explain)

        set_runs: list[Run] = []
        loop_runs: list[Run] = []
        for i in range(max(args.runs, args.loop_runs)):
            if i < args.runs:
                set_runs.append(measure(set_based, publishes))
            if i < args.loop_runs:
                loop_runs.append(measure(per_order_loop, publishes))

        hook = hook_cost(args.hook_calls, publishes)
    finally:
        reset()
        try:
            celery_app.control.purge()
        except Exception as exc:  # memory transport: nothing to purge across processes
            out(f"(broker purge: {exc})")

    report(
        set_runs,
        loop_runs,
        warm_set,
        warm_loop,
        plan,
        hook,
        args,
        (want_count, want_total),
    )


def report(
    set_runs: list[Run],
    loop_runs: list[Run],
    warm_set: Run,
    warm_loop: Run,
    plan: list[str],
    hook: HookFigures,
    args: argparse.Namespace,
    want: tuple[int, Decimal],
) -> None:
    out()
    out(
        f"Seconds from the task's start until all claims are committed (median of "
        f"{len(set_runs)} / {len(loop_runs)} runs; goal for set-based: under 2 s):"
    )
    set_median = statistics.median(r.seconds for r in set_runs)
    loop_median = statistics.median(r.seconds for r in loop_runs)
    rows = []
    for name, runs, warm in (
        ("set-based (process_price_changes)", set_runs, warm_set),
        ("per-order loop (ORM)", loop_runs, warm_loop),
    ):
        result = runs[0].result
        rows.append(
            [
                name,
                f"{statistics.median(r.seconds for r in runs):.3f}",
                f"{min(r.seconds for r in runs):.3f}",
                f"{max(r.seconds for r in runs):.3f}",
                " ".join(f"{r.seconds:.2f}" for r in runs),
                f"{len(warm.statements or []):,}",
                f"{result.claims:,}",
                f"{result.approved:,}",
                _fmt_money(result.amount),
                f"{result.transitions:,}",
                f"{statistics.median(r.handoff for r in runs):.2f}",
            ]
        )
    table(
        [
            "path",
            "median s",
            "min s",
            "max s",
            "runs",
            "SQL",
            "claims",
            "approved",
            "total USD",
            "transitions",
            "+refund hand-off s",
        ],
        rows,
    )
    out(
        f"ratio (loop / set-based, medians): {loop_median / set_median:.1f}x; "
        f"set-based {'meets' if set_median < 2 else 'misses'} the 2 s goal"
    )
    results = {r.result for r in set_runs + loop_runs} | {
        warm_set.result,
        warm_loop.result,
    }
    same = len(results) == 1
    only = next(iter(results))
    out(
        f"same claims in every run of both paths (count, total, digest of line:amount:state:"
        f"price:quantity): {'yes' if same else 'NO'}"
        + (f" ({only.digest[:12]})" if same else "")
    )
    if not same:
        for r in sorted(results, key=lambda r: r.digest):
            out(f"  {r}")
    out(
        f"against the seed's facts: {want[0]:,} claims, {_fmt_money(want[1])} → "
        + (
            "match"
            if same and only.claims == want[0] and only.amount == want[1]
            else "MISMATCH"
        )
        + f"; claims on lines that must not be claimed: {only.wrong_lines}"
    )
    out(
        "    '+refund hand-off s': until the publisher thread had published one refund "
        "task per approved claim to memory:// (after the timing; no refund runs)."
    )
    out(
        "    'SQL': statements of the captured warm-up run of the path "
        "(CaptureQueriesContext), the task's transaction included."
    )
    out()
    for name, run in (
        ("set-based path", warm_set),
        ("per-order loop", warm_loop),
    ):
        captured = run.statements or []
        sql_seconds = sum(t for _, t in captured)
        out(
            f"Statements of the {name} (warm-up run, {run.seconds:.2f} s captured): "
            f"{len(captured):,}, {sql_seconds:.2f} s of it waiting for PostgreSQL"
        )
        counts: Counter[str] = Counter()
        times: dict[str, float] = defaultdict(float)
        for sql, seconds in captured:
            counts[_kind(sql)] += 1
            times[_kind(sql)] += seconds
        for kind, count in counts.most_common():
            out(f"  {count:>6,}  {times[kind] * 1000:>8.1f} ms  {kind}")
    out()
    out(
        "EXPLAIN (ANALYZE, BUFFERS) of the eligible-lines statement, as sent, before any "
        "claim of the drop exists"
        + ("" if args.explain else " (summary; --explain: all)")
        + ":"
    )
    for row in plan:
        out(f"  {row}")

    out()
    out(
        f"Variant hook (saleor.hooks.product_variant_updated → record_price_change) in the "
        f"sandbox, {args.hook_calls} calls per row, distinct variants unless noted:"
    )
    table(
        ["what", "median µs", "p95 µs", "SQL/call"],
        [
            [
                "in the host's transaction: the call",
                f"{hook.in_txn_call.median_us:.1f}",
                f"{hook.in_txn_call.p95_us:.1f}",
                f"{hook.sql_in_call:g}",
            ],
            [
                "  its on-commit callback (INSERT + publish hand-off)",
                f"{hook.in_txn_callback.median_us:.1f}",
                f"{hook.in_txn_callback.p95_us:.1f}",
                f"{sum(hook.sql_in_callback.values()) / 100:g}",
            ],
            [
                "as Saleor fires it (after COMMIT, autocommit)",
                f"{hook.committed.median_us:.1f}",
                f"{hook.committed.p95_us:.1f}",
                f"{hook.committed_sql:g}",
            ],
            [
                "  the same variant again and again",
                f"{hook.committed_repeat.median_us:.1f}",
                f"{hook.committed_repeat.p95_us:.1f}",
                "",
            ],
            [
                "floor: SELECT 1 on the same connection",
                f"{hook.floor.median_us:.1f}",
                f"{hook.floor.p95_us:.1f}",
                "1",
            ],
        ],
    )
    out(
        f"    on-commit callbacks per call in a transaction: {hook.callbacks_per_call:g}; "
        f"their statements: {dict(hook.sql_in_callback)} (100 calls)"
    )
    out(
        f"    publishes on the calling thread: {hook.main_publishes}; on the publisher "
        f"thread: {hook.bg_publishes} for {args.hook_calls + 20} distinct variants, "
        f"{hook.repeat_publishes} for {args.hook_calls} calls of one variant (coalesced); "
        f"price-change rows written after COMMIT: {hook.rows:,}"
    )


if __name__ == "__main__":
    main()
