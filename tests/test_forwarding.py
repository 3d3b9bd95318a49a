"""Forwarding updates to the merchant's URL: signed JSON over real HTTP, SSRF-safe."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from saleor_support_plugin.core.signing import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    verify,
)
from saleor_support_plugin.notifications.models import Notification, NotificationStatus
from saleor_support_plugin.saleor import hooks

from .factories import SaleorOrderFactory

SECRET = "forwarding-secret"


class Receiver:
    """A real HTTP server on loopback that records POSTs and answers `status`."""

    def __init__(self) -> None:
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.status = 200
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append((dict(self.headers), body))
                self.send_response(receiver.status)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/support-updates"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()


@pytest.fixture
def receiver():
    receiver = Receiver()
    yield receiver
    receiver.close()


def test_update_is_forwarded_signed(
    db, mail_config, smtp_server, receiver, on_commit, settings
):
    # given
    settings.SUPPORT_WEBHOOK_ALLOW_LOOPBACK = True
    mail_config(outgoing_webhook_url=receiver.url, outgoing_webhook_secret=SECRET)
    order = SaleorOrderFactory.create()
    # when
    on_commit(hooks.order_confirmed, order)
    on_commit(hooks.order_confirmed, order)
    # then one email and one signed POST
    assert len(smtp_server.wait_for(1)) == 1
    ((headers, body),) = receiver.requests
    verify(
        SECRET,
        timestamp=headers[TIMESTAMP_HEADER],
        sig=headers[SIGNATURE_HEADER],
        body=body,
    )
    payload = json.loads(body)
    assert payload["type"] == "support.order.confirmed"
    assert payload["data"]["order"]["number"] == str(order.number)
    assert headers["X-Support-Delivery"] == payload["id"]
    assert Notification.objects.get(channel="webhook").status == NotificationStatus.SENT


def test_loopback_and_private_addresses_are_refused(
    db, mail_config, receiver, on_commit
):
    # SSRF guard on (the default): the receiver on 127.0.0.1 is never contacted
    mail_config(outgoing_webhook_url=receiver.url)
    on_commit(hooks.order_confirmed, SaleorOrderFactory.create())
    notification = Notification.objects.get(channel="webhook")
    assert notification.status == NotificationStatus.FAILED
    assert notification.reason.startswith("Refused address")
    assert receiver.requests == []


@pytest.mark.parametrize(
    ("status", "expected"),
    [(503, NotificationStatus.PENDING), (410, NotificationStatus.FAILED)],
)
def test_receiver_errors_retry_or_fail(
    db, mail_config, receiver, on_commit, settings, status, expected
):
    settings.SUPPORT_WEBHOOK_ALLOW_LOOPBACK = True
    receiver.status = status
    mail_config(outgoing_webhook_url=receiver.url)
    on_commit(hooks.order_confirmed, SaleorOrderFactory.create())
    notification = Notification.objects.get(channel="webhook")
    assert notification.status == expected
    assert notification.last_error == f"HTTP {status}"
