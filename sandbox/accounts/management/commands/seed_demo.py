from django.core.management.base import BaseCommand

from sandbox.accounts.demo import seed_users


class Command(BaseCommand):
    help = "Create the sandbox's demo data (idempotent)."

    def handle(self, *args, **options):
        users = seed_users()
        self.stdout.write(f"Demo users: {', '.join(sorted(users))}")
