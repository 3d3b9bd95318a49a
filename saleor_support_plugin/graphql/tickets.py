"""Support tickets over GraphQL: types, queries and mutations (names prefixed `support`)."""

from __future__ import annotations

from typing import Any

import graphene
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from graphql import GraphQLError

from ..core.client_ip import client_ip
from ..core.errors import PermissionDenied, SupportErrorCode, error
from ..orders.models import OrderSnapshot
from ..tickets import services
from ..tickets.guest import guest_token_create
from ..tickets.models import (
    AuthorKind,
    Ticket,
    TicketCategory,
    TicketChannel,
    TicketMessage,
    TicketPriority,
    TicketStatus,
)
from ..tickets.selectors import (
    TicketFilter,
    access_ticket,
    filter_tickets,
    sort_tickets,
    visible_messages,
    visible_tickets,
    with_list_data,
)
from .base import (
    CountableConnection,
    PaginationError,
    SupportError,
    decode_id,
    described_enum,
    enum_from_choices,
    errors_from,
    global_id,
    paginate,
)

TicketStatusEnum = enum_from_choices(
    "SupportTicketStatus", TicketStatus, "Where a ticket is in its life."
)
TicketPriorityEnum = enum_from_choices(
    "SupportTicketPriority", TicketPriority, "How urgent a ticket is."
)
TicketChannelEnum = enum_from_choices(
    "SupportTicketChannel", TicketChannel, "Where a ticket came from."
)
TicketCategoryEnum = enum_from_choices(
    "SupportTicketCategory", TicketCategory, "What a ticket is about."
)
AuthorKindEnum = enum_from_choices(
    "SupportMessageAuthorKind", AuthorKind, "Who wrote a message."
)
TicketSortFieldEnum = described_enum(
    "SupportTicketSortField",
    {
        "CREATED_AT": "When the ticket was opened.",
        "UPDATED_AT": "Last change.",
        "PRIORITY": "Priority, then age.",
        "NUMBER": "Ticket number.",
        "SLA_DUE": "The next SLA target due (first response, then resolution).",
    },
    "What to sort tickets by.",
)
OrderDirectionEnum = described_enum(
    "SupportOrderDirection",
    {"ASC": "Ascending.", "DESC": "Descending."},
    "Sort direction.",
)


def _staff(info) -> bool:
    context = info.context
    return context.requestor.is_staff and context.requestor.has_perm(
        context.settings.staff_permission
    )


class SupportOrderLine(graphene.ObjectType):
    product_name = graphene.String(
        required=True, description="Product name at purchase."
    )
    variant_name = graphene.String(
        required=True, description="Variant name at purchase."
    )
    sku = graphene.String(description="SKU at purchase.")
    quantity = graphene.Int(required=True, description="Quantity ordered.")
    quantity_fulfilled = graphene.Int(required=True, description="Quantity shipped.")
    unit_price = graphene.String(
        required=True, description="Unit gross price paid, with currency."
    )

    class Meta:
        description = "A line of the order, as bought."


class SupportShipment(graphene.ObjectType):
    composed_id = graphene.String(
        required=True, description="Saleor's fulfillment number, e.g. 1042-1."
    )
    status = graphene.String(required=True, description="Saleor's fulfillment status.")
    tracking_number = graphene.String(
        required=True, description="Carrier tracking number; empty when unknown."
    )
    carrier_status = graphene.String(
        required=True, description="Latest carrier status; empty when none."
    )
    estimated_delivery = graphene.Date(description="Carrier's estimated delivery date.")
    delivered_at = graphene.DateTime(description="When the carrier reported delivery.")

    class Meta:
        description = "A shipment (fulfillment) of the order and its tracking."


class SupportOrder(graphene.ObjectType):
    id = graphene.ID(required=True, description="Saleor's order ID (`Order:<uuid>`).")
    number = graphene.String(required=True, description="Order number.")
    status = graphene.String(required=True, description="Saleor's order status.")
    placed_at = graphene.DateTime(
        required=True, description="When the order was placed."
    )
    total = graphene.String(required=True, description="Order total with currency.")
    total_refunded = graphene.String(
        required=True, description="Refunded so far, with currency."
    )
    customer_language = graphene.String(
        required=True, description="The order's language code."
    )
    lines = graphene.List(
        graphene.NonNull(SupportOrderLine),
        required=True,
        description="Lines as bought.",
    )
    shipments = graphene.List(
        graphene.NonNull(SupportShipment),
        required=True,
        description="Shipments and tracking.",
    )
    price_claims = graphene.List(
        graphene.NonNull(lambda: _price_claim_type()),
        required=True,
        description="Price claims on the order the caller may see, newest first.",
    )
    surveys = graphene.List(
        graphene.NonNull(lambda: _survey_type()),
        required=True,
        description=(
            "The order's purchase survey (NPS) and the surveys (CSAT) of its tickets, "
            "with their answers, oldest first (staff only; empty for customers)."
        ),
    )

    class Meta:
        description = "The order a ticket is about, from the plugin's snapshot."

    @staticmethod
    def resolve_id(root: OrderSnapshot, _info):
        return global_id("Order", root.order_id)

    @staticmethod
    def resolve_total(root: OrderSnapshot, _info):
        from ..core.money import format_money

        return format_money(root.total_gross, root.currency)

    @staticmethod
    def resolve_total_refunded(root: OrderSnapshot, _info):
        from ..core.money import format_money

        return format_money(root.total_refunded, root.currency)

    @staticmethod
    def resolve_customer_language(root: OrderSnapshot, _info):
        return root.language_code

    @staticmethod
    def resolve_lines(root: OrderSnapshot, _info):
        from ..core.money import format_money

        return [
            SupportOrderLine(
                product_name=line.product_name,
                variant_name=line.variant_name,
                sku=line.sku,
                quantity=line.quantity,
                quantity_fulfilled=line.quantity_fulfilled,
                unit_price=format_money(line.unit_price_gross, line.currency),
            )
            for line in root.lines.all()
        ]

    @staticmethod
    def resolve_shipments(root: OrderSnapshot, _info):
        return [
            SupportShipment(
                composed_id=row.composed_id,
                status=row.status,
                tracking_number=row.tracking_number,
                carrier_status=row.carrier_status,
                estimated_delivery=row.estimated_delivery,
                delivered_at=row.delivered_at,
            )
            for row in root.fulfillments.all()
        ]

    @staticmethod
    def resolve_placed_at(root: OrderSnapshot, _info):
        return root.placed_at

    @staticmethod
    def resolve_price_claims(root: OrderSnapshot, info):
        from .price_protection.filters import visible_claims
        from .price_protection.types import with_visible_tickets

        context = info.context
        claims = (
            visible_claims(context.requestor, context.settings)
            .filter(order=root)
            .prefetch_related("transitions")
            .order_by("-created_at", "-number")
        )
        return with_visible_tickets(claims, context)

    @staticmethod
    def resolve_surveys(root: OrderSnapshot, info):
        from .surveys.dataloaders import SurveysByOrderIdLoader

        if not _staff(info):
            return []
        return SurveysByOrderIdLoader(info.context).load(root.pk)


def _survey_type() -> type[graphene.ObjectType]:
    # A survey shows its follow-up ticket: imported when the schema is built.
    from .surveys.types import SupportSurvey

    return SupportSurvey


def _price_claim_type() -> type[graphene.ObjectType]:
    # The claim shows its ticket, the ticket's order its claims: imported when the schema is built.
    from .price_protection.types import SupportPriceClaim

    return SupportPriceClaim


class SupportTicketMessage(graphene.ObjectType):
    id = graphene.ID(required=True, description="Global ID of the message.")
    author_kind = graphene.Field(
        AuthorKindEnum, required=True, description="Customer, staff or system."
    )
    author_email = graphene.String(
        description="Author's email; hidden from customers for staff authors."
    )
    body_html = graphene.String(required=True, description="Sanitized HTML body.")
    body_text = graphene.String(required=True, description="Plain-text body.")
    is_internal = graphene.Boolean(
        required=True, description="Staff-only note (never returned to customers)."
    )
    created_at = graphene.DateTime(required=True, description="When it was written.")

    class Meta:
        description = "A message on a ticket."

    @staticmethod
    def resolve_id(root: TicketMessage, _info):
        return global_id("SupportTicketMessage", root.pk)

    @staticmethod
    def resolve_author_email(root: TicketMessage, info):
        if root.author_kind != AuthorKind.CUSTOMER and not _staff(info):
            return None
        return root.author_email or None


class SupportAssignee(graphene.ObjectType):
    id = graphene.ID(required=True, description="Saleor user ID of the staff member.")
    email = graphene.String(required=True, description="Their email.")

    class Meta:
        description = "The staff member a ticket is assigned to."


class SupportTicket(graphene.ObjectType):
    id = graphene.ID(required=True, description="Global ID (`SupportTicket:<uuid>`).")
    number = graphene.Int(required=True, description="Human-readable ticket number.")
    reference = graphene.String(
        required=True,
        description="The number as people say it, `T-<number>`: never like an order's.",
    )
    subject = graphene.String(required=True, description="Subject line.")
    status = graphene.Field(TicketStatusEnum, required=True, description="Status.")
    priority = graphene.Field(
        TicketPriorityEnum, required=True, description="Priority."
    )
    channel = graphene.Field(
        TicketChannelEnum, required=True, description="Where it came from."
    )
    category = graphene.Field(
        TicketCategoryEnum, required=True, description="What it is about."
    )
    tags = graphene.List(
        graphene.NonNull(graphene.String),
        required=True,
        description="Tags (staff only; empty for customers).",
    )
    customer_email = graphene.String(required=True, description="The customer's email.")
    order = graphene.Field(
        SupportOrder, description="The order it is about, with lines and tracking."
    )
    assignee = graphene.Field(
        SupportAssignee, description="Assigned staff member (staff only)."
    )
    tier = graphene.Int(description="Support tier (staff only).")
    sender_verified = graphene.Boolean(
        description=(
            "False when the ticket came by email from a sender the mail provider did "
            "not authenticate: not linked to any account, check before trusting it "
            "(staff only)."
        )
    )
    reopen_count = graphene.Int(required=True, description="How often it was reopened.")
    created_at = graphene.DateTime(required=True, description="When it was opened.")
    updated_at = graphene.DateTime(required=True, description="Last change.")
    first_responded_at = graphene.DateTime(description="First public staff reply.")
    closed_at = graphene.DateTime(description="When it was closed.")
    first_response_due_at = graphene.DateTime(
        description="When the first reply is due (staff only)."
    )
    resolution_due_at = graphene.DateTime(
        description="When the ticket should be solved (staff only)."
    )
    sla_breached = graphene.Boolean(description="A target was missed (staff only).")
    last_message_text = graphene.String(
        description="Plain text of the latest message the caller may see."
    )
    last_message_at = graphene.DateTime(
        description="When the latest message the caller may see was written."
    )
    messages = graphene.List(
        graphene.NonNull(SupportTicketMessage),
        required=True,
        description="Messages, oldest first; internal notes only for staff.",
    )
    surveys = graphene.List(
        graphene.NonNull(lambda: _survey_type()),
        required=True,
        description=(
            "The ticket's satisfaction survey (CSAT) with its answer (staff only; empty "
            "for customers)."
        ),
    )
    follow_up_of = graphene.Field(
        lambda: _survey_type(),
        description=(
            "The survey whose low score opened this follow-up ticket, with the score "
            "and comment (staff only)."
        ),
    )

    class Meta:
        description = "A support ticket."

    @staticmethod
    def resolve_id(root: Ticket, _info):
        return global_id("SupportTicket", root.pk)

    @staticmethod
    def resolve_tags(root: Ticket, info):
        return root.tags if _staff(info) else []

    @staticmethod
    def resolve_assignee(root: Ticket, info):
        if not _staff(info) or not root.assignee_user_id:
            return None
        return SupportAssignee(
            id=global_id("User", root.assignee_user_id), email=root.assignee_email
        )

    @staticmethod
    def resolve_sender_verified(root: Ticket, info):
        return root.sender_verified if _staff(info) else None

    @staticmethod
    def resolve_tier(root: Ticket, info):
        return root.tier if _staff(info) else None

    @staticmethod
    def resolve_first_response_due_at(root: Ticket, info):
        return root.first_response_due_at if _staff(info) else None

    @staticmethod
    def resolve_resolution_due_at(root: Ticket, info):
        return root.resolution_due_at if _staff(info) else None

    @staticmethod
    def resolve_sla_breached(root: Ticket, info):
        if not _staff(info):
            return None
        return (
            root.first_response_breached_at is not None
            or root.resolution_breached_at is not None
        )

    @staticmethod
    def resolve_messages(root: Ticket, info):
        return list(
            visible_messages(info.context.requestor, info.context.settings, root)
        )

    @staticmethod
    def resolve_surveys(root: Ticket, info):
        from .surveys.dataloaders import SurveysByTicketIdLoader

        if not _staff(info):
            return []
        return SurveysByTicketIdLoader(info.context).load(root.pk)

    @staticmethod
    def resolve_follow_up_of(root: Ticket, info):
        from .surveys.dataloaders import SurveyByFollowUpTicketIdLoader

        if not _staff(info):
            return None
        return SurveyByFollowUpTicketIdLoader(info.context).load(root.pk)

    @staticmethod
    def resolve_last_message_text(root: Ticket, info):
        if hasattr(root, "last_message_text"):
            return root.last_message_text
        last = visible_messages(
            info.context.requestor, info.context.settings, root
        ).last()
        return last.body_text if last else None

    @staticmethod
    def resolve_last_message_at(root: Ticket, info):
        if hasattr(root, "last_message_at"):
            return root.last_message_at
        last = visible_messages(
            info.context.requestor, info.context.settings, root
        ).last()
        return last.created_at if last else None


class SupportTicketCountableConnection(CountableConnection):
    class Meta:
        node = SupportTicket
        description = "A page of tickets."


class SupportTicketFilterInput(graphene.InputObjectType):
    status = graphene.List(
        graphene.NonNull(TicketStatusEnum), description="Any of these statuses."
    )
    priority = graphene.List(
        graphene.NonNull(TicketPriorityEnum), description="Any of these priorities."
    )
    category = graphene.List(
        graphene.NonNull(TicketCategoryEnum), description="Any of these categories."
    )
    channel = graphene.List(
        graphene.NonNull(TicketChannelEnum), description="Any of these channels."
    )
    assignee = graphene.ID(description="Assigned to this staff user (staff only).")
    unassigned = graphene.Boolean(
        description="Only unassigned (true) or assigned (false) tickets (staff only)."
    )
    tag = graphene.String(description="Has this tag (staff only).")
    order_number = graphene.String(description="About this order number.")
    customer_email = graphene.String(description="Of this customer (staff only).")
    search = graphene.String(description="Words in the subject or any message.")
    sla_breached = graphene.Boolean(
        description="Only tickets that missed (true) or met (false) a target (staff only)."
    )
    sla_due_within_hours = graphene.Int(
        description="Only open tickets with a target due within this many hours (staff only)."
    )

    class Meta:
        description = "Filter tickets."


class SupportTicketSortingInput(graphene.InputObjectType):
    field = graphene.Field(TicketSortFieldEnum, required=True, description="Sort by.")
    direction = graphene.Field(
        OrderDirectionEnum, required=True, description="Ascending or descending."
    )

    class Meta:
        description = "Sort tickets."


STAFF_ONLY_FILTERS = (
    "assignee",
    "unassigned",
    "tag",
    "customer_email",
    "sla_breached",
    "sla_due_within_hours",
)


STAFF_ONLY_SORT_FIELDS = ("SLA_DUE",)

# A year: anything further is every open ticket anyway, and would overflow dates.
MAX_SLA_HORIZON_HOURS = 24 * 366


def _ticket_filter(data: dict[str, Any] | None, *, staff: bool) -> TicketFilter:
    data = dict(data or {})
    if not staff and any(data.get(name) is not None for name in STAFF_ONLY_FILTERS):
        raise GraphQLError("Filtering by assignee, tag, customer or SLA is for staff.")
    assignee = decode_id(data.get("assignee"), "User")
    if data.get("assignee") and assignee is None:
        raise GraphQLError("`assignee` is not a user ID.")
    hours = data.get("sla_due_within_hours")
    if hours is not None and not 0 <= hours <= MAX_SLA_HORIZON_HOURS:
        raise GraphQLError(
            f"`slaDueWithinHours` must be between 0 and {MAX_SLA_HORIZON_HOURS}."
        )
    return TicketFilter(
        statuses=data.get("status"),
        priorities=data.get("priority"),
        categories=data.get("category"),
        channels=data.get("channel"),
        assignee_user_id=assignee,
        unassigned=data.get("unassigned"),
        tag=data.get("tag"),
        order_number=data.get("order_number"),
        customer_email=data.get("customer_email"),
        search=data.get("search"),
        sla_breached=data.get("sla_breached"),
        sla_due_within_hours=data.get("sla_due_within_hours"),
    )


class TicketQueries(graphene.ObjectType):
    support_ticket = graphene.Field(
        SupportTicket,
        id=graphene.Argument(
            graphene.ID, required=True, description="Global ID of the ticket."
        ),
        description="One ticket the caller may see (null when missing or not theirs).",
    )
    support_tickets = graphene.Field(
        SupportTicketCountableConnection,
        first=graphene.Int(description="Page size from the start (max 100)."),
        last=graphene.Int(description="Page size from the end (max 100)."),
        after=graphene.String(description="Cursor to start after."),
        before=graphene.String(description="Cursor to end before."),
        filter=graphene.Argument(SupportTicketFilterInput, description="Filter."),
        sort_by=graphene.Argument(
            SupportTicketSortingInput, description="Sort (default: newest first)."
        ),
        description="Tickets the caller may see: their own, or all for staff with the permission.",
    )

    @staticmethod
    def resolve_support_ticket(_root, info, id):
        context = info.context
        pk = decode_id(id, "SupportTicket")
        return (
            visible_tickets(context.requestor, context.settings)
            .select_related("order")
            .filter(pk=pk)
            .first()
            if pk
            else None
        )

    @staticmethod
    def resolve_support_tickets(
        _root,
        info,
        first=None,
        last=None,
        after=None,
        before=None,
        filter=None,
        sort_by=None,
    ):
        context = info.context
        staff = _staff(info)
        tickets = filter_tickets(
            visible_tickets(context.requestor, context.settings),
            _ticket_filter(filter, staff=staff),
            include_internal=staff,
        )
        sort_field, direction = (
            ("CREATED_AT", "DESC")
            if sort_by is None
            else (sort_by["field"], sort_by["direction"])
        )
        if sort_field in STAFF_ONLY_SORT_FIELDS and not staff:
            raise GraphQLError("Sorting by SLA due time is for staff.")
        tickets = with_list_data(
            sort_tickets(tickets, sort_field, direction == "DESC"),
            include_internal=staff,
        )
        try:
            return paginate(
                tickets,
                SupportTicketCountableConnection,
                first=first,
                last=last,
                after=after,
                before=before,
            )
        except PaginationError as exc:
            raise GraphQLError(str(exc)) from None


# --- mutations


class SupportMutation(graphene.Mutation):
    """Run a service; turn coded errors into `errors { field code message }`."""

    errors = graphene.List(
        graphene.NonNull(SupportError),
        required=True,
        description="Errors; empty on success.",
    )

    class Meta:
        abstract = True

    # Subclasses define `perform(cls, info, **arguments) -> dict` of their output fields.

    @classmethod
    def mutate(cls, root, info, **data):
        try:
            return cls(errors=[], **getattr(cls, "perform")(info, **data))
        except (ValidationError, PermissionDenied) as exc:
            return cls(errors=errors_from(exc))


def _client_ip(info) -> str | None:
    return client_ip(info.context.request, info.context.settings.trusted_proxies)


def _ticket(info, id: str) -> Ticket:
    context = info.context
    return access_ticket(
        context.requestor, context.settings, decode_id(id, "SupportTicket")
    )


class SupportTicketCreateInput(graphene.InputObjectType):
    subject = graphene.String(
        required=True, description="Subject (max 200 characters)."
    )
    body = graphene.String(
        required=True,
        description="First message, text or simple HTML (max 20,000 characters).",
    )
    order = graphene.ID(
        description="Saleor order ID (`Order:<uuid>`) of one of the caller's orders."
    )
    category = graphene.Field(
        TicketCategoryEnum, description="What it is about (default OTHER)."
    )

    class Meta:
        description = "A new ticket."


class SupportTicketCreate(SupportMutation):
    ticket = graphene.Field(SupportTicket, description="The new ticket.")

    class Arguments:
        input = SupportTicketCreateInput(required=True, description="The ticket.")

    class Meta:
        description = "Open a ticket (customers, guests with a guest token, staff about an order)."

    @classmethod
    def perform(cls, info, input):
        order_id = None
        if input.get("order"):
            order_id = decode_id(input["order"], "Order")
            if order_id is None:
                raise error("order", "Order not found.", SupportErrorCode.NOT_FOUND)
        ticket = services.ticket_create(
            requestor=info.context.requestor,
            settings=info.context.settings,
            subject=input["subject"],
            body=input["body"],
            order_id=order_id,
            category=input.get("category") or TicketCategory.OTHER,
            client_ip=_client_ip(info),
        )
        return {"ticket": ticket}


class SupportTicketMessageInput(graphene.InputObjectType):
    body = graphene.String(
        required=True, description="Text or simple HTML (max 20,000 characters)."
    )

    class Meta:
        description = "A message."


class SupportTicketReply(SupportMutation):
    ticket = graphene.Field(SupportTicket, description="The ticket.")
    message = graphene.Field(SupportTicketMessage, description="The new message.")

    class Arguments:
        id = graphene.ID(required=True, description="Ticket ID.")
        input = SupportTicketMessageInput(required=True, description="The reply.")

    class Meta:
        description = "Reply publicly (customers to their tickets, staff to any)."

    @classmethod
    def perform(cls, info, id, input):
        ticket = _ticket(info, id)
        message = services.ticket_reply(
            requestor=info.context.requestor,
            settings=info.context.settings,
            ticket=ticket,
            body=input["body"],
            client_ip=_client_ip(info),
        )
        ticket.refresh_from_db()
        return {"ticket": ticket, "message": message}


class SupportTicketNoteAdd(SupportMutation):
    ticket = graphene.Field(SupportTicket, description="The ticket.")
    message = graphene.Field(SupportTicketMessage, description="The internal note.")

    class Arguments:
        id = graphene.ID(required=True, description="Ticket ID.")
        input = SupportTicketMessageInput(required=True, description="The note.")

    class Meta:
        description = "Add an internal note, never shown to the customer (staff)."

    @classmethod
    def perform(cls, info, id, input):
        ticket = _ticket(info, id)
        message = services.ticket_reply(
            requestor=info.context.requestor,
            settings=info.context.settings,
            ticket=ticket,
            body=input["body"],
            internal=True,
        )
        return {"ticket": ticket, "message": message}


class SupportTicketClose(SupportMutation):
    ticket = graphene.Field(SupportTicket, description="The closed ticket.")

    class Arguments:
        id = graphene.ID(required=True, description="Ticket ID.")

    class Meta:
        description = "Close a ticket."

    @classmethod
    def perform(cls, info, id):
        ticket = services.ticket_close(
            requestor=info.context.requestor,
            settings=info.context.settings,
            ticket=_ticket(info, id),
        )
        return {"ticket": ticket}


class SupportTicketReopen(SupportMutation):
    ticket = graphene.Field(SupportTicket, description="The reopened ticket.")

    class Arguments:
        id = graphene.ID(required=True, description="Ticket ID.")

    class Meta:
        description = (
            "Reopen a solved or closed ticket (customers within the reopen window)."
        )

    @classmethod
    def perform(cls, info, id):
        ticket = services.ticket_reopen(
            requestor=info.context.requestor,
            settings=info.context.settings,
            ticket=_ticket(info, id),
        )
        return {"ticket": ticket}


class SupportTicketUpdateInput(graphene.InputObjectType):
    status = graphene.Field(TicketStatusEnum, description="New status.")
    priority = graphene.Field(TicketPriorityEnum, description="New priority.")
    category = graphene.Field(TicketCategoryEnum, description="New category.")
    tags = graphene.List(
        graphene.NonNull(graphene.String), description="Replace the tags."
    )

    class Meta:
        description = "Ticket fields staff change."


class SupportTicketUpdate(SupportMutation):
    ticket = graphene.Field(SupportTicket, description="The updated ticket.")

    class Arguments:
        id = graphene.ID(required=True, description="Ticket ID.")
        input = SupportTicketUpdateInput(required=True, description="Changes.")

    class Meta:
        description = "Change status, priority, category or tags (staff)."

    @classmethod
    def perform(cls, info, id, input):
        ticket = services.ticket_update(
            requestor=info.context.requestor,
            settings=info.context.settings,
            ticket=_ticket(info, id),
            status=input.get("status"),
            priority=input.get("priority"),
            category=input.get("category"),
            tags=input.get("tags"),
        )
        return {"ticket": ticket}


class SupportTicketAssign(SupportMutation):
    ticket = graphene.Field(SupportTicket, description="The ticket.")

    class Arguments:
        id = graphene.ID(required=True, description="Ticket ID.")
        assignee = graphene.ID(
            description="Saleor user ID of a staff member; null unassigns."
        )

    class Meta:
        description = "Assign a ticket to a staff member, or unassign it (staff)."

    @classmethod
    def perform(cls, info, id, assignee=None):
        ticket = _ticket(info, id)
        if not info.context.requestor.has_perm(info.context.settings.staff_permission):
            raise PermissionDenied
        user_id, email = None, ""
        if assignee:
            pk = decode_id(assignee, "User")
            user = (
                get_user_model()
                .objects.filter(pk=pk, is_staff=True, is_active=True)
                .first()
                if pk
                else None
            )
            if user is None:
                raise error(
                    "assignee", "Staff member not found.", SupportErrorCode.NOT_FOUND
                )
            user_id, email = str(user.pk), user.email
        ticket = services.ticket_assign(
            requestor=info.context.requestor,
            settings=info.context.settings,
            ticket=ticket,
            assignee_user_id=user_id,
            assignee_email=email,
        )
        return {"ticket": ticket}


class SupportTicketEscalate(SupportMutation):
    ticket = graphene.Field(SupportTicket, description="The escalated ticket.")

    class Arguments:
        id = graphene.ID(required=True, description="Ticket ID.")
        reason = graphene.String(
            required=True, description="Why (kept as an internal note)."
        )

    class Meta:
        description = "Move a ticket up one support tier (staff)."

    @classmethod
    def perform(cls, info, id, reason):
        ticket = services.ticket_escalate(
            requestor=info.context.requestor,
            settings=info.context.settings,
            ticket=_ticket(info, id),
            reason=reason,
        )
        return {"ticket": ticket}


class SupportGuestTokenCreate(SupportMutation):
    token = graphene.String(
        description="Send as `X-Support-Guest-Token`; valid for this order's tickets."
    )
    expires_in = graphene.Int(description="Seconds the token stays valid.")

    class Arguments:
        order_number = graphene.String(required=True, description="The order number.")
        email = graphene.String(
            required=True, description="The email the order was placed with."
        )

    class Meta:
        description = "Prove a guest order is yours (order number + email) to open and read its tickets."

    @classmethod
    def perform(cls, info, order_number, email):
        token, expires_in = guest_token_create(
            order_number=order_number, email=email, client_ip=_client_ip(info)
        )
        return {"token": token, "expires_in": expires_in}


class TicketMutations(graphene.ObjectType):
    support_ticket_create = SupportTicketCreate.Field(
        description=SupportTicketCreate._meta.description
    )
    support_ticket_reply = SupportTicketReply.Field(
        description=SupportTicketReply._meta.description
    )
    support_ticket_note_add = SupportTicketNoteAdd.Field(
        description=SupportTicketNoteAdd._meta.description
    )
    support_ticket_close = SupportTicketClose.Field(
        description=SupportTicketClose._meta.description
    )
    support_ticket_reopen = SupportTicketReopen.Field(
        description=SupportTicketReopen._meta.description
    )
    support_ticket_update = SupportTicketUpdate.Field(
        description=SupportTicketUpdate._meta.description
    )
    support_ticket_assign = SupportTicketAssign.Field(
        description=SupportTicketAssign._meta.description
    )
    support_ticket_escalate = SupportTicketEscalate.Field(
        description=SupportTicketEscalate._meta.description
    )
    support_guest_token_create = SupportGuestTokenCreate.Field(
        description=SupportGuestTokenCreate._meta.description
    )
