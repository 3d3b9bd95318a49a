"""Port adapters for a host that runs Saleor."""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from saleor.plugins.models import PluginConfiguration

from .. import PLUGIN_ID
from ..conf import SupportSettings, parse_settings
from ..orders.data import OrderData
from ..ports import Ports
from . import prices, readers, refunds


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


def read_order(order_id: str) -> OrderData | None:
    """Read the order as it is now, from the writer, in a fixed number of queries."""
    from saleor.core.db.connection import allow_writer
    from saleor.order.models import Order

    try:
        uuid.UUID(order_id)
    except ValueError:
        return None
    with allow_writer():
        order = (
            Order.objects.using(
                getattr(settings, "DATABASE_CONNECTION_DEFAULT_NAME", "default")
            )
            .select_related("channel", "user", "billing_address")
            .prefetch_related(
                "lines",
                "fulfillments__lines",
                "payment_transactions",
                "payments__transactions",
            )
            .filter(pk=order_id)
            .first()
        )
        return readers.read_order(order) if order is not None else None


def read_replica() -> str:
    """Saleor's replica alias (its settings name it; it points at the writer when no replica is set up)."""
    replica = getattr(settings, "DATABASE_CONNECTION_REPLICA_NAME", None)
    if replica and replica in settings.DATABASES:
        return replica
    return getattr(settings, "DATABASE_CONNECTION_DEFAULT_NAME", "default")


def saleor_signing_keys() -> list[dict[str, Any]]:
    """Saleor's own public keys, in-process: the JWKS its `/.well-known/jwks.json` serves."""
    from saleor.core.jwt_manager import get_jwt_manager

    return list(get_jwt_manager().get_jwks().get("keys", []))


def build_ports() -> Ports:
    from saleor.core.db.connection import allow_writer

    return Ports(
        load_settings=load_settings,
        writer=allow_writer,
        shop_name=shop_name,
        read_order=read_order,
        read_variant_prices=prices.read_variant_prices,
        request_refund=refunds.request_refund,
        refund_status=refunds.refund_status,
        read_replica=read_replica,
        saleor_signing_keys=saleor_signing_keys,
    )
