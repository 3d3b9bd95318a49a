from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from sandbox.accounts.tokens import create_access_token


class Command(BaseCommand):
    help = "Print a bearer token for a sandbox user."

    def add_arguments(self, parser):
        parser.add_argument("email")

    def handle(self, *args, email, **options):
        user = get_user_model().objects.filter(email=email).first()
        if user is None:
            raise CommandError(f"No sandbox user {email!r}; run seed_demo first.")
        self.stdout.write(create_access_token(user))
