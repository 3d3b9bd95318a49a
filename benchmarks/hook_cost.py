"""What a SupportPlugin hook adds to Saleor's request path.

Run: `.venv/bin/python -m benchmarks.hook_cost [--calls 2000] [--commits 500]`.

Part 1 calls every hook of `saleor_support_plugin.saleor.hooks` with Saleor-shaped
factory objects (an order with 3 lines and a fulfillment) inside a transaction
that is rolled back: SQL statements per call and their kinds, latency of a first
recording (INSERT) and of a repeat (ON CONFLICT no-op), and evidence that nothing
else happens (no Python socket traffic, no Celery publish, no rendering).

Part 2 commits, with a real Redis broker: (a) the hooks fired the way Saleor
fires them (`call_event`: deferred to on_commit, so the hook runs after COMMIT
and its own on-commit enqueue runs at once, inside the call); (b) the hook
inside the host's transaction, COMMIT and on-commit enqueue timed apart; (c) a
broker that refuses connections or accepts them and never answers (child
processes, so the broker URL can differ).

Part 3 times `parse_settings`, which `SupportPlugin.__init__` runs each time
Saleor constructs the plugin (once per PluginsManager: per request and task).
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import json
import logging
import os
import pstats
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._common import Stats, clear_plugin_rows, make_order, out, redis_or_none, table

DATABASE = "support_bench_hooks"
BROKER_DB = 13  # a Redis database of its own: nothing consumes it, flushed after
WARMUP = 200  # per hook; the second half is also the sample for query capture
BROKER_DOWN_COMMITS = 3

# name, what the hook takes ("order" or "fulfillment")
HOOKS: tuple[tuple[str, str], ...] = (
    ("order_created", "order"),
    ("order_confirmed", "order"),
    ("order_cancelled", "order"),
    ("order_updated", "order"),
    ("order_refunded", "order"),
    ("fulfillment_created", "fulfillment"),
    ("tracking_number_updated", "fulfillment"),
)

REPO_ROOT = Path(__file__).resolve().parents[1]
PLUGIN_DIR = REPO_ROOT / "saleor_support_plugin"
# Modules whose presence in a hook's call graph would mean work that does not belong
# in Saleor's request path.
FORBIDDEN = (
    "saleor_support_plugin.notifications",
    "saleor_support_plugin.tasks",
    "saleor_support_plugin.core.handlebars",
    "celery",
    "kombu",
    "redis",
    "smtplib",
    "django.template",
    "django.core.mail",
    "requests",
)


# --- instruments


class SocketSpy:
    """Count Python-level socket operations (Redis, SMTP, HTTP; not libpq's)."""

    METHODS = (
        "connect",
        "connect_ex",
        "send",
        "sendall",
        "sendto",
        "recv",
        "recv_into",
        "recvfrom",
    )

    def __init__(self) -> None:
        self.calls = 0
        self._originals: dict[str, Any] = {}
        self._thread = threading.get_ident()

    def install(self) -> None:
        # Only the calling (request) thread counts: the plugin publishes to the
        # broker from its own background thread, off the request.
        self._thread = threading.get_ident()
        for name in self.METHODS:
            original = getattr(socket.socket, name)
            self._originals[name] = original
            setattr(socket.socket, name, self._wrap(original))
        self._originals["getaddrinfo"] = socket.getaddrinfo
        socket.getaddrinfo = self._wrap(socket.getaddrinfo)

    def _wrap(self, original: Callable[..., Any]) -> Callable[..., Any]:
        spy = self

        def counted(*args: Any, **kwargs: Any) -> Any:
            if threading.get_ident() == spy._thread:
                spy.calls += 1
            return original(*args, **kwargs)

        return counted

    def uninstall(self) -> None:
        socket.getaddrinfo = self._originals.pop("getaddrinfo")
        for name, original in self._originals.items():
            setattr(socket.socket, name, original)
        self._originals.clear()


class PublishCounter:
    """Count Celery task publishes (before_task_publish fires in the publisher)."""

    def __init__(self) -> None:
        self.count = 0

    def install(self) -> None:
        from celery.signals import before_task_publish

        self._thread = threading.get_ident()
        before_task_publish.connect(self._on_publish, weak=False)

    def _on_publish(self, *args: Any, **kwargs: Any) -> None:
        # Publishes on the calling thread only (see SocketCounter).
        if threading.get_ident() == self._thread:
            self.count += 1


class LogCounter(logging.Handler):
    """Count warnings and errors the plugin logs (a hook swallows its exceptions)."""

    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.count = 0
        self.last = ""

    def emit(self, record: logging.LogRecord) -> None:
        self.count += 1
        self.last = record.getMessage()


@dataclass
class Instruments:
    sockets: SocketSpy = field(default_factory=SocketSpy)
    publishes: PublishCounter = field(default_factory=PublishCounter)
    logs: LogCounter = field(default_factory=LogCounter)

    def install(self) -> None:
        self.sockets.install()
        self.publishes.install()
        plugin_logger = logging.getLogger("saleor_support_plugin")
        plugin_logger.addHandler(self.logs)
        # Keep swallowed exceptions off the terminal: they are counted and reported.
        plugin_logger.propagate = False

    def uninstall(self) -> None:
        self.sockets.uninstall()
        logging.getLogger("saleor_support_plugin").removeHandler(self.logs)


# --- part 1: the hook call itself


def hook_target(obj: Any, takes: str) -> Any:
    return obj.fulfillments[0] if takes == "fulfillment" else obj


def statement_kind(sql: str) -> str:
    word = sql.lstrip().split(None, 1)[0].upper() if sql.strip() else ""
    return word if word in {"INSERT", "SELECT", "UPDATE", "DELETE"} else "other"


@dataclass
class Pass:
    """One pass of calls: latency, SQL and side effects."""

    stats: Stats
    queries_per_call: float
    kinds: dict[str, float]
    rows_added: int
    on_commit_added: int
    socket_ops: int
    publishes: int
    errors: int
    statements: list[str]


@dataclass
class HookResult:
    name: str
    payload_bytes: int
    python_us: float
    first: Pass
    repeat: Pass


def run_pass(
    hook: Callable[[Any], None],
    takes: str,
    capture_objects: list[Any],
    timed_objects: list[Any],
    instruments: Instruments,
) -> Pass:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from saleor_support_plugin.orders.models import OrderEvent

    rows_before = OrderEvent.objects.count()
    on_commit_before = len(connection.run_on_commit)
    sockets_before = instruments.sockets.calls
    publishes_before = instruments.publishes.count
    errors_before = instruments.logs.count

    # SQL, counted on their own calls: capturing slows the timed calls down.
    with CaptureQueriesContext(connection) as captured:
        for obj in capture_objects:
            hook(hook_target(obj, takes))
    kinds: dict[str, float] = {"INSERT": 0, "SELECT": 0, "UPDATE": 0, "other": 0}
    for query in captured.captured_queries:
        kind = statement_kind(query["sql"])
        kinds[kind if kind in kinds else "other"] += 1 / len(capture_objects)
    shapes = sorted({_shape(query["sql"]) for query in captured.captured_queries})

    targets = [hook_target(obj, takes) for obj in timed_objects]
    samples: list[int] = []
    gc.collect()
    for target in targets:
        start = time.perf_counter_ns()
        hook(target)
        samples.append(time.perf_counter_ns() - start)

    return Pass(
        stats=Stats.of(samples),
        queries_per_call=len(captured.captured_queries) / len(capture_objects),
        kinds=kinds,
        rows_added=OrderEvent.objects.count() - rows_before,
        on_commit_added=len(connection.run_on_commit) - on_commit_before,
        socket_ops=instruments.sockets.calls - sockets_before,
        publishes=instruments.publishes.count - publishes_before,
        errors=instruments.logs.count - errors_before,
        statements=shapes,
    )


def _shape(sql: str) -> str:
    """Return a statement without its values: what it does, not what it carries."""
    head = sql.split(" VALUES ", 1)[0]
    tail = (
        " ON CONFLICT" + sql.split(" ON CONFLICT", 1)[1] if "ON CONFLICT" in sql else ""
    )
    return (head + (" VALUES (…)" if " VALUES " in sql else "") + tail)[:200]


def python_cost_us(takes: str, objects: list[Any]) -> tuple[int, float]:
    """Return the payload size and the hook's pure-Python part (read + JSON), µs median."""
    from saleor_support_plugin.orders.data import to_payload
    from saleor_support_plugin.saleor.readers import read_order

    samples = []
    size = 0
    for obj in objects:
        order = hook_target(obj, takes).order if takes == "fulfillment" else obj
        start = time.perf_counter_ns()
        payload = json.dumps(
            {"order": to_payload(read_order(order)), "fulfillment": None, "extra": {}},
            separators=(",", ":"),
        )
        samples.append(time.perf_counter_ns() - start)
        size = len(payload.encode())
    return size, Stats.of(samples).median_us


def measure_hook(
    name: str,
    takes: str,
    warm: list[Any],
    pool: list[Any],
    instruments: Instruments,
) -> HookResult:
    from django.db import transaction

    from saleor_support_plugin.saleor import hooks

    hook = getattr(hooks, name)
    half = len(warm) // 2
    with transaction.atomic():
        for obj in warm[:half]:
            hook(hook_target(obj, takes))
        first = run_pass(hook, takes, warm[half:], pool, instruments)
        repeat = run_pass(hook, takes, warm[half:], pool, instruments)
        transaction.set_rollback(True)  # on-commit callbacks are dropped with it
    size, python_us = python_cost_us(takes, pool[:500])
    return HookResult(name, size, python_us, first, repeat)


def call_graph_check(warm: list[Any]) -> dict[str, tuple[list[str], list[str]]]:
    """Profile one call of each hook; return (plugin modules, forbidden modules) entered."""
    from django.db import transaction

    from saleor_support_plugin.saleor import hooks

    result = {}
    with transaction.atomic():
        for name, takes in HOOKS:
            hook = getattr(hooks, name)
            hook(hook_target(warm[0], takes))  # warm: lazy imports happen here
            profile = cProfile.Profile()
            profile.enable()
            hook(hook_target(warm[1], takes))
            profile.disable()
            modules = {_module(key[0]) for key in pstats.Stats(profile).stats}  # type: ignore[attr-defined]
            plugin = sorted(
                m.removeprefix("saleor_support_plugin.")
                for m in modules
                if m.startswith("saleor_support_plugin.")
            )
            forbidden = sorted(
                m for m in modules if any(m.startswith(f) for f in FORBIDDEN)
            )
            result[name] = (plugin, forbidden)
        transaction.set_rollback(True)
    return result


def _module(filename: str) -> str:
    """Turn a profiled file name into a dotted module name (approximately)."""
    if not filename.endswith(".py"):
        return filename  # built-ins: "~"
    path = Path(filename)
    for root in (REPO_ROOT, *(Path(entry) for entry in sys.path if entry)):
        try:
            relative = path.relative_to(root)
        except ValueError:
            continue
        parts = list(relative.with_suffix("").parts)
        if parts and parts[-1] == "__init__":
            parts.pop()
        if parts and all(part.isidentifier() for part in parts):
            return ".".join(parts)
    return path.stem


# --- part 2: commit and on-commit enqueue


@dataclass
class CommitResult:
    hook: Stats
    commit: Stats
    sockets_in_hook: int
    publishes_in_hook: int
    publishes_at_commit: int
    errors: int


def committed_mutations(orders: list[Any], instruments: Instruments) -> CommitResult:
    """Run one committed transaction per order, as Saleor's mutation would."""
    from django.db import transaction

    from saleor_support_plugin.saleor import hooks

    hook_ns, commit_ns = [], []
    sockets_in_hook = publishes_in_hook = 0
    publishes_before = instruments.publishes.count
    errors_before = instruments.logs.count
    gc.collect()
    for order in orders:
        with transaction.atomic():
            sockets, publishes = instruments.sockets.calls, instruments.publishes.count
            start = time.perf_counter_ns()
            hooks.order_confirmed(order)
            hooked = time.perf_counter_ns()
            sockets_in_hook += instruments.sockets.calls - sockets
            publishes_in_hook += instruments.publishes.count - publishes
        committed = time.perf_counter_ns()  # COMMIT, then the on-commit enqueue
        hook_ns.append(hooked - start)
        commit_ns.append(committed - hooked)
    return CommitResult(
        hook=Stats.of(hook_ns),
        commit=Stats.of(commit_ns),
        sockets_in_hook=sockets_in_hook,
        publishes_in_hook=publishes_in_hook,
        publishes_at_commit=instruments.publishes.count
        - publishes_before
        - publishes_in_hook,
        errors=instruments.logs.count - errors_before,
    )


def call_event(func: Callable[..., Any], *args: Any) -> None:
    """Saleor's `saleor.core.utils.events.call_event`, verbatim in behaviour.

    Every plugin hook Saleor fires goes through it: inside an atomic block the
    hook is deferred to on_commit, so it runs after COMMIT, in autocommit mode.
    """
    from django.db import transaction

    connection = transaction.get_connection()
    if connection.in_atomic_block:
        transaction.on_commit(lambda: func(*args))
    else:
        func(*args)


@dataclass
class SaleorStyle:
    name: str
    stats: Stats
    sockets_per_call: float
    publishes_per_call: float
    rows_added: int
    in_atomic: int  # calls that found themselves inside an atomic block (expect 0)
    errors: int


def saleor_style(
    name: str,
    takes: str,
    objects: list[Any],
    instruments: Instruments,
) -> SaleorStyle:
    """Fire the hook the way Saleor does: call_event inside the mutation's transaction."""
    from django.db import connection, transaction

    from saleor_support_plugin.orders.models import OrderEvent
    from saleor_support_plugin.saleor import hooks

    hook = getattr(hooks, name)
    samples: list[int] = []
    in_atomic = 0
    rows_before = OrderEvent.objects.count()
    sockets_before = instruments.sockets.calls
    publishes_before = instruments.publishes.count
    errors_before = instruments.logs.count

    def timed(target: Any) -> None:
        nonlocal in_atomic
        in_atomic += connection.in_atomic_block
        start = time.perf_counter_ns()
        hook(target)
        samples.append(time.perf_counter_ns() - start)

    gc.collect()
    for obj in objects:
        with transaction.atomic():  # the mutation's own writes would be here
            call_event(timed, hook_target(obj, takes))
    calls = len(objects)
    return SaleorStyle(
        name=name,
        stats=Stats.of(samples),
        sockets_per_call=(instruments.sockets.calls - sockets_before) / calls,
        publishes_per_call=(instruments.publishes.count - publishes_before) / calls,
        rows_added=OrderEvent.objects.count() - rows_before,
        in_atomic=in_atomic,
        errors=instruments.logs.count - errors_before,
    )


def direct_publish(count: int) -> Stats:
    from saleor_support_plugin.orders.services import enqueue_processing

    samples = []
    for i in range(count):
        start = time.perf_counter_ns()
        enqueue_processing(f"bench:publish:{i}")
        samples.append(time.perf_counter_ns() - start)
    return Stats.of(samples)


def broker_child() -> None:
    """Child mode: fire order_confirmed as Saleor does against a broken broker."""
    from ._common import setup_django

    setup_django(DATABASE, {"CELERY_TASK_ALWAYS_EAGER": "false"})
    from saleor_support_plugin.orders.models import OrderEvent
    from sandbox import celery_app

    celery_app.conf.update(CELERY_TASK_ALWAYS_EAGER=False)
    instruments = Instruments()
    instruments.install()
    policy = celery_app.conf.task_publish_retry_policy
    out(json.dumps({"broker": celery_app.conf.broker_url, "policy": policy}))
    orders = [make_order() for _ in range(BROKER_DOWN_COMMITS)]
    for order in orders:
        result = saleor_style("order_confirmed", "order", [order], instruments)
        out(
            json.dumps(
                {
                    "hook_us": result.stats.median_us,
                    "warnings": result.errors,
                    "last_warning": instruments.logs.last,
                }
            )
        )
    OrderEvent.objects.filter(order_id__in=[str(o.pk) for o in orders]).delete()


@dataclass
class BrokerFailure:
    label: str
    broker: str
    timeout: float
    policy: Any = None
    mutations: list[dict[str, Any]] = field(default_factory=list)
    timed_out: bool = False
    error: str = ""


def run_broker_child(label: str, broker_url: str, timeout: float) -> BrokerFailure:
    """Run `broker_child` in a process of its own (the broker URL is per process)."""
    env = {**os.environ, "TEST_CELERY_BROKER_URL": broker_url, "BENCH_CHILD": "1"}
    result = BrokerFailure(label, broker_url, timeout)
    child = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.hook_cost"],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        stdout, stderr = child.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        child.kill()
        stdout, stderr = child.communicate()
        result.timed_out = True
    lines = [json.loads(x) for x in stdout.splitlines() if x.startswith("{")]
    if lines and "policy" in lines[0]:
        result.policy = lines.pop(0)["policy"]
    result.mutations = lines
    if not result.timed_out and (child.returncode != 0 or not lines):
        result.error = f"exit {child.returncode}: {stderr[-2000:]}"
    return result


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # free, and nobody listens once we close it


class SilentServer:
    """Accept TCP connections and never answer: a hung broker or proxy."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.connections: list[socket.socket] = []
        self.running = True
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while self.running:
            try:
                connection, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections.append(connection)

    def close(self) -> None:
        self.running = False
        self.thread.join()
        self.sock.close()
        for connection in self.connections:
            connection.close()


# --- report


def fmt(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:.1f}"


def report_part1(
    results: list[HookResult],
    graph: dict[str, tuple[list[str], list[str]]],
    calls: int,
) -> None:
    out()
    out(
        f"Part 1 — the hook call inside Saleor's transaction (rolled back), "
        f"{calls} calls per hook, order with 3 lines + 1 fulfillment"
    )
    out()
    out("First recording (a new fact: the INSERT inserts one row):")
    table(
        [
            "hook",
            "SQL/call",
            "INSERT",
            "SELECT",
            "other",
            "median µs",
            "p95 µs",
            "mean µs",
            "rows",
            "on_commit",
        ],
        [
            [
                r.name,
                f"{r.first.queries_per_call:g}",
                f"{r.first.kinds['INSERT']:g}",
                f"{r.first.kinds['SELECT']:g}",
                f"{r.first.kinds['UPDATE'] + r.first.kinds['other']:g}",
                fmt(r.first.stats.median_us),
                fmt(r.first.stats.p95_us),
                fmt(r.first.stats.mean_us),
                f"{r.first.rows_added}/{calls + WARMUP // 2}",
                r.first.on_commit_added,
            ]
            for r in results
        ],
    )
    out()
    out("Repeat (the same fact again: INSERT … ON CONFLICT DO NOTHING, no row):")
    table(
        [
            "hook",
            "SQL/call",
            "INSERT",
            "SELECT",
            "other",
            "median µs",
            "p95 µs",
            "mean µs",
            "rows",
            "on_commit",
        ],
        [
            [
                r.name,
                f"{r.repeat.queries_per_call:g}",
                f"{r.repeat.kinds['INSERT']:g}",
                f"{r.repeat.kinds['SELECT']:g}",
                f"{r.repeat.kinds['UPDATE'] + r.repeat.kinds['other']:g}",
                fmt(r.repeat.stats.median_us),
                fmt(r.repeat.stats.p95_us),
                fmt(r.repeat.stats.mean_us),
                r.repeat.rows_added,
                r.repeat.on_commit_added,
            ]
            for r in results
        ],
    )
    out()
    out("Side effects inside the hook, all calls of both passes:")
    table(
        [
            "hook",
            "socket ops",
            "celery publishes",
            "logged errors",
            "plugin modules entered",
            "forbidden",
        ],
        [
            [
                r.name,
                r.first.socket_ops + r.repeat.socket_ops,
                r.first.publishes + r.repeat.publishes,
                r.first.errors + r.repeat.errors,
                ", ".join(graph[r.name][0]),
                ", ".join(graph[r.name][1]) or "none",
            ]
            for r in results
        ],
    )
    statements = sorted(
        {s for r in results for s in r.first.statements + r.repeat.statements}
    )
    out()
    out("Every SQL statement the hooks sent (values elided):")
    for statement in statements:
        out(f"  {statement}")
    out()
    out(
        "Reading: 'socket ops' counts Python socket calls (Redis, SMTP, HTTP); "
        "PostgreSQL's libpq socket is not Python's, its traffic is the SQL above."
    )
    python_us = statistics.median(r.python_us for r in results)
    out(
        f"Of the median, read_order + to_payload + json.dumps take {fmt(python_us)} µs "
        f"(payload {results[0].payload_bytes} bytes); the rest is the INSERT's round "
        "trip to PostgreSQL."
    )
    out(
        "Factory objects have no _meta, so hooks._prefetch is skipped: with Saleor's "
        "models each call adds 4-6 SELECTs (prefetch of lines, fulfillments__lines, "
        "payment_transactions, payments__transactions) and up to 3 lazy loads "
        "(channel, user, billing_address) unless Saleor loaded them already."
    )
    out(
        "'forbidden' lists modules of rendering (the template interpreter, django.template), mail, "
        "notifications, Celery/kombu/redis or HTTP seen by cProfile in one call."
    )


def report_part2(
    saleor: list[tuple[SaleorStyle, SaleorStyle]],
    publish: Stats,
    new: CommitResult,
    repeat: CommitResult,
    failures: list[BrokerFailure],
    commits: int,
) -> None:
    out()
    out(
        f"Part 2 — committed, with a real broker (Redis db {BROKER_DB}, nothing "
        f"consumes it), {commits} orders per row"
    )
    out()
    out(
        "2a. As Saleor fires hooks (call_event: deferred to on_commit, so the hook "
        "runs after COMMIT in autocommit mode and record_event's on_commit "
        "enqueue runs at once, handing the publish to the plugin's background "
        "thread; sockets and publishes count the calling thread only):"
    )
    table(
        [
            "hook",
            "new: median µs",
            "p95 µs",
            "sockets/call",
            "publishes/call",
            "rows",
            "repeat: median µs",
            "p95 µs",
            "publishes/call",
            "in atomic",
            "errors",
        ],
        [
            [
                first.name,
                fmt(first.stats.median_us),
                fmt(first.stats.p95_us),
                f"{first.sockets_per_call:g}",
                f"{first.publishes_per_call:g}",
                first.rows_added,
                fmt(again.stats.median_us),
                fmt(again.stats.p95_us),
                f"{again.publishes_per_call:g}",
                first.in_atomic + again.in_atomic,
                first.errors + again.errors,
            ]
            for first, again in saleor
        ],
    )
    out()
    out(
        "2b. If the host calls the hook inside its transaction (what the plugin's "
        "docstrings assume), order_confirmed, one transaction per order:"
    )
    table(
        ["what", "median µs", "p95 µs", "mean µs"],
        [
            [label, fmt(s.median_us), fmt(s.p95_us), fmt(s.mean_us)]
            for label, s in (
                ("hook call in the transaction (new fact)", new.hook),
                ("COMMIT + on-commit enqueue (new fact)", new.commit),
                ("hook call in the transaction (repeat)", repeat.hook),
                ("COMMIT only (repeat: nothing enqueued)", repeat.commit),
                ("enqueue_processing() alone (Redis publish)", publish),
            )
        ],
    )
    out(
        f"    inside the hook: {new.sockets_in_hook + repeat.sockets_in_hook} socket "
        f"ops, {new.publishes_in_hook + repeat.publishes_in_hook} publishes; after "
        f"COMMIT: {new.publishes_at_commit} publishes for {commits} new facts, "
        f"{repeat.publishes_at_commit} for {commits} repeats; logged warnings/errors: "
        f"{new.errors + repeat.errors}."
    )
    out(
        "    (The hook is the transaction's first statement here, so it also pays "
        "BEGIN: slower than in part 1.)"
    )
    out()
    out("2c. Broker broken, order_confirmed fired as Saleor does (child process):")
    for failure in failures:
        out(
            f"  broker {failure.label} ({failure.broker}), limit {failure.timeout:.0f} s:"
        )
        for i, m in enumerate(failure.mutations, 1):
            out(
                f"    mutation {i}: hook call {fmt(m['hook_us'] / 1000)} ms, "
                f"warnings logged: {m['warnings']}"
                + (f" ({m['last_warning']!r})" if m["warnings"] else "")
            )
        if failure.timed_out:
            done = len(failure.mutations)
            out(
                f"    mutation {done + 1}: hook call had not returned after "
                f"{failure.timeout:.0f} s (child killed)"
            )
        if failure.error:
            out(f"    child failed: {failure.error}")
        if failure.policy is not None:
            out(f"    Celery task_publish_retry_policy: {failure.policy}")


# --- part 3: what Saleor pays to construct the plugin


def settings_parse_cost(repeats: int) -> list[tuple[str, int, Stats]]:
    """Time parse_settings, which SupportPlugin.__init__ runs on every construction.

    Saleor builds a PluginsManager per request (and per Celery task) and constructs
    each global plugin the first time the manager needs it, so this runs in every
    request that fires a hook. Returns (label, template parses per call, stats).
    """
    from django.conf import settings

    from saleor_support_plugin.conf import parse_settings
    from saleor_support_plugin.core import handlebars
    from saleor_support_plugin.notifications.kinds import NotificationKind

    templates = PLUGIN_DIR / "templates" / "email" / "en"

    def builtin(kind: NotificationKind, part: str) -> str:
        path = templates / f"{kind.value}.{part}.hbs"
        return path.read_text() if path.exists() else ""

    first = next(iter(NotificationKind))
    plugin_setting: Any = settings.SUPPORT_PLUGIN
    sandbox: dict[str, Any] = dict(plugin_setting["configuration"])
    configurations: list[tuple[str, dict[str, Any]]] = [
        ("defaults (nothing configured)", {}),
        ("sandbox SUPPORT_PLUGIN setting", sandbox),
        (
            f"+ 1 custom body ({first.value}, the built-in en template)",
            {
                **sandbox,
                f"{first.value}_template": builtin(first, "html"),
            },
        ),
        (
            f"+ custom subject and body for all {len(NotificationKind)} kinds",
            {
                **sandbox,
                **{
                    f"{kind.value}_template": builtin(kind, "html")
                    for kind in NotificationKind
                },
                **{
                    f"{kind.value}_subject": builtin(kind, "subject")
                    for kind in NotificationKind
                },
            },
        ),
    ]

    def parses() -> int:
        # Every parse goes through the interpreter's cache: hits + misses = calls.
        info = handlebars.cache_info()
        return info.hits + info.misses

    results = []
    for label, configuration in configurations:
        parse_settings(configuration, active=True)  # warm-up
        before = parses()
        samples = []
        for _ in range(repeats):
            start = time.perf_counter_ns()
            parse_settings(configuration, active=True)
            samples.append(time.perf_counter_ns() - start)
        results.append((label, (parses() - before) // repeats, Stats.of(samples)))
    return results


def report_part3(rows: list[tuple[str, int, Stats]], repeats: int) -> None:
    out()
    out(
        "Part 3 — constructing the plugin: SupportPlugin.__init__ runs "
        f"parse_settings(configuration); {repeats} calls each"
    )
    out()
    table(
        ["configuration", "template parses", "median µs", "p95 µs"],
        [
            [label, compiles, fmt(stats.median_us), fmt(stats.p95_us)]
            for label, compiles, stats in rows
        ],
    )
    out(
        "    Saleor constructs global plugins once per PluginsManager, i.e. per "
        "request and per Celery task; load_settings() (every plugin task) parses "
        "the same way."
    )


# --- main


@contextmanager
def installed(instruments: Instruments) -> Iterator[Instruments]:
    instruments.install()
    try:
        yield instruments
    finally:
        instruments.uninstall()


def main() -> None:
    if os.environ.get("BENCH_CHILD"):
        broker_child()
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000, help="timed calls per hook")
    parser.add_argument(
        "--commits", type=int, default=500, help="committed mutations in part 2"
    )
    parser.add_argument(
        "--silent-timeout",
        type=float,
        default=15,
        help="seconds to wait for a mutation against a silent broker",
    )
    args = parser.parse_args()

    from ._common import setup_django

    redis_server = redis_or_none()
    broker_url = (
        redis_server.url(BROKER_DB) if redis_server is not None else "memory://"
    )
    url = setup_django(
        DATABASE,
        {"TEST_CELERY_BROKER_URL": broker_url, "CELERY_TASK_ALWAYS_EAGER": "false"},
    )
    from django.db import connection

    from sandbox import celery_app

    celery_app.conf.update(CELERY_TASK_ALWAYS_EAGER=False)
    if redis_server is not None:
        import redis

        redis.Redis.from_url(broker_url).flushdb()
    clear_plugin_rows()

    out(
        f"database: {url} (PostgreSQL {connection.cursor().connection.info.server_version})"
    )
    out(f"broker:   {broker_url}")
    out(f"python:   {sys.version.split()[0]}, {os.cpu_count()} CPUs")

    started = time.monotonic()
    warm = [make_order() for _ in range(WARMUP)]
    pool = [make_order() for _ in range(args.calls)]
    out(
        f"built {len(warm) + len(pool)} factory orders in {time.monotonic() - started:.1f}s"
    )

    instruments = Instruments()
    failures: list[BrokerFailure] = []
    try:
        with installed(instruments):
            graph = call_graph_check(warm)
            results = [
                measure_hook(name, takes, warm, pool, instruments)
                for name, takes in HOOKS
            ]
            report_part1(results, graph, args.calls)
            for r in results:
                expected = args.calls + WARMUP // 2
                if r.first.errors or r.repeat.errors or r.first.rows_added != expected:
                    out(f"WARNING: {r.name} did not record every event")
            if redis_server is None:
                out()
                out("Part 2 skipped: no Redis (redis-server not installed).")
                report_part3(settings_parse_cost(20), 20)
                return
            orders = [make_order() for _ in range(args.commits + 20)]
            saleor = []
            for name, takes in HOOKS:
                saleor_style(name, takes, orders[:20], instruments)  # warm-up
                first = saleor_style(name, takes, orders[20:], instruments)
                again = saleor_style(name, takes, orders[20:], instruments)
                saleor.append((first, again))
            clear_plugin_rows()
            committed_mutations(orders[:20], instruments)  # warm-up
            new = committed_mutations(orders[20:], instruments)
            repeat = committed_mutations(orders[20:], instruments)
            direct_publish(50)  # warm-up
            publish = direct_publish(args.commits)
        clear_plugin_rows()
        failures.append(
            run_broker_child(
                "refusing connections",
                f"redis://127.0.0.1:{closed_port()}/0",
                timeout=120,
            )
        )
        silent = SilentServer()
        try:
            failures.append(
                run_broker_child(
                    "accepting but never answering",
                    f"redis://127.0.0.1:{silent.port}/0",
                    timeout=args.silent_timeout,
                )
            )
        finally:
            silent.close()
        report_part2(saleor, publish, new, repeat, failures, args.commits)
        report_part3(settings_parse_cost(20), 20)
    finally:
        clear_plugin_rows()
        if redis_server is not None:
            import redis

            redis.Redis.from_url(broker_url).flushdb()


if __name__ == "__main__":
    main()
