"""Port adapters for a host that runs Saleor."""

from __future__ import annotations

from saleor.plugins.models import PluginConfiguration

from .. import PLUGIN_ID
from ..conf import SupportSettings, parse_settings
from ..ports import Ports


def load_settings() -> SupportSettings:
    """Read the plugin's global configuration row (channel is NULL for global plugins)."""
    row = PluginConfiguration.objects.filter(
        identifier=PLUGIN_ID, channel__isnull=True
    ).first()
    if row is None:
        return parse_settings({}, active=False)
    return parse_settings(row.configuration or [], active=row.active)


def shop_name() -> str:
    """Saleor's shop name is the current Site's (SiteSettings belongs to it)."""
    from django.contrib.sites.models import Site
    from saleor.core.db.connection import allow_writer

    # Read where emails are built (tasks and the plugin route): marked as a
    # deliberate writer read, as Saleor's writer guard expects.
    with allow_writer():
        try:
            return Site.objects.get_current().name or ""
        except Site.DoesNotExist:
            return ""


def build_ports() -> Ports:
    from saleor.core.db.connection import allow_writer

    return Ports(load_settings=load_settings, writer=allow_writer, shop_name=shop_name)
