from django.apps import AppConfig


class OrderConfig(AppConfig):
    """Holds Saleor's order permission codenames so the sandbox checks the same strings."""

    name = "sandbox.order"
    label = "order"
