"""Data migrations do to existing rows what the live code does to new ones."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

APP = "saleor_support_plugin"
BEFORE = [(APP, "0012_surveys")]


@pytest.fixture
def migrate_from_0012(transactional_db):
    """Take the schema back to 0012 for the test; forward to the latest afterwards."""
    executor = MigrationExecutor(connection)
    latest = executor.loader.graph.leaf_nodes(APP)
    executor.migrate(BEFORE)
    yield executor.loader.project_state(BEFORE).apps
    executor = MigrationExecutor(connection)
    executor.migrate(latest)


def test_0013_counts_public_staff_replies_but_not_an_opening_message_by_staff(
    migrate_from_0012,
):
    # given, before 0013, a ticket staff opened for a customer and answered twice
    # publicly, once internally, and a ticket the customer opened, answered once
    apps = migrate_from_0012
    ticket_model = apps.get_model(APP, "Ticket")
    message_model = apps.get_model(APP, "TicketMessage")
    start = datetime(2026, 11, 2, 9, tzinfo=UTC)

    def ticket(number: int, *authors: tuple[str, bool]):
        row = ticket_model.objects.create(
            number=number, subject="Parcel", customer_email="alice@example.com"
        )
        for minutes, (author, internal) in enumerate(authors):
            message_model.objects.create(
                ticket=row,
                author_kind=author,
                body_html="x",
                body_text="x",
                is_internal=internal,
                created_at=start + timedelta(minutes=minutes),
            )
        return row.pk

    by_staff = ticket(
        1,
        ("staff", False),
        ("customer", False),
        ("staff", False),
        ("staff", True),
        ("staff", False),
    )
    by_customer = ticket(2, ("customer", False), ("staff", False))
    # when 0013 and later run
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes(APP))
    # then each counts its public staff replies, not the opening message
    replies = dict(
        executor.loader.project_state(executor.loader.graph.leaf_nodes(APP))
        .apps.get_model(APP, "Ticket")
        .objects.values_list("pk", "staff_public_replies")
    )
    assert replies == {by_staff: 2, by_customer: 1}
