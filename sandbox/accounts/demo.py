"""Demo users of the sandbox."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission


@dataclass(frozen=True)
class DemoUser:
    email: str
    first_name: str
    is_staff: bool
    permissions: tuple[str, ...] = ()


DEMO_USERS = (
    DemoUser(
        "admin@example.com", "Ada", is_staff=True, permissions=("order.manage_orders",)
    ),
    DemoUser("viewer@example.com", "Victor", is_staff=True),
    DemoUser("alice@example.com", "Alice", is_staff=False),
    DemoUser("bob@example.com", "Bob", is_staff=False),
)


def ensure_user(demo: DemoUser):
    user_model = get_user_model()
    user, _ = user_model.objects.get_or_create(
        username=demo.email,
        defaults={
            "email": demo.email,
            "first_name": demo.first_name,
            "is_staff": demo.is_staff,
        },
    )
    user.set_unusable_password()
    user.save(update_fields=["password"])
    for codename in demo.permissions:
        app_label, _, name = codename.partition(".")
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label=app_label, codename=name)
        )
    return user


def seed_users() -> dict[str, object]:
    return {demo.email: ensure_user(demo) for demo in DEMO_USERS}
