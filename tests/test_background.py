"""What a hook costs Saleor's request: no broker I/O on the calling thread, no template parsing."""

import threading

import pytest
from django.core.exceptions import ValidationError

from saleor_support_plugin.conf import parse_settings, validate_configuration
from saleor_support_plugin.core import handlebars
from saleor_support_plugin.orders import services
from saleor_support_plugin.saleor import hooks
from sandbox import celery_app

from .factories import SaleorOrderFactory, fulfill, set_status


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


def test_the_hooks_of_one_mutation_share_one_publish(
    db, monkeypatch, real_broker_mode, django_capture_on_commit_callbacks
):
    # given a publisher we can count
    import time

    published: list[str] = []
    monkeypatch.setattr(services, "enqueue_processing", published.append)
    order = SaleorOrderFactory.create()
    fulfillment = fulfill(order, tracking_number="ONE-1")
    # when orderFulfill's hooks run after Saleor's commit
    with django_capture_on_commit_callbacks(execute=True):
        hooks.tracking_number_updated(fulfillment)
        hooks.fulfillment_created(fulfillment)
        hooks.order_fulfilled(order)
        hooks.order_updated(order)
    deadline = time.monotonic() + 5
    while not published and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.2)  # would more publishes follow?
    # then four events are recorded and one task is published for them
    assert services.OrderEvent.objects.filter(order_id=str(order.pk)).count() == 4
    assert len(published) == 1
    # and a later change publishes again
    with django_capture_on_commit_callbacks(execute=True):
        hooks.order_updated(order)
    deadline = time.monotonic() + 5
    while len(published) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(published) == 2


def test_a_task_for_a_processed_event_still_reconciles_its_order(
    db, support_config, django_capture_on_commit_callbacks
):
    # given an order's first event processed, and a second whose publish it absorbed
    from saleor_support_plugin.notifications.models import Notification
    from saleor_support_plugin.ports import load_settings

    order = SaleorOrderFactory.create()
    with django_capture_on_commit_callbacks(execute=True):
        hooks.order_confirmed(order)
    first = services.OrderEvent.objects.get(order_id=str(order.pk))
    assert first.processed_at is not None
    set_status(order, "canceled")
    with django_capture_on_commit_callbacks(execute=False) as after_commit:
        hooks.order_cancelled(order)
    for insert in after_commit:
        with django_capture_on_commit_callbacks(execute=False):
            insert()  # recorded; its own publish dropped (absorbed)
    # when the first event's task runs (again)
    services.process_event(first.idempotency_key, settings=load_settings())
    # then the order's pending event was reconciled too
    assert Notification.objects.filter(
        order_id=str(order.pk), kind="cancelled"
    ).exists()
    assert not services.OrderEvent.objects.filter(processed_at__isnull=True).exists()
