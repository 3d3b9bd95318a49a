"""The order pipeline inside Saleor with a real Celery worker, Redis and SMTP server.

Staff and a payment App call Saleor's GraphQL in this process; Saleor calls the
plugin's hooks after its commit, and the hooks' tasks go through a real Redis
to a real `celery worker` (Saleor's app, four prefork processes) on the test
database, which reconciles the orders and mails the plugin's SMTP server.
Saleor calls two hooks for one tracking change or refund (tracking_number_updated
or order_refunded, and order_updated): their tasks race in the worker, and
the customer must still hear every change exactly once.
"""

from __future__ import annotations

import email
import email.policy
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from email.message import EmailMessage
from pathlib import Path

import pytest

pytest.importorskip(
    "saleor",
    reason="Saleor is not installed: the Saleor suite runs only in a Saleor environment",
)

import celery._state  # noqa: E402
import graphene  # noqa: E402
import redis  # noqa: E402
from django.db import connection  # noqa: E402
from saleor.celeryconf import app as saleor_celery_app  # noqa: E402
from saleor.graphql.tests.utils import get_graphql_content  # noqa: E402
from saleor.warehouse.models import Stock  # noqa: E402

from saleor_support_plugin.notifications.models import (  # noqa: E402
    Notification,
    NotificationStatus,
)
from saleor_support_plugin.orders.models import OrderEvent  # noqa: E402

from .fixtures import SUPPORT_SENDER_ADDRESS, SUPPORT_SENDER_NAME  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[2]
# The project's own environment: it has the SMTP server the sandbox tests use
# (aiosmtpd, not in Saleor's environment).
PROJECT_PYTHON = REPO_ROOT / ".venv" / "bin" / "python"
WORKER_HOSTNAME = "support-plugin-saleor-test@localhost"
ORDERS = 30
SETTLE_TIMEOUT_SECONDS = 120.0

MUTATION_ORDER_FULFILL = """
mutation fulfillOrder($order: ID, $input: OrderFulfillInput!) {
  orderFulfill(order: $order, input: $input) {
    fulfillments { id trackingNumber }
    errors { field code message }
  }
}
"""

MUTATION_FULFILLMENT_UPDATE_TRACKING = """
mutation updateTracking($id: ID!, $tracking: String) {
  orderFulfillmentUpdateTracking(
    id: $id, input: { trackingNumber: $tracking, notifyCustomer: false }
  ) {
    fulfillment { trackingNumber }
    errors { field code message }
  }
}
"""

MUTATION_TRANSACTION_UPDATE = """
mutation transactionUpdate($id: ID!, $transaction: TransactionUpdateInput!) {
  transactionUpdate(id: $id, transaction: $transaction) {
    transaction { refundedAmount { amount } }
    errors { field code message }
  }
}
"""

# Runs in the project's environment: the SMTP server class of tests/fixtures/services.py.
SMTP_SINK_SCRIPT = """
import signal, sys
from pathlib import Path
from sandbox.services.smtp import SmtpSink

stop = {signal.SIGTERM, signal.SIGINT}
signal.pthread_sigmask(signal.SIG_BLOCK, stop)
sink = SmtpSink(port=int(sys.argv[1]), maildir=Path(sys.argv[2]))
sink.start()
print("ready", flush=True)
signal.sigwait(stop)
sink.stop()
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(ready, what: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 60
    while not ready():
        if process.poll() is not None:
            pytest.fail(f"{what} exited: {log.read_text()[-3000:]}")
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not start in 60 s: {log.read_text()[-3000:]}")
        time.sleep(0.1)


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)


@pytest.fixture
def redis_broker(tmp_path) -> Iterator[str]:
    """Run a Redis server of this test's own (its own port: no db shared with other runs)."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    port = free_port()
    log = tmp_path / "redis.log"
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
        + ["--appendonly", "no", "--dir", str(tmp_path)],
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url)

    def ready() -> bool:
        try:
            return bool(client.ping())
        except redis.ConnectionError:
            return False

    wait_until(ready, "redis-server", process, log)
    yield url
    client.close()
    stop(process)


@dataclass
class SmtpServer:
    url: str
    maildir: Path

    def messages(self) -> list[EmailMessage]:
        return [
            email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            for path in sorted(self.maildir.glob("*.eml"))
        ]


@pytest.fixture
def smtp_server(tmp_path) -> Iterator[SmtpServer]:
    """Run the project's SMTP server (SmtpSink) from the project's environment."""
    if not PROJECT_PYTHON.exists():
        pytest.skip(f"the project's environment is missing ({PROJECT_PYTHON})")
    port = free_port()
    maildir = tmp_path / "mail"
    log = tmp_path / "smtp.log"
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    process = subprocess.Popen(
        [str(PROJECT_PYTHON), "-c", SMTP_SINK_SCRIPT, str(port), str(maildir)],
        cwd=REPO_ROOT,
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    wait_until(lambda: "ready" in log.read_text(), "SMTP server", process, log)
    yield SmtpServer(f"smtp://127.0.0.1:{port}", maildir)
    stop(process)


def _drop_broker_connections(app) -> None:
    """Forget the app's connection pools, so the next publish uses the current broker URL."""
    if app._pool is not None:
        app._pool.force_close_all()
    app._pool = None
    app.amqp._producer_pool = None


@pytest.fixture
def saleor_publishes_to(redis_broker, monkeypatch) -> Iterator[str]:
    """Saleor's Celery app in this process publishes to the broker instead of running eagerly."""
    app = saleor_celery_app
    # The plugin publishes from its own thread, where Celery's current app is
    # the process's default app. In a Saleor process Celery's Django fixup makes
    # Saleor's app the default; here Celery's pytest plugin made its test app
    # the default first.
    monkeypatch.setattr(celery._state, "default_app", app)
    monkeypatch.setattr(app.conf, "CELERY_BROKER_URL", redis_broker)
    monkeypatch.setattr(app.conf, "CELERY_TASK_ALWAYS_EAGER", False)
    _drop_broker_connections(app)
    yield redis_broker
    _drop_broker_connections(app)


def worker_database_url() -> str:
    db = connection.settings_dict
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return f"postgres://{db['USER']}{password}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


@pytest.fixture
def saleor_worker(transactional_db, saleor_publishes_to, tmp_path) -> Iterator[Path]:
    """Run a real `celery worker` of Saleor's app, four prefork processes, on the test database."""
    log = tmp_path / "worker.log"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.saleor.worker_settings",
        "DATABASE_URL": worker_database_url(),
        "CELERY_BROKER_URL": saleor_publishes_to,
    }
    env.pop("DATABASE_URL_REPLICA", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "saleor.celeryconf:app", "worker"]
        + ["--loglevel", "INFO", "--concurrency", "4", "--pool", "prefork"]
        + ["--hostname", WORKER_HOSTNAME, "--without-gossip", "--without-mingle"],
        cwd=REPO_ROOT,
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    app = saleor_celery_app
    wait_until(
        lambda: bool(app.control.ping(destination=[WORKER_HOSTNAME], timeout=0.5)),
        "celery worker",
        process,
        log,
    )
    yield log
    stop(process)


@pytest.fixture
def plugin_mailing_to(support_plugin, smtp_server) -> SmtpServer:
    """Configure the plugin with its own sender and SMTP server."""
    support_plugin.configuration = [
        {"name": "sender_name", "value": SUPPORT_SENDER_NAME},
        {"name": "sender_address", "value": SUPPORT_SENDER_ADDRESS},
        {"name": "smtp_url", "value": smtp_server.url},
    ]
    support_plugin.save(update_fields=["configuration"])
    return smtp_server


@pytest.fixture
def many_orders(
    order_with_lines,
    order_generator,
    order_lines_generator,
    app,
    transaction_item_generator,
):
    """ORDERS unfulfilled two-line orders, each paid by a transaction the payment App owns."""
    variants = [line.variant for line in order_with_lines.lines.all()]
    Stock.objects.filter(product_variant__in=variants).update(quantity=10 * ORDERS)
    orders = [order_with_lines]
    for _ in range(ORDERS - 1):
        order = order_generator()
        order_lines_generator(order, variants, [10, 20], [1, 1])
        order.lines_count = 2
        order.save(update_fields=["lines_count"])
        orders.append(order)
    transactions = {
        order.pk: transaction_item_generator(
            order_id=order.pk,
            app=app,
            charged_value=Decimal(50),
            available_actions=["refund"],
        )
        for order in orders
    }
    return orders, transactions


def fulfill_variables(order, tracking: str) -> dict:
    lines = []
    for line in order.lines.all():
        stock = line.allocations.get().stock
        lines.append(
            {
                "orderLineId": graphene.Node.to_global_id("OrderLine", line.pk),
                "stocks": [
                    {
                        "quantity": line.quantity,
                        "warehouse": graphene.Node.to_global_id(
                            "Warehouse", stock.warehouse_id
                        ),
                    }
                ],
            }
        )
    return {
        "order": graphene.Node.to_global_id("Order", order.pk),
        "input": {"notifyCustomer": False, "trackingNumber": tracking, "lines": lines},
    }


def settle(worker_log: Path) -> None:
    """Wait until every event is processed and every email row is final."""
    deadline = time.monotonic() + SETTLE_TIMEOUT_SECONDS
    while True:
        events = OrderEvent.objects.filter(processed_at__isnull=True).count()
        mails = Notification.objects.filter(status=NotificationStatus.PENDING).count()
        if events == mails == 0:
            return
        if time.monotonic() > deadline:
            pytest.fail(
                f"{events} events and {mails} emails still pending after "
                f"{SETTLE_TIMEOUT_SECONDS:.0f} s; worker log: {worker_log.read_text()[-5000:]}"
            )
        time.sleep(0.2)


def mails_by_order(smtp: SmtpServer, orders) -> dict[str, list[tuple[str, str]]]:
    """(subject, text body) of the plugin's emails, per order number, in arrival order."""
    numbers = {str(order.number) for order in orders}
    found: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for message in smtp.messages():
        assert SUPPORT_SENDER_ADDRESS in str(message["From"])
        subject = str(message["Subject"])
        match = re.search(r"#(\d+)", subject)
        assert match, subject
        number = match.group(1)
        assert number in numbers, subject
        body = message.get_body(preferencelist=("plain",))
        found[number].append((subject, body.get_content() if body else ""))
    return found


def test_tracking_changes_and_refunds_on_many_orders_each_send_one_email(
    plugin_mailing_to,
    saleor_worker,
    many_orders,
    staff_api_client,
    permission_group_manage_orders,
    app_api_client,
    permission_manage_payments,
):
    # given ORDERS orders, a real worker running four tasks at once and the
    # plugin mailing through a real SMTP server
    permission_group_manage_orders.user_set.add(staff_api_client.user)
    app_api_client.app.permissions.add(permission_manage_payments)
    orders, transactions = many_orders
    smtp = plugin_mailing_to

    def staff(query: str, variables: dict, field: str) -> dict:
        content = get_graphql_content(staff_api_client.post_graphql(query, variables))
        result = content["data"][field]
        assert result["errors"] == []
        return result

    # when staff ship every order with a tracking number
    fulfillments = {}
    for order in orders:
        result = staff(
            MUTATION_ORDER_FULFILL,
            fulfill_variables(order, f"A-{order.number}"),
            "orderFulfill",
        )
        (fulfillment,) = result["fulfillments"]
        fulfillments[order.pk] = fulfillment["id"]
    settle(saleor_worker)
    # and change every tracking number three times, back to the first at last
    # (A → B → C → A: the customer hears A again), the pipeline settling between rounds
    for letter in ("B", "C", "A"):
        for order in orders:
            result = staff(
                MUTATION_FULFILLMENT_UPDATE_TRACKING,
                {"id": fulfillments[order.pk], "tracking": f"{letter}-{order.number}"},
                "orderFulfillmentUpdateTracking",
            )
            assert result["fulfillment"]["trackingNumber"] == f"{letter}-{order.number}"
        settle(saleor_worker)
    # and the payment App refunds 5.00, then 12.00 in all, of every order
    for refunded in (Decimal(5), Decimal(12)):
        for order in orders:
            token = transactions[order.pk].token
            response = app_api_client.post_graphql(
                MUTATION_TRANSACTION_UPDATE,
                {
                    "id": graphene.Node.to_global_id("TransactionItem", token),
                    "transaction": {
                        "amountRefunded": {"amount": refunded, "currency": "USD"}
                    },
                },
            )
            result = get_graphql_content(response)["data"]["transactionUpdate"]
            assert result["errors"] == []
            assert Decimal(str(result["transaction"]["refundedAmount"]["amount"])) == (
                refunded
            )
        settle(saleor_worker)

    # then every order got exactly: shipped with A, tracking updated with B, C
    # and A again, a refund of 5.00 and a refund of 7.00, in that order
    found = mails_by_order(smtp, orders)
    for order in orders:
        n = order.number
        mails = found[str(n)]
        assert [subject for subject, _ in mails] == [
            f"Your order #{n} is on its way",
            f"New tracking details for order #{n}",
            f"New tracking details for order #{n}",
            f"New tracking details for order #{n}",
            f"Your refund for order #{n}",
            f"Your refund for order #{n}",
        ], n
        bodies = [body for _, body in mails]
        assert f"A-{n}" in bodies[0]
        for body, letter in zip(bodies[1:4], "BCA", strict=True):
            assert f"Tracking number: {letter}-{n}" in body
        assert "We have refunded 5.00 USD" in bodies[4]
        assert "We have refunded 7.00 USD" in bodies[5]
    assert len(smtp.messages()) == 6 * ORDERS
    assert set(Notification.objects.values_list("status", flat=True)) == {
        NotificationStatus.SENT
    }
    assert Notification.objects.count() == 6 * ORDERS
    # every event Saleor reported was processed, each with its outcome
    assert not OrderEvent.objects.filter(outcome="").exists()
    assert not OrderEvent.objects.filter(failed_attempts__gt=0).exists()
