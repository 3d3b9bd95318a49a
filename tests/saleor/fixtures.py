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


@pytest.fixture
def post_plugin_graphql_as_guest():
    """Post as a guest: the token from `supportGuestTokenCreate`, no Saleor JWT."""

    def post(query: str, guest_token: str, variables: dict | None = None):
        body = json.dumps({"query": query, "variables": variables or {}})
        return Client().post(
            PLUGIN_GRAPHQL_URL,
            body,
            content_type="application/json",
            HTTP_X_SUPPORT_GUEST_TOKEN=guest_token,
        )

    return post


@pytest.fixture
def snapshot_saleor_order(support_plugin, django_capture_on_commit_callbacks):
    """Let Saleor tell the plugin about an order, as `orderCreate` and checkout do.

    Saleor calls the hook, the plugin records the event and processes it on commit
    (Celery is eager in Saleor's tests), which builds the plugin's order snapshot.
    """
    from saleor.plugins.manager import get_plugins_manager

    from saleor_support_plugin.orders.models import OrderSnapshot

    def snapshot(order) -> OrderSnapshot:
        with django_capture_on_commit_callbacks(execute=True):
            get_plugins_manager(allow_replica=False).order_created(order)
        return OrderSnapshot.objects.get(order_id=str(order.pk))

    return snapshot
