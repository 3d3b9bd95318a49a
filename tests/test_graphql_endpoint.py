import json

import graphene
import pytest

from saleor_support_plugin.graphql import views
from sandbox.accounts.tokens import create_access_token

from .fixtures.graphql import GRAPHQL_URL, SupportApiClient, get_graphql_content

QUERY_VERSION = """
query { supportVersion }
"""

QUERY_REQUESTOR = """
query { supportRequestor { kind email } }
"""


def test_support_version(api_client, db):
    content = get_graphql_content(api_client.post_graphql(QUERY_VERSION))
    assert content["data"] == {"supportVersion": "0.1.0"}


def test_requestor_anonymous(api_client, db):
    content = get_graphql_content(api_client.post_graphql(QUERY_REQUESTOR))
    assert content["data"]["supportRequestor"] == {"kind": "ANONYMOUS", "email": None}


def test_requestor_customer(customer_api_client):
    content = get_graphql_content(customer_api_client.post_graphql(QUERY_REQUESTOR))
    assert content["data"]["supportRequestor"] == {
        "kind": "CUSTOMER",
        "email": "alice@example.com",
    }


def test_requestor_staff(staff_api_client):
    content = get_graphql_content(staff_api_client.post_graphql(QUERY_REQUESTOR))
    assert content["data"]["supportRequestor"] == {
        "kind": "STAFF",
        "email": "staff@example.com",
    }


@pytest.mark.parametrize(
    "token",
    [
        "not-a-jwt",
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.forged",
    ],
)
def test_bad_token_is_401(db, token):
    response = SupportApiClient(token=token).post_graphql(QUERY_VERSION)
    assert response.status_code == 401
    assert (
        json.loads(response.content)["errors"][0]["extensions"]["code"]
        == "INVALID_TOKEN"
    )


def test_expired_token_is_401(customer_user):
    token = create_access_token(customer_user, ttl_seconds=-10)
    response = SupportApiClient(token=token).post_graphql(QUERY_VERSION)
    assert response.status_code == 401


def test_token_of_inactive_user_is_401(customer_user):
    token = create_access_token(customer_user)
    customer_user.is_active = False
    customer_user.save(update_fields=["is_active"])
    response = SupportApiClient(token=token).post_graphql(QUERY_VERSION)
    assert response.status_code == 401


def test_unknown_authorization_scheme_is_401(api_client, db):
    response = api_client.post_graphql(
        QUERY_VERSION, HTTP_AUTHORIZATION="Basic dXNlcjpwYXNz"
    )
    assert response.status_code == 401


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"{not json", "INVALID_JSON"),
        (b"[1, 2]", "INVALID_REQUEST"),
        (b'{"variables": {}}', "INVALID_REQUEST"),
        (b'{"query": "{ supportVersion }", "variables": [1]}', "INVALID_REQUEST"),
        (b'{"query": "{ supportVersion }", "operationName": 5}', "INVALID_REQUEST"),
        (b"\xff\xfe", "INVALID_JSON"),
    ],
)
def test_malformed_request_is_400_with_code(client, db, body, code):
    response = client.post(GRAPHQL_URL, data=body, content_type="application/json")
    assert response.status_code == 400
    assert json.loads(response.content)["errors"][0]["extensions"]["code"] == code


def test_oversized_request_is_413(client, db):
    body = json.dumps(
        {"query": "{ supportVersion }", "padding": "x" * (views.MAX_BODY_BYTES + 1)}
    )
    response = client.post(GRAPHQL_URL, data=body, content_type="application/json")
    assert response.status_code == 413


def test_syntax_and_validation_errors_are_400_without_data(api_client, db):
    syntax = api_client.post_graphql("query { supportVersion ")
    unknown = api_client.post_graphql("query { supportNope }")
    assert syntax.status_code == 400
    assert unknown.status_code == 400
    content = json.loads(unknown.content)
    assert "data" not in content
    assert "supportNope" in content["errors"][0]["message"]


def test_options_preflight_is_answered(client, db):
    response = client.options(GRAPHQL_URL)
    assert response.status_code == 204
    assert "POST" in response["Allow"]


def test_resolver_crash_answers_generic_error_without_stack_trace(
    api_client, db, monkeypatch, caplog
):
    # given a resolver that raises an unexpected error carrying internals
    def crash(root, info):
        raise KeyError("SECRET_internal_detail")

    monkeypatch.setattr(
        views.schema.get_query_type().fields["supportVersion"], "resolver", crash
    )
    # when
    response = api_client.post_graphql(QUERY_VERSION)
    # then
    content = json.loads(response.content)
    assert response.status_code == 200
    assert content["errors"][0]["message"] == "Internal server error."
    assert content["errors"][0]["extensions"]["code"] == "INTERNAL_ERROR"
    assert content["errors"][0]["path"] == ["supportVersion"]
    assert "SECRET_internal_detail" not in response.content.decode()
    assert "Traceback" not in response.content.decode()
    assert "SECRET_internal_detail" in caplog.text


def test_every_field_and_type_of_the_schema_has_a_description():
    from saleor_support_plugin.graphql.schema import schema

    missing = []
    for name, graphql_type in schema.get_type_map().items():
        if name.startswith("__") or name in {
            "String",
            "Boolean",
            "ID",
            "Int",
            "Float",
            "Date",
            "DateTime",
        }:
            continue
        if not graphql_type.description:
            missing.append(name)
        for field_name, field in (getattr(graphql_type, "fields", None) or {}).items():
            if not field.description:
                missing.append(f"{name}.{field_name}")
        for value in getattr(graphql_type, "values", None) or []:
            if not value.description:
                missing.append(f"{name}.{value.name}")
    for field_name, field in schema.get_query_type().fields.items():
        if not field.description:
            missing.append(f"Query.{field_name}")
    assert missing == []
    assert isinstance(schema, graphene.Schema)
