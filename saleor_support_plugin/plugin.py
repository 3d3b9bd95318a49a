"""The Saleor plugin: the only class Saleor sees.

It stays thin: configuration is defined and checked in `conf`, requests are
served by `routing`, Saleor objects are read in `saleor/`. Hooks record and
enqueue on commit, return `previous_value` and never raise into Saleor.
"""

from __future__ import annotations

from typing import Any

from saleor.plugins.base_plugin import BasePlugin, ConfigurationTypeField

from . import PLUGIN_ID, PLUGIN_NAME
from .conf import FIELDS, default_configuration, parse_settings, validate_configuration
from .routing import handle_request
from .saleor import email_overlap, hooks


def _config_structure() -> dict[str, dict[str, Any]]:
    return {
        field.name: {
            "type": getattr(ConfigurationTypeField, field.type.name),
            "label": field.label,
            "help_text": field.help_text,
        }
        for field in FIELDS
    }


class SupportPlugin(BasePlugin):
    PLUGIN_ID = PLUGIN_ID
    PLUGIN_NAME = PLUGIN_NAME
    PLUGIN_DESCRIPTION = (
        "A customer-service department inside Saleor: proactive order and shipping "
        "updates, support tickets and a knowledge base over GraphQL, price "
        "protection, CSAT/NPS surveys and service metrics."
    )
    # Global on purpose: channel-less events reach per-channel plugins 0..N
    # times; a global plugin receives each exactly once. Per-channel policy
    # lives in the plugin's own data.
    CONFIGURATION_PER_CHANNEL = False
    DEFAULT_ACTIVE = False
    CONFIG_STRUCTURE = _config_structure()
    DEFAULT_CONFIGURATION = default_configuration()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        configuration = {item["name"]: item["value"] for item in self.configuration}
        self.settings = parse_settings(configuration, active=self.active)

    @classmethod
    def validate_plugin_configuration(
        cls, plugin_configuration: Any, **kwargs: Any
    ) -> None:
        """Reject bad values with a message keyed by field, as the dashboard shows it."""
        validate_configuration(plugin_configuration.configuration)

    def resolve_plugin_configuration(self, request: Any) -> Any:
        """Show the dashboard where Saleor's own customer emails overlap this plugin's."""
        return email_overlap.with_overlap(self.configuration)

    def webhook(
        self, request: Any, path: str, previous_value: Any, **kwargs: Any
    ) -> Any:
        return handle_request(request, path, settings=self.settings)

    # --- order, shipping and return events
    #
    # Non-deprecated hooks are used where Saleor has them (order_confirmed,
    # tracking_number_updated). `notify` events are not: Saleor sends them only
    # when staff tick "notify customer", and there is none for returns, so the
    # plugin would miss updates customers expect. The deprecated hooks below fill
    # those gaps; every one maps to an idempotency key, so two hooks reporting the
    # same fact record it once. Each hook returns `previous_value` unchanged.

    def order_created(self, order: Any, previous_value: Any, **kwargs: Any) -> Any:
        hooks.order_created(order)
        return previous_value

    def order_confirmed(self, order: Any, previous_value: Any, **kwargs: Any) -> Any:
        hooks.order_confirmed(order)
        return previous_value

    def order_fully_paid(self, order: Any, previous_value: Any, **kwargs: Any) -> Any:
        hooks.order_fully_paid(order)
        return previous_value

    def fulfillment_created(
        self, fulfillment: Any, previous_value: Any, **kwargs: Any
    ) -> Any:
        hooks.fulfillment_created(fulfillment)
        return previous_value

    def fulfillment_approved(
        self, fulfillment: Any, previous_value: Any, **kwargs: Any
    ) -> Any:
        hooks.fulfillment_approved(fulfillment)
        return previous_value

    def tracking_number_updated(
        self, fulfillment: Any, previous_value: Any, **kwargs: Any
    ) -> Any:
        hooks.tracking_number_updated(fulfillment)
        return previous_value

    def order_fulfilled(self, order: Any, previous_value: Any, **kwargs: Any) -> Any:
        hooks.order_fulfilled(order)
        return previous_value

    def order_cancelled(self, order: Any, previous_value: Any, **kwargs: Any) -> Any:
        hooks.order_cancelled(order)
        return previous_value

    def order_refunded(self, order: Any, previous_value: Any, **kwargs: Any) -> Any:
        hooks.order_refunded(order)
        return previous_value

    def order_fully_refunded(
        self, order: Any, previous_value: Any, **kwargs: Any
    ) -> Any:
        hooks.order_refunded(order)
        return previous_value

    def order_updated(self, order: Any, previous_value: Any, **kwargs: Any) -> Any:
        # Returns (RETURNED / REFUNDED_AND_RETURNED / REPLACED fulfillments) reach
        # plugins only through this hook.
        hooks.order_updated(order)
        return previous_value

    # --- price changes, for price protection (one INSERT each, only when it is on)

    def product_variant_updated(
        self, variant: Any, previous_value: Any = None, **kwargs: Any
    ) -> Any:
        if self.settings.price_protection_enabled:
            hooks.product_variant_updated(variant)
        return previous_value

    def product_variant_discounted_price_updated(
        self, price_change: Any, previous_value: Any = None, **kwargs: Any
    ) -> Any:
        # Saleor sends it only when an App subscribes to
        # PRODUCT_VARIANT_DISCOUNTED_PRICE_UPDATED (the desk's manifest does).
        if self.settings.price_protection_enabled:
            hooks.product_variant_discounted_price_updated(price_change)
        return previous_value
