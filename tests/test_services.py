"""The real services the suite provides: PostgreSQL, Redis + Celery worker, SMTP."""

import smtplib
from email.message import EmailMessage

import pytest
from django.db import connection

from sandbox.services.postgres import LocalPostgres

from . import worker_tasks

pytestmark = pytest.mark.services


def test_tests_run_on_postgresql(db):
    assert connection.vendor == "postgresql"
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        assert int(cursor.fetchone()[0].split(".")[0]) >= 13


def test_local_postgres_is_idempotent_to_start():
    server = LocalPostgres.default()
    server.ensure_running()
    server.ensure_running()
    assert server.is_accepting()


def test_smtp_server_collects_real_smtp_messages_and_survives_restart(smtp_server):
    # given
    message = EmailMessage()
    message["Subject"], message["From"], message["To"] = (
        "Hi",
        "a@example.com",
        "b@example.com",
    )
    message.set_content("plain body")
    message.add_alternative("<p>html body</p>", subtype="html")
    # when
    with smtplib.SMTP(smtp_server.host, smtp_server.port) as client:
        client.send_message(message)
    smtp_server.stop()
    with (
        pytest.raises(ConnectionRefusedError),
        smtplib.SMTP(smtp_server.host, smtp_server.port, timeout=2),
    ):
        pass
    smtp_server.start()
    with smtplib.SMTP(smtp_server.host, smtp_server.port) as client:
        client.send_message(message)
    # then
    mails = smtp_server.wait_for(2)
    assert [mail.subject for mail in mails] == ["Hi", "Hi"]
    assert mails[0].envelope_to == ("b@example.com",)
    assert mails[0].body("plain").strip() == "plain body"
    assert mails[0].body("html").strip() == "<p>html body</p>"


def test_celery_worker_runs_a_task_from_the_broker_against_the_test_database(
    celery_worker, smtp_server, customer_user
):
    # given a committed row (transactional_db) and a real worker on Redis
    # when
    worker_tasks.mail_user_task.delay(customer_user.pk, "From the worker")
    # then
    mails = smtp_server.wait_for(1, timeout=30)
    assert [(mail.subject, mail.envelope_to) for mail in mails] == [
        ("From the worker", ("alice@example.com",))
    ]


def test_killed_worker_leaves_the_message_for_the_next_worker(
    celery_worker, smtp_server, customer_user
):
    # given a worker that is killed (SIGKILL) before it takes the task
    celery_worker.kill()
    worker_tasks.mail_user_task.delay(customer_user.pk, "Survives a crash")
    # when a new worker starts
    celery_worker.start()
    # then the task is delivered once
    assert [mail.subject for mail in smtp_server.wait_for(1, timeout=30)] == [
        "Survives a crash"
    ]
