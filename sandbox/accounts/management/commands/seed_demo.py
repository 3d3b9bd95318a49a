from django.core.management.base import BaseCommand

from sandbox.accounts.demo import seed_users
from sandbox.accounts.demo_orders import seed_orders
from sandbox.accounts.demo_surveys import seed_surveys
from sandbox.accounts.demo_tickets import seed_tickets


class Command(BaseCommand):
    help = "Create the sandbox's demo data (idempotent)."

    def handle(self, *args, **options):
        users = seed_users()
        self.stdout.write(f"Demo users: {', '.join(sorted(users))}")
        orders = seed_orders(users)
        self.stdout.write(
            "Demo orders (number, Saleor order ID for the GraphQL examples, customer):"
        )
        for order in orders:
            self.stdout.write(f"  {order.describe()}")
        survey_order = seed_surveys(users)
        self.stdout.write(f"  {survey_order.describe()}")
        tickets = seed_tickets(users)
        self.stdout.write(
            f"Demo tickets: {', '.join(tickets)}; a macro and a routing rule"
        )
