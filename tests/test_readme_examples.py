"""The README's sandbox commands and GraphQL examples work as printed.

They run against a live sandbox host (this test's server, seeded with the demo
data as `./dev run` seeds it): the shell lines through `bash` exactly as written
(`./dev manage …` included), with one substitution — the sandbox's address,
which the commands read from `SANDBOX_URL` and `curl` names literally.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from decimal import Decimal
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.contrib.auth import get_user_model
from django.core.management import call_command

from saleor_support_plugin import PLUGIN_ID
from saleor_support_plugin.notifications.models import Notification
from saleor_support_plugin.price_protection.models import PriceClaim
from saleor_support_plugin.surveys import models as survey_models
from saleor_support_plugin.surveys.models import Survey
from saleor_support_plugin.surveys.tokens import read_survey_token
from saleor_support_plugin.tickets.models import Ticket
from sandbox.accounts.tokens import create_access_token

from .fixtures.services import database_url

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text()
PRINTED_URL = "http://127.0.0.1:8000"
# `NAME=$(command)`: a value later commands use, e.g. STAFF_TOKEN.
ASSIGNMENT = re.compile(r"^([A-Z_]+)=\$\((.*)\)$")

pytestmark = pytest.mark.services


def blocks(language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", README, flags=re.M | re.S)


def shell_commands() -> list[str]:
    """Return the sandbox commands of the README's bash blocks, continuation lines joined."""
    commands = []
    for block in blocks("bash"):
        for command in block.replace("\\\n", " ").splitlines():
            command = command.strip()
            if command.startswith(("./dev manage", "curl ")) or ASSIGNMENT.match(
                command
            ):
                commands.append(command)
    return commands


def graphql_operations() -> list[tuple[str, str]]:
    """Return (caller email, operation) for every `# as <email>` in the graphql blocks."""
    operations = []
    for block in blocks("graphql"):
        parts = re.split(r"^# as (\S+)\n", block, flags=re.M)
        assert parts[0].strip() == "", "every README GraphQL example names its caller"
        operations += list(zip(parts[1::2], parts[2::2], strict=True))
    return operations


@pytest.fixture
def sandbox(transactional_db, live_server, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    call_command("seed_demo", verbosity=0)
    return live_server.url


def link_target(url: str) -> tuple[str, str]:
    """Return the survey and score a survey link names (its token signed at any time)."""
    query = parse_qs(urlsplit(url).query)
    token = read_survey_token(query["token"][0], max_age_seconds=None)
    assert token is not None
    assert token.is_for("bob@example.com")
    return token.survey_id, query["score"][0]


def run(command: str, env: dict[str, str], url: str) -> str:
    result = subprocess.run(
        ["bash", "-c", command.replace(PRINTED_URL, url)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, (command, result.stdout, result.stderr)
    return result.stdout.strip()


def test_readme_sandbox_commands_work_as_printed(sandbox):
    # given the README's commands, in the order it prints them
    commands = shell_commands()
    assert commands[0] == (
        "STAFF_TOKEN=$(./dev manage sandbox_token admin@example.com)"
    )
    assert [c.split()[2] for c in commands if c.startswith("./dev manage")] == [
        "carrier_event",
        "carrier_event",
        "carrier_event",
        "inbound_email",
        "set_price",
        "survey_link",
        "support_report",
    ]
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),  # the live sandbox's (this test's) database
        "SANDBOX_URL": sandbox,
    }
    emails_before = Notification.objects.filter(channel="email").count()
    # the report example writes here: nothing left from an earlier run may pass for it
    shutil.rmtree("/tmp/nov", ignore_errors=True)
    Path("/tmp/nov.csv").unlink(missing_ok=True)
    outputs = {}
    for command in commands:
        # when each runs in a shell as printed
        assignment = ASSIGNMENT.match(command)
        if assignment:
            name, value = assignment.groups()
            env[name] = run(value, env, sandbox)
            continue
        # set_price changes the shop's price; the README's reader has the
        # sandbox's worker running, here the command does the worker's part.
        eager = {"CELERY_TASK_ALWAYS_EAGER": "true"} if "set_price" in command else {}
        outputs[command] = run(command, {**env, **eager}, sandbox)
    # then the curl example shows the staff caller
    curl, survey_query, survey_submit = [c for c in commands if c.startswith("curl ")]
    answer = json.loads(outputs[curl])
    assert answer["data"]["supportRequestor"] == {
        "kind": "STAFF",
        "email": "admin@example.com",
    }
    # and each carrier event led to an email, and the inbound mail opened a ticket
    carrier = [outputs[c] for c in commands if "carrier_event" in c]
    assert [json.loads(o.split(" ", 1)[1])["outcome"] for o in carrier] == [
        "out_for_delivery queued",
        "delivery_exception queued",
        "delivered queued",
    ]
    (inbound,) = [outputs[c] for c in commands if "inbound_email" in c]
    status, body = inbound.split(" ", 1)
    assert (status, json.loads(body)["status"]) == ("202", "created")
    ticket = Ticket.objects.get(number=json.loads(body)["ticket"])
    assert ticket.subject == "Where is my parcel?"
    assert ticket.customer_email == "alice@example.com"
    kinds = list(
        Notification.objects.filter(channel="email")
        .order_by("created_at")
        .values_list("kind", flat=True)[emails_before:]
    )
    assert kinds == [
        "out_for_delivery",
        "delivery_exception",
        "delivered",
        "ticket_created",
        "price_refunded",
    ]
    # and the price drop refunded Alice's order #1001 the difference
    (price,) = [outputs[c] for c in commands if "set_price" in c]
    assert "89.00 EUR → 79.00 EUR" in price
    claim = PriceClaim.objects.get()
    assert (claim.order.number, claim.amount, claim.state) == (
        "1001",
        Decimal("10.000"),
        "refunded",
    )
    assert (
        f"{claim.reference} on order #1001 (alice@example.com): 10.00 EUR, refunded"
        in price
    )
    # and the demo survey's links were printed as its email has them
    (links,) = [outputs[c] for c in commands if c.endswith("survey_link 1004")]
    lines = links.splitlines()
    assert lines[0] == "Survey of order #1004 (bob@example.com, sent):"
    assert [line.split(":", 1)[0] for line in lines[1:]] == [
        "page",
        *map(str, range(11)),
    ]
    survey = Survey.objects.get(order__number="1004")
    (email,) = Notification.objects.filter(kind="survey_nps")
    printed, mailed = (
        lines[4].split(": ", 1)[1],
        email.context["survey"]["scores"][2]["url"],
    )
    assert [link_target(url) for url in (printed, mailed)] == [
        (str(survey.pk), "2")
    ] * 2
    # and the storefront API showed the survey, then took Bob's answer
    shown = json.loads(outputs[survey_query])["data"]["supportSurvey"]
    assert shown == {
        "survey": {
            "kind": "NPS",
            "state": "SENT",
            "question": "Wie wahrscheinlich ist es, dass Sie Sandbox Store Support Freunden "
            "oder Kollegen empfehlen?",
            "scoreMin": 0,
            "scoreMax": 10,
            "lowLabel": "Überhaupt nicht wahrscheinlich",
            "highLabel": "Äußerst wahrscheinlich",
            "order": {"number": "1004"},
        },
        "errors": [],
    }
    submitted = json.loads(outputs[survey_submit])["data"]["supportSurveySubmit"]
    assert submitted == {
        "survey": {
            "state": "SUBMITTED",
            "score": 10,
            "comment": "Sehr schnelle Lieferung!",
        },
        "errors": [],
    }
    (testimonial,) = survey_models.Testimonial.objects.all()
    assert (testimonial.state, testimonial.author_name) == ("pending", "Bob")
    # and the report of November printed its figures and wrote the CSV and charts
    (report,) = [outputs[c] for c in commands if "support_report" in c]
    assert "Tickets opened" in report
    with open("/tmp/nov.csv", encoding="utf-8") as csv:
        assert csv.readline().startswith("scope,period_start,period_end,previous_start")
    assert (Path("/tmp/nov") / "volume.png").read_bytes().startswith(b"\x89PNG")
    # and a score link opened afterwards says so in German, recording nothing
    page = lines[5].split(": ", 1)[1].replace(PRINTED_URL, sandbox)
    opened = requests.get(page, timeout=30)
    assert opened.status_code == 200
    assert "Sie haben diese Umfrage bereits beantwortet" in opened.text
    survey.refresh_from_db()
    assert (survey.state, survey.score) == ("submitted", 10)


def test_readme_graphql_examples_run_against_the_sandbox(sandbox):
    operations = graphql_operations()
    assert len(operations) >= 3
    users = get_user_model().objects
    for email, operation in operations:
        token = create_access_token(users.get(email=email))
        response = requests.post(
            f"{sandbox}/plugins/global/{PLUGIN_ID}/graphql/",
            json={"query": operation},
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )
        body = response.json()
        assert response.status_code == 200, (operation, body)
        assert "errors" not in body, (operation, body)
        for payload in body["data"].values():
            # mutations answer errors: [] when they did what the example says
            if isinstance(payload, dict) and "errors" in payload:
                assert payload["errors"] == [], (operation, payload)
    created = Ticket.objects.get(subject="Where is my parcel?")
    assert created.order is not None
    assert created.order.number == "1001"
    # the customer's price claim waits for staff, with its ticket
    claim = PriceClaim.objects.get(source="customer")
    assert (claim.state, claim.amount, claim.other_shop) == (
        "pending_review",
        Decimal("14.000"),
        True,
    )
    assert claim.ticket is not None
    assert claim.ticket.category == "price_protection"
