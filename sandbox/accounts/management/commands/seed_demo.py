from django.core.management.base import BaseCommand

from sandbox.accounts.demo import seed_users
from sandbox.accounts.demo_orders import seed_orders
from sandbox.accounts.demo_tickets import seed_tickets


class Command(BaseCommand):
    help = "Create the sandbox's demo data (idempotent)."

    def handle(self, *args, **options):
        users = seed_users()
        self.stdout.write(f"Demo users: {', '.join(sorted(users))}")
        orders = seed_orders(users)
        self.stdout.write(
            f"Demo orders: {', '.join(orders)} (their emails land in the SMTP sink)"
        )
        tickets = seed_tickets(users)
        self.stdout.write(
            f"Demo tickets: {', '.join(tickets)}; a macro and a routing rule"
        )
