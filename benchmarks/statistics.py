"""`supportStatistics` over 1,000,000 tickets and 200,000 survey answers: seconds per call.

Run: `.venv/bin/python -m benchmarks.statistics [--runs 7] [--reseed] [--explain]`.

Loads database `support_bench_stats` once (kept between runs; reloaded when
the seed version or counts differ, when it is older than 20 hours, or with
`--reseed`) with INSERT ... SELECT over generate_series and deterministic
hashes, spread over the two years before the load:

- 300,000 order snapshots in four channels (60 % default-channel), each with a
  fulfillment (6 % returned, refunded and returned or replaced);
- 1,000,000 tickets, 80 % about an order, in eight categories; solved or closed
  (70/30) unless opened within the last days or one of the 0.5 % left open,
  with first-reply and resolution durations in business seconds, waits,
  replies and reopens as the ticket code keeps them;
- 300,000 surveys sent (NPS and CSAT alternating), 200,000 of them answered
  (one answer in four scored but never submitted: it stays "answered");
- 900,000 sent order emails (confirmed, shipped, delivered per order) and
  100,000 ticket emails (not counted as proactive updates);
- 20,000 price claims (70 % refunded) on their own purchase lines.

Then it times the GraphQL query as staff send it (the Django test client
posting to the plugin's route with a staff JWT; the view, the schema and the
five statements of `metrics.statistics.compute_statistics`) for the last full
quarter (91 days) before the load, over all channels and for default-channel,
and prints seconds per call beside the goal (under 1 s). The first call of
each is reported apart (cold caches); `--explain` prints EXPLAIN ANALYZE of
the statements.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from datetime import datetime, timedelta
from typing import Any

from ._common import bulk_load, out, setup_django, table

DATABASE = "support_bench_stats"
SEED_VERSION = "benchmarks.statistics seed v2"
RESEED_AFTER = timedelta(hours=20)
GOAL_SECONDS = 1.0

DAYS = 730
ORDERS = 300_000
TICKETS = 1_000_000
SURVEYS_SENT = 300_000
SURVEY_ANSWERS = 200_000
TICKET_EMAILS = 100_000
CLAIMS = 20_000
QUARTER = timedelta(days=91)
CHANNEL = "default-channel"

TICKETS_TABLE = "saleor_support_plugin_ticket"
ORDERS_TABLE = "saleor_support_plugin_ordersnapshot"
FULFILLMENTS_TABLE = "saleor_support_plugin_fulfillmentsnapshot"
SURVEYS_TABLE = "saleor_support_plugin_survey"
NOTIFICATIONS_TABLE = "saleor_support_plugin_notification"
LINES_TABLE = "saleor_support_plugin_orderlinesnapshot"
CLAIMS_TABLE = "saleor_support_plugin_priceclaim"

CHANNELS = (
    (CHANNEL, "USD"),
    ("channel-eu", "EUR"),
    ("channel-uk", "GBP"),
    ("channel-jp", "JPY"),
)
CATEGORIES = (
    "order_status",
    "shipping",
    "return",
    "refund",
    "product_question",
    "price_protection",
    "feedback",
    "other",
)

QUERY = """
query stats($channel: String, $from: DateTime!, $to: DateTime!) {
  supportStatistics(channel: $channel, from: $from, to: $to) {
    previousFrom
    figures { key unit value previous change currency }
    breakdowns { key entries { key value previous currency } }
  }
}
"""


def _hash(key: str, modulo: int) -> str:
    """Return SQL for a deterministic integer in [0, modulo) from text SQL `key`."""
    return f"mod(hashtext({key})::bigint + 2147483648, {modulo})"


def _channel_of(key: str) -> str:
    """Return SQL picking a channel slug: 60 % default, 20 % eu, 10 % uk, 10 % jp."""
    h = _hash(key, 10)
    return (
        f"CASE WHEN {h} < 6 THEN '{CHANNELS[0][0]}' WHEN {h} < 8 THEN '{CHANNELS[1][0]}'"
        f" WHEN {h} = 8 THEN '{CHANNELS[2][0]}' ELSE '{CHANNELS[3][0]}' END"
    )


def _currency(slug_sql: str) -> str:
    cases = " ".join(f"WHEN '{slug}' THEN '{code}'" for slug, code in CHANNELS)
    return f"CASE {slug_sql} {cases} END"


def _seed_statements() -> list[tuple[str, str]]:
    start = f"%(anchor)s - INTERVAL '{DAYS} days'"
    orders = f"""
        INSERT INTO {ORDERS_TABLE} (id, order_id, number, channel_slug, status, placed_at,
            customer_email, customer_first_name, user_id, language_code, currency,
            total_gross, total_refunded, observed_at, updated_at)
        SELECT i, md5('order-' || i)::uuid::text, (100000 + i)::text, slug, 'fulfilled',
               placed, 'customer' || mod(i::bigint * 7919, 100000) || '@example.com', 'Alex', NULL,
               'en', {_currency("slug")}, 59.90, 0, placed, placed
        FROM (SELECT i, {_channel_of("'channel' || i")} AS slug,
                     {start} + (i - 1) * INTERVAL '{DAYS * 86400 / ORDERS} seconds' AS placed
              FROM generate_series(1, {ORDERS}) AS i) o
    """
    fulfillments = f"""
        INSERT INTO {FULFILLMENTS_TABLE} (order_id, fulfillment_id, composed_id, status,
            tracking_number, tracking_changes, created_at, lines, carrier, carrier_status,
            carrier_description, last_activity_at)
        SELECT id, 'f-' || id, number || '-1',
               CASE {_hash("'return' || id", 100)} WHEN 0 THEN 'returned'
                    WHEN 1 THEN 'refunded_and_returned' WHEN 2 THEN 'replaced'
                    WHEN 3 THEN 'returned' WHEN 4 THEN 'returned' WHEN 5 THEN 'returned'
                    ELSE 'fulfilled' END,
               '', 0, placed_at + INTERVAL '1 day', '[]', '', '', '', placed_at + INTERVAL '1 day'
        FROM {ORDERS_TABLE}
    """
    categories = "ARRAY[" + ", ".join(f"'{c}'" for c in CATEGORIES) + "]"
    tickets = f"""
        WITH g AS (
            SELECT i, {start} + (i - 1) * INTERVAL '{DAYS * 86400 / TICKETS} seconds' AS created,
                   {_hash("'order' || i", 10)} < 8 AS has_order,
                   1 + mod(i::bigint * 7919, {ORDERS}) AS order_pk,
                   {_hash("'open' || i", 1000)} AS ho,
                   {_hash("'status' || i", 10)} AS hs,
                   600 + {_hash("'fr' || i", 16 * 3600)} AS fr,
                   3600 + {_hash("'res' || i", 40 * 3600)} AS res,
                   {_hash("'pause' || i", 8 * 3600)} AS paused,
                   {_hash("'cat' || i", len(CATEGORIES))} AS hc,
                   {_hash("'replies' || i", 10)} AS hr,
                   {_hash("'reopen' || i", 100)} AS hro
            FROM generate_series(1, {TICKETS}) AS i
        ), t AS (
            SELECT g.*,
                   -- wall time is roughly three times business time (nights, weekends)
                   created + (fr * 3) * INTERVAL '1 second' AS responded,
                   created + ((res + paused) * 3) * INTERVAL '1 second' AS resolved,
                   ho >= 5 AND created + ((res + paused) * 3) * INTERVAL '1 second' < %(anchor)s
                       AS done
            FROM g
        )
        INSERT INTO {TICKETS_TABLE} (id, number, subject, status, priority, priority_rank,
            channel, category, tags, customer_user_id, customer_email, sender_verified,
            order_id, assignee_user_id, assignee_email, tier, first_response_due_at,
            resolution_due_at, first_responded_at, first_response_breached_at,
            resolution_breached_at, solved_at, closed_at, reopen_count, paused_at,
            paused_business_seconds, first_response_business_seconds,
            resolution_business_seconds, staff_public_replies, created_at, updated_at)
        SELECT md5('ticket-' || i)::uuid, i, 'Question ' || i,
               CASE WHEN done AND hs < 7 THEN 'solved' WHEN done THEN 'closed'
                    WHEN hs < 4 THEN 'open' WHEN hs < 8 THEN 'pending_customer'
                    ELSE 'on_hold' END,
               'normal', 1, 'email', ({categories})[hc + 1], '{{}}', NULL,
               'customer' || mod(i::bigint * 7919, 100000) || '@example.com', true,
               CASE WHEN has_order THEN order_pk END, NULL, '', 1,
               created + INTERVAL '1 day', created + INTERVAL '3 days',
               CASE WHEN responded < %(anchor)s THEN responded END, NULL, NULL,
               CASE WHEN done AND hs < 7 THEN resolved END,
               CASE WHEN done AND hs >= 7 THEN resolved END,
               (hro < 8)::int,
               CASE WHEN NOT done AND hs BETWEEN 4 AND 7 THEN least(responded, %(anchor)s) END,
               CASE WHEN done THEN paused ELSE 0 END,
               CASE WHEN responded < %(anchor)s THEN fr END,
               CASE WHEN done THEN res END,
               CASE WHEN responded < %(anchor)s THEN 1 + (hr >= 6)::int + (hr >= 9)::int
                    ELSE 0 END,
               created, created
        FROM t
    """
    surveys = f"""
        WITH g AS (
            SELECT i, {start} + (i - 1) * INTERVAL '{DAYS * 86400 / SURVEYS_SENT} seconds' AS sent,
                   CASE WHEN mod(i, 2) = 0 THEN 'nps' ELSE 'csat' END AS kind,
                   -- the first two of every three sent are answered
                   mod(i, 3) <> 0 AS answers,
                   {_hash("'score' || i", 100)} AS hs,
                   {_hash("'after' || i", 72 * 60)} AS minutes,
                   {_channel_of("'survey' || i")} AS slug
            FROM generate_series(1, {SURVEYS_SENT}) AS i
        )
        INSERT INTO {SURVEYS_TABLE} (id, kind, state, customer_email, customer_user_id,
            channel_slug, language_code, trigger, triggered_at, due_at, sent_at, expires_at,
            reason, score, comment, may_quote, answered_at, submitted_at, created_at,
            updated_at)
        SELECT md5('survey-' || i)::uuid, kind,
               CASE WHEN NOT answers THEN 'sent' WHEN mod(i, 4) = 1 THEN 'answered'
                    ELSE 'submitted' END,
               'customer' || mod(i::bigint * 104729, 100000) || '@example.com', NULL, slug, 'en',
               'delivery', sent - INTERVAL '7 days', sent, sent, sent + INTERVAL '30 days', '',
               CASE WHEN NOT answers THEN NULL
                    WHEN kind = 'nps' THEN CASE WHEN hs < 45 THEN 9 + mod(hs, 2)
                                                WHEN hs < 75 THEN 7 + mod(hs, 2)
                                                ELSE mod(hs, 7) END
                    ELSE CASE WHEN hs < 70 THEN 4 + mod(hs, 2) ELSE 1 + mod(hs, 3) END END,
               '', false,
               CASE WHEN answers THEN sent + minutes * INTERVAL '1 minute' END,
               CASE WHEN answers AND mod(i, 4) <> 1
                    THEN sent + minutes * INTERVAL '1 minute' END,
               sent, sent
        FROM g
    """
    order_emails = f"""
        INSERT INTO {NOTIFICATIONS_TABLE} (id, dedupe_key, kind, channel, order_id, recipient,
            language_code, context, status, reason, attempts, next_attempt_at,
            last_dispatched_at, last_error, created_at, sent_at)
        SELECT md5('email-' || o.id || k.kind)::uuid, k.kind || ':' || o.order_id || ':email',
               k.kind, 'email', o.order_id, o.customer_email, 'en', '{{}}',
               CASE WHEN o.placed_at + k.after < %(anchor)s THEN 'sent' ELSE 'pending' END,
               '', 1, o.placed_at + k.after, o.placed_at + k.after, '', o.placed_at + k.after,
               CASE WHEN o.placed_at + k.after < %(anchor)s THEN o.placed_at + k.after END
        FROM {ORDERS_TABLE} o CROSS JOIN (VALUES ('confirmed', INTERVAL '1 minute'),
            ('shipped', INTERVAL '1 day'), ('delivered', INTERVAL '3 days')) AS k(kind, after)
    """
    ticket_emails = f"""
        INSERT INTO {NOTIFICATIONS_TABLE} (id, dedupe_key, kind, channel, order_id, recipient,
            language_code, context, status, reason, attempts, next_attempt_at,
            last_dispatched_at, last_error, created_at, sent_at)
        SELECT md5('ticket-email-' || t.number)::uuid, 'ticket_reply:' || t.number,
               'ticket_reply', 'email', NULL, t.customer_email, 'en', '{{}}', 'sent', '', 1,
               t.created_at, t.created_at, '', t.created_at, t.created_at + INTERVAL '1 hour'
        FROM {TICKETS_TABLE} t WHERE t.number <= {TICKET_EMAILS}
    """
    lines = f"""
        INSERT INTO {LINES_TABLE} (order_id, line_id, variant_id, sku, product_name,
            variant_name, quantity, quantity_fulfilled, currency, unit_price_gross,
            unit_price_net, undiscounted_unit_price_gross, channel_slug, placed_at,
            quantity_kept)
        SELECT o.id, 'claim-line-' || o.id, '1', 'SKU-1', 'Kettle', '', 1, 1, o.currency,
               59.90, 49.90, 59.90, o.channel_slug, o.placed_at, 1
        FROM {ORDERS_TABLE} o WHERE mod(o.id, {ORDERS // CLAIMS}) = 0
    """
    claims = f"""
        INSERT INTO {CLAIMS_TABLE} (id, number, idempotency_key, order_id, line_id, source,
            state, customer_user_id, customer_email, channel_slug, currency, price_basis,
            paid_unit_price, new_unit_price, quantity, amount, approved_amount,
            refund_method, evidence_url, other_shop, note, rejection_reason,
            failure_reason, refund_attempt, refund_key, refund_reference,
            refund_requested_at, refunded_at, created_at, updated_at)
        SELECT md5('claim-' || l.id)::uuid, l.id, 'seed:' || l.id, l.order_id, l.id,
               'automatic', s.state, NULL, 'buyer@example.com', l.channel_slug, l.currency,
               'gross', 59.90, 49.90, 1, 10.00,
               CASE WHEN s.state = 'refunded' THEN 10.00 END, 'original_payment', '', false,
               '', '', '', 1, '', '', NULL,
               CASE WHEN s.state = 'refunded' THEN l.placed_at + INTERVAL '12 days' END,
               l.placed_at + INTERVAL '10 days', l.placed_at + INTERVAL '10 days'
        FROM {LINES_TABLE} l CROSS JOIN LATERAL (SELECT CASE
            WHEN {_hash("'claim' || l.id", 10)} < 7 THEN 'refunded'
            WHEN {_hash("'claim' || l.id", 10)} < 8 THEN 'rejected'
            ELSE 'pending_review' END AS state) s
        WHERE l.line_id LIKE 'claim-line-%%' AND l.placed_at + INTERVAL '12 days' < %(anchor)s
    """
    return [
        ("orders", orders),
        ("fulfillments", fulfillments),
        ("tickets", tickets),
        ("surveys", surveys),
        ("order emails", order_emails),
        ("ticket emails", ticket_emails),
        ("claim lines", lines),
        ("claims", claims),
        (
            "sequences",
            f"SELECT setval(pg_get_serial_sequence('{ORDERS_TABLE}', 'id'), {ORDERS}),"
            f" setval('saleor_support_plugin_ticket_number_seq', {TICKETS}),"
            f" setval('ssp_price_claim_number_seq', {ORDERS})",
        ),
    ]


def _seed_marker() -> tuple[str, datetime] | None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT obj_description('{TICKETS_TABLE}'::regclass, 'pg_class')"
        )
        row = cursor.fetchone()
    if not row or not row[0] or "|" not in row[0]:
        return None
    version, _, anchor = row[0].partition("|")
    return version, datetime.fromisoformat(anchor)


def _counts() -> tuple[int, int]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT (SELECT count(*) FROM {TICKETS_TABLE}),"
            f" (SELECT count(*) FROM {SURVEYS_TABLE} WHERE answered_at IS NOT NULL)"
        )
        tickets, answers = cursor.fetchone()
    return tickets, answers


def seed(*, force: bool = False) -> datetime:
    """Load the data set unless it is there and fresh; return its anchor (its "now")."""
    from django.utils import timezone

    marker = _seed_marker()
    if not force and marker is not None and marker[0] == SEED_VERSION:
        age = timezone.now() - marker[1]
        if _counts() == (TICKETS, SURVEY_ANSWERS) and age < RESEED_AFTER:
            out(
                f"data: already loaded {age.total_seconds() / 3600:.1f} h ago "
                f"({TICKETS:,} tickets, {SURVEY_ANSWERS:,} survey answers)"
            )
            return marker[1]
    anchor = timezone.now().replace(microsecond=0)
    out(f"data: loading {TICKETS:,} tickets, {SURVEYS_SENT:,} surveys, ...")
    bulk_load(
        truncate=(
            TICKETS_TABLE,
            ORDERS_TABLE,
            FULFILLMENTS_TABLE,
            SURVEYS_TABLE,
            NOTIFICATIONS_TABLE,
            LINES_TABLE,
            CLAIMS_TABLE,
        ),
        statements=_seed_statements(),
        marker_table=TICKETS_TABLE,
        marker=f"{SEED_VERSION}|{anchor.isoformat()}",
        params={"anchor": anchor},
    )
    assert _counts() == (TICKETS, SURVEY_ANSWERS), _counts()
    return anchor


def staff_client() -> Any:
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Permission

    from tests.fixtures.graphql import SupportApiClient

    user, _ = get_user_model().objects.update_or_create(
        username="bench-staff@example.com",
        defaults={"email": "bench-staff@example.com", "is_staff": True},
    )
    user.user_permissions.add(
        Permission.objects.get(
            content_type__app_label="order", codename="manage_orders"
        )
    )
    return SupportApiClient(user=user)


def quarter(anchor: datetime) -> tuple[datetime, datetime]:
    """Return the 91 days that end at the last midnight (UTC) before the anchor."""
    end = anchor.replace(hour=0, minute=0, second=0, microsecond=0)
    return end - QUARTER, end


def call(client: Any, variables: dict[str, Any]) -> tuple[float, dict[str, Any]]:
    started = time.perf_counter()
    response = client.post_graphql(QUERY, variables)
    elapsed = time.perf_counter() - started
    content = json.loads(response.content)
    if response.status_code != 200 or content.get("errors"):
        raise SystemExit(f"the query failed: {response.status_code} {content}")
    return elapsed, content["data"]["supportStatistics"]


def explain(channel: str | None, start: datetime, end: datetime) -> None:
    from django.db import connection, transaction
    from django.test.utils import CaptureQueriesContext

    from saleor_support_plugin.metrics.statistics import compute_statistics

    with CaptureQueriesContext(connection) as queries:
        compute_statistics(channel=channel, start=start, end=end)
    for query in queries.captured_queries:
        if not query["sql"].lstrip().startswith("SELECT"):
            continue  # the transaction around them, SET LOCAL jit
        out()
        out(f"-- {float(query['time']):.3f}s")
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL jit = off")  # as compute_statistics does
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + query["sql"])
            for (line,) in cursor.fetchall():
                out(line)


def weekly_report(anchor: datetime, runs: int) -> None:
    """Time the weekly report over the week before the anchor's last report day.

    "write": what the beat task does (the week's statistics, topics, subject
    keywords, lowest-rated tickets, the stored context); "render": what delivery
    does (templates, the PNG charts, the MIME message). The first of each is cold
    (matplotlib's import and font cache, empty database caches).
    """
    from saleor_support_plugin.metrics.report import build_report, report_context
    from saleor_support_plugin.metrics.weekly import latest_slot
    from saleor_support_plugin.notifications.delivery import (
        EmailWithInlineImages,
        inline_images,
    )
    from saleor_support_plugin.notifications.kinds import NotificationKind
    from saleor_support_plugin.notifications.rendering import render_email
    from saleor_support_plugin.ports import load_settings

    settings = load_settings()
    slot = latest_slot(anchor, settings)

    def write() -> dict[str, Any]:
        report = build_report(
            channel=None, start=slot.start, end=slot.end, settings=settings
        )
        return report_context(report, settings)

    def render(context: dict[str, Any]) -> int:
        rendered = render_email(
            NotificationKind.WEEKLY_REPORT,
            context,
            language_code="en",
            settings=settings,
        )
        message = EmailWithInlineImages(
            subject=rendered.subject, body=rendered.text, to=["team@example.com"]
        )
        message.attach_alternative(rendered.html, "text/html")
        for image in inline_images(context):
            message.attach(image)
        return len(message.message().as_bytes())

    def timed(work: Any) -> tuple[float, Any]:
        started = time.perf_counter()
        result = work()
        return time.perf_counter() - started, result

    first_write, context = timed(write)
    first_render, size = timed(lambda: render(context))
    writes = [timed(write)[0] for _ in range(runs)]
    renders = [timed(lambda: render(context))[0] for _ in range(runs)]
    out()
    figures = {figure["key"]: figure for figure in context["report"]["figures"]}
    opened = figures["tickets_opened"]
    out(
        f"weekly report for {slot.start:%Y-%m-%d} - {slot.end:%Y-%m-%d} (Europe/Berlin,"
        f" {opened['value']} tickets opened, {len(context['charts'])} charts,"
        f" {size / 1024:.0f} KiB email), {runs} runs after a first one"
    )
    table(
        ("step", "first s", "median s", "min s", "max s"),
        [
            (
                name,
                f"{first:.3f}",
                f"{statistics.median(samples):.3f}",
                f"{min(samples):.3f}",
                f"{max(samples):.3f}",
            )
            for name, first, samples in (
                ("write (task)", first_write, writes),
                ("render (delivery)", first_render, renders),
            )
        ],
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--runs", type=int, default=7, help="timed calls per case")
    parser.add_argument("--reseed", action="store_true", help="reload the data set")
    parser.add_argument("--explain", action="store_true", help="EXPLAIN ANALYZE them")
    args = parser.parse_args()

    setup_django(DATABASE, {"CELERY_TASK_ALWAYS_EAGER": "false"})
    from django.conf import settings

    settings.SUPPORT_PLUGIN = {
        "active": True,
        "configuration": {
            "business_timezone": "Europe/Berlin",
            "sla_first_response_hours": "8",
            "sla_resolution_hours": "24",
        },
    }
    anchor = seed(force=args.reseed)
    start, end = quarter(anchor)
    client = staff_client()
    out()
    out(
        f"supportStatistics for {start:%Y-%m-%d} - {end:%Y-%m-%d} (91 days, and the 91"
        f" before), {args.runs} calls per case after a first one; goal: under"
        f" {GOAL_SECONDS:.0f} s"
    )
    rows = []
    results: dict[str, dict[str, Any]] = {}
    for label, channel in (("all channels", None), (CHANNEL, CHANNEL)):
        variables = {
            "from": start.isoformat(),
            "to": end.isoformat(),
            "channel": channel,
        }
        first, data = call(client, variables)
        samples = [call(client, variables)[0] for _ in range(args.runs)]
        results[label] = data
        median = statistics.median(samples)
        rows.append(
            (
                label,
                f"{first:.3f}",
                f"{median:.3f}",
                f"{min(samples):.3f}",
                f"{max(samples):.3f}",
                "yes" if median < GOAL_SECONDS else "NO",
            )
        )
    out()
    table(("case", "first s", "median s", "min s", "max s", "< 1 s"), rows)
    out()
    out("figures (all channels): value / previous")
    for figure in results["all channels"]["figures"]:
        value, previous = figure["value"], figure["previous"]
        fmt = lambda v: "null" if v is None else f"{v:,.2f}"  # noqa: E731
        out(f"  {figure['key']:<32} {fmt(value):>14} / {fmt(previous)}")
    weekly_report(anchor, args.runs)
    if args.explain:
        explain(None, start, end)


if __name__ == "__main__":
    main()
