"""What a hook costs Saleor's request: no broker I/O on the calling thread, no template parsing."""

import threading

import pytest
from django.core.exceptions import ValidationError

from saleor_support_plugin.conf import parse_settings, validate_configuration
from saleor_support_plugin.core import handlebars
from saleor_support_plugin.orders import services
from saleor_support_plugin.saleor import hooks
from sandbox import celery_app

from .factories import SaleorOrderFactory


@pytest.fixture
def real_broker_mode():
    eager = celery_app.conf.task_always_eager
    celery_app.conf.update(CELERY_TASK_ALWAYS_EAGER=False)
    yield
    celery_app.conf.update(CELERY_TASK_ALWAYS_EAGER=eager)


def test_publishing_happens_off_the_hooks_thread(
    db, monkeypatch, real_broker_mode, django_capture_on_commit_callbacks
):
    # given a publisher we can observe
    published = threading.Event()
    threads = []

    def enqueue(key):
        threads.append(threading.current_thread().name)
        published.set()

    monkeypatch.setattr(services, "enqueue_processing", enqueue)
    # when Saleor's transaction commits and the hook's on-commit work runs
    with django_capture_on_commit_callbacks(execute=True):
        hooks.order_confirmed(SaleorOrderFactory.create())
    # then the publish ran on the publisher thread, not the request's
    assert published.wait(5)
    assert threads == ["support-plugin-publisher"]


def test_parsing_settings_does_not_parse_templates():
    # given templates no process has parsed yet, one of them broken
    configuration = {
        "shipped_template": "<p>{{order.number}} parse-settings-probe</p>",
        "delivered_template": "<p>{{order.number}</p>",
    }
    before = handlebars.cache_info()
    # when the plugin is constructed (Saleor: every request) settings are parsed
    settings = parse_settings(configuration, active=True)
    # then no template was parsed; saving the configuration parses (and refuses)
    after = handlebars.cache_info()
    assert (after.hits, after.misses) == (before.hits, before.misses)
    assert settings.per_kind["shipped_template"] == configuration["shipped_template"]
    assert settings.per_kind["delivered_template"] == "<p>{{order.number}</p>"
    with pytest.raises(ValidationError) as exc_info:
        validate_configuration(configuration)
    assert list(exc_info.value.message_dict) == ["delivered_template"]
    assert handlebars.cache_info().misses > after.misses
