"""Where Saleor's own User emails plugin also emails customers about their orders.

Read only when the dashboard shows the plugin's configuration, never in a hook.
"""

from __future__ import annotations

import logging
from typing import Any

logger = logging.getLogger(__name__)

USER_EMAIL_PLUGIN_ID = "mirumee.notifications.user_email"
USER_EMAIL_PLUGIN_PATH = "saleor.plugins.user_email.plugin.UserEmailPlugin"
OVERLAP_FIELD = "saleor_email_overlap"


def channels_with_saleor_user_emails() -> list[str]:
    """Slugs of the channels where Saleor's User emails plugin is installed and active."""
    from django.conf import settings
    from saleor.plugins.models import PluginConfiguration

    if USER_EMAIL_PLUGIN_PATH not in getattr(settings, "PLUGINS", []):
        return []
    return sorted(
        slug
        # A dashboard read: the replica is fine (Saleor refuses writer reads here).
        for slug in PluginConfiguration.objects.using(
            getattr(settings, "DATABASE_CONNECTION_REPLICA_NAME", "default")
        )
        .filter(identifier=USER_EMAIL_PLUGIN_ID, active=True)
        .values_list("channel__slug", flat=True)
        if slug
    )


def overlap_text(channels: list[str]) -> str:
    if not channels:
        return "None: no channel sends Saleor's own order emails beside this plugin's."
    return (
        f"Saleor's User emails plugin is active in: {', '.join(channels)}. Customers "
        "there also get Saleor's order confirmation, shipping, cancellation, payment "
        "and refund emails: switch those templates off in that plugin, or the matching "
        "'Send … updates' switches here."
    )


def with_overlap(configuration: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Return the configuration with the read-only overlap field filled in."""
    try:
        text = overlap_text(channels_with_saleor_user_emails())
    except Exception:  # the dashboard must still show the settings
        logger.warning(
            "Could not read Saleor's User emails plugin configuration.", exc_info=True
        )
        return configuration
    return [
        {**item, "value": text} if item.get("name") == OVERLAP_FIELD else item
        for item in configuration
    ]
