"""The sandbox's demo data: created through the real code paths, idempotent."""

from django.core.management import call_command

from saleor_support_plugin.notifications.models import Notification
from saleor_support_plugin.orders.models import OrderSnapshot
from saleor_support_plugin.surveys.models import Survey
from saleor_support_plugin.tickets.models import Macro, RoutingRule, Ticket


def test_seed_demo_is_idempotent_and_uses_the_plugin(transactional_db, settings):
    # Committed, as a real run: Saleor (and the sandbox) call hooks after the commit.
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    for _ in range(2):
        call_command("seed_demo", verbosity=0)
    assert set(OrderSnapshot.objects.values_list("number", flat=True)) == {
        "1001",
        "1002",
        "1003",
        "1004",
    }
    # the order delivered a week ago got its purchase survey, once, in German
    survey = Survey.objects.get()
    assert survey.order is not None
    assert (survey.order.number, survey.state, survey.language_code) == (
        "1004",
        "sent",
        "de",
    )
    assert Notification.objects.filter(kind="survey_nps").count() == 1
    assert Ticket.objects.count() == 2
    where = Ticket.objects.get(subject="Where is my order?")
    assert where.order is not None
    assert where.order.number == "1001"
    assert Ticket.objects.get(subject="Broken lid").tags == [
        "damage"
    ]  # the demo routing rule applied
    assert Macro.objects.count() == RoutingRule.objects.count() == 1
    kinds = sorted(
        Notification.objects.filter(
            kind__in=["confirmed", "shipped", "cancelled"]
        ).values_list("kind", flat=True)
    )
    # (#1004's "shipped" is history: it happened before the plugin knew the order)
    assert kinds == [
        "cancelled",
        "confirmed",
        "confirmed",
        "confirmed",
        "shipped",
        "shipped",
    ]
    assert (
        Notification.objects.get(kind="shipped", order_id=survey.order.order_id).status
        == "suppressed"
    )


def test_ticket_email_link_opens_the_sandbox_ticket_page_where_the_customer_answers(
    db, client
):
    # given a ticket and the link its emails carry (the sandbox's ticket_url_template)
    from urllib.parse import parse_qs, urlsplit

    from saleor_support_plugin.ports import load_settings
    from saleor_support_plugin.tickets.notifications import ticket_url

    from .factories import TicketFactory, TicketMessageFactory

    ticket = TicketFactory.create(
        customer_email="gina@example.com", subject="Lid <broken>"
    )
    TicketMessageFactory.create(ticket=ticket, body_text="It <b>cracked</b>.")
    TicketMessageFactory.create(
        ticket=ticket, body_text="Staff note", is_internal=True, author_kind="staff"
    )
    link = urlsplit(ticket_url(ticket, load_settings()))
    path = f"{link.path}?{link.query}"
    # when the customer follows it
    page = client.get(path)
    # then the page shows the ticket's public messages, escaped
    assert page.status_code == 200
    html = page.content.decode()
    assert "Lid &lt;broken&gt;" in html
    assert "It &lt;b&gt;cracked&lt;/b&gt;." in html
    assert "Staff note" not in html
    # and the customer's answer is posted to the ticket
    token = parse_qs(link.query)["token"][0]
    answered = client.post(path, {"token": token, "body": "Any news?"})
    assert answered.status_code == 302
    assert ticket.messages.filter(
        author_kind="customer", body_text="Any news?"
    ).exists()
    # and a forged or foreign token opens nothing
    assert client.get(f"{link.path}?token=forged").status_code == 404
    other = TicketFactory.create(customer_email="someone@example.com")
    from graphql_relay import to_global_id

    other_id = to_global_id("SupportTicket", str(other.pk))
    assert (
        client.get(f"/storefront/tickets/{other_id}/?{link.query}").status_code == 404
    )
