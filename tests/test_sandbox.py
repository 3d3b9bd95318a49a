"""The sandbox's demo data: created through the real code paths, idempotent."""

from django.core.management import call_command

from saleor_support_plugin.notifications.models import Notification
from saleor_support_plugin.orders.models import OrderSnapshot
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
    }
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
    assert kinds == ["cancelled", "confirmed", "confirmed", "confirmed", "shipped"]
