"""Tasks the test suite loads into a real worker (`celery worker -I tests.worker_tasks`)."""

from celery import shared_task
from django.contrib.auth import get_user_model
from django.core.mail import send_mail


@shared_task
def mail_user_task(user_id: int, subject: str) -> str:
    """Read a committed row from the test database and mail it through SMTP."""
    user = get_user_model().objects.get(pk=user_id)
    send_mail(subject, f"Hello {user.first_name}", "worker@example.com", [user.email])
    return user.email
