"""The sandbox's stand-in for a storefront's ticket page: where ticket email links lead.

A real storefront builds this page from the plugin's GraphQL (`supportTicket`
with the link's token in `X-Support-Guest-Token`); the sandbox renders it on
the server from the same selectors and services, so the links in the
sandbox's emails can be followed and answered.
"""

from __future__ import annotations

import binascii

from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.utils.html import escape, format_html, format_html_join
from django.views.decorators.csrf import csrf_exempt
from graphql_relay import from_global_id

from saleor_support_plugin.auth import Requestor, RequestorKind
from saleor_support_plugin.ports import load_settings
from saleor_support_plugin.tickets.guest import read_guest_token
from saleor_support_plugin.tickets.selectors import access_ticket, visible_messages
from saleor_support_plugin.tickets.services import ticket_reply

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>body{{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem;color:#1a1a1a}}
.msg{{border-left:4px solid #767676;padding:.25rem .75rem;margin:1rem 0}}.staff{{border-color:#0b5cad}}
small{{color:#4a4a4a}}textarea{{width:100%;min-height:6rem}}</style></head>
<body><main>{body}</main></body></html>"""


def _page(title: str, body: str, status: int = 200) -> HttpResponse:
    return HttpResponse(
        PAGE.format(title=escape(title), body=body),
        status=status,
        content_type="text/html; charset=utf-8",
    )


def _not_found() -> HttpResponse:
    return _page(
        "Link not valid",
        "<h1>This link is not valid</h1><p>It may have expired: open the newest "
        "email about your ticket, or write to us again.</p>",
        status=404,
    )


def _ticket_pk(global_id: str) -> str | None:
    try:
        kind, pk = from_global_id(global_id)
    except (ValueError, UnicodeDecodeError, binascii.Error):
        return None
    return pk if kind == "SupportTicket" else None


@csrf_exempt  # the link's token is the credential, as in a storefront's API call
def ticket_page(request: HttpRequest, ticket_id: str) -> HttpResponse:
    """`ticket_id`: the ticket's GraphQL ID, as the link template's `{{ticket_id}}`."""
    token = request.POST.get("token") or request.GET.get("token") or ""
    claims = read_guest_token(token)
    pk = _ticket_pk(ticket_id)
    if claims is None or pk is None or claims.ticket_id != pk:
        return _not_found()
    ticket_id = pk
    requestor = Requestor(
        kind=RequestorKind.GUEST, email=claims.email, guest_ticket_id=claims.ticket_id
    )
    settings = load_settings()
    try:
        ticket = access_ticket(requestor, settings, ticket_id)
    except ValidationError:
        return _not_found()
    problem = ""
    if request.method == "POST":
        try:
            ticket_reply(
                requestor=requestor,
                settings=settings,
                ticket=ticket,
                body=request.POST.get("body", ""),
            )
        except ValidationError as exc:
            problem = "; ".join(exc.messages)
        else:
            return HttpResponseRedirect(request.get_full_path())
    messages = format_html_join(
        "",
        '<div class="msg {}"><small>{} · {}</small><p>{}</p></div>',
        (
            (
                message.author_kind,
                "You" if message.author_kind == "customer" else "Support",
                message.created_at.strftime("%Y-%m-%d %H:%M UTC"),
                message.body_text,
            )
            for message in visible_messages(requestor, settings, ticket)
        ),
    )
    body = format_html(
        "<h1>Ticket #{} · {}</h1><p>Status: {}</p>{}"
        '<form method="post"><input type="hidden" name="token" value="{}">'
        '<label for="body">Your reply</label>{}'
        '<textarea id="body" name="body" required></textarea>'
        "<p><button>Send</button></p></form>",
        ticket.number,
        ticket.subject,
        ticket.get_status_display(),
        messages,
        token,
        format_html('<p role="alert">{}</p>', problem) if problem else "",
    )
    return _page(f"Ticket #{ticket.number}", body)
