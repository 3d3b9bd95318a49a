import json

import pytest
from django.db import DatabaseError
from django.http import HttpResponse, JsonResponse
from django.test import RequestFactory

from saleor_support_plugin.conf import SupportSettings
from saleor_support_plugin.routing import handle_request
from saleor_support_plugin.webhooks import registry

from .fixtures.graphql import PLUGIN_URL


def _json(response):
    return json.loads(response.content)


@pytest.mark.parametrize(
    "path", ["/nope", "/graphql/extra", "/webhooks/", "/webhooks/a/b", "/"]
)
def test_unknown_path_is_a_json_404(client, path, db):
    response = client.get(f"{PLUGIN_URL}{path}")
    assert response.status_code == 404
    assert _json(response)["error"]["code"] == "not_found"


def test_route_without_trailing_path_is_a_json_404(client, db):
    response = client.get(PLUGIN_URL)
    assert response.status_code == 404
    assert _json(response)["error"]["code"] == "not_found"


@pytest.mark.parametrize(
    ("method", "path"),
    [("get", "/graphql/"), ("put", "/graphql/"), ("post", "/health/")],
)
def test_wrong_method_is_a_json_405_with_allow_header(client, method, path, db):
    response = getattr(client, method)(f"{PLUGIN_URL}{path}")
    assert response.status_code == 405
    assert _json(response)["error"]["code"] == "method_not_allowed"
    assert response["Allow"]


def test_health_reports_version_and_database(client, db):
    response = client.get(f"{PLUGIN_URL}/health/")
    assert response.status_code == 200
    assert _json(response) == {
        "status": "ok",
        "version": "0.1.0",
        "database": "ok",
        "active": True,
    }


def test_health_is_503_when_the_database_fails(rf, monkeypatch):
    # given a database that errors on every query
    def broken_cursor(*args, **kwargs):
        raise DatabaseError("connection refused")

    monkeypatch.setattr("saleor_support_plugin.health.connection.cursor", broken_cursor)
    # when
    response = handle_request(
        rf.get("/health/"), "/health/", settings=SupportSettings(active=True)
    )
    # then
    assert response.status_code == 503
    assert _json(response)["database"] == "unavailable"


def test_unknown_webhook_source_is_404(client, db):
    response = client.post(
        f"{PLUGIN_URL}/webhooks/unknown-source/",
        data=b"{}",
        content_type="application/json",
    )
    assert response.status_code == 404


def test_registered_webhook_receives_post_and_rejects_other_methods(
    client, db, monkeypatch
):
    # given
    seen = []

    def handler(request, settings):
        seen.append((request.body, settings.active))
        return JsonResponse({"ok": True}, status=202)

    monkeypatch.setattr(registry, "_HANDLERS", {})
    registry.register("probe")(handler)
    # when
    posted = client.post(
        f"{PLUGIN_URL}/webhooks/probe/",
        data=b'{"a": 1}',
        content_type="application/json",
    )
    got = client.get(f"{PLUGIN_URL}/webhooks/probe/")
    # then
    assert posted.status_code == 202
    assert seen == [(b'{"a": 1}', True)]
    assert got.status_code == 405
    assert registry.registered_sources() == ["probe"]


def test_register_refuses_a_second_handler_for_a_source(monkeypatch):
    monkeypatch.setattr(registry, "_HANDLERS", {})
    registry.register("x")(lambda request, settings: HttpResponse())
    with pytest.raises(ValueError, match="already registered"):
        registry.register("x")(lambda request, settings: HttpResponse())


def test_handler_crash_is_a_json_500_without_internals(monkeypatch, caplog):
    # given a handler that fails with a secret in its message
    def crash(request, settings):
        raise RuntimeError("db password is hunter2")

    monkeypatch.setattr(registry, "_HANDLERS", {"boom": crash})
    # when
    response = handle_request(
        RequestFactory().post("/webhooks/boom/"),
        "/webhooks/boom/",
        settings=SupportSettings(active=True),
    )
    # then
    assert response.status_code == 500
    assert _json(response) == {
        "error": {"code": "internal_error", "message": "Internal server error."}
    }
    assert "hunter2" not in response.content.decode()
    assert "Unhandled error" in caplog.text


def test_inactive_plugin_route_is_404_like_saleor(client, db, settings):
    settings.SUPPORT_PLUGIN = {"active": False, "configuration": {}}
    response = client.get(f"{PLUGIN_URL}/health/")
    assert response.status_code == 404


def test_inactive_plugin_answers_404_on_every_route(rf):
    # Saleor's legacy /plugins/<id>/ route calls the plugin even when inactive.
    for path in ("/graphql/", "/health/", "/webhooks/carrier/"):
        response = handle_request(
            rf.post(path), path, settings=SupportSettings(active=False)
        )
        assert response.status_code == 404
        assert (
            _json(response)["error"]["message"] == "The support plugin is not active."
        )
