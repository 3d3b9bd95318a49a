"""Ticket lists at 100,000 tickets and 1,000,000 messages.

Run: `.venv/bin/python -m benchmarks.ticket_list [--runs 30] [--reseed] [--explain]`.

Loads database `support_bench_tickets` once (kept between runs; reloaded only
when the counts or the seed version differ, or with `--reseed`): 1,020 users
(20 staff agents with `order.manage_orders`, 1,000 customers), 70,000 order
snapshots, 100,000 tickets and 1,000,000 messages, all with INSERT ... SELECT
over generate_series and deterministic hashes, so every load is identical.
Then it asks the plugin's GraphQL endpoint, through the sandbox's URLconf and
Django's test client (the whole request path: URL routing, bearer-token
authentication, permission check, GraphQL parsing, validation, execution, JSON),
for three pages of 50:

- staff list: newest first, with customer email, order number, assignee and the
  last message (notes included);
- staff search: the same, filtered by `search` (subject or any message);
- customer list: a customer's own tickets (100 of them), newest first.

For each it prints the SQL statements of one request (CaptureQueriesContext),
their summed database time and the slowest one, then median/p95 of `--runs`
timed requests.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import statistics
import sys
import time
from dataclasses import asdict, dataclass
from typing import Any

from ._common import out, table

DATABASE = "support_bench_tickets"
SEED_VERSION = "benchmarks.ticket_list seed v2"

TICKETS = 100_000
MESSAGES_PER_TICKET = 10
MESSAGES = TICKETS * MESSAGES_PER_TICKET
CUSTOMERS = 1_000
AGENTS = 20
# Explicit user ids, so that tickets and messages can name them by formula.
AGENT_ID_BASE = 1_000_000  # agent01 = 1000001
CUSTOMER_ID_BASE = 2_000_000  # customer0001 = 2000001
FIRST_NUMBER = 1_000  # ticket i has number 1000 + i
ORDER_NUMBER_BASE = 50_000  # ticket i's order (70 % of tickets) is #50000 + i

PAGE = 50
WARMUP = 3
SEARCH = "espresso machine"
STAFF_EMAIL = "agent01@support.example"
CUSTOMER_EMAIL = "customer0001@example.com"

GRAPHQL_URL = "/plugins/global/saleor-support-plugin/graphql/"

# What a staff list page shows (the query of tests/test_ticket_list.py).
LIST_QUERY = """
query list($first: Int, $after: String, $filter: SupportTicketFilterInput, $sortBy: SupportTicketSortingInput) {
  supportTickets(first: $first, after: $after, filter: $filter, sortBy: $sortBy) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { node {
      number subject status priority customerEmail
      order { number }
      assignee { email }
      lastMessageText lastMessageAt
    } }
  }
}
"""

# --- generated text: the same templates in every load, picked by hashes

PRODUCTS = (
    "espresso machine",
    "burr grinder",
    "rain jacket",
    "hiking boots",
    "wool sweater",
    "yoga mat",
    "desk lamp",
    "office chair",
    "standing desk",
    "bluetooth speaker",
    "noise-cancelling headphones",
    "smart watch",
    "running shoes",
    "cast iron skillet",
    "chef knife",
    "blender",
    "air fryer",
    "toaster",
    "kettle",
    "coffee beans",
    "backpack",
    "suitcase",
    "sunglasses",
    "leather wallet",
    "phone case",
    "charging cable",
    "wireless mouse",
    "mechanical keyboard",
    "monitor stand",
    "webcam",
    "bed sheets",
    "duvet cover",
    "bath towel",
    "scented candle",
    "plant pot",
    "garden hose",
    "bike helmet",
    "tent",
    "sleeping bag",
    "water bottle",
)

# (subject, category, the customer's first message); {p} is the product.
TOPICS = (
    (
        "Where is my {p}?",
        "shipping",
        "Hi, I ordered the {p} almost two weeks ago and it still has not arrived. "
        "The tracking page has not moved since it left the warehouse.",
    ),
    (
        "Damaged {p}",
        "return",
        "Hello, the {p} arrived today but the box was crushed and the {p} is "
        "scratched on one side. Can I get a replacement?",
    ),
    (
        "Return the {p}",
        "return",
        "I would like to return the {p}. It is smaller than the photos suggested "
        "and does not fit where I wanted it.",
    ),
    (
        "Charged twice",
        "refund",
        "I was charged twice for my order with the {p}. Please refund the "
        "duplicate payment to my card.",
    ),
    (
        "When does my order ship?",
        "order_status",
        "Can you tell me when my order ships? I need the {p} before the weekend "
        "for a gift.",
    ),
    (
        "{p} stopped working",
        "product_question",
        "The {p} stopped working after three days. Is it covered by the warranty, "
        "and how do I send it back?",
    ),
    (
        "Wrong colour delivered",
        "return",
        "You sent me the wrong colour: I ordered the {p} in black and received it "
        "in grey.",
    ),
    (
        "Discount code not applied",
        "refund",
        "My discount code was not applied at checkout when I bought the {p}. Can "
        "you refund the difference?",
    ),
    (
        "Parcel marked delivered but not received",
        "shipping",
        "The courier says the parcel with the {p} was delivered but nothing was "
        "left at my door or with my neighbours.",
    ),
    (
        "Restock question: {p}",
        "product_question",
        "Is the {p} back in stock soon? I would like to order two more for my office.",
    ),
    (
        "Change delivery address",
        "order_status",
        "I need to change the delivery address for my order, the {p} should go to "
        "my work address instead.",
    ),
    (
        "Price dropped after purchase",
        "price_protection",
        "The price of the {p} dropped the day after I bought it. Do you offer "
        "price protection?",
    ),
)

CUSTOMER_REPLIES = (
    "Thanks for the quick answer. I checked again this morning and still nothing "
    "has arrived.",
    "I have attached a photo of the damage and of the label on the box.",
    "Okay, I will wait until Friday then. Please keep me posted about the {p}.",
    "The refund has not shown up on my statement yet, can you check?",
    "That works for me, please go ahead with the replacement.",
    "I printed the return label and dropped the parcel at the post office today.",
    "Sorry, I do not understand: do I need to send the {p} back first?",
    "Great, the {p} arrived and everything looks fine now. Thank you!",
)

STAFF_REPLIES = (
    "Thanks for reaching out about your {p}. I checked with the carrier and the "
    "parcel is at the regional depot; it should be delivered within two business "
    "days.",
    "I am sorry the {p} arrived damaged. I have sent a replacement at no cost, you "
    "will get a new tracking number by email.",
    "I have refunded the duplicate charge. Depending on your bank it takes three "
    "to five business days to appear on your statement.",
    "Could you send us a photo of the {p} and of the shipping label? That helps us "
    "file a claim with the carrier.",
    "Your return for the {p} is approved. I have emailed you a prepaid return "
    "label; the refund is issued once the parcel reaches our warehouse.",
    "I have updated the delivery address on your order. The warehouse has not "
    "packed it yet, so the change is in time.",
    "The {p} is covered by a two-year warranty. I have started a warranty case and "
    "a courier will collect it.",
    "We match price drops within 14 days of purchase, so I have refunded the "
    "difference for the {p}.",
)

INTERNAL_NOTES = (
    "Carrier claim opened for the {p}, waiting for the depot to confirm the loss.",
    "Customer has contacted us three times this month, handle with care.",
    "Checked the payment provider: two captures on the same card, the second one "
    "refunded manually.",
    "Warehouse confirms the {p} left in a damaged outer box, photo in the shared "
    "drive.",
    "Escalated to tier 2, replacement stock for the {p} arrives next Tuesday.",
    "Possible fraud pattern, the same address is used by several new accounts.",
)

FIRST_NAMES = (
    "Alice",
    "Bruno",
    "Chloe",
    "Dmitri",
    "Emma",
    "Farid",
    "Grace",
    "Hiro",
    "Ines",
    "Jonas",
    "Kemal",
    "Lena",
    "Marco",
    "Nadia",
    "Oscar",
    "Priya",
    "Quentin",
    "Rosa",
    "Sven",
    "Tara",
)


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _hash(key: str, modulo: int) -> str:
    """Return SQL for a deterministic integer in [0, modulo) from text SQL `key`."""
    return f"mod(hashtext({key})::bigint + 2147483648, {modulo})"


def _pick(options: tuple[str, ...], key: str) -> str:
    """Return SQL choosing one of `options` by the hash of `key`."""
    array = ", ".join(_literal(option) for option in options)
    return f"(ARRAY[{array}])[1 + {_hash(key, len(options))}::int]"


def _ticket_facts(i: str) -> dict[str, str]:
    """Return the SQL expressions of ticket `i` (1..TICKETS) all statements share."""
    customer = f"(1 + mod({i} * 7919, {CUSTOMERS}))"  # 100 tickets per customer
    agent = _hash(f"'assign' || {i}", 25)  # 0..19: assigned (80 %), else not
    return {
        "uuid": f"md5('ticket-' || {i})::uuid",
        "customer": customer,
        "customer_id": f"({CUSTOMER_ID_BASE} + {customer})",
        "customer_email": f"('customer' || lpad({customer}::text, 4, '0') || '@example.com')",
        "customer_name": f"(ARRAY[{', '.join(_literal(n) for n in FIRST_NAMES)}])[1 + mod({customer}, {len(FIRST_NAMES)})]",
        "agent": agent,
        "assigned": f"({agent} < {AGENTS})",
        "agent_id": f"({AGENT_ID_BASE} + 1 + mod({agent}, {AGENTS}))",
        "agent_email": f"('agent' || lpad((1 + mod({agent}, {AGENTS}))::text, 2, '0') || '@support.example')",
        "product": _pick(PRODUCTS, f"'product' || {i}"),
        "topic": f"(1 + {_hash(f"'topic' || {i}", len(TOPICS))}::int)",
        "has_order": f"({_hash(f"'order' || {i}", 10)} < 7)",
        "created": f"(TIMESTAMPTZ '2025-01-01 00:00:00+00' + {i} * INTERVAL '5 minutes')",
        "status": _hash(f"'status' || {i}", 20),
        "priority": _hash(f"'priority' || {i}", 10),
        "channel": _pick(
            ("web", "web", "email", "email", "chat", "phone", "social"),
            f"'channel' || {i}",
        ),
    }


MESSAGE_GAP = "INTERVAL '2 hours 13 minutes'"


def _seed_statements() -> list[tuple[str, str]]:
    t = _ticket_facts("i")
    topics_subject = ", ".join(_literal(s) for s, _, _ in TOPICS)
    topics_category = ", ".join(_literal(c) for _, c, _ in TOPICS)
    topics_opening = ", ".join(_literal(b) for _, _, b in TOPICS)
    status = (
        f"CASE WHEN {t['status']} < 4 THEN 'open' WHEN {t['status']} < 7 THEN 'pending_customer' "
        f"WHEN {t['status']} < 8 THEN 'on_hold' WHEN {t['status']} < 14 THEN 'solved' ELSE 'closed' END"
    )
    priority = (
        f"CASE WHEN {t['priority']} < 2 THEN 'low' WHEN {t['priority']} < 7 THEN 'normal' "
        f"WHEN {t['priority']} < 9 THEN 'high' ELSE 'urgent' END"
    )
    rank = (
        f"CASE WHEN {t['priority']} < 2 THEN 0 WHEN {t['priority']} < 7 THEN 1 "
        f"WHEN {t['priority']} < 9 THEN 2 ELSE 3 END"
    )
    tags = (
        f"(CASE {_hash("'tags' || i", 6)} WHEN 0 THEN ARRAY['vip'] "
        "WHEN 1 THEN ARRAY['fragile', 'express'] WHEN 2 THEN ARRAY['repeat-contact'] "
        "ELSE ARRAY[]::text[] END)::varchar(50)[]"
    )
    users = f"""
        INSERT INTO auth_user (id, password, is_superuser, username, first_name,
            last_name, email, is_staff, is_active, date_joined)
        SELECT {AGENT_ID_BASE} + a, '!', false,
            'agent' || lpad(a::text, 2, '0') || '@support.example',
            (ARRAY[{", ".join(_literal(n) for n in FIRST_NAMES)}])[1 + mod(a + 7, {len(FIRST_NAMES)})],
            '', 'agent' || lpad(a::text, 2, '0') || '@support.example', true, true,
            TIMESTAMPTZ '2024-01-01 00:00:00+00'
        FROM generate_series(1, {AGENTS}) AS a
        UNION ALL
        SELECT {CUSTOMER_ID_BASE} + c, '!', false,
            'customer' || lpad(c::text, 4, '0') || '@example.com',
            (ARRAY[{", ".join(_literal(n) for n in FIRST_NAMES)}])[1 + mod(c, {len(FIRST_NAMES)})],
            '', 'customer' || lpad(c::text, 4, '0') || '@example.com', false, true,
            TIMESTAMPTZ '2024-01-01 00:00:00+00'
        FROM generate_series(1, {CUSTOMERS}) AS c
    """
    permissions = f"""
        INSERT INTO auth_user_user_permissions (user_id, permission_id)
        SELECT u.id, p.id FROM auth_user u, auth_permission p
        JOIN django_content_type ct ON ct.id = p.content_type_id
        WHERE ct.app_label = 'order' AND p.codename = 'manage_orders'
          AND u.id BETWEEN {AGENT_ID_BASE + 1} AND {AGENT_ID_BASE + AGENTS}
    """
    orders = f"""
        INSERT INTO saleor_support_plugin_ordersnapshot (id, order_id, number,
            channel_slug, status, placed_at, customer_email, customer_first_name,
            user_id, language_code, currency, total_gross, total_refunded,
            observed_at, updated_at)
        SELECT i, md5('order-' || i)::uuid::text, ({ORDER_NUMBER_BASE} + i)::text,
            'default-channel', 'fulfilled', {t["created"]} - INTERVAL '2 days',
            {t["customer_email"]}, {t["customer_name"]}, {t["customer_id"]}::text,
            'en', 'USD', 20 + {_hash("'total' || i", 480)}, 0,
            {t["created"]}, {t["created"]}
        FROM generate_series(1, {TICKETS}) AS i
        WHERE {t["has_order"]}
    """
    tickets = f"""
        INSERT INTO saleor_support_plugin_ticket (id, number, subject, status,
            priority, priority_rank, channel, category, tags, customer_user_id,
            customer_email, order_id, assignee_user_id, assignee_email, tier,
            first_response_due_at, resolution_due_at, first_responded_at,
            first_response_breached_at, resolution_breached_at, solved_at,
            closed_at, reopen_count, created_at, updated_at)
        SELECT {t["uuid"]}, {FIRST_NUMBER} + i,
            replace((ARRAY[{topics_subject}])[{t["topic"]}], '{{p}}', {t["product"]}),
            {status}, {priority}, {rank}, {t["channel"]},
            (ARRAY[{topics_category}])[{t["topic"]}], {tags},
            {t["customer_id"]}::text, {t["customer_email"]},
            CASE WHEN {t["has_order"]} THEN i END,
            CASE WHEN {t["assigned"]} THEN {t["agent_id"]}::text END,
            CASE WHEN {t["assigned"]} THEN {t["agent_email"]} ELSE '' END,
            CASE WHEN {t["priority"]} = 9 THEN 2 ELSE 1 END,
            {t["created"]} + INTERVAL '4 hours', {t["created"]} + INTERVAL '3 days',
            {t["created"]} + {MESSAGE_GAP}, NULL, NULL,
            CASE WHEN {t["status"]} >= 8 THEN {t["created"]} + INTERVAL '20 hours' END,
            CASE WHEN {t["status"]} >= 14 THEN {t["created"]} + INTERVAL '4 days' END,
            0, {t["created"]}, {t["created"]} + {MESSAGE_GAP} * {MESSAGES_PER_TICKET - 1}
        FROM generate_series(1, {TICKETS}) AS i
    """
    # Message j: ticket i = 1 + j % TICKETS, position k = j / TICKETS (0 = the
    # opening message). Even positions are the customer's, odd ones staff's;
    # a fifth of staff messages are internal notes (10 % of all messages).
    internal = f"(k % 2 = 1 AND {_hash("'note' || j", 5)} = 0)"
    detail = (
        f"CASE {_hash("'detail' || j", 3)} "
        f"WHEN 0 THEN CASE WHEN {t['has_order']} THEN ' My order number is #' || ({ORDER_NUMBER_BASE} + i) || '.' ELSE '' END "
        "WHEN 1 THEN ' Tracking number 1Z' || upper(substr(md5('tracking-' || i), 1, 12)) || '.' "
        "ELSE '' END"
    )
    body = f"""
        CASE
          WHEN k = 0 THEN (ARRAY[{topics_opening}])[{t["topic"]}] || {detail}
              || ' Thanks, ' || {t["customer_name"]}
          WHEN k % 2 = 0 THEN {_pick(CUSTOMER_REPLIES, "'reply' || j")} || {detail}
              || ' ' || {t["customer_name"]}
          WHEN {internal} THEN {_pick(INTERNAL_NOTES, "'note-text' || j")}
          ELSE 'Hi ' || {t["customer_name"]} || '. ' || {_pick(STAFF_REPLIES, "'staff' || j")}
              || ' Best regards, the support team'
        END
    """
    messages = f"""
        INSERT INTO saleor_support_plugin_ticketmessage (id, ticket_id, author_kind,
            author_user_id, author_email, body_html, body_text, is_internal, channel,
            created_at)
        SELECT md5('message-' || j)::uuid, {t["uuid"]},
            CASE WHEN k % 2 = 0 THEN 'customer' ELSE 'staff' END,
            CASE WHEN k % 2 = 0 THEN {t["customer_id"]}::text ELSE {t["agent_id"]}::text END,
            CASE WHEN k % 2 = 0 THEN {t["customer_email"]} ELSE {t["agent_email"]} END,
            '<p>' || body || '</p>', body, {internal}, {t["channel"]},
            {t["created"]} + {MESSAGE_GAP} * k
        FROM (
            SELECT j, i, k, replace({body}, '{{p}}', {t["product"]}) AS body
            FROM (
                SELECT j, 1 + j % {TICKETS} AS i, j / {TICKETS} AS k
                FROM generate_series(0, {MESSAGES - 1}) AS j
            ) AS numbered
        ) AS generated
    """
    sequences = f"""
        SELECT setval(pg_get_serial_sequence('auth_user', 'id'), {CUSTOMER_ID_BASE + CUSTOMERS}),
            setval(pg_get_serial_sequence('saleor_support_plugin_ordersnapshot', 'id'), {TICKETS}),
            setval('saleor_support_plugin_ticket_number_seq', {FIRST_NUMBER + TICKETS})
    """
    return [
        ("users", users),
        ("permissions", permissions),
        ("order snapshots", orders),
        ("tickets", tickets),
        ("messages", messages),
        ("sequences", sequences),
    ]


def seeded() -> bool:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT obj_description('saleor_support_plugin_ticket'::regclass, 'pg_class')"
        )
        row = cursor.fetchone()
        if row is None or row[0] != SEED_VERSION:
            return False
        cursor.execute(
            "SELECT (SELECT count(*) FROM saleor_support_plugin_ticket),"
            " (SELECT count(*) FROM saleor_support_plugin_ticketmessage)"
        )
        return cursor.fetchone() == (TICKETS, MESSAGES)


def seed(*, force: bool = False) -> None:
    """Load the data set unless it is there already (same version and counts)."""
    from django.db import connection, transaction

    if not force and seeded():
        out(f"data: already loaded ({TICKETS:,} tickets, {MESSAGES:,} messages)")
        return
    out(f"data: loading {TICKETS:,} tickets and {MESSAGES:,} messages ...")
    started = time.monotonic()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE saleor_support_plugin_ticket, saleor_support_plugin_ordersnapshot,"
            " auth_user RESTART IDENTITY CASCADE"
        )
        for name, sql in _seed_statements():
            step = time.monotonic()
            cursor.execute(sql)
            out(
                f"  {name:<16} {cursor.rowcount:>9,} rows  {time.monotonic() - step:6.1f}s"
            )
        cursor.execute(
            f"COMMENT ON TABLE saleor_support_plugin_ticket IS {_literal(SEED_VERSION)}"
        )
    step = time.monotonic()
    with connection.cursor() as cursor:
        # After a bulk load, as autovacuum would eventually: statistics for the
        # planner and a visibility map for index-only scans.
        cursor.execute("VACUUM (ANALYZE)")
    out(f"  {'vacuum analyze':<16} {'':>9}       {time.monotonic() - step:6.1f}s")
    out(f"  loaded in {time.monotonic() - started:.0f}s")


# --- measuring


@dataclass
class CaseResult:
    """One measured page; the same shape as the django-helpdesk side's JSON."""

    name: str
    request: str
    runs: int
    queries: int
    sql_ms: float  # summed database time of the captured request
    slowest_sql_ms: float
    slowest_sql: str
    median_ms: float
    p95_ms: float
    mean_ms: float
    min_ms: float
    max_ms: float
    rows: int  # tickets on the page
    total: int | None  # matching tickets (the page's total count)
    response_bytes: int
    top_statements: list[tuple[int, str]]  # most frequent statements and counts


class SqlTimer:
    """An execute wrapper timing each statement (CaptureQueriesContext rounds to ms)."""

    def __init__(self) -> None:
        self.durations_ns: list[int] = []
        self.slowest_ns = 0
        self.slowest_sql = ""
        self.shapes: collections.Counter[str] = collections.Counter()

    def __call__(
        self, execute: Any, sql: str, params: Any, many: bool, context: Any
    ) -> Any:
        started = time.perf_counter_ns()
        try:
            return execute(sql, params, many, context)
        finally:
            elapsed = time.perf_counter_ns() - started
            self.durations_ns.append(elapsed)
            text = " ".join(sql.split())
            self.shapes[text] += 1  # with placeholders: repeats show N+1 patterns
            if elapsed > self.slowest_ns:
                self.slowest_ns, self.slowest_sql = elapsed, text[:160]

    @property
    def total_ms(self) -> float:
        return sum(self.durations_ns) / 1e6

    @property
    def slowest_ms(self) -> float:
        return self.slowest_ns / 1e6


def _ms(samples_ns: list[int]) -> tuple[float, float, float, float, float]:
    ordered = sorted(samples_ns)
    rank95 = max(-(-95 * len(ordered) // 100) - 1, 0)
    return (
        statistics.median(ordered) / 1e6,
        ordered[rank95] / 1e6,
        statistics.fmean(ordered) / 1e6,
        ordered[0] / 1e6,
        ordered[-1] / 1e6,
    )


def _graphql(client: Any, token: str, variables: dict[str, Any]) -> Any:
    return client.post(
        GRAPHQL_URL,
        json.dumps({"query": LIST_QUERY, "variables": variables}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )


def measure_case(
    name: str, token: str, variables: dict[str, Any], runs: int, explain: bool
) -> CaseResult:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client()

    def request() -> tuple[Any, dict[str, Any]]:
        response = _graphql(client, token, variables)
        content = json.loads(response.content)
        if response.status_code != 200 or "errors" in content:
            raise RuntimeError(f"{name}: {response.status_code} {content}")
        return response, content["data"]["supportTickets"]

    for _ in range(WARMUP):
        request()
    # Django keeps the last 9,000 statements only; make room for any count.
    connection.queries_log = collections.deque(maxlen=10_000_000)
    timer = SqlTimer()
    with (
        CaptureQueriesContext(connection) as captured,
        connection.execute_wrapper(timer),
    ):
        response, page = request()
    queries = captured.captured_queries
    samples: list[int] = []
    for _ in range(runs):
        started = time.perf_counter_ns()
        _graphql(client, token, variables)
        samples.append(time.perf_counter_ns() - started)
    median, p95, mean, low, high = _ms(samples)
    if explain:
        _explain(name, queries)
    return CaseResult(
        name=name,
        request=f"POST {GRAPHQL_URL} supportTickets(first: {PAGE}"
        + (f", filter: {variables['filter']}" if "filter" in variables else "")
        + ")",
        runs=runs,
        queries=len(queries),
        sql_ms=timer.total_ms,
        slowest_sql_ms=timer.slowest_ms,
        slowest_sql=timer.slowest_sql,
        median_ms=median,
        p95_ms=p95,
        mean_ms=mean,
        min_ms=low,
        max_ms=high,
        rows=len(page["edges"]),
        total=page["totalCount"],
        response_bytes=len(response.content),
        top_statements=[
            (count, sql[:140]) for sql, count in timer.shapes.most_common(4)
        ],
    )


def _explain(name: str, queries: list[dict[str, Any]]) -> None:
    """Print EXPLAIN ANALYZE of every SELECT of the captured request over 1 ms."""
    from django.db import connection

    for query in queries:
        sql = query["sql"]
        if float(query["time"]) < 0.001 or not sql.lstrip().upper().startswith(
            "SELECT"
        ):
            continue
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql)
            plan = "\n".join(row[0] for row in cursor.fetchall())
        out(f"\n--- {name}: {float(query['time']) * 1000:.1f} ms\n{sql}\n{plan}")


def run(runs: int, *, reseed: bool = False, explain: bool = False) -> dict[str, Any]:
    """Seed if needed and measure the three pages; returns a JSON-able report."""
    from ._common import setup_django

    url = setup_django(DATABASE)
    import django
    from django.contrib.auth import get_user_model
    from django.db import connection

    from sandbox.accounts.tokens import create_access_token

    seed(force=reseed)
    users = get_user_model().objects
    staff_token = create_access_token(users.get(email=STAFF_EMAIL))
    customer_token = create_access_token(users.get(email=CUSTOMER_EMAIL))
    cases = [
        measure_case("staff list", staff_token, {"first": PAGE}, runs, explain),
        measure_case(
            "staff search",
            staff_token,
            {"first": PAGE, "filter": {"search": SEARCH}},
            runs,
            explain,
        ),
        measure_case("customer list", customer_token, {"first": PAGE}, runs, explain),
    ]
    return {
        "side": "saleor-support-plugin",
        "database": url,
        "postgresql": connection.cursor().connection.info.server_version,
        "versions": {"django": django.get_version(), "python": sys.version.split()[0]},
        "data": {"tickets": TICKETS, "messages": MESSAGES, "customers": CUSTOMERS},
        "cases": [asdict(case) for case in cases],
    }


def print_report(report: dict[str, Any]) -> None:
    out(
        f"ours: {report['database']} (PostgreSQL {report['postgresql']}), "
        f"Django {report['versions']['django']}, Python {report['versions']['python']}, "
        f"{os.cpu_count()} CPUs"
    )
    cases = report["cases"]
    table(
        [
            "page of 50",
            "SQL",
            "SQL ms",
            "slowest ms",
            "median ms",
            "p95 ms",
            "runs",
            "rows",
            "total",
            "bytes",
        ],
        [
            [
                case["name"],
                case["queries"],
                f"{case['sql_ms']:.1f}",
                f"{case['slowest_sql_ms']:.1f}",
                f"{case['median_ms']:.1f}",
                f"{case['p95_ms']:.1f}",
                case["runs"],
                case["rows"],
                f"{case['total']:,}",
                f"{case['response_bytes']:,}",
            ]
            for case in cases
        ],
    )
    out()
    for case in cases:
        out(f"slowest statement, {case['name']}: {case['slowest_sql']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30, help="timed requests per page")
    parser.add_argument(
        "--reseed", action="store_true", help="reload the data even if present"
    )
    parser.add_argument(
        "--explain",
        action="store_true",
        help="print EXPLAIN ANALYZE of the statements over 1 ms",
    )
    args = parser.parse_args()
    print_report(run(args.runs, reseed=args.reseed, explain=args.explain))


if __name__ == "__main__":
    main()
