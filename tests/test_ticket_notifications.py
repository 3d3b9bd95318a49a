"""Ticket emails through the outbox, to a real SMTP server."""

import re
from urllib.parse import unquote

from saleor_support_plugin.notifications.models import EmailOptOut, Notification

from .factories import TicketFactory
from .fixtures.graphql import get_graphql_content
from .fixtures.tickets import GuestApiClient
from .test_ticket_api import (
    MUTATION_ASSIGN,
    MUTATION_NOTE_ADD,
    MUTATION_TICKET_CREATE,
    MUTATION_TICKET_REPLY,
    QUERY_TICKET,
    create_input,
    data_of,
    oid,
    tid,
)


def test_new_ticket_emails_the_support_team(
    customer_api_client,
    alice_order,
    mail_config,
    smtp_server,
    django_capture_on_commit_callbacks,
):
    mail_config(support_staff_addresses="team@acme.example, lead@acme.example")
    with django_capture_on_commit_callbacks(execute=True):
        result = data_of(
            customer_api_client.post_graphql(
                MUTATION_TICKET_CREATE, create_input(order=oid(alice_order))
            ),
            "supportTicketCreate",
        )
    number = result["ticket"]["number"]
    mails = smtp_server.wait_for(2)
    assert sorted(mail.envelope_to for mail in mails) == [
        ("lead@acme.example",),
        ("team@acme.example",),
    ]
    assert {mail.subject for mail in mails} == {
        f"New ticket T-{number}: Where is my parcel?"
    }
    assert "alice@example.com opened ticket" in mails[0].body("plain")
    assert "It has been a week." in mails[0].body("plain")


def test_staff_reply_emails_the_customer_with_a_link_that_opens_only_that_ticket(
    customer_api_client,
    staff_api_client,
    mail_config,
    smtp_server,
    django_capture_on_commit_callbacks,
):
    # given a ticket and the merchant's ticket page
    mail_config(
        ticket_url_template="https://shop.example/support/{{ticket_id}}?token={{token}}"
    )
    ticket = TicketFactory.create(
        customer_user_id=str(customer_api_client.user.pk),
        customer_email="alice@example.com",
        subject="Zipper",
    )
    other = TicketFactory.create(
        customer_user_id=str(customer_api_client.user.pk),
        customer_email="alice@example.com",
    )
    # when staff add a note (no email) and reply publicly
    with django_capture_on_commit_callbacks(execute=True):
        staff_api_client.post_graphql(
            MUTATION_NOTE_ADD, {"id": tid(ticket), "body": "internal only"}
        )
        staff_api_client.post_graphql(
            MUTATION_TICKET_REPLY,
            {"id": tid(ticket), "body": "A new one is on its way."},
        )
    # then the customer gets one email with the reply and a link
    (mail,) = smtp_server.wait_for(1)
    assert mail.envelope_to == ("alice@example.com",)
    assert mail.subject == f"[T-{ticket.number}] Zipper"
    assert "A new one is on its way." in mail.body("plain")
    assert "internal only" not in mail.body("plain")
    match = re.search(r"\?token=(\S+)", mail.body("plain"))
    assert match is not None
    link_client = GuestApiClient(unquote(match.group(1)))
    # the link's token opens that ticket, not the customer's other one, and cannot open new tickets
    assert (
        data_of(
            link_client.post_graphql(QUERY_TICKET, {"id": tid(ticket)}), "supportTicket"
        )["subject"]
        == "Zipper"
    )
    assert (
        data_of(
            link_client.post_graphql(QUERY_TICKET, {"id": tid(other)}), "supportTicket"
        )
        is None
    )
    created = data_of(
        link_client.post_graphql(MUTATION_TICKET_CREATE, create_input()),
        "supportTicketCreate",
    )
    assert created["errors"][0]["code"] == "PERMISSION_DENIED"
    reply = data_of(
        link_client.post_graphql(
            MUTATION_TICKET_REPLY, {"id": tid(ticket), "body": "Thanks!"}
        ),
        "supportTicketReply",
    )
    assert reply["errors"] == []


def test_customer_reply_emails_the_assignee(
    customer_api_client,
    staff_api_client,
    staff_user,
    mail_config,
    smtp_server,
    django_capture_on_commit_callbacks,
):
    mail_config(support_staff_addresses="team@acme.example")
    ticket = TicketFactory.create(
        customer_user_id=str(customer_api_client.user.pk),
        customer_email="alice@example.com",
    )
    from graphql_relay import to_global_id

    staff_api_client.post_graphql(
        MUTATION_ASSIGN,
        {"id": tid(ticket), "assignee": to_global_id("User", staff_user.pk)},
    )
    with django_capture_on_commit_callbacks(execute=True):
        customer_api_client.post_graphql(
            MUTATION_TICKET_REPLY, {"id": tid(ticket), "body": "Any news?"}
        )
    (mail,) = smtp_server.wait_for(1)
    assert mail.envelope_to == ("staff@example.com",)
    assert mail.subject.startswith(f"Customer replied on T-{ticket.number}")


def test_ticket_replies_are_not_suppressed_by_a_shipping_opt_out(
    customer_api_client,
    staff_api_client,
    mail_config,
    smtp_server,
    django_capture_on_commit_callbacks,
):
    EmailOptOut.objects.create(email="alice@example.com")
    ticket = TicketFactory.create(
        customer_user_id=str(customer_api_client.user.pk),
        customer_email="alice@example.com",
    )
    with django_capture_on_commit_callbacks(execute=True):
        staff_api_client.post_graphql(
            MUTATION_TICKET_REPLY, {"id": tid(ticket), "body": "Answer"}
        )
    assert len(smtp_server.wait_for(1)) == 1
    assert Notification.objects.get().status == "sent"


def test_no_team_address_means_no_staff_email(
    customer_api_client, mail_config, smtp_server, django_capture_on_commit_callbacks
):
    mail_config(support_staff_addresses="")
    with django_capture_on_commit_callbacks(execute=True):
        get_graphql_content(
            customer_api_client.post_graphql(MUTATION_TICKET_CREATE, create_input())
        )
    assert smtp_server.messages == []
    assert not Notification.objects.exists()
