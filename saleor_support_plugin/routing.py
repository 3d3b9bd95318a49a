"""Routes of the plugin's HTTP endpoint: `/plugins/global/<PLUGIN_ID>/<path>`.

Saleor calls `SupportPlugin.webhook(request, path, ...)` for every sub-path and
method; the sandbox host calls `handle_request` with the same arguments.
"""

from __future__ import annotations

import logging

from django.http import HttpRequest, HttpResponse

from .conf import SupportSettings
from .core.http import json_error, not_found
from .desk.manifest import handle_app
from .graphql.views import handle_graphql
from .health import handle_health
from .notifications.unsubscribe import handle_unsubscribe
from .surveys.views import handle_survey
from .webhooks import (  # noqa: F401 (register their handlers)
    carrier,
    inbound_email,
    saleor_app,
)
from .webhooks.registry import dispatch_webhook

logger = logging.getLogger(__name__)


def handle_request(
    request: HttpRequest, path: str | None, *, settings: SupportSettings
) -> HttpResponse:
    """Serve one request to the plugin; never raises into the host."""
    if not settings.active:
        # Saleor's legacy /plugins/<id>/ route calls inactive plugins too.
        return not_found("The support plugin is not active.")
    try:
        return _route(request, path or "", settings)
    except Exception:
        logger.exception("Unhandled error in the support plugin route %r", path)
        return json_error(500, "internal_error", "Internal server error.")


def _route(request: HttpRequest, path: str, settings: SupportSettings) -> HttpResponse:
    segments = [segment for segment in path.split("/") if segment]
    match segments:
        case ["graphql"]:
            return handle_graphql(request, settings)
        case ["health"]:
            return handle_health(request, settings)
        case ["unsubscribe"]:
            return handle_unsubscribe(request, settings)
        case ["survey"]:
            return handle_survey(request, settings)
        case ["app", ("manifest" | "logo.png") as what]:
            return handle_app(request, what, settings)
        case ["webhooks", source]:
            return dispatch_webhook(request, source, settings)
    return not_found(f"No route for {path!r}.")
