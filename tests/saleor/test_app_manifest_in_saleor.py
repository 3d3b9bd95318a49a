"""The desk's App manifest installs through Saleor 3.24's own installation code."""

import dataclasses

import pytest

pytest.importorskip(
    "saleor",
    reason="Saleor is not installed: the Saleor suite runs only in a Saleor environment",
)

import requests_hardened  # noqa: E402
from requests_hardened.ip_filter import InvalidIPAddress  # noqa: E402
from saleor.app import installation_utils  # noqa: E402
from saleor.app.manifest_validations import clean_manifest_data  # noqa: E402
from saleor.app.models import App, AppInstallation  # noqa: E402
from saleor.core.http_client import HTTPConfig  # noqa: E402
from saleor.permission.models import Permission  # noqa: E402

from saleor_support_plugin import PLUGIN_ID  # noqa: E402
from saleor_support_plugin.desk.manifest import APP_ID, build_manifest  # noqa: E402
from saleor_support_plugin.ports import load_settings  # noqa: E402


@pytest.fixture
def plugin_at(support_plugin):
    """Give the plugin a public URL (the manifest's absolute links)."""

    def configure(url: str):
        support_plugin.configuration = [{"name": "public_url", "value": url}]
        support_plugin.save()

    return configure


def test_saleor_accepts_the_manifest(db, plugin_at):
    # given the plugin's manifest
    plugin_at("https://shop.example")
    manifest = build_manifest(load_settings())
    # when Saleor cleans it as appInstall does (permissions, extensions, webhooks, version)
    clean_manifest_data(manifest, raise_for_saleor_version=True)
    # then it passes, and Saleor's version satisfies the requirement
    assert manifest["requiredSaleorVersion"]["satisfied"] is True


def test_manifest_installs_from_its_url_once_loopback_is_allowed(
    live_server, plugin_at, monkeypatch, settings, tmp_path
):
    # Saleor stores the fetched logo under MEDIA_ROOT: not in the checkout.
    settings.MEDIA_ROOT = str(tmp_path)
    # given the plugin served by this Saleor, at a loopback address
    plugin_at(live_server.url)
    manifest_url = f"{live_server.url}/plugins/global/{PLUGIN_ID}/app/manifest/"
    permissions = Permission.objects.filter(
        codename__in=["manage_orders", "manage_products"]
    )
    installation = AppInstallation.objects.create(
        app_name="Support desk", manifest_url=manifest_url
    )
    installation.permissions.set(permissions)
    # when Saleor installs it with its IP filter as shipped (on, loopback refused;
    # the test settings turn it off, so it is built here as production has it)
    shipped = requests_hardened.Manager(
        dataclasses.replace(
            HTTPConfig, ip_filter_enable=True, ip_filter_allow_loopback_ips=False
        )
    )
    monkeypatch.setattr(installation_utils, "HTTPClient", shipped)
    # then the loopback manifest URL is refused and nothing is installed
    with pytest.raises(InvalidIPAddress, match="127.0.0.1"):
        installation_utils.install_app(installation, activate=True)
    assert not App.objects.filter(identifier=APP_ID).exists()
    # when HTTP_IP_FILTER_ALLOW_LOOPBACK_IPS is on (Saleor reads it at start)
    allowed = requests_hardened.Manager(
        dataclasses.replace(
            HTTPConfig, ip_filter_enable=True, ip_filter_allow_loopback_ips=True
        )
    )
    monkeypatch.setattr(installation_utils, "HTTPClient", allowed)
    app, _ = installation_utils.install_app(installation, activate=True)
    # then the App exists, with its permissions, extensions and the price webhook
    assert (app.identifier, app.is_active, app.type) == (APP_ID, True, "thirdparty")
    assert sorted(p.codename for p in app.permissions.all()) == [
        "manage_orders",
        "manage_products",
    ]
    (webhook,) = app.webhooks.all()
    assert webhook.target_url == (
        f"{live_server.url}/plugins/global/{PLUGIN_ID}/webhooks/saleor/"
    )
    assert [e.event_type for e in webhook.events.all()] == [
        "product_variant_discounted_price_updated"
    ]
    assert app.extensions.count() == len(build_manifest(load_settings())["extensions"])
