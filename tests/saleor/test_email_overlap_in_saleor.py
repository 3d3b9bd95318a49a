"""Dashboard and shop facts read from Saleor: overlapping User emails, the shop name."""

import pytest

pytest.importorskip(
    "saleor",
    reason="Saleor is not installed: the Saleor suite runs only in a Saleor environment",
)

from saleor.graphql.tests.utils import get_graphql_content  # noqa: E402
from saleor.plugins.models import PluginConfiguration  # noqa: E402

from saleor_support_plugin import PLUGIN_ID  # noqa: E402
from saleor_support_plugin.saleor.email_overlap import (  # noqa: E402
    OVERLAP_FIELD,
    USER_EMAIL_PLUGIN_ID,
    USER_EMAIL_PLUGIN_PATH,
)

from .fixtures import PLUGIN_PATH  # noqa: E402

QUERY_PLUGIN = """
query plugin($id: ID!) {
  plugin(id: $id) {
    globalConfiguration { configuration { name type value } }
  }
}
"""


def overlap_value(staff_api_client, permission_manage_plugins) -> dict:
    response = staff_api_client.post_graphql(
        QUERY_PLUGIN, {"id": PLUGIN_ID}, permissions=[permission_manage_plugins]
    )
    configuration = get_graphql_content(response)["data"]["plugin"][
        "globalConfiguration"
    ]["configuration"]
    (item,) = [item for item in configuration if item["name"] == OVERLAP_FIELD]
    return item


def test_overlap_names_channels_with_saleors_user_emails_active(
    settings,
    staff_api_client,
    permission_manage_plugins,
    support_plugin,
    channel_USD,
    channel_PLN,
):
    # given Saleor's User emails plugin active in one channel and inactive in another
    settings.PLUGINS = [USER_EMAIL_PLUGIN_PATH, PLUGIN_PATH]
    PluginConfiguration.objects.create(
        identifier=USER_EMAIL_PLUGIN_ID, channel=channel_USD, active=True
    )
    PluginConfiguration.objects.create(
        identifier=USER_EMAIL_PLUGIN_ID, channel=channel_PLN, active=False
    )
    # when the merchant opens the plugin's configuration
    item = overlap_value(staff_api_client, permission_manage_plugins)
    # then the read-only field names the active channel only
    assert item["type"] == "OUTPUT"
    assert channel_USD.slug in item["value"]
    assert channel_PLN.slug not in item["value"]


def test_overlap_says_none_without_saleors_user_emails(
    staff_api_client, permission_manage_plugins, support_plugin, channel_USD
):
    # given User emails rows but the plugin not installed in PLUGINS
    PluginConfiguration.objects.create(
        identifier=USER_EMAIL_PLUGIN_ID, channel=channel_USD, active=True
    )
    item = overlap_value(staff_api_client, permission_manage_plugins)
    assert item["value"].startswith("None")


def test_shop_name_is_the_current_sites_name(site_settings):
    from saleor_support_plugin.saleor.ports import shop_name

    # given Saleor's current site, named by the merchant
    site = site_settings.site
    site.name = "Mirumee Outdoor"
    site.save(update_fields=["name"])
    from django.contrib.sites.models import SITE_CACHE

    SITE_CACHE.clear()
    # then emails are signed with it (read under Saleor's writer guard)
    assert shop_name() == "Mirumee Outdoor"
