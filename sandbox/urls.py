from django.urls import re_path

from saleor_support_plugin import PLUGIN_ID

from .views import plugin_route

# The same paths Saleor uses for plugin routes.
urlpatterns = [
    re_path(rf"^plugins/global/{PLUGIN_ID}(?P<path>/.*)?$", plugin_route),
    re_path(
        rf"^plugins/channel/(?P<channel_slug>[-\w]+)/{PLUGIN_ID}(?P<path>/.*)?$",
        plugin_route,
    ),
]
