from django.urls import re_path

from saleor_support_plugin import PLUGIN_ID

from .saleor_signing import jwks_view
from .storefront import ticket_page
from .views import plugin_route

# The same paths Saleor uses for plugin routes.
urlpatterns = [
    re_path(rf"^plugins/global/{PLUGIN_ID}(?P<path>/.*)?$", plugin_route),
    # Where ticket emails link to (the sandbox's ticket_url_template).
    re_path(r"^storefront/tickets/(?P<ticket_id>[A-Za-z0-9=_-]{1,200})/$", ticket_page),
    # The key that signs the sandbox's Saleor App webhooks, where Saleor serves its own.
    re_path(r"^\.well-known/jwks\.json$", jwks_view),
    re_path(
        rf"^plugins/channel/(?P<channel_slug>[-\w]+)/{PLUGIN_ID}(?P<path>/.*)?$",
        plugin_route,
    ),
]
