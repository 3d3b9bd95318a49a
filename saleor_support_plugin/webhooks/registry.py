"""Inbound webhooks: one handler per source, served at `webhooks/<source>/`."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from ..conf import SupportSettings
from ..core.http import method_not_allowed, not_found

WebhookHandler = Callable[[HttpRequest, SupportSettings], HttpResponse]

_HANDLERS: dict[str, WebhookHandler] = {}


def register(source: str) -> Callable[[WebhookHandler], WebhookHandler]:
    """Register the handler for `webhooks/<source>/`."""

    def decorator(handler: WebhookHandler) -> WebhookHandler:
        if source in _HANDLERS and _HANDLERS[source] is not handler:
            raise ValueError(f"A webhook handler for {source!r} is already registered.")
        _HANDLERS[source] = handler
        return handler

    return decorator


def registered_sources() -> list[str]:
    return sorted(_HANDLERS)


def dispatch_webhook(
    request: HttpRequest, source: str, settings: SupportSettings
) -> HttpResponse:
    handler = _HANDLERS.get(source)
    if handler is None:
        return not_found(f"No webhook is served for {source!r}.")
    if request.method != "POST":
        return method_not_allowed(["POST"])
    return handler(request, settings)
