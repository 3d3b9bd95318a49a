from django.http import HttpRequest, HttpResponse, HttpResponseNotFound
from django.views.decorators.csrf import csrf_exempt

from saleor_support_plugin.ports import load_settings
from saleor_support_plugin.routing import handle_request


@csrf_exempt
def plugin_route(
    request: HttpRequest, path: str | None = None, channel_slug: str | None = None
) -> HttpResponse:
    """Do what Saleor's plugin view does: 404 when inactive, else hand over to the plugin."""
    settings = load_settings()
    if not settings.active:
        return HttpResponseNotFound()
    return handle_request(request, path or "", settings=settings)
