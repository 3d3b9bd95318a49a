"""The App manifest Saleor installs the desk from, and the logo it names."""

from __future__ import annotations

import json

from .fixtures.graphql import PLUGIN_URL

BASE = "https://shop.example"


def test_manifest_names_the_app_its_permissions_and_the_price_webhook(
    db, client, support_config
):
    # given a plugin with its public URL
    support_config(public_url=f"{BASE}/")
    # when Saleor fetches the manifest
    response = client.get(f"{PLUGIN_URL}/app/manifest/")
    # then it is the App, with absolute URLs behind the plugin route
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    manifest = json.loads(response.content)
    root = f"{BASE}/plugins/global/saleor-support-plugin/"
    assert {key: manifest[key] for key in ("id", "name", "requiredSaleorVersion")} == {
        "id": "saleor-support-plugin.desk",
        "name": "Support desk",
        "requiredSaleorVersion": ">=3.20 <4",
    }
    assert manifest["version"] == "0.1.0"
    assert manifest["appUrl"] == f"{root}desk/"
    assert manifest["brand"] == {"logo": {"default": f"{root}app/logo.png"}}
    # and the staff permission, plus the one Saleor requires of the price webhook
    assert manifest["permissions"] == ["MANAGE_ORDERS", "MANAGE_PRODUCTS"]
    (webhook,) = manifest["webhooks"]
    assert webhook["asyncEvents"] == ["PRODUCT_VARIANT_DISCOUNTED_PRICE_UPDATED"]
    assert webhook["targetUrl"] == f"{root}webhooks/saleor/"
    assert "ProductVariantDiscountedPriceUpdated" in webhook["query"]
    assert webhook["isActive"] is True
    # and every extension asks for the staff permission only
    for extension in manifest["extensions"]:
        assert extension["permissions"] == ["MANAGE_ORDERS"]
        assert extension["url"].startswith(root)


def test_manifest_follows_the_configured_staff_permission(db, client, support_config):
    support_config(public_url=BASE, staff_permission="MANAGE_USERS")
    manifest = json.loads(client.get(f"{PLUGIN_URL}/app/manifest/").content)
    assert manifest["permissions"] == ["MANAGE_PRODUCTS", "MANAGE_USERS"]


def test_without_a_public_url_the_manifest_says_what_to_set(
    db, client, support_config, settings
):
    # given neither the plugin's public URL nor the host's
    settings.PUBLIC_URL = ""
    support_config(public_url="")
    # when
    response = client.get(f"{PLUGIN_URL}/app/manifest/")
    # then a coded error instead of relative URLs Saleor would refuse
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "public_url_missing"


def test_the_logo_is_a_png_of_at_least_256_pixels(db, client, support_config):
    response = client.get(f"{PLUGIN_URL}/app/logo.png")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    png = response.content
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
    assert (width, height) == (256, 256)


def test_only_get_is_served(db, client, support_config):
    response = client.post(f"{PLUGIN_URL}/app/manifest/")
    assert response.status_code == 405
