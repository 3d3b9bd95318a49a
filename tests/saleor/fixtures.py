"""Fixtures for the plugin inside a real Saleor."""

import json

import pytest
from django.test import Client
from saleor.plugins.models import PluginConfiguration

from saleor_support_plugin import PLUGIN_ID

PLUGIN_PATH = "saleor_support_plugin.plugin.SupportPlugin"
PLUGIN_GRAPHQL_URL = f"/plugins/global/{PLUGIN_ID}/graphql/"
SUPPORT_SENDER_NAME = "Shop Support"
SUPPORT_SENDER_ADDRESS = "support@shop.example"


@pytest.fixture
def support_plugin(settings):
    """Enable the plugin the way Saleor's tests enable theirs."""
    settings.PLUGINS = [PLUGIN_PATH]
    return PluginConfiguration.objects.create(
        identifier=PLUGIN_ID, name="Customer Support", active=True, configuration=[]
    )


@pytest.fixture
def support_plugin_with_sender(support_plugin):
    """Enable the plugin with its own sender, so its emails are told apart."""
    support_plugin.configuration = [
        {"name": "sender_name", "value": SUPPORT_SENDER_NAME},
        {"name": "sender_address", "value": SUPPORT_SENDER_ADDRESS},
    ]
    support_plugin.save(update_fields=["configuration"])
    return support_plugin


@pytest.fixture
def post_plugin_graphql():
    def post(query: str, token: str | None = None, variables: dict | None = None):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        body = json.dumps({"query": query, "variables": variables or {}})
        return Client().post(
            PLUGIN_GRAPHQL_URL, body, content_type="application/json", headers=headers
        )

    return post
