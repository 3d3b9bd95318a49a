"""Inbound email over real HTTP: threading, new tickets, duplicates, spoofed senders, signatures."""

import pytest
import requests

from saleor_support_plugin.tickets.email_threading import reply_address, trim_quoted
from saleor_support_plugin.tickets.models import InboundEmail, Ticket, TicketMessage

from .factories import TicketFactory
from .fixtures.graphql import PLUGIN_URL
from .fixtures.support import signed_carrier_request

SECRET = "inbound-secret"
URL = f"{PLUGIN_URL}/webhooks/inbound-email/"


@pytest.fixture
def inbound(live_server, support_config):
    support_config(
        inbound_email_secret=SECRET, inbound_email_address="support@acme.example"
    )

    def post(payload, *, secret=SECRET, raw=None):
        body, headers = signed_carrier_request(
            raw if raw is not None else payload, secret=secret
        )
        return requests.post(
            f"{live_server.url}{URL}",
            data=body,
            headers={"Content-Type": "application/json", **headers},
            timeout=10,
        )

    return post


def mail(**overrides):
    payload = {
        "from": "Alice <alice@example.com>",
        "to": ["support@acme.example"],
        "subject": "Re: Broken zipper",
        "text": "The zipper broke on day one.\n\nOn Mon, Nov 23, 2026 at 9:00 Shop wrote:\n> earlier text",
        "html": "",
        "message_id": "<m1@mail.example>",
    }
    payload.update(overrides)
    return payload


def test_new_mail_opens_an_email_ticket_with_quotes_trimmed(inbound, customer_user):
    response = inbound(mail())
    assert response.status_code == 202
    assert response.json()["status"] == "created"
    ticket = Ticket.objects.get(number=response.json()["ticket"])
    assert (ticket.channel, ticket.subject, ticket.customer_email) == (
        "email",
        "Broken zipper",
        "alice@example.com",
    )
    assert ticket.customer_user_id == str(
        customer_user.pk
    )  # visible in Alice's account too
    assert ticket.messages.get().body_text == "The zipper broke on day one."


def test_html_only_mail_is_sanitized(inbound):
    html = (
        "<p>Hello <script>steal()</script><b>team</b></p><blockquote>old</blockquote>"
    )
    response = inbound(mail(text="", html=html, message_id="<m2@x>"))
    message = TicketMessage.objects.get(ticket__number=response.json()["ticket"])
    assert "steal" not in message.body_html
    assert message.body_text.startswith("Hello team")


def test_reply_to_the_plus_address_threads_into_the_ticket(inbound):
    ticket = TicketFactory.create(
        customer_email="alice@example.com", status="pending_customer"
    )
    response = inbound(
        mail(
            to=[reply_address(ticket, load())],
            message_id="<m3@x>",
            text="Thanks, any news?",
        )
    )
    assert response.json() == {"status": "replied", "ticket": ticket.number}
    ticket.refresh_from_db()
    assert ticket.status == "open"
    assert [m.body_text for m in ticket.messages.all()] == ["Thanks, any news?"]


def test_reply_threads_by_in_reply_to_of_our_email(
    inbound,
    staff_api_client,
    mail_config,
    smtp_server,
    django_capture_on_commit_callbacks,
):
    # given staff replied and the customer's mail client drops the plus address but keeps In-Reply-To
    mail_config(
        inbound_email_secret=SECRET, inbound_email_address="support@acme.example"
    )
    ticket = TicketFactory.create(customer_email="alice@example.com")
    from .test_ticket_api import MUTATION_TICKET_REPLY, tid

    with django_capture_on_commit_callbacks(execute=True):
        staff_api_client.post_graphql(
            MUTATION_TICKET_REPLY,
            {"id": tid(ticket), "body": "Could you send a photo?"},
        )
    (sent,) = smtp_server.wait_for(1)
    assert sent.message["Reply-To"] == reply_address(ticket, load())
    # when
    response = inbound(
        mail(
            message_id="<m4@x>",
            in_reply_to=sent.message["Message-ID"],
            text="Photo attached",
        )
    )
    # then
    assert response.json() == {"status": "replied", "ticket": ticket.number}


def test_same_message_id_twice_is_ignored(inbound):
    first = inbound(mail(message_id="<dup@x>"))
    second = inbound(mail(message_id="<dup@x>", text="changed"))
    assert (first.status_code, second.status_code) == (202, 200)
    assert second.json() == {"status": "duplicate"}
    assert Ticket.objects.count() == 1
    assert InboundEmail.objects.get().outcome == "created"


def test_mail_from_someone_else_does_not_post_into_the_ticket(inbound):
    ticket = TicketFactory.create(customer_email="alice@example.com")
    response = inbound(
        mail(
            **{"from": "mallory@evil.example"},
            to=[reply_address(ticket, load())],
            message_id="<s@x>",
        )
    )
    assert response.json() == {"status": "sender_mismatch", "ticket": ticket.number}
    assert not ticket.messages.exists()


def test_forged_reply_code_does_not_thread(inbound):
    ticket = TicketFactory.create(customer_email="alice@example.com")
    forged = f"support+t{ticket.number}.000000000000@acme.example"
    response = inbound(mail(to=[forged], message_id="<f@x>"))
    assert response.json()["status"] == "created"
    assert response.json()["ticket"] != ticket.number


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"to": ["x"], "text": "hi", "message_id": "<a@b>"}, "from"),
        ({"from": "not an email", "text": "hi", "message_id": "<a@b>"}, "from"),
        ({"from": "a@b.example", "text": "hi"}, "message_id"),
        ({"from": "a@b.example", "message_id": "<a@b>"}, "text"),
        ({"from": "a@b.example", "text": 5, "message_id": "<a@b>"}, "text"),
        (
            {
                "from": "a@b.example",
                "text": "hi",
                "message_id": "<a@b>",
                "references": 3,
            },
            "references",
        ),
    ],
)
def test_malformed_payload_is_400(inbound, payload, field):
    response = inbound(payload)
    assert response.status_code == 400
    assert response.json()["error"]["field"] == field
    assert not InboundEmail.objects.exists()


def test_bad_signature_and_closed_webhook(inbound, live_server, support_config):
    assert inbound(mail(), secret="wrong").status_code == 401
    support_config(inbound_email_secret="")
    body, headers = signed_carrier_request(mail(), secret=SECRET)
    response = requests.post(
        f"{live_server.url}{URL}", data=body, headers=headers, timeout=10
    )
    assert response.status_code == 403
    assert not Ticket.objects.exists()


def test_trim_quoted_keeps_only_new_text():
    text = (
        "New line\n\n> old\n> older\nAm 23.11.2026 um 09:00 schrieb Shop <s@x>:\nquoted"
    )
    assert trim_quoted(text) == "New line"
    assert trim_quoted("Hi\n-----Original Message-----\nold") == "Hi"


def load():
    from saleor_support_plugin.ports import load_settings

    return load_settings()
