"""What a SupportPlugin hook adds to Saleor's request path.

Run: `.venv/bin/python -m benchmarks.hook_cost [--calls 2000] [--commits 500]`.

A hook reads nothing: it notes which order changed (`orders.services.record_change`),
deferred to `transaction.on_commit` inside a transaction, at once otherwise.

Part 1 calls every hook of `saleor_support_plugin.saleor.hooks` with sandbox
orders (database rows shaped like Saleor's: 3 lines, one fulfillment with a
tracking number, a refund) inside the host's transaction, which is rolled back
at the end. For each call it counts the SQL in the call itself (expect none)
and the SQL of what the call left for on-commit, run at once under query
capture (expect one INSERT); it times both, for a first recording and for a
repeat (one-off facts: ON CONFLICT no-op; state changes: a fresh key, a new
row), and checks that nothing else happens (no Python socket traffic, no Celery
publish, no rendering). A `SELECT 1` round trip gives the floor of the INSERT.

Part 2 commits, with a real Redis broker: (a) the hooks fired the way Saleor
fires them (`call_event`: deferred to on_commit, so the hook runs after COMMIT
in autocommit mode: its INSERT runs inside the call and the enqueue is handed to
the publisher thread); (b) a committed transaction with the mutation's own
write, without and with the hook inside it: the hook call, and COMMIT + the
deferred INSERT + the hand-off, timed apart; (c) a broker that refuses
connections or accepts them and never answers (child processes, so the broker
URL can differ).

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
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._common import (
    Stats,
    clear_orders,
    clear_plugin_rows,
    make_order,
    out,
    redis_or_none,
    table,
)

DATABASE = "support_bench_hooks"
BROKER_DB = 13  # a Redis database of its own: nothing consumes it, flushed after
WARMUP = 200  # per hook; the second half is also the sample for query capture
BROKER_DOWN_COMMITS = 3
BROKER_CHILD_WAIT = 5.0  # seconds the child waits for its publisher thread to try
TRANSACTION_CONTROL = frozenset({"BEGIN", "COMMIT", "ROLLBACK"})
PUBLISH_WAIT = 30.0  # seconds for the publisher thread to catch up


@dataclass(frozen=True)
class Hook:
    name: str
    takes: str  # "order" or "fulfillment"
    # A one-off fact (placed, confirmed…) has a fixed key: a repeat inserts
    # nothing. A state change gets a fresh key per call: a repeat is a new row.
    once: bool


HOOKS: tuple[Hook, ...] = (
    Hook("order_created", "order", once=True),
    Hook("order_confirmed", "order", once=True),
    Hook("order_cancelled", "order", once=True),
    Hook("fulfillment_created", "fulfillment", once=True),
    Hook("order_updated", "order", once=False),
    Hook("order_refunded", "order", once=False),
    Hook("order_fulfilled", "order", once=False),
    Hook("order_fully_paid", "order", once=False),
    Hook("tracking_number_updated", "fulfillment", once=False),
)

REPO_ROOT = Path(__file__).resolve().parents[1]
PLUGIN_DIR = REPO_ROOT / "saleor_support_plugin"
# Modules whose presence in a hook's call graph would mean work that does not belong
# in Saleor's request path.
FORBIDDEN = (
    "saleor_support_plugin.notifications",
    "saleor_support_plugin.tasks",
    "saleor_support_plugin.core.handlebars",
    "saleor_support_plugin.saleor.readers",
    "saleor_support_plugin.orders.reconcile",
    "celery",
    "kombu",
    "redis",
    "smtplib",
    "django.template",
    "django.core.mail",
    "requests",
)


@dataclass(frozen=True)
class Subject:
    """An order as Saleor hands it to a hook, and its fulfillment, both loaded."""

    order: Any
    fulfillment: Any

    def target(self, takes: str) -> Any:
        return self.fulfillment if takes == "fulfillment" else self.order


def make_subjects(count: int) -> list[Subject]:
    subjects = []
    for _ in range(count):
        order = make_order()
        subjects.append(Subject(order, order.fulfillments.first()))
    return subjects


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
        self.count = 0  # on the calling (request) thread
        self.total = 0  # on any thread, the publisher thread included
        self._lock = threading.Lock()

    def install(self) -> None:
        from celery.signals import before_task_publish

        self._thread = threading.get_ident()
        before_task_publish.connect(self._on_publish, weak=False)

    def _on_publish(self, *args: Any, **kwargs: Any) -> None:
        with self._lock:
            self.total += 1
            # The calling thread's publishes are the ones a request would wait for.
            if threading.get_ident() == self._thread:
                self.count += 1

    def wait_total(self, at_least: int, timeout: float = PUBLISH_WAIT) -> int:
        """Wait until `total` reaches `at_least` (the publisher thread is behind); return it."""
        deadline = time.monotonic() + timeout
        while self.total < at_least and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.total


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


# --- part 1: the hook call itself, and what it leaves for on-commit


def take_on_commit(start: int) -> list[Callable[[], Any]]:
    """Remove the on-commit callbacks registered after position `start`; return them.

    The host's transaction is rolled back at the end, so nothing would run them:
    the benchmark runs them itself, under its own instruments.
    """
    from django.db import connection

    taken = connection.run_on_commit[start:]
    del connection.run_on_commit[start:]
    # Entries are (savepoint ids, callback, robust): the callback is the second.
    return [entry[1] for entry in taken]


def statement_kind(sql: str) -> str:
    word = sql.lstrip().split(None, 1)[0].upper() if sql.strip() else ""
    return word if word in {"INSERT", "SELECT", "UPDATE", "DELETE"} else "other"


@dataclass
class Pass:
    """One pass of calls: latency, SQL and side effects."""

    call: Stats  # the hook call, inside the host's transaction
    deferred: Stats  # running what the call left for on-commit
    sql_in_call: float  # statements per call, in the host's transaction
    sql_deferred: float  # statements per call, when its on-commit work runs
    kinds: dict[str, float]  # of the deferred statements, per call
    deferred_per_call: float  # on-commit callbacks the call registered
    enqueues_per_call: float  # on-commit enqueues the INSERT registered (a new row)
    rows_added: int
    socket_ops: int
    publishes: int
    errors: int
    statements: list[str]


@dataclass
class HookResult:
    hook: Hook
    first: Pass
    repeat: Pass


def run_pass(
    hook: Callable[[Any], None],
    capture_targets: list[Any],
    timed_targets: list[Any],
    instruments: Instruments,
) -> Pass:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from saleor_support_plugin.orders.models import OrderEvent

    rows_before = OrderEvent.objects.count()
    sockets_before = instruments.sockets.calls
    publishes_before = instruments.publishes.count
    errors_before = instruments.logs.count
    start = len(connection.run_on_commit)

    # SQL, counted on their own calls: capturing slows the timed calls down.
    with CaptureQueriesContext(connection) as in_call:
        for target in capture_targets:
            hook(target)
    deferred = take_on_commit(start)
    callbacks = len(deferred)
    # What Django would run after the host's COMMIT, counted honestly.
    with CaptureQueriesContext(connection) as after_commit:
        for callback in deferred:
            callback()
    enqueues = len(take_on_commit(start))  # registered by a new row; not run here
    captured = len(capture_targets)
    kinds: dict[str, float] = dict.fromkeys(
        ("INSERT", "SELECT", "UPDATE", "DELETE", "other"), 0.0
    )
    for query in after_commit.captured_queries + in_call.captured_queries:
        kind = statement_kind(query["sql"])
        kinds[kind if kind in kinds else "other"] += 1 / captured
    shapes = sorted(
        {
            _shape(query["sql"])
            for query in in_call.captured_queries + after_commit.captured_queries
        }
    )

    call_ns: list[int] = []
    deferred_ns: list[int] = []
    gc.collect()
    for target in timed_targets:
        began = time.perf_counter_ns()
        hook(target)
        called = time.perf_counter_ns()
        deferred = take_on_commit(start)
        ran = time.perf_counter_ns()
        for callback in deferred:
            callback()
        done = time.perf_counter_ns()
        call_ns.append(called - began)
        deferred_ns.append(done - ran)
        callbacks += len(deferred)
        enqueues += len(take_on_commit(start))

    calls = captured + len(timed_targets)
    return Pass(
        call=Stats.of(call_ns),
        deferred=Stats.of(deferred_ns),
        sql_in_call=len(in_call.captured_queries) / captured,
        sql_deferred=len(after_commit.captured_queries) / captured,
        kinds=kinds,
        deferred_per_call=callbacks / calls,
        enqueues_per_call=enqueues / calls,
        rows_added=OrderEvent.objects.count() - rows_before,
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


def run_deferred(start: int) -> None:
    """Run what the hook left for on-commit; drop what that registered (the enqueue)."""
    for callback in take_on_commit(start):
        callback()
    take_on_commit(start)


def measure_hook(
    hook_spec: Hook,
    warm: list[Subject],
    pool: list[Subject],
    instruments: Instruments,
) -> HookResult:
    from django.db import connection, transaction

    from saleor_support_plugin.saleor import hooks

    hook = getattr(hooks, hook_spec.name)
    half = len(warm) // 2
    warm_targets = [s.target(hook_spec.takes) for s in warm]
    timed = [s.target(hook_spec.takes) for s in pool]
    with transaction.atomic():  # the host's transaction
        start = len(connection.run_on_commit)
        for target in warm_targets[:half]:
            hook(target)
            run_deferred(start)
        first = run_pass(hook, warm_targets[half:], timed, instruments)
        repeat = run_pass(hook, warm_targets[half:], timed, instruments)
        transaction.set_rollback(True)
    return HookResult(hook_spec, first, repeat)


def round_trip(count: int) -> Stats:
    """Time `SELECT 1` on the same connection: the floor of any statement."""
    from django.db import connection

    samples = []
    with connection.cursor() as cursor:
        for _ in range(count):
            began = time.perf_counter_ns()
            cursor.execute("SELECT 1")
            cursor.fetchone()
            samples.append(time.perf_counter_ns() - began)
    return Stats.of(samples)


def call_graph_check(
    warm: list[Subject],
) -> dict[str, tuple[list[str], list[str], list[str]]]:
    """Profile one call of each hook and, apart, its on-commit INSERT.

    Return (plugin modules in the call, plugin modules in the INSERT, forbidden
    modules in either) per hook.
    """
    from django.db import connection, transaction

    from saleor_support_plugin.saleor import hooks

    def profiled(func: Callable[[], Any]) -> set[str]:
        profile = cProfile.Profile()
        profile.enable()
        func()
        profile.disable()
        return {_module(key[0]) for key in pstats.Stats(profile).stats}  # type: ignore[attr-defined]

    def plugin(modules: set[str]) -> list[str]:
        return sorted(
            m.removeprefix("saleor_support_plugin.")
            for m in modules
            if m.startswith("saleor_support_plugin.")
        )

    result = {}
    with transaction.atomic():
        start = len(connection.run_on_commit)
        for spec in HOOKS:
            hook = getattr(hooks, spec.name)
            hook(warm[0].target(spec.takes))  # warm: lazy imports happen here
            run_deferred(start)
            target = warm[1].target(spec.takes)
            in_call = profiled(lambda: hook(target))
            deferred = take_on_commit(start)
            in_insert = profiled(lambda: [c() for c in deferred])
            take_on_commit(start)
            forbidden = sorted(
                m
                for m in in_call | in_insert
                if any(m.startswith(f) for f in FORBIDDEN)
            )
            result[spec.name] = (plugin(in_call), plugin(in_insert), forbidden)
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


# --- part 2: committed, with a real broker


@dataclass
class CommitResult:
    hook: Stats  # the hook call inside the transaction
    commit: Stats  # COMMIT + the deferred INSERT + the enqueue hand-off
    baseline: Stats  # COMMIT of the same transaction without the hook
    sockets: int  # on the calling thread, hook call and COMMIT included
    publishes: int  # on the calling thread
    background_publishes: int  # on the publisher thread, after waiting for it
    rows_added: int
    errors: int


def committed_mutations(
    orders: list[Subject], instruments: Instruments, *, expect_publishes: bool
) -> CommitResult:
    """Run each order's mutation twice, interleaved: without the hook and with it.

    The mutation's own write (the order's `updated_at`) makes the COMMIT real;
    with the hook, its INSERT runs after that COMMIT, in autocommit mode.
    """
    from django.db import transaction
    from django.utils import timezone

    from saleor_support_plugin.orders.models import OrderEvent
    from saleor_support_plugin.saleor import hooks
    from sandbox.order.models import Order

    hook_ns, commit_ns, baseline_ns = [], [], []
    rows_before = OrderEvent.objects.count()
    sockets_before = instruments.sockets.calls
    publishes_before = instruments.publishes.count
    total_before = instruments.publishes.total
    errors_before = instruments.logs.count
    gc.collect()
    for subject in orders:
        order = subject.order
        with transaction.atomic():
            Order.objects.filter(pk=order.pk).update(updated_at=timezone.now())
            wrote = time.perf_counter_ns()
        baseline_ns.append(time.perf_counter_ns() - wrote)
        with transaction.atomic():
            Order.objects.filter(pk=order.pk).update(updated_at=timezone.now())
            start = time.perf_counter_ns()
            hooks.order_confirmed(order)
            hooked = time.perf_counter_ns()
        committed = time.perf_counter_ns()  # COMMIT, then the on-commit INSERT
        hook_ns.append(hooked - start)
        commit_ns.append(committed - hooked)
    rows = OrderEvent.objects.count() - rows_before
    publishes = instruments.publishes.count - publishes_before
    if expect_publishes:
        instruments.publishes.wait_total(total_before + rows)
    return CommitResult(
        hook=Stats.of(hook_ns),
        commit=Stats.of(commit_ns),
        baseline=Stats.of(baseline_ns),
        sockets=instruments.sockets.calls - sockets_before,
        publishes=publishes,
        background_publishes=instruments.publishes.total - total_before - publishes,
        rows_added=rows,
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
    sql_per_call: float
    sockets_per_call: float
    publishes_per_call: float  # on the calling thread
    background_per_call: float  # on the publisher thread
    rows_added: int
    in_atomic: int  # calls that found themselves inside an atomic block (expect 0)
    errors: int


def saleor_style(
    spec: Hook,
    subjects: list[Subject],
    instruments: Instruments,
    *,
    capture: bool = False,
    wait_publishes: bool = True,
) -> SaleorStyle:
    """Fire the hook the way Saleor does: call_event inside the mutation's transaction.

    `capture`: count the SQL too (slows the calls down: use it on a warm-up).
    """
    from django.db import connection, transaction
    from django.test.utils import CaptureQueriesContext

    from saleor_support_plugin.orders.models import OrderEvent
    from saleor_support_plugin.saleor import hooks

    hook = getattr(hooks, spec.name)
    samples: list[int] = []
    in_atomic = 0
    rows_before = OrderEvent.objects.count()
    sockets_before = instruments.sockets.calls
    publishes_before = instruments.publishes.count
    total_before = instruments.publishes.total
    errors_before = instruments.logs.count

    def timed(target: Any) -> None:
        nonlocal in_atomic
        in_atomic += connection.in_atomic_block
        start = time.perf_counter_ns()
        hook(target)
        samples.append(time.perf_counter_ns() - start)

    targets = [s.target(spec.takes) for s in subjects]
    statements = 0
    gc.collect()
    for target in targets:
        with CaptureQueriesContext(connection) if capture else _nothing() as queries:
            with transaction.atomic():  # the mutation's own writes would be here
                call_event(timed, target)
        if queries is not None:
            # Django logs the host's BEGIN and COMMIT too: they are not the hook's.
            statements += sum(
                q["sql"] not in TRANSACTION_CONTROL for q in queries.captured_queries
            )
    calls = len(subjects)
    rows = OrderEvent.objects.count() - rows_before
    publishes = instruments.publishes.count - publishes_before
    if wait_publishes:
        instruments.publishes.wait_total(total_before + rows)
    return SaleorStyle(
        name=spec.name,
        stats=Stats.of(samples),
        sql_per_call=statements / calls,
        sockets_per_call=(instruments.sockets.calls - sockets_before) / calls,
        publishes_per_call=publishes / calls,
        background_per_call=(instruments.publishes.total - total_before - publishes)
        / calls,
        rows_added=rows,
        in_atomic=in_atomic,
        errors=instruments.logs.count - errors_before,
    )


@contextmanager
def _nothing() -> Iterator[None]:
    yield None


def direct_publish(count: int) -> Stats:
    """Time one Celery publish to Redis: the publisher thread's work per new event."""
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
    from sandbox.order.models import Order

    celery_app.conf.update(CELERY_TASK_ALWAYS_EAGER=False)
    instruments = Instruments()
    instruments.install()
    policy = celery_app.conf.task_publish_retry_policy
    out(json.dumps({"broker": celery_app.conf.broker_url, "policy": policy}))
    subjects = make_subjects(BROKER_DOWN_COMMITS)
    confirmed = next(spec for spec in HOOKS if spec.name == "order_confirmed")
    for subject in subjects:
        result = saleor_style(confirmed, [subject], instruments, wait_publishes=False)
        out(
            json.dumps(
                {
                    "hook_us": result.stats.median_us,
                    "warnings": result.errors,
                    "last_warning": instruments.logs.last,
                }
            )
        )
    # The publisher thread's attempts, reported: they are off the request.
    time.sleep(BROKER_CHILD_WAIT)
    out(
        json.dumps(
            {
                "background_warnings": instruments.logs.count,
                "last_warning": instruments.logs.last,
            }
        )
    )
    ids = [str(s.order.pk) for s in subjects]
    OrderEvent.objects.filter(order_id__in=ids).delete()
    Order.objects.filter(pk__in=ids).delete()


@dataclass
class BrokerFailure:
    label: str
    broker: str
    timeout: float
    policy: Any = None
    mutations: list[dict[str, Any]] = field(default_factory=list)
    # After the mutations: what the publisher thread logged meanwhile.
    background: dict[str, Any] | None = None
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
    if lines and "background_warnings" in lines[-1]:
        result.background = lines.pop()
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


def _pass_row(spec: Hook, p: Pass, expected_rows: int) -> list[object]:
    return [
        spec.name,
        "one-off" if spec.once else "change",
        f"{p.sql_in_call:g}",
        f"{p.deferred_per_call:g}",
        f"{p.sql_deferred:g}",
        f"{p.kinds['INSERT']:g}",
        f"{p.kinds['SELECT']:g}",
        f"{p.kinds['UPDATE'] + p.kinds['DELETE'] + p.kinds['other']:g}",
        fmt(p.call.median_us),
        fmt(p.call.p95_us),
        fmt(p.deferred.median_us),
        fmt(p.deferred.p95_us),
        f"{p.rows_added}/{expected_rows}",
        f"{p.enqueues_per_call:g}",
    ]


PASS_HEADERS = [
    "hook",
    "fact",
    "SQL in call",
    "on_commit/call",
    "SQL after commit",
    "INSERT",
    "SELECT",
    "other",
    "call µs",
    "p95",
    "INSERT µs",
    "p95",
    "rows",
    "enqueues",
]


def expected_rows(spec: Hook, calls: int, repeat: bool) -> int:
    return 0 if repeat and spec.once else calls + WARMUP // 2


def report_part1(
    results: list[HookResult],
    graph: dict[str, tuple[list[str], list[str], list[str]]],
    floor: Stats,
    calls: int,
) -> None:
    out()
    out(
        f"Part 1 — the hook call inside the host's transaction (rolled back), "
        f"{calls} calls per hook, order with 3 lines + 1 fulfillment; what it "
        "leaves for on-commit run at once under the same instruments"
    )
    out()
    out("First recording (every call's INSERT inserts a row):")
    table(
        PASS_HEADERS,
        [
            _pass_row(r.hook, r.first, expected_rows(r.hook, calls, False))
            for r in results
        ],
    )
    out()
    out(
        "Repeat (one-off facts: INSERT … ON CONFLICT DO NOTHING, no row; "
        "changes: a fresh key, a new row):"
    )
    table(
        PASS_HEADERS,
        [
            _pass_row(r.hook, r.repeat, expected_rows(r.hook, calls, True))
            for r in results
        ],
    )
    out(
        "    'call µs': the hook call itself (builds the key, registers the "
        "on-commit callback); 'INSERT µs': running that callback (the INSERT, "
        "in the host's still open transaction: no COMMIT of its own here, see 2a)."
    )
    out(
        f"    Floor: a `SELECT 1` round trip on the same connection takes "
        f"{fmt(floor.median_us)} µs median (p95 {fmt(floor.p95_us)})."
    )
    out(
        "    'enqueues': on-commit enqueues the INSERT registered (1 per new row); "
        "not run here (part 2 runs them)."
    )
    out()
    out("Side effects, all calls of both passes (call and its on-commit INSERT):")
    table(
        [
            "hook",
            "socket ops",
            "celery publishes",
            "logged errors",
            "plugin modules: call",
            "plugin modules: INSERT",
            "forbidden",
        ],
        [
            [
                r.hook.name,
                r.first.socket_ops + r.repeat.socket_ops,
                r.first.publishes + r.repeat.publishes,
                r.first.errors + r.repeat.errors,
                ", ".join(graph[r.hook.name][0]),
                ", ".join(graph[r.hook.name][1]),
                ", ".join(graph[r.hook.name][2]) or "none",
            ]
            for r in results
        ],
    )
    statements = sorted(
        {s for r in results for s in r.first.statements + r.repeat.statements}
    )
    out()
    out("Every SQL statement the hooks sent, in the call or after it (values elided):")
    for statement in statements:
        out(f"  {statement}")
    out()
    out(
        "Reading: 'socket ops' counts Python socket calls (Redis, SMTP, HTTP); "
        "PostgreSQL's libpq socket is not Python's, its traffic is the SQL above."
    )
    out(
        "The objects are sandbox model instances, loaded as Saleor hands them over; "
        "hooks read only pk, order_id, status and tracking_number, so nothing is "
        "loaded lazily (tests/saleor asserts the same with Saleor's models)."
    )
    out(
        "'forbidden' lists modules of reading the order (readers, reconcile), "
        "rendering (the template interpreter, django.template), mail, "
        "notifications, Celery/kombu/redis or HTTP seen by cProfile in one call "
        "or its INSERT."
    )


def report_part2(
    saleor: list[tuple[SaleorStyle, SaleorStyle, SaleorStyle]],
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
        "runs after COMMIT in autocommit mode: its INSERT runs in the call and "
        "record_event's on-commit enqueue at once, handing the publish to the "
        "plugin's publisher thread; sockets and publishes count the calling "
        "thread, 'bg' the publisher thread):"
    )
    table(
        [
            "hook",
            "SQL/call",
            "new: median µs",
            "p95 µs",
            "sockets/call",
            "publishes/call",
            "bg/call",
            "rows",
            "repeat: median µs",
            "p95 µs",
            "bg/call",
            "rows",
            "in atomic",
            "errors",
        ],
        [
            [
                first.name,
                f"{warm.sql_per_call:g}",
                fmt(first.stats.median_us),
                fmt(first.stats.p95_us),
                f"{first.sockets_per_call + again.sockets_per_call:g}",
                f"{first.publishes_per_call + again.publishes_per_call:g}",
                f"{first.background_per_call:g}",
                first.rows_added,
                fmt(again.stats.median_us),
                fmt(again.stats.p95_us),
                f"{again.background_per_call:g}",
                again.rows_added,
                first.in_atomic + again.in_atomic,
                first.errors + again.errors,
            ]
            for warm, first, again in saleor
        ],
    )
    out(
        "    'SQL/call': the hook's statements in the 20 warm-up calls (the host's "
        "BEGIN and COMMIT left out); sockets and publishes/call: both passes."
    )
    out()
    out(
        "2b. If the host calls the hook inside its transaction (what record_change "
        "expects), order_confirmed; each order's mutation (an UPDATE of the order) "
        "committed twice, interleaved, without the hook and with it:"
    )
    table(
        ["what", "median µs", "p95 µs", "mean µs"],
        [
            [label, fmt(s.median_us), fmt(s.p95_us), fmt(s.mean_us)]
            for label, s in (
                ("hook call in the transaction (new fact)", new.hook),
                ("hook call in the transaction (repeat)", repeat.hook),
                ("COMMIT without the hook", new.baseline),
                ("COMMIT + deferred INSERT + enqueue hand-off (new fact)", new.commit),
                ("COMMIT + deferred INSERT, a no-op (repeat)", repeat.commit),
                ("one Celery publish to Redis (the publisher thread's work)", publish),
            )
        ],
    )
    out(
        f"    calling thread, hook and COMMIT: {new.sockets + repeat.sockets} socket "
        f"ops, {new.publishes + repeat.publishes} publishes; publisher thread: "
        f"{new.background_publishes} publishes for {new.rows_added} new facts, "
        f"{repeat.background_publishes} for {repeat.rows_added} rows of the "
        f"{commits} repeats; logged warnings/errors: {new.errors + repeat.errors}."
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
        if failure.background is not None:
            logged = failure.background["background_warnings"]
            out(
                f"    {BROKER_CHILD_WAIT:.0f} s later (the publisher thread): "
                f"warnings logged: {logged}"
                + (f" ({failure.background['last_warning']!r})" if logged else "")
            )
        if failure.timed_out:
            done = len(failure.mutations)
            out(
                f"    mutation {done + 1}: hook call had not returned after "
                f"{failure.timeout:.0f} s (child killed)"
                if done < BROKER_DOWN_COMMITS
                else f"    every hook call returned; the child had not exited after "
                f"{failure.timeout:.0f} s (killed)"
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
    clear_orders()

    out(
        f"database: {url} (PostgreSQL {connection.cursor().connection.info.server_version})"
    )
    out(f"broker:   {broker_url}")
    out(f"python:   {sys.version.split()[0]}, {os.cpu_count()} CPUs")

    started = time.monotonic()
    warm = make_subjects(WARMUP)
    pool = make_subjects(args.calls)
    out(
        f"built {len(warm) + len(pool)} sandbox orders in {time.monotonic() - started:.1f}s"
    )

    instruments = Instruments()
    failures: list[BrokerFailure] = []
    try:
        with installed(instruments):
            graph = call_graph_check(warm)
            results = [measure_hook(spec, warm, pool, instruments) for spec in HOOKS]
            round_trip(200)  # warm-up
            floor = round_trip(args.calls)
            report_part1(results, graph, floor, args.calls)
            for r in results:
                passes = ((r.first, False), (r.repeat, True))
                if any(
                    p.errors
                    or p.rows_added != expected_rows(r.hook, args.calls, repeat)
                    or p.sql_in_call
                    or p.sql_deferred != 1
                    for p, repeat in passes
                ):
                    out(
                        f"WARNING: {r.hook.name} did not record as expected "
                        "(rows, statements or errors above)"
                    )
            if redis_server is None:
                out()
                out("Part 2 skipped: no Redis (redis-server not installed).")
                report_part3(settings_parse_cost(20), 20)
                return
            orders = make_subjects(args.commits + 20)
            saleor = []
            for spec in HOOKS:
                warm_up = saleor_style(spec, orders[:20], instruments, capture=True)
                first = saleor_style(spec, orders[20:], instruments)
                again = saleor_style(spec, orders[20:], instruments)
                saleor.append((warm_up, first, again))
            clear_plugin_rows()
            committed_mutations(orders[:20], instruments, expect_publishes=True)
            new = committed_mutations(orders[20:], instruments, expect_publishes=True)
            repeat = committed_mutations(
                orders[20:], instruments, expect_publishes=False
            )
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
        clear_orders()
        if redis_server is not None:
            import redis

            redis.Redis.from_url(broker_url).flushdb()


if __name__ == "__main__":
    main()
