from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from saleor_support_plugin.ports import load_settings
from saleor_support_plugin.routing import handle_request


@csrf_exempt
def plugin_route(
    request: HttpRequest, path: str | None = None, channel_slug: str | None = None
) -> HttpResponse:
    """Do what Saleor's plugin view does: hand the request and sub-path to the plugin."""
    return handle_request(request, path or "", settings=load_settings())
