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

    def webhook(
        self, request: Any, path: str, previous_value: Any, **kwargs: Any
    ) -> Any:
        return handle_request(request, path, settings=self.settings)
