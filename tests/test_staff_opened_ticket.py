"""The team email for a new ticket says who opened it, and for whom when staff did."""

from .fixtures.graphql import SupportApiClient
from .test_ticket_api import MUTATION_TICKET_CREATE, create_input, data_of, oid


def open_ticket(client, order, django_capture_on_commit_callbacks) -> int:
    with django_capture_on_commit_callbacks(execute=True):
        result = data_of(
            client.post_graphql(MUTATION_TICKET_CREATE, create_input(order=oid(order))),
            "supportTicketCreate",
        )
    assert result["errors"] == []
    return result["ticket"]["number"]


def test_ticket_staff_opened_for_a_customer_names_the_staff_member_and_the_customer(
    staff_user,
    alice_order,
    mail_config,
    smtp_server,
    django_capture_on_commit_callbacks,
):
    # given
    mail_config(support_staff_addresses="team@acme.example")
    staff_user.first_name, staff_user.last_name = "Bob", "Admin"
    staff_user.email = "admin@example.com"
    staff_user.save(update_fields=["first_name", "last_name", "email"])

    # when
    number = open_ticket(
        SupportApiClient(user=staff_user),
        alice_order,
        django_capture_on_commit_callbacks,
    )

    # then
    (mail,) = smtp_server.wait_for(1)
    assert mail.envelope_to == ("team@acme.example",)
    opened = (
        f"Bob Admin (admin@example.com) opened ticket T-{number} "
        "for alice@example.com about order #1042:"
    )
    assert mail.body("plain").splitlines()[0] == opened
    assert f"<p>{opened}</p>" in mail.body("html")


def test_ticket_staff_opened_without_a_name_names_the_staff_address(
    staff_user,
    alice_order,
    mail_config,
    smtp_server,
    django_capture_on_commit_callbacks,
):
    # given
    mail_config(support_staff_addresses="team@acme.example")
    staff_user.first_name = staff_user.last_name = ""
    staff_user.save(update_fields=["first_name", "last_name"])

    # when
    number = open_ticket(
        SupportApiClient(user=staff_user),
        alice_order,
        django_capture_on_commit_callbacks,
    )

    # then
    (mail,) = smtp_server.wait_for(1)
    assert mail.body("plain").splitlines()[0] == (
        f"staff@example.com opened ticket T-{number} for alice@example.com "
        "about order #1042:"
    )


def test_ticket_customer_opened_keeps_the_wording(
    customer_api_client,
    alice_order,
    mail_config,
    smtp_server,
    django_capture_on_commit_callbacks,
):
    # given
    mail_config(support_staff_addresses="team@acme.example")

    # when
    number = open_ticket(
        customer_api_client, alice_order, django_capture_on_commit_callbacks
    )

    # then
    (mail,) = smtp_server.wait_for(1)
    opened = f"alice@example.com opened ticket T-{number} about order #1042:"
    assert mail.body("plain").splitlines()[0] == opened
    assert f"<p>{opened}</p>" in mail.body("html")
