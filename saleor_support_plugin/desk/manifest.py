"""The Saleor App manifest: the plugin is also an App, whose pages it serves itself.

Saleor reads it when the merchant installs the App from its URL
(`app/manifest/`); the fields follow `saleor/app/manifest_schema.py`. Each
desk page module registers its Dashboard extension here, so the manifest
names exactly the pages that exist.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from django.http import HttpRequest, HttpResponse

from .. import PLUGIN_ID, __version__
from ..conf import SALEOR_PERMISSIONS, SupportSettings
from ..core.http import json_error, method_not_allowed
from ..notifications.unsubscribe import public_base_url

# The App's identifier in Saleor (`App.identifier`): the desk checks tokens against it.
APP_ID = "saleor-support-plugin.desk"
APP_NAME = "Support desk"
# Saleor 3.20 and later 3.x: the versions the plugin is built and tested against.
REQUIRED_SALEOR_VERSION = ">=3.20 <4"
LOGO = Path(__file__).resolve().parent.parent / "templates" / "desk" / "logo.png"
# The subscription a price-drop webhook needs (Saleor's event permission).
WEBHOOK_PERMISSION = "MANAGE_PRODUCTS"


@dataclass(frozen=True)
class Extension:
    """One Dashboard extension: where it mounts, how it opens, which plugin path serves it."""

    identifier: str
    label: str
    path: str
    mount: str
    target: str
    options: dict[str, Any] = field(default_factory=dict)


_EXTENSIONS: dict[str, Extension] = {}


def register_extension(extension: Extension) -> Extension:
    """Add a page's extension to the manifest (called by the page's module)."""
    _EXTENSIONS[extension.identifier] = extension
    return extension


def plugin_url(settings: SupportSettings, path: str = "") -> str:
    """Return the absolute URL of a plugin path ("" without a public URL)."""
    base = public_base_url(settings)
    if not base:
        return ""
    return f"{base}/plugins/global/{PLUGIN_ID}/{path}"


def staff_permission_name(settings: SupportSettings) -> str:
    """Return Saleor's enum name of the staff permission (MANAGE_ORDERS)."""
    for name, codename in SALEOR_PERMISSIONS.items():
        if codename == settings.staff_permission:
            return name
    app_label, codename = settings.staff_permission.split(".", 1)
    return codename.upper()


def build_manifest(settings: SupportSettings) -> dict[str, Any]:
    """Return the manifest as Saleor reads it (absolute URLs from the public URL)."""
    from .subscriptions import DISCOUNTED_PRICE_EVENT, DISCOUNTED_PRICE_QUERY

    permission = staff_permission_name(settings)
    return {
        "id": APP_ID,
        "name": APP_NAME,
        "version": __version__,
        "about": (
            "The customer-service desk of saleor-support-plugin: the ticket inbox, "
            "each order's tickets and customer updates, price claims, surveys and "
            "service statistics, next to the order in the Dashboard."
        ),
        "author": "saleor-support-plugin",
        "permissions": sorted({permission, WEBHOOK_PERMISSION}),
        "appUrl": plugin_url(settings, "desk/"),
        "requiredSaleorVersion": REQUIRED_SALEOR_VERSION,
        "brand": {"logo": {"default": plugin_url(settings, "app/logo.png")}},
        "extensions": [
            {
                "identifier": extension.identifier,
                "label": extension.label,
                "url": plugin_url(settings, extension.path),
                "mount": extension.mount,
                "target": extension.target,
                "permissions": [permission],
                "options": extension.options,
            }
            for extension in sorted(_EXTENSIONS.values(), key=lambda e: e.identifier)
        ],
        "webhooks": [
            {
                "identifier": "discounted-price-updated",
                "name": "Price protection: promotion price changes",
                "targetUrl": plugin_url(settings, "webhooks/saleor/"),
                "query": DISCOUNTED_PRICE_QUERY,
                "asyncEvents": [DISCOUNTED_PRICE_EVENT],
                "isActive": True,
            }
        ],
    }


@cache
def _logo() -> bytes:
    return LOGO.read_bytes()


def handle_app(
    request: HttpRequest, path: str, settings: SupportSettings
) -> HttpResponse:
    """Serve `app/manifest/` (JSON) and `app/logo.png`."""
    if request.method != "GET":
        return method_not_allowed(["GET"])
    if path == "manifest":
        if not public_base_url(settings):
            # Saleor needs absolute URLs for every page and the webhook.
            return json_error(
                503,
                "public_url_missing",
                "Set the plugin's public URL (or the host's PUBLIC_URL) first: "
                "the manifest names the desk's pages by absolute URL.",
            )
        response = HttpResponse(
            json.dumps(build_manifest(settings), indent=2),
            content_type="application/json",
        )
        response["Cache-Control"] = "no-store"
        return response
    response = HttpResponse(_logo(), content_type="image/png")
    response["Cache-Control"] = "public, max-age=86400"
    return response
