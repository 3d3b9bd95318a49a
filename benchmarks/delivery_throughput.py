"""How many events per second one Celery worker turns into delivered emails.

Run: `.venv/bin/python -m benchmarks.delivery_throughput [--events 500]
[--concurrency 1,2]`.

Starts a local Redis (broker database 14, flushed), an SMTP sink and a real
`celery -A sandbox worker` (prefork, the given concurrency) on a benchmark
database, records N order_confirmed events the way Saleor's mutation does (one
committed transaction per order with the hook inside it: its INSERT runs after
the COMMIT and enqueues processing) and measures the wall time from the first
enqueue until the sink holds N messages. The orders are confirmed and not yet
shipped, so each owes exactly one email ("confirmed"). Each event is two tasks
in the worker: processing (the reconciler: the order's lock, the order read from
the sandbox's tables, the snapshot, the outbox row) and delivery (render, SMTP,
mark sent).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sandbox.services.paths import REPO_ROOT, runtime_dir
from sandbox.services.smtp import ReceivedMail, SmtpSink

from ._common import (
    Stats,
    clear_orders,
    clear_plugin_rows,
    make_order,
    out,
    redis_or_none,
    setup_django,
    table,
)

DATABASE = "support_bench_delivery"
BROKER_DB = 14
WARMUP_EVENTS = 10
SETTLE_SECONDS = 3.0  # after the N-th message: time for a duplicate to show up
SUCCEEDED = re.compile(r"Task ([\w.]+)\[[^\]]+\] succeeded in ([0-9.]+)s")


def task_runtimes(log_path: Path, skip: int) -> dict[str, list[int]]:
    """Return each task's runtimes (ns) as the worker logged them, after `skip` lines."""
    runtimes: dict[str, list[int]] = {}
    if not log_path.exists():
        return runtimes
    lines = log_path.read_text(errors="replace").splitlines()[skip:]
    for line in lines:
        match = SUCCEEDED.search(line)
        if match:
            name = match.group(1).rsplit(".", 1)[-1]
            runtimes.setdefault(name, []).append(round(float(match.group(2)) * 1e9))
    return runtimes


def log_lines(log_path: Path) -> int:
    return (
        len(log_path.read_text(errors="replace").splitlines())
        if log_path.exists()
        else 0
    )


class TimedSink(SmtpSink):
    """The SMTP sink, noting when each message arrived (perf_counter seconds)."""

    def __init__(self) -> None:
        super().__init__()
        self.arrivals: list[float] = []

    def _store(self, mail: ReceivedMail) -> None:
        arrived = time.perf_counter()
        with self._lock:
            self.arrivals.append(arrived)
        super()._store(mail)

    def clear(self) -> None:
        with self._lock:
            self.messages.clear()
            self.arrivals.clear()


def worker_class() -> Any:
    """Return CeleryWorkerProcess with a concurrency (imported after Django setup)."""
    from sandbox import celery_app
    from tests.fixtures.services import CeleryWorkerProcess

    class Worker(CeleryWorkerProcess):
        """The test suite's worker process; only `--concurrency` differs."""

        def __init__(
            self, env: dict[str, str], log_path: Path, name: str, concurrency: int
        ) -> None:
            super().__init__(env, log_path, name)
            self.concurrency = concurrency

        def start(self, timeout: float = 60.0) -> None:
            if self.concurrency == 1:
                super().start(timeout)  # exactly the test suite's command
                return
            log = open(self.log_path, "ab")  # the child process writes to it
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "celery",
                    "-A",
                    "sandbox",
                    "worker",
                    "--loglevel",
                    "INFO",
                    "--concurrency",
                    str(self.concurrency),
                    "--pool",
                    "prefork",
                    "--hostname",
                    self.hostname,
                    "--without-gossip",
                    "--without-mingle",
                    "-I",
                    "tests.worker_tasks",
                ],
                cwd=REPO_ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(f"Celery worker exited; see {self.log_path}")
                if celery_app.control.ping(destination=[self.hostname], timeout=0.5):
                    return
            raise RuntimeError(f"Celery worker did not answer; see {self.log_path}")

    return Worker


def pg_sessions(database: str) -> int:
    """Return the sessions PostgreSQL counted for the database so far (PG 14+)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT sessions FROM pg_stat_database WHERE datname = %s", [database]
        )
        row = cursor.fetchone()
    return int(row[0]) if row else 0


def confirmable_orders(count: int) -> list[Any]:
    """Unconfirmed orders with 3 lines, nothing shipped or refunded: one email each once confirmed."""
    return [make_order(fulfilled=False, status="unconfirmed") for _ in range(count)]


def record_events(orders: list[Any]) -> None:
    """One committed transaction per order, as Saleor's orderConfirm mutation."""
    from django.db import transaction

    from saleor_support_plugin.saleor import hooks
    from sandbox.order.actions import set_status

    for order in orders:
        with transaction.atomic():
            set_status(order, "unfulfilled")  # orderConfirm's own write
            hooks.order_confirmed(order)


@dataclass
class Run:
    concurrency: int
    events: int
    enqueue_s: float
    first_mail_s: float
    wall_s: float
    steady_per_s: float
    received: int
    unique_ids: int
    sent_rows: int
    other_rows: int
    processed_events: int
    extra_attempts: int
    dropped: int
    sessions: int
    interarrival: Stats | None
    tasks: dict[str, list[int]]

    @property
    def per_second(self) -> float:
        return self.events / self.wall_s if self.wall_s else 0.0


def run_once(
    concurrency: int,
    events: int,
    timeout: float,
    sink: TimedSink,
    env: dict[str, str],
    log_dir: Path,
    database: str,
) -> Run:
    import redis
    from django.db.models import F, Sum

    from saleor_support_plugin.notifications.models import Notification
    from saleor_support_plugin.orders.models import OrderEvent
    from sandbox import celery_app

    redis.Redis.from_url(celery_app.conf.broker_url).flushdb()
    clear_plugin_rows()
    clear_orders()
    sink.clear()
    log_path = log_dir / f"worker-c{concurrency}.log"
    worker = worker_class()(env, log_path, f"bench-c{concurrency}", concurrency)
    try:
        worker.start()
    except BaseException:
        worker.kill()  # started but never answered: do not leave it running
        raise
    try:
        # Warm-up: the pool's first task opens connections and imports templates.
        record_events(confirmable_orders(WARMUP_EVENTS))
        if len(sink.wait_for(WARMUP_EVENTS, timeout=60)) < WARMUP_EVENTS:
            raise RuntimeError(f"warm-up mails did not arrive; see {worker.log_path}")
        time.sleep(0.5)
        clear_plugin_rows()
        sink.clear()

        orders = confirmable_orders(events)
        skip = log_lines(log_path)
        sessions_before = pg_sessions(database)
        started = time.perf_counter()
        record_events(orders)
        enqueued = time.perf_counter()
        sink.wait_for(events, timeout=timeout)
        time.sleep(SETTLE_SECONDS)
        sessions = pg_sessions(database) - sessions_before
    finally:
        worker.stop()

    arrivals = list(sink.arrivals)
    mails = list(sink.messages)
    reached = arrivals[events - 1] if len(arrivals) >= events else None
    wall = (reached - started) if reached is not None else float("nan")
    span = arrivals[-1] - arrivals[0] if len(arrivals) > 1 else 0.0
    gaps = [round((b - a) * 1e9) for a, b in zip(arrivals, arrivals[1:], strict=False)]
    sent = Notification.objects.filter(status="sent")
    return Run(
        concurrency=concurrency,
        events=events,
        enqueue_s=enqueued - started,
        first_mail_s=(arrivals[0] - started) if arrivals else float("nan"),
        wall_s=wall,
        steady_per_s=(len(arrivals) - 1) / span if span else 0.0,
        received=len(mails),
        unique_ids=len({str(mail.message["Message-ID"]) for mail in mails}),
        sent_rows=sent.count(),
        other_rows=Notification.objects.exclude(status="sent").count(),
        processed_events=OrderEvent.objects.filter(processed_at__isnull=False).count(),
        extra_attempts=sent.aggregate(n=Sum(F("attempts") - 1))["n"] or 0,
        dropped=sink.dropped,
        sessions=sessions,
        interarrival=Stats.of(gaps) if gaps else None,
        tasks=task_runtimes(log_path, skip),
    )


def report(runs: list[Run]) -> None:
    out()
    table(
        [
            "concurrency",
            "events",
            "enqueue s",
            "1st mail ms",
            "wall s",
            "events/s",
            "ms/email",
            "steady/s",
            "gap p50 ms",
            "gap p95 ms",
        ],
        [
            [
                f"{r.concurrency} (prefork)",
                r.events,
                f"{r.enqueue_s:.2f}",
                f"{r.first_mail_s * 1000:.0f}",
                f"{r.wall_s:.2f}",
                f"{r.per_second:.1f}",
                f"{r.wall_s * 1000 / r.events:.1f}",
                f"{r.steady_per_s:.1f}",
                f"{r.interarrival.median_us / 1000:.1f}" if r.interarrival else "-",
                f"{r.interarrival.p95_us / 1000:.1f}" if r.interarrival else "-",
            ]
            for r in runs
        ],
    )
    out()
    table(
        [
            "concurrency",
            "received",
            "unique Message-ID",
            "rows sent",
            "rows not sent",
            "events processed",
            "retries",
            "sink dropped",
            "PG sessions",
        ],
        [
            [
                f"{r.concurrency} (prefork)",
                r.received,
                r.unique_ids,
                r.sent_rows,
                r.other_rows,
                r.processed_events,
                r.extra_attempts,
                r.dropped,
                f"{r.sessions} ({r.sessions / r.events:.1f}/event)",
            ]
            for r in runs
        ],
    )
    out()
    out("Task runtimes as the worker logged them (inside the pool process):")
    rows = []
    for r in runs:
        busy = 0.0
        for name, samples in sorted(r.tasks.items()):
            stats = Stats.of(samples)
            busy += sum(samples) / 1e9
            rows.append(
                [
                    f"c={r.concurrency} {name}",
                    stats.count,
                    f"{stats.median_us / 1000:.1f}",
                    f"{stats.p95_us / 1000:.1f}",
                    f"{stats.mean_us / 1000:.1f}",
                    f"{sum(samples) / 1e9:.2f}",
                ]
            )
        rows.append(
            [
                f"c={r.concurrency} all tasks vs wall",
                "",
                "",
                "",
                "",
                f"{busy:.2f} / {r.wall_s:.2f}",
            ]
        )
    table(["task", "count", "median ms", "p95 ms", "mean ms", "total s"], rows)
    out()
    for r in runs:
        ok = r.received == r.unique_ids == r.sent_rows == r.events
        verdict = "OK: exactly one email per event" if ok else "MISMATCH"
        out(f"concurrency {r.concurrency}: {verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=500)
    parser.add_argument(
        "--concurrency",
        default="1,2",
        help="comma-separated worker concurrencies to measure, one run each",
    )
    parser.add_argument(
        "--timeout", type=float, default=600, help="seconds to wait for the N mails"
    )
    parser.add_argument(
        "--keep-logs", action="store_true", help="keep the worker logs afterwards"
    )
    args = parser.parse_args()
    concurrencies = [int(c) for c in args.concurrency.split(",") if c.strip()]

    redis_server = redis_or_none()
    if redis_server is None:
        raise SystemExit("delivery_throughput needs redis-server (./dev setup)")
    broker_url = redis_server.url(BROKER_DB)
    sink = TimedSink()
    sink.start()
    log_dir = Path(tempfile.mkdtemp(prefix="support-bench-"))
    failed = True
    try:
        url = setup_django(
            DATABASE,
            {
                "TEST_CELERY_BROKER_URL": broker_url,
                "CELERY_TASK_ALWAYS_EAGER": "false",
                "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
                "EMAIL_HOST": sink.host,
                "EMAIL_PORT": str(sink.port),
                "SUPPORT_SMTP_URL": sink.url,
                "SANDBOX_RUNTIME_DIR": str(runtime_dir()),
            },
        )
        from django.conf import settings

        from sandbox import celery_app

        # As the celery_worker fixture does: the app reads namespaced keys.
        celery_app.conf.update(CELERY_TASK_ALWAYS_EAGER=False)
        worker_env = {**os.environ, "LOG_LEVEL": "INFO"}
        database = settings.DATABASES["default"]["NAME"]

        out(f"database: {url}")
        out(f"broker:   {broker_url} (flushed before each run)")
        out(f"smtp:     {sink.url} (aiosmtpd sink in this process)")
        out(
            f"python:   {sys.version.split()[0]}, {os.cpu_count()} CPUs; worker, "
            "PostgreSQL, Redis, the sink and this process share them"
        )
        out(f"worker logs: {log_dir}")

        runs = []
        for concurrency in concurrencies:
            out(f"running concurrency {concurrency} with {args.events} events …")
            runs.append(
                run_once(
                    concurrency,
                    args.events,
                    args.timeout,
                    sink,
                    worker_env,
                    log_dir,
                    str(database),
                )
            )
        report(runs)
        failed = not all(
            r.received == r.unique_ids == r.sent_rows == r.events for r in runs
        )
    finally:
        sink.stop()
        try:
            clear_plugin_rows()
            clear_orders()
        finally:
            import redis

            redis.Redis.from_url(broker_url).flushdb()
        if failed or args.keep_logs:
            out(f"worker logs kept in {log_dir}")
        else:
            shutil.rmtree(log_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
