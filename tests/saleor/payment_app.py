"""A payment App for tests: a Saleor App whose refund webhook is a local HTTP server.

Saleor sends TRANSACTION_REFUND_REQUESTED for a transaction the App owns to
the server, which answers like a payment service provider would: the refund
succeeded at once (REFUND_SUCCESS), or only a PSP reference (the result comes
later through `transactionEventReport`), or REFUND_FAILURE.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import graphene
import pytest
from saleor.app.models import App
from saleor.graphql.tests.fixtures import ApiClient
from saleor.graphql.tests.utils import get_graphql_content
from saleor.webhook.event_types import WebhookEventSyncType
from saleor.webhook.models import Webhook, WebhookEvent

REFUND_SUCCESS = "REFUND_SUCCESS"
REFUND_FAILURE = "REFUND_FAILURE"
# Answer with a PSP reference only: the refund is confirmed later.
LATER = "LATER"

REFUND_REQUESTED_SUBSCRIPTION = """
subscription {
  event {
    ... on TransactionRefundRequested {
      action { actionType amount currency }
      transaction { id pspReference }
      grantedRefund { id reason }
    }
  }
}
"""

MUTATION_TRANSACTION_CREATE = """
mutation transactionCreate($id: ID!, $transaction: TransactionCreateInput!) {
  transactionCreate(id: $id, transaction: $transaction) {
    transaction { id chargedAmount { amount } }
    errors { field code message }
  }
}
"""

MUTATION_TRANSACTION_EVENT_REPORT = """
mutation report($id: ID!, $psp: String!, $type: TransactionEventTypeEnum!, $amount: PositiveDecimal!) {
  transactionEventReport(id: $id, pspReference: $psp, type: $type, amount: $amount) {
    alreadyProcessed
    errors { field code message }
  }
}
"""


@dataclass
class RefundRequestSeen:
    """One TRANSACTION_REFUND_REQUESTED webhook the App received."""

    amount: Decimal
    currency: str
    transaction_id: str
    granted_refund_id: str | None
    psp_reference: str


@dataclass
class PaymentAppServer:
    """The App's webhook endpoint; `answer` is what it tells Saleor."""

    answer: str = REFUND_SUCCESS
    requests: list[RefundRequestSeen] = field(default_factory=list)
    url: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def respond(self, body: dict[str, Any]) -> dict[str, Any]:
        action = body["action"]
        seen = RefundRequestSeen(
            amount=Decimal(str(action["amount"])),
            currency=action["currency"],
            transaction_id=body["transaction"]["id"],
            granted_refund_id=(body.get("grantedRefund") or {}).get("id"),
            psp_reference=f"refund-{uuid.uuid4()}",
        )
        with self._lock:
            self.requests.append(seen)
        if self.answer == LATER:
            return {"pspReference": seen.psp_reference}
        return {
            "pspReference": seen.psp_reference,
            "result": self.answer,
            "amount": str(seen.amount),
        }


def _handler(app_server: PaymentAppServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}")
            answer = json.dumps(app_server.respond(body)).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

    return Handler


@pytest.fixture
def payment_app_server() -> Iterator[PaymentAppServer]:
    """Run the App's webhook endpoint on a free local port."""
    app_server = PaymentAppServer()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(app_server))
    app_server.url = f"http://127.0.0.1:{server.server_address[1]}/refund"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield app_server
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


@pytest.fixture
def payment_app(payment_app_server, permission_manage_payments) -> App:
    """Create a payment App (HANDLE_PAYMENTS) subscribed to refund requests."""
    app = App.objects.create(
        name="Test payment app",
        is_active=True,
        identifier="support-plugin-tests.payment-app",
    )
    app.permissions.add(permission_manage_payments)
    webhook = Webhook.objects.create(
        name="refunds",
        app=app,
        target_url=payment_app_server.url,
        is_active=True,
        subscription_query=REFUND_REQUESTED_SUBSCRIPTION,
    )
    WebhookEvent.objects.create(
        webhook=webhook, event_type=WebhookEventSyncType.TRANSACTION_REFUND_REQUESTED
    )
    return app


@pytest.fixture
def payment_app_api_client(payment_app) -> ApiClient:
    return ApiClient(app=payment_app)


def charge_through_app(
    api_client: ApiClient, order: Any, amount: Decimal, currency: str = "USD"
) -> str:
    """Record the order's payment as the App does: `transactionCreate`; return its id."""
    response = api_client.post_graphql(
        MUTATION_TRANSACTION_CREATE,
        {
            "id": graphene.Node.to_global_id("Order", order.pk),
            "transaction": {
                "name": "Card",
                "pspReference": f"charge-{uuid.uuid4()}",
                "availableActions": ["REFUND"],
                "amountCharged": {"amount": str(amount), "currency": currency},
            },
        },
    )
    result = get_graphql_content(response)["data"]["transactionCreate"]
    assert result["errors"] == []
    return result["transaction"]["id"]


def report_refund(
    api_client: ApiClient, transaction_id: str, psp_reference: str, amount: Decimal
) -> None:
    """Confirm a refund later, as an App that answered with a PSP reference only."""
    response = api_client.post_graphql(
        MUTATION_TRANSACTION_EVENT_REPORT,
        {
            "id": transaction_id,
            "psp": psp_reference,
            "type": REFUND_SUCCESS,
            "amount": str(amount),
        },
    )
    result = get_graphql_content(response)["data"]["transactionEventReport"]
    assert result["errors"] == []
