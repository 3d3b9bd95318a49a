"""Inbound email over real HTTP: threading, new tickets, duplicates, spoofed senders, signatures."""

import json
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from django.utils import timezone

from saleor_support_plugin.notifications.models import Notification
from saleor_support_plugin.orders.models import OrderSnapshot
from saleor_support_plugin.tickets.email_threading import reply_address, trim_quoted
from saleor_support_plugin.tickets.guest import make_guest_token, make_ticket_link_token
from saleor_support_plugin.tickets.models import InboundEmail, Ticket, TicketMessage

from .factories import SaleorOrderFactory, SaleorUserFactory, TicketFactory
from .fixtures.graphql import PLUGIN_URL
from .fixtures.support import signed_carrier_request
from .fixtures.tickets import GuestApiClient
from .test_proactive_updates import ship
from .test_ticket_api import QUERY_TICKET, tid

SECRET = "inbound-secret"
URL = f"{PLUGIN_URL}/webhooks/inbound-email/"
DMARC_PASS = (
    "mx.acme.example; spf=pass smtp.mailfrom=alice@example.com;"
    " dkim=pass header.d=example.com; dmarc=pass (p=reject) header.from=example.com"
)
QUERY_MY_TICKETS = "{ supportTickets(first: 10) { edges { node { number } } } }"


@pytest.fixture
def inbound(live_server, support_config):
    support_config(
        inbound_email_secret=SECRET, inbound_email_address="support@acme.example"
    )

    def post(payload, *, secret=SECRET, raw=None):
        body, headers = signed_carrier_request(
            raw if raw is not None else payload, secret=secret
        )
        return requests.post(
            f"{live_server.url}{URL}",
            data=body,
            headers={"Content-Type": "application/json", **headers},
            timeout=10,
        )

    return post


def mail(**overrides):
    payload = {
        "from": "Alice <alice@example.com>",
        "to": ["support@acme.example"],
        "subject": "Re: Broken zipper",
        "text": "The zipper broke on day one.\n\nOn Mon, Nov 23, 2026 at 9:00 Shop wrote:\n> earlier text",
        "html": "",
        "message_id": "<m1@mail.example>",
    }
    payload.update(overrides)
    return payload


def test_new_mail_opens_an_email_ticket_with_quotes_trimmed(inbound, customer_user):
    response = inbound(mail(authentication_results=DMARC_PASS))
    assert response.status_code == 202
    assert response.json()["status"] == "created"
    ticket = Ticket.objects.get(number=response.json()["ticket"])
    assert (ticket.channel, ticket.subject, ticket.customer_email) == (
        "email",
        "Broken zipper",
        "alice@example.com",
    )
    # an authenticated sender: visible in Alice's account too
    assert ticket.customer_user_id == str(customer_user.pk)
    assert ticket.sender_verified is True
    assert ticket.messages.get().body_text == "The zipper broke on day one."


def test_forged_from_opens_a_guest_style_ticket_the_account_does_not_see(
    inbound, customer_user, customer_api_client
):
    # given an account alice@example.com, and a mail claiming to be from her without proof
    # when
    response = inbound(mail(message_id="<forged@x>"))
    # then the ticket exists, but not in Alice's account
    assert response.status_code == 202
    ticket = Ticket.objects.get(number=response.json()["ticket"])
    assert (ticket.customer_email, ticket.customer_user_id, ticket.sender_verified) == (
        "alice@example.com",
        None,
        False,
    )
    listed = customer_api_client.post_graphql(QUERY_MY_TICKETS).json()
    assert listed["data"]["supportTickets"]["edges"] == []
    by_id = customer_api_client.post_graphql(QUERY_TICKET, {"id": tid(ticket)}).json()
    assert by_id["data"]["supportTicket"] is None


def test_unverified_ticket_is_reachable_through_the_ticket_link(inbound, db):
    # given a ticket opened by an unverified sender
    response = inbound(mail(**{"from": "carol@example.net"}, message_id="<c@x>"))
    ticket = Ticket.objects.get(number=response.json()["ticket"])
    # when the customer follows the link our emails to that address carry
    guest = GuestApiClient(
        make_ticket_link_token(str(ticket.pk), ticket.customer_email)
    )
    result = guest.post_graphql(QUERY_TICKET, {"id": tid(ticket)}).json()
    # then, like a guest, they read it
    assert result["data"]["supportTicket"]["subject"] == "Broken zipper"


@pytest.mark.parametrize(
    ("authentication", "verified"),
    [
        ({"authentication_results": DMARC_PASS}, True),
        (
            {
                "authentication_results": "mx.acme.example; dkim=pass header.d=example.com"
                " header.s=s1; spf=fail smtp.mailfrom=alice@example.com; dmarc=fail"
            },
            True,
        ),
        (
            {
                "authentication_results": "mx.acme.example; spf=pass (sender IP is"
                " listed) smtp.mailfrom=bounce@mail.example.com"
            },
            False,  # mail.example.com is a subdomain, not a parent, of example.com
        ),
        (
            {
                "authentication_results": "mx.acme.example; spf=pass"
                " smtp.mailfrom=alice@example.com"
            },
            True,
        ),
        (
            {
                "authentication_results": "mx.acme.example; dkim=pass header.d=evil.example;"
                " dmarc=fail header.from=example.com"
            },
            False,  # a valid signature, of someone else's domain
        ),
        (
            {
                "authentication_results": "mx.acme.example; dkim=fail (dkim=pass"
                " header.d=example.com) header.d=example.com"
            },
            False,  # a verdict inside a comment is not a verdict
        ),
        (
            {
                "authentication_results": "mx.acme.example; dmarc=pass"
                " header.from=evil.example"
            },
            False,  # DMARC passed for another From domain
        ),
        ({"authentication": {"dmarc": "pass"}}, True),
        ({"authentication": {"dkim": "pass", "dkim_domain": "example.com"}}, True),
        ({"authentication": {"dkim": "pass"}}, False),  # which domain signed?
        ({"authentication": {"spf": "pass", "spf_domain": "evil.example"}}, False),
        ({"authentication": {"spf": "softfail", "dmarc": "none"}}, False),
        ({}, False),
    ],
)
def test_sender_is_verified_only_by_an_aligned_pass(
    inbound, customer_user, authentication, verified
):
    response = inbound(mail(message_id="<v@x>", **authentication))
    ticket = Ticket.objects.get(number=response.json()["ticket"])
    assert ticket.sender_verified is verified
    assert ticket.customer_user_id == (str(customer_user.pk) if verified else None)


def test_invalid_authentication_field_is_400(inbound):
    response = inbound(mail(authentication={"dmarc": ["pass"]}))
    assert response.status_code == 400
    assert response.json()["error"] == {
        "code": "invalid",
        "field": "authentication",
        "message": response.json()["error"]["message"],
    }
    assert not InboundEmail.objects.exists()


def test_new_tickets_per_sender_are_limited_with_a_429(inbound, support_config):
    # given a limit of 3 tickets per hour
    support_config(
        inbound_email_secret=SECRET,
        inbound_email_address="support@acme.example",
        ticket_rate_limit_per_hour="3",
    )
    # when one unknown sender mails 5 times
    responses = [
        inbound(mail(**{"from": "spam@unknown.example"}, message_id=f"<r{i}@x>"))
        for i in range(5)
    ]
    # then the 4th and 5th are refused, and nothing of them is kept
    assert [r.status_code for r in responses] == [202, 202, 202, 429, 429]
    refused = responses[3]
    assert refused.json()["error"]["code"] == "rate_limited"
    assert 1 <= int(refused.headers["Retry-After"]) <= 3600
    assert Ticket.objects.count() == 3
    assert set(InboundEmail.objects.values_list("message_id", flat=True)) == {
        "<r0@x>",
        "<r1@x>",
        "<r2@x>",
    }
    # another sender is not affected
    assert inbound(mail(message_id="<other@x>")).status_code == 202


def test_unverified_senders_are_limited_per_domain_too(inbound, support_config):
    # given 1 ticket per sender and hour: 10 per domain for unverified senders
    support_config(
        inbound_email_secret=SECRET,
        inbound_email_address="support@acme.example",
        ticket_rate_limit_per_hour="1",
    )
    # when 11 different addresses at one domain write
    statuses = [
        inbound(
            mail(**{"from": f"user{i}@spam.example"}, message_id=f"<d{i}@x>")
        ).status_code
        for i in range(11)
    ]
    # then
    assert statuses == [202] * 10 + [429]
    # a verified sender of that domain is limited per address only
    verified = inbound(
        mail(
            **{"from": "real@spam.example"},
            message_id="<d-real@x>",
            authentication={"dmarc": "pass"},
        )
    )
    assert verified.status_code == 202


def test_reply_over_the_account_limit_is_429_by_its_code(
    inbound, support_config, customer_user
):
    # given Alice's own ticket and a limit of one message per hour
    support_config(
        inbound_email_secret=SECRET,
        inbound_email_address="support@acme.example",
        ticket_rate_limit_per_hour="1",
    )
    ticket = TicketFactory.create(
        customer_email="alice@example.com", customer_user_id=str(customer_user.pk)
    )
    to = [reply_address(ticket, load())]
    # when she replies twice by email
    first = inbound(mail(to=to, message_id="<a1@x>", text="One"))
    second = inbound(mail(to=to, message_id="<a2@x>", text="Two"))
    # then the second is refused as rate limited (not "rejected"), and not kept
    assert first.status_code == 202
    assert second.status_code == 429
    assert second.json()["error"]["code"] == "rate_limited"
    assert int(second.headers["Retry-After"]) >= 1
    assert [m.body_text for m in ticket.messages.all()] == ["One"]
    assert not InboundEmail.objects.filter(message_id="<a2@x>").exists()


def test_unverified_reply_through_the_reply_address_threads(inbound, customer_user):
    # given Alice's account ticket; her reply carries no authentication results
    ticket = TicketFactory.create(
        customer_email="alice@example.com", customer_user_id=str(customer_user.pk)
    )
    # when
    response = inbound(
        mail(
            to=[reply_address(ticket, load())], message_id="<u@x>", text="Still broken"
        )
    )
    # then the reply code is the proof, as before
    assert response.json() == {"status": "replied", "ticket": ticket.number}
    assert ticket.messages.get().author_user_id == str(customer_user.pk)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("from", "alice\x00@example.com"),
        ("subject", "Zipper \x00"),
        ("text", "broken \ud800"),
        ("html", "<p>\udfff</p>"),
        ("message_id", "<m\x00@x>"),
        ("in_reply_to", "<\ud83d@x>"),
        ("to", ["support\x00@acme.example"]),
        ("authentication_results", "mx; dmarc=pass\x00"),
    ],
)
def test_nul_and_lone_surrogates_are_a_coded_400(inbound, caplog, field, value):
    # given a signed mail with unstorable text in one field
    body = json.dumps(mail(**{field: value})).encode()
    # when
    response = inbound(None, raw=body)
    # then
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_characters"
    assert response.json()["error"]["field"] == field
    assert "Traceback" not in caplog.text
    assert not InboundEmail.objects.exists()


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (b"[" * 50_000, "too_deep"),
        (b'{"from": ' + b"[" * 100 + b"]" * 100 + b"}", "too_deep"),
        (b"{nope", "invalid_json"),
        (b"\xc3\x28", "invalid_json"),
    ],
)
def test_hostile_signed_json_is_a_coded_400(inbound, caplog, raw, code):
    response = inbound(None, raw=raw)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == code
    assert "Traceback" not in caplog.text
    assert not InboundEmail.objects.exists()


def test_message_id_like_ours_but_not_a_uuid_does_not_thread(inbound):
    fake = "<" + "-" * 36 + "@support.saleor-plugin>"
    response = inbound(mail(message_id="<n@x>", in_reply_to=fake))
    assert response.status_code == 202
    assert response.json()["status"] == "created"


def test_html_only_mail_is_sanitized(inbound):
    html = (
        "<p>Hello <script>steal()</script><b>team</b></p><blockquote>old</blockquote>"
    )
    response = inbound(mail(text="", html=html, message_id="<m2@x>"))
    message = TicketMessage.objects.get(ticket__number=response.json()["ticket"])
    assert "steal" not in message.body_html
    assert message.body_text.startswith("Hello team")


def test_reply_to_the_plus_address_threads_into_the_ticket(inbound):
    ticket = TicketFactory.create(
        customer_email="alice@example.com", status="pending_customer"
    )
    response = inbound(
        mail(
            to=[reply_address(ticket, load())],
            message_id="<m3@x>",
            text="Thanks, any news?",
        )
    )
    assert response.json() == {"status": "replied", "ticket": ticket.number}
    ticket.refresh_from_db()
    assert ticket.status == "open"
    assert [m.body_text for m in ticket.messages.all()] == ["Thanks, any news?"]


def test_reply_threads_by_in_reply_to_of_our_email(
    inbound,
    staff_api_client,
    mail_config,
    smtp_server,
    django_capture_on_commit_callbacks,
):
    # given staff replied and the customer's mail client drops the plus address but keeps In-Reply-To
    mail_config(
        inbound_email_secret=SECRET, inbound_email_address="support@acme.example"
    )
    ticket = TicketFactory.create(customer_email="alice@example.com")
    from .test_ticket_api import MUTATION_TICKET_REPLY, tid

    with django_capture_on_commit_callbacks(execute=True):
        staff_api_client.post_graphql(
            MUTATION_TICKET_REPLY,
            {"id": tid(ticket), "body": "Could you send a photo?"},
        )
    (sent,) = smtp_server.wait_for(1)
    assert sent.message["Reply-To"] == reply_address(ticket, load())
    # when
    response = inbound(
        mail(
            message_id="<m4@x>",
            in_reply_to=sent.message["Message-ID"],
            text="Photo attached",
        )
    )
    # then
    assert response.json() == {"status": "replied", "ticket": ticket.number}


def test_same_message_id_twice_is_ignored(inbound):
    first = inbound(mail(message_id="<dup@x>"))
    second = inbound(mail(message_id="<dup@x>", text="changed"))
    assert (first.status_code, second.status_code) == (202, 200)
    assert second.json() == {"status": "duplicate"}
    assert Ticket.objects.count() == 1
    assert InboundEmail.objects.get().outcome == "created"


def test_mail_from_someone_else_does_not_post_into_the_ticket(inbound):
    ticket = TicketFactory.create(customer_email="alice@example.com")
    response = inbound(
        mail(
            **{"from": "mallory@evil.example"},
            to=[reply_address(ticket, load())],
            message_id="<s@x>",
        )
    )
    assert response.json() == {"status": "sender_mismatch", "ticket": ticket.number}
    assert not ticket.messages.exists()


def test_forged_reply_code_does_not_thread(inbound):
    ticket = TicketFactory.create(customer_email="alice@example.com")
    forged = f"support+t{ticket.number}.000000000000@acme.example"
    response = inbound(mail(to=[forged], message_id="<f@x>"))
    assert response.json()["status"] == "created"
    assert response.json()["ticket"] != ticket.number


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"to": ["x"], "text": "hi", "message_id": "<a@b>"}, "from"),
        ({"from": "not an email", "text": "hi", "message_id": "<a@b>"}, "from"),
        ({"from": "a@b.example", "text": "hi"}, "message_id"),
        ({"from": "a@b.example", "message_id": "<a@b>"}, "text"),
        ({"from": "a@b.example", "text": 5, "message_id": "<a@b>"}, "text"),
        (
            {
                "from": "a@b.example",
                "text": "hi",
                "message_id": "<a@b>",
                "references": 3,
            },
            "references",
        ),
    ],
)
def test_malformed_payload_is_400(inbound, payload, field):
    response = inbound(payload)
    assert response.status_code == 400
    assert response.json()["error"]["field"] == field
    assert not InboundEmail.objects.exists()


def test_bad_signature_and_closed_webhook(inbound, live_server, support_config):
    assert inbound(mail(), secret="wrong").status_code == 401
    support_config(inbound_email_secret="")
    body, headers = signed_carrier_request(mail(), secret=SECRET)
    response = requests.post(
        f"{live_server.url}{URL}", data=body, headers=headers, timeout=10
    )
    assert response.status_code == 403
    assert not Ticket.objects.exists()


def test_trim_quoted_keeps_only_new_text():
    text = (
        "New line\n\n> old\n> older\nAm 23.11.2026 um 09:00 schrieb Shop <s@x>:\nquoted"
    )
    assert trim_quoted(text) == "New line"
    assert trim_quoted("Hi\n-----Original Message-----\nold") == "Hi"


def load():
    from saleor_support_plugin.ports import load_settings

    return load_settings()


# --- replies to our order emails

QUERY_TICKET_ORDER = "query ($id: ID!) { supportTicket(id: $id) { order { number } } }"
QUERY_ORDER_TICKETS = """
query ($number: String) {
  supportTickets(first: 10, filter: {orderNumber: $number}) {
    edges { node { number category order { number } } }
  }
}
"""


@pytest.fixture
def shipped_email(inbound, mail_config, smtp_server, on_commit):
    """Ship an order of `email` (of Saleor user `user_pk`); return its snapshot and our shipped email."""

    def ship_order(email="alice@example.com", user_pk=None):
        mail_config(
            inbound_email_secret=SECRET, inbound_email_address="support@acme.example"
        )
        order = SaleorOrderFactory.create(
            user=SaleorUserFactory.create(pk=user_pk, email=email)
            if user_pk is not None
            else None,
            user_email=email,
        )
        ship(order, on_commit)
        (sent,) = smtp_server.wait_for(1)
        assert sent.message["Subject"] is not None
        return OrderSnapshot.objects.get(order_id=str(order.pk)), sent

    return ship_order


def test_reply_to_a_shipped_email_opens_a_ticket_about_that_order(
    inbound, shipped_email, customer_user, customer_api_client
):
    # given Alice's order was shipped and she got our email about it
    order, sent = shipped_email(user_pk=customer_user.pk)
    our_id = sent.message["Message-ID"]
    assert our_id.endswith("@acme.example>") or our_id.endswith(
        "@support.saleor-plugin>"
    )
    # when she answers it, authenticated by her provider
    response = inbound(
        mail(
            subject="Re: Your order is on its way",
            message_id="<o1@mail.example>",
            in_reply_to=our_id,
            references=[our_id],
            authentication_results=DMARC_PASS,
            text="It never arrived.",
        )
    )
    # then a new email ticket about that order, in her account
    assert response.status_code == 202
    assert response.json()["status"] == "created"
    ticket = Ticket.objects.get(number=response.json()["ticket"])
    assert (
        ticket.order_id,
        ticket.category,
        ticket.channel,
        ticket.subject,
        ticket.customer_user_id,
        ticket.sender_verified,
    ) == (
        order.pk,
        "shipping",
        "email",
        "Your order is on its way",
        str(customer_user.pk),
        True,
    )
    listed = customer_api_client.post_graphql(
        QUERY_ORDER_TICKETS, {"number": order.number}
    ).json()
    assert listed["data"]["supportTickets"]["edges"] == [
        {
            "node": {
                "number": ticket.number,
                "category": "SHIPPING",
                "order": {"number": order.number},
            }
        }
    ]
    # when she answers the same email again (her client keeps only our id), unverified
    again = inbound(
        mail(
            message_id="<o2@mail.example>",
            in_reply_to=our_id,
            text="Any news?",
        )
    )
    # then it joins that ticket instead of opening another
    assert again.json() == {"status": "replied", "ticket": ticket.number}
    assert [m.body_text for m in ticket.messages.all()] == [
        "It never arrived.",
        "Any news?",
    ]
    assert Ticket.objects.count() == 1


def test_unverified_reply_to_an_order_email_is_the_orders_but_not_the_accounts(
    inbound, shipped_email, customer_user, customer_api_client
):
    # given Alice's shipped order; her reply carries no authentication results
    order, sent = shipped_email(user_pk=customer_user.pk)
    # when
    response = inbound(
        mail(message_id="<o3@mail.example>", in_reply_to=sent.message["Message-ID"])
    )
    # then the ticket is about the order, guest-style: not in her account
    ticket = Ticket.objects.get(number=response.json()["ticket"])
    assert (ticket.order_id, ticket.customer_user_id, ticket.sender_verified) == (
        order.pk,
        None,
        False,
    )
    listed = customer_api_client.post_graphql(
        QUERY_ORDER_TICKETS, {"number": order.number}
    ).json()
    assert listed["data"]["supportTickets"]["edges"] == []
    # and she reaches it through the ticket link of our emails to her address
    guest = GuestApiClient(
        make_ticket_link_token(str(ticket.pk), ticket.customer_email)
    )
    result = guest.post_graphql(QUERY_TICKET_ORDER, {"id": tid(ticket)}).json()
    assert result["data"]["supportTicket"]["order"] == {"number": order.number}


def test_reply_to_a_guest_orders_email_is_a_ticket_of_that_guest_order(
    inbound, shipped_email
):
    # given a guest order shipped to guest@example.com
    order, sent = shipped_email(email="guest@example.com")
    # when the guest answers our email
    response = inbound(
        mail(
            **{"from": "Guest@Example.com"},
            message_id="<o4@mail.example>",
            in_reply_to=sent.message["Message-ID"],
        )
    )
    # then the ticket is the order's, and the guest's order link lists it
    ticket = Ticket.objects.get(number=response.json()["ticket"])
    assert (ticket.order_id, ticket.customer_user_id) == (order.pk, None)
    guest = GuestApiClient(make_guest_token(order.order_id, order.customer_email))
    listed = guest.post_graphql(QUERY_ORDER_TICKETS, {"number": order.number}).json()
    assert [
        edge["node"]["number"] for edge in listed["data"]["supportTickets"]["edges"]
    ] == [ticket.number]


def test_reply_to_an_order_email_from_another_address_is_not_linked(
    inbound, shipped_email, customer_user
):
    # given Alice's shipped order
    order, sent = shipped_email(user_pk=customer_user.pk)
    # when someone else answers with our Message-ID (a forward, or a guess)
    response = inbound(
        mail(
            **{"from": "mallory@evil.example"},
            message_id="<o5@mail.example>",
            in_reply_to=sent.message["Message-ID"],
            authentication={"dmarc": "pass"},
        )
    )
    # then a new ticket as for any mail: no order, no account, no category
    ticket = Ticket.objects.get(number=response.json()["ticket"])
    assert (ticket.order_id, ticket.customer_user_id, ticket.category) == (
        None,
        None,
        "other",
    )
    assert InboundEmail.objects.get().order_notification_id is None


def test_foreign_message_ids_shaped_like_ours_do_not_match(
    inbound, shipped_email, customer_user
):
    # given Alice's shipped order and our email's id
    order, sent = shipped_email(user_pk=customer_user.pk)
    notification_id = sent.message["Message-ID"][1:37]
    foreign = [
        f"<{notification_id}@elsewhere.example>",  # our uuid, someone else's domain
        f"<{uuid.uuid4()}@acme.example>",  # our domain, no email of ours
    ]
    # when Alice writes with those ids only
    responses = [
        inbound(mail(message_id=f"<f{i}@mail.example>", in_reply_to=raw))
        for i, raw in enumerate(foreign)
    ]
    # then neither is taken for a reply to the shipped email
    tickets = [Ticket.objects.get(number=r.json()["ticket"]) for r in responses]
    assert [(t.order_id, t.category) for t in tickets] == [(None, "other")] * 2


def test_reply_to_a_ticket_email_among_order_ids_threads_into_the_ticket(
    inbound, shipped_email, customer_user
):
    # given Alice's shipped order, and a ticket of hers we emailed her about
    order, sent = shipped_email(user_pk=customer_user.pk)
    ticket = TicketFactory.create(
        customer_email="alice@example.com", customer_user_id=str(customer_user.pk)
    )
    ticket_email = Notification.objects.create(
        dedupe_key=f"test:{ticket.pk}",
        kind="ticket_reply",
        channel="email",
        recipient="alice@example.com",
        context={"ticket": {"number": ticket.number}},
        next_attempt_at=timezone.now(),
    )
    ticket_email_id = f"<{ticket_email.pk}@support.saleor-plugin>"
    # when her reply names the ticket email and, further up, the shipped email
    response = inbound(
        mail(
            message_id="<o6@mail.example>",
            in_reply_to=ticket_email_id,
            references=[sent.message["Message-ID"], ticket_email_id],
        )
    )
    # then the ticket email wins, as before
    assert response.json() == {"status": "replied", "ticket": ticket.number}


def test_two_replies_to_one_order_email_at_once_open_one_ticket(
    inbound, shipped_email, customer_user
):
    # given Alice's shipped email
    order, sent = shipped_email(user_pk=customer_user.pk)
    our_id = sent.message["Message-ID"]
    # when two replies to it arrive at the same moment (two provider deliveries)
    start = threading.Barrier(2)

    def reply(n: int):
        start.wait()
        return inbound(
            mail(
                subject="Re: Your order is on its way",
                message_id=f"<race{n}@mail.example>",
                in_reply_to=our_id,
                references=[our_id],
                authentication_results=DMARC_PASS,
                text=f"Still nothing ({n}).",
            )
        )

    with ThreadPoolExecutor(2) as pool:
        responses = list(pool.map(reply, [1, 2]))
    # then one opened the order's ticket and the other joined it
    assert sorted(r.json()["status"] for r in responses) == ["created", "replied"]
    (ticket,) = Ticket.objects.filter(order__order_id=order.order_id)
    assert {r.json()["ticket"] for r in responses} == {ticket.number}
    assert sorted(
        TicketMessage.objects.filter(ticket=ticket).values_list("body_text", flat=True)
    ) == ["Still nothing (1).", "Still nothing (2)."]


def test_reply_to_the_order_emails_reply_to_opens_the_orders_ticket(
    inbound, shipped_email, customer_user
):
    # given Alice's shipped email, which names a Reply-To for that order
    order, sent = shipped_email(user_pk=customer_user.pk)
    reply_to = sent.message["Reply-To"]
    assert reply_to.startswith(f"support+o{order.number}.")
    assert reply_to.endswith("@acme.example")
    # when her mail client answers it without In-Reply-To or References
    response = inbound(
        mail(
            to=[reply_to],
            subject="Re: Your order is on its way",
            message_id="<noheaders@mail.example>",
            authentication_results=DMARC_PASS,
            text="Where is it?",
        )
    )
    # then the ticket is about that order
    assert response.json()["status"] == "created"
    ticket = Ticket.objects.get(number=response.json()["ticket"])
    assert (ticket.order_id, ticket.category) == (order.pk, "shipping")


def test_forged_order_reply_address_links_no_order(
    inbound, shipped_email, customer_user
):
    # given a reply address with the right order number and a made-up code
    order, _ = shipped_email(user_pk=customer_user.pk)
    response = inbound(
        mail(
            to=[f"support+o{order.number}.0123456789ab@acme.example"],
            message_id="<forged-order@mail.example>",
            authentication_results=DMARC_PASS,
        )
    )
    # then a ticket without an order
    ticket = Ticket.objects.get(number=response.json()["ticket"])
    assert ticket.order_id is None
