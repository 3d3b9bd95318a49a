"""The plugin inside a real Saleor 3.24: discovery, dashboard configuration, route and auth."""

import importlib
import importlib.metadata
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip(
    "saleor",
    reason="Saleor is not installed: the Saleor suite runs only in a Saleor environment",
)

from django.conf import settings  # noqa: E402
from saleor.core.jwt import create_access_token  # noqa: E402
from saleor.graphql.tests.utils import get_graphql_content  # noqa: E402

from saleor_support_plugin import PLUGIN_ID  # noqa: E402
from saleor_support_plugin.conf import FIELDS  # noqa: E402

from .fixtures import PLUGIN_PATH  # noqa: E402

QUERY_PLUGINS = """
query {
  plugins(first: 50, filter: {search: "Customer Support"}) {
    edges { node {
      id name description
      globalConfiguration { active configuration { name type label helpText value } }
    } }
  }
}
"""

MUTATION_PLUGIN_UPDATE = """
mutation update($id: ID!, $input: PluginUpdateInput!) {
  pluginUpdate(id: $id, input: $input) {
    plugin { id globalConfiguration { active configuration { name value } } }
    errors { field code message }
  }
}
"""

QUERY_REQUESTOR = "query { supportVersion supportRequestor { kind email } }"


def test_entry_point_is_discovered_by_saleor_settings():
    # Saleor's own settings (the test settings empty PLUGINS afterwards).
    saleor_settings = importlib.import_module("saleor.settings")
    assert PLUGIN_PATH in saleor_settings.PLUGINS
    assert "saleor_support_plugin" in settings.INSTALLED_APPS


def test_plugin_appears_in_plugins_query_with_every_field(
    staff_api_client, permission_manage_plugins, support_plugin
):
    # when
    response = staff_api_client.post_graphql(
        QUERY_PLUGINS, permissions=[permission_manage_plugins]
    )
    # then
    content = get_graphql_content(response)
    nodes = [edge["node"] for edge in content["data"]["plugins"]["edges"]]
    (node,) = [node for node in nodes if node["id"] == PLUGIN_ID]
    assert node["name"] == "Customer Support"
    config = {
        item["name"]: item for item in node["globalConfiguration"]["configuration"]
    }
    assert list(config) == [field.name for field in FIELDS]
    for field in FIELDS:
        assert config[field.name]["label"] == field.label
        assert config[field.name]["helpText"] == field.help_text
        assert config[field.name]["type"] == field.type.name
    assert node["globalConfiguration"]["active"] is True


def test_plugin_update_with_bad_value_returns_the_validation_message(
    staff_api_client, permission_manage_plugins, support_plugin
):
    # given
    variables = {
        "id": PLUGIN_ID,
        "input": {
            "active": True,
            "configuration": [{"name": "delay_threshold_days", "value": "-1"}],
        },
    }
    # when
    response = staff_api_client.post_graphql(
        MUTATION_PLUGIN_UPDATE, variables, permissions=[permission_manage_plugins]
    )
    # then
    content = get_graphql_content(response)
    errors = content["data"]["pluginUpdate"]["errors"]
    assert len(errors) == 1
    # Saleor camel-cases error fields, as for every mutation.
    assert errors[0]["field"] == "delayThresholdDays"
    assert "zero or more" in errors[0]["message"]
    support_plugin.refresh_from_db()
    assert support_plugin.configuration == []


def test_plugin_update_with_good_values_is_saved_and_secret_is_masked(
    staff_api_client, permission_manage_plugins, support_plugin
):
    variables = {
        "id": PLUGIN_ID,
        "input": {
            "active": True,
            "configuration": [
                {"name": "delay_threshold_days", "value": "4"},
                {
                    "name": "smtp_url",
                    "value": "smtp://user:hunter2@mail.example.com:587/?tls=true",
                },
            ],
        },
    }
    response = staff_api_client.post_graphql(
        MUTATION_PLUGIN_UPDATE, variables, permissions=[permission_manage_plugins]
    )
    content = get_graphql_content(response)
    assert content["data"]["pluginUpdate"]["errors"] == []
    values = {
        item["name"]: item["value"]
        for item in content["data"]["pluginUpdate"]["plugin"]["globalConfiguration"][
            "configuration"
        ]
    }
    assert values["delay_threshold_days"] == "4"
    assert "hunter2" not in json.dumps(content)


def test_route_reaches_plugin_graphql_with_a_saleor_staff_jwt(
    support_plugin, staff_user, permission_manage_orders, post_plugin_graphql
):
    # given
    staff_user.user_permissions.add(permission_manage_orders)
    token = create_access_token(staff_user)
    # when
    response = post_plugin_graphql(QUERY_REQUESTOR, token=token)
    # then
    assert response.status_code == 200, response.content
    data = json.loads(response.content)["data"]
    assert data["supportRequestor"] == {"kind": "STAFF", "email": staff_user.email}


def test_route_sees_a_customer_jwt_as_customer(
    support_plugin, customer_user, post_plugin_graphql
):
    response = post_plugin_graphql(
        QUERY_REQUESTOR, token=create_access_token(customer_user)
    )
    assert json.loads(response.content)["data"]["supportRequestor"] == {
        "kind": "CUSTOMER",
        "email": customer_user.email,
    }


@pytest.mark.parametrize(
    "token", ["garbage", "eyJhbGciOiJIUzI1NiJ9.eyJvd25lciI6InNhbGVvciJ9.c2ln"]
)
def test_route_rejects_a_bad_token_with_401(support_plugin, post_plugin_graphql, token):
    response = post_plugin_graphql(QUERY_REQUESTOR, token=token)
    assert response.status_code == 401
    assert (
        json.loads(response.content)["errors"][0]["extensions"]["code"]
        == "INVALID_TOKEN"
    )


def test_route_rejects_a_token_of_a_deactivated_user_with_401(
    support_plugin, customer_user, post_plugin_graphql
):
    token = create_access_token(customer_user)
    customer_user.is_active = False
    customer_user.save(update_fields=["is_active"])
    response = post_plugin_graphql(QUERY_REQUESTOR, token=token)
    assert response.status_code == 401


def test_route_of_inactive_plugin_is_404(support_plugin, post_plugin_graphql):
    support_plugin.active = False
    support_plugin.save(update_fields=["active"])
    response = post_plugin_graphql(QUERY_REQUESTOR)
    assert response.status_code == 404


def test_health_route_inside_saleor(support_plugin, client):
    response = client.get(f"/plugins/global/{PLUGIN_ID}/health/")
    assert response.status_code == 200
    assert json.loads(response.content)["database"] == "ok"


def test_pip_install_into_saleor_changes_none_of_saleors_packages():
    # given this checkout and Saleor's environment (sys.executable)
    checkout = Path(__file__).resolve().parents[2]
    # when
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--dry-run",
            "--quiet",
            "--report",
            "-",
            str(checkout),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    # then the plugin and packages Saleor does not have (the report's charts:
    # matplotlib and its own dependencies) would be installed; none of Saleor's
    # packages would change version
    report = json.loads(result.stdout)
    present = {
        _normalized(dist.metadata["Name"]): dist.version
        for dist in importlib.metadata.distributions()
    }
    changed = {
        item["metadata"]["name"]: (
            present[_normalized(item["metadata"]["name"])],
            item["metadata"]["version"],
        )
        for item in report["install"]
        if _normalized(item["metadata"]["name"]) in present
        and _normalized(item["metadata"]["name"]) != "saleor-support-plugin"
    }
    assert changed == {}
    names = {_normalized(item["metadata"]["name"]) for item in report["install"]}
    assert "saleor-support-plugin" in names


def _normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()
