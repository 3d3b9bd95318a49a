"""What customers and staff see in our emails: sender, greeting, threading, shipped lines."""

from graphql_relay import to_global_id

from saleor_support_plugin.conf import FIELDS_BY_NAME, parse_settings
from saleor_support_plugin.notifications.identity import message_id_domain
from saleor_support_plugin.notifications.models import Notification, NotificationStatus
from saleor_support_plugin.saleor import hooks
from saleor_support_plugin.tickets.models import InboundEmail, Ticket

from .factories import SaleorOrderFactory, SaleorOrderLineFactory, TicketFactory
from .fixtures.graphql import get_graphql_content
from .test_order_updates_api import QUERY_ORDER_UPDATES
from .test_proactive_updates import ship
from .test_ticket_api import (
    MUTATION_TICKET_CREATE,
    MUTATION_TICKET_REPLY,
    create_input,
    data_of,
    oid,
    tid,
)


def header(mail, name):
    """Return a header as mail clients read it: unfolded (long ones wrap on the wire)."""
    return " ".join(str(mail.message[name]).split())


def test_ticket_emails_go_out_with_proactive_order_updates_off(
    customer_api_client,
    staff_api_client,
    alice_order,
    mail_config,
    smtp_server,
    on_commit,
    django_capture_on_commit_callbacks,
):
    # given a merchant who switched proactive order updates off
    mail_config(
        proactive_updates_enabled=False, support_staff_addresses="team@acme.example"
    )
    # when a customer opens a ticket and staff reply, and an order is confirmed
    with django_capture_on_commit_callbacks(execute=True):
        created = data_of(
            customer_api_client.post_graphql(
                MUTATION_TICKET_CREATE, create_input(order=oid(alice_order))
            ),
            "supportTicketCreate",
        )
    ticket = Ticket.objects.get(number=created["ticket"]["number"])
    with django_capture_on_commit_callbacks(execute=True):
        staff_api_client.post_graphql(
            MUTATION_TICKET_REPLY, {"id": tid(ticket), "body": "On its way."}
        )
    order = SaleorOrderFactory.create(user__email="carol@example.com")
    on_commit(hooks.order_confirmed, order)
    # then staff got the new ticket, the customer the reply, and the order update was held back
    mails = smtp_server.wait_for(2)
    assert [(mail.envelope_to, mail.subject) for mail in mails] == [
        (("team@acme.example",), f"New ticket T-{ticket.number}: Where is my parcel?"),
        (("alice@example.com",), f"[T-{ticket.number}] Where is my parcel?"),
    ]
    confirmed = Notification.objects.get(order_id=str(order.pk), kind="confirmed")
    assert confirmed.status == NotificationStatus.SUPPRESSED
    assert confirmed.reason == "proactive order updates are switched off"
    assert len(smtp_server.messages) == 2


def test_ticket_switch_help_texts_name_their_recipients():
    # when the dashboard describes the per-kind switches
    help_of = {name: FIELDS_BY_NAME[name].help_text for name in FIELDS_BY_NAME}
    # then staff emails say so, and no ticket switch claims to need order updates
    assert help_of["notify_ticket_created"] == (
        "Email staff (the assignee, else the support staff addresses) when a ticket "
        "is opened (needs support tickets on)."
    )
    assert help_of["notify_ticket_reply"].startswith(
        "Email the customer each public staff reply"
    )
    for kind in ("ticket_created", "ticket_customer_reply", "ticket_sla_breach"):
        assert help_of[f"notify_{kind}"].startswith("Email staff")
        assert "proactive order updates on" not in help_of[f"notify_{kind}"]
    assert help_of["notify_shipped"] == (
        "Email customers the 'Shipped' update (needs proactive order updates on)."
    )
    assert help_of["ticket_reply_template"].count("Variables: ticket, customer,") == 1


def test_default_sender_name_uses_the_shop_name(
    db, settings, mail_config, smtp_server, on_commit
):
    # given the sender name left at its default and the host's shop name
    settings.SUPPORT_SHOP_NAME = "Acme Shop"
    mail_config(sender_name="Customer Support")
    order = SaleorOrderFactory.create(user__email="alice@example.com")
    # when the order is confirmed
    on_commit(hooks.order_confirmed, order)
    # then From, header and signature name the shop
    (mail,) = smtp_server.wait_for(1)
    assert mail.message["From"] == "Acme Shop <support@acme.example>"
    assert "Your Acme Shop team" in mail.body("plain").replace("\r\n", "\n")
    assert "Customer Support" not in mail.body("plain").replace("\r\n", "\n")
    assert "Acme Shop</td>" in mail.body("html")


def test_a_chosen_sender_name_wins_over_the_shop_name(
    db, settings, mail_config, smtp_server, on_commit
):
    # given a merchant's own sender name
    settings.SUPPORT_SHOP_NAME = "Acme Shop"
    mail_config(sender_name="Acme Help Desk")
    order = SaleorOrderFactory.create(user__email="alice@example.com")
    # when
    on_commit(hooks.order_confirmed, order)
    # then
    (mail,) = smtp_server.wait_for(1)
    assert mail.message["From"] == "Acme Help Desk <support@acme.example>"
    assert "Your Acme Help Desk team" in mail.body("plain").replace("\r\n", "\n")


def test_ticket_reply_greets_a_registered_customer_by_first_name(
    customer_api_client,
    staff_api_client,
    mail_config,
    smtp_server,
    django_capture_on_commit_callbacks,
):
    # given a ticket of a registered customer (first name "alice") and a guest's ticket
    known = TicketFactory.create(
        customer_user_id=str(customer_api_client.user.pk),
        customer_email="alice@example.com",
    )
    guest = TicketFactory.create(customer_email="guest@example.com")
    # when staff answer both
    with django_capture_on_commit_callbacks(execute=True):
        for ticket in (known, guest):
            staff_api_client.post_graphql(
                MUTATION_TICKET_REPLY, {"id": tid(ticket), "body": "Sorted."}
            )
    # then the customer is greeted by name, the guest neutrally
    mails = {mail.envelope_to[0]: mail for mail in smtp_server.wait_for(2)}
    assert (
        mails["alice@example.com"]
        .body("plain")
        .replace("\r\n", "\n")
        .startswith("Hi alice,\n")
    )
    assert "<p>Hi alice,</p>" in mails["alice@example.com"].body("html")
    assert (
        mails["guest@example.com"]
        .body("plain")
        .replace("\r\n", "\n")
        .startswith("Hi,\n")
    )


def test_ticket_emails_thread_on_the_ticket_and_the_customers_email(
    staff_api_client,
    mail_config,
    smtp_server,
    django_capture_on_commit_callbacks,
):
    # given a ticket the customer opened by email
    mail_config(support_staff_addresses="team@acme.example")
    ticket = TicketFactory.create(customer_email="dora@example.com")
    InboundEmail.objects.create(
        message_id="<first@mail.example>",
        sender="dora@example.com",
        ticket=ticket,
        outcome="created",
    )
    # when staff reply
    with django_capture_on_commit_callbacks(execute=True):
        staff_api_client.post_graphql(
            MUTATION_TICKET_REPLY, {"id": tid(ticket), "body": "Hello Dora."}
        )
    # then the reply answers her email, under the ticket's root
    (mail,) = smtp_server.wait_for(1)
    root = f"<ticket-{ticket.pk}@acme.example>"
    row = Notification.objects.get(recipient="dora@example.com")
    assert header(mail, "Message-ID") == f"<{row.pk}@acme.example>"
    assert header(mail, "In-Reply-To") == "<first@mail.example>"
    assert header(mail, "References") == f"{root} <first@mail.example>"


def test_new_ticket_email_to_staff_refers_to_the_ticket_root(
    customer_api_client,
    alice_order,
    mail_config,
    smtp_server,
    django_capture_on_commit_callbacks,
):
    # given
    mail_config(support_staff_addresses="team@acme.example")
    # when a customer opens a ticket on the storefront
    with django_capture_on_commit_callbacks(execute=True):
        created = data_of(
            customer_api_client.post_graphql(
                MUTATION_TICKET_CREATE, create_input(order=oid(alice_order))
            ),
            "supportTicketCreate",
        )
    # then staff's email starts the ticket's thread
    (mail,) = smtp_server.wait_for(1)
    ticket = Ticket.objects.get(number=created["ticket"]["number"])
    root = f"<ticket-{ticket.pk}@acme.example>"
    assert header(mail, "In-Reply-To") == root
    assert header(mail, "References") == root


def test_shipped_email_lists_only_that_fulfillments_lines(
    db, mail_config, smtp_server, on_commit
):
    # given an order shipped in two parcels
    order = SaleorOrderFactory.create(
        user__email="alice@example.com",
        lines=[SaleorOrderLineFactory.create(product_name="Trail Runner", quantity=2)],
    )
    on_commit(hooks.order_confirmed, order)
    ship(order, on_commit, tracking="1Z001")
    socks = SaleorOrderLineFactory.build(
        product_name="Wool Socks", variant_name="", quantity=3
    )
    socks.order = order
    socks.save()
    # when the second parcel ships
    ship(order, on_commit, tracking="1Z002")
    # then each shipped email lists its own parcel's lines
    _, first, second = smtp_server.wait_for(3)
    assert "- 2 x Trail Runner (42 / Blue)\n" in first.body("plain").replace(
        "\r\n", "\n"
    )
    assert "Wool Socks" not in first.body("plain").replace("\r\n", "\n")
    assert "- 3 x Wool Socks\n" in second.body("plain").replace("\r\n", "\n")
    assert "Trail Runner" not in second.body("plain").replace("\r\n", "\n")
    assert "<li>3 × Wool Socks</li>" in second.body("html")


def test_order_email_message_id_names_the_sender_domain(
    db, mail_config, smtp_server, on_commit, staff_api_client
):
    # given a sender address at acme.example
    order = SaleorOrderFactory.create(user__email="alice@example.com")
    # when the order is confirmed
    on_commit(hooks.order_confirmed, order)
    # then the Message-ID is <notification uuid@acme.example>, with no thread headers
    (mail,) = smtp_server.wait_for(1)
    row = Notification.objects.get(order_id=str(order.pk), channel="email")
    assert header(mail, "Message-ID") == f"<{row.pk}@acme.example>"
    assert mail.message["In-Reply-To"] is None
    assert mail.message["References"] is None
    # and staff looking the order up see the Message-ID it was sent with
    updates = get_graphql_content(
        staff_api_client.post_graphql(
            QUERY_ORDER_UPDATES, {"order": to_global_id("Order", str(order.pk))}
        )
    )["data"]["supportOrderUpdates"]
    assert [n["messageId"] for n in updates["notifications"]] == [
        f"<{row.pk}@acme.example>"
    ]


def test_message_id_domain_falls_back_to_the_public_url_then_a_fixed_name(settings):
    # given a host whose default sender has no real domain
    settings.DEFAULT_FROM_EMAIL = "webmaster@localhost"
    settings.PUBLIC_URL = "http://127.0.0.1:8000"
    # when / then
    assert message_id_domain(
        parse_settings({"sender_address": "help@Shop.Example"}, active=True)
    ) == ("shop.example")
    assert (
        message_id_domain(
            parse_settings({"public_url": "https://www.shop.example/x"}, active=True)
        )
        == "www.shop.example"
    )
    assert message_id_domain(parse_settings({}, active=True)) == "support.saleor-plugin"
    settings.PUBLIC_URL = "https://store.example.org"
    assert message_id_domain(parse_settings({}, active=True)) == "store.example.org"
