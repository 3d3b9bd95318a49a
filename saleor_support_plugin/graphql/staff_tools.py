"""Staff tools over GraphQL: macros (canned replies) and routing rules."""

from __future__ import annotations

import graphene
from django.contrib.auth import get_user_model

from ..core.errors import PermissionDenied, SupportErrorCode, error
from ..tickets import services
from ..tickets.models import Macro, RoutingRule
from .base import decode_id, global_id
from .tickets import (
    SupportMutation,
    SupportTicket,
    SupportTicketMessage,
    TicketCategoryEnum,
    TicketChannelEnum,
    TicketPriorityEnum,
    TicketStatusEnum,
    _staff,
    _ticket,
)


def _require_staff(info) -> None:
    if not _staff(info):
        raise PermissionDenied


class SupportMacro(graphene.ObjectType):
    id = graphene.ID(required=True, description="Global ID (`SupportMacro:<uuid>`).")
    name = graphene.String(required=True, description="Name staff pick it by.")
    body = graphene.String(
        required=True,
        description="Handlebars reply: {{customer_name}}, {{order_number}}, {{tracking_number}}, "
        "{{tracking_link}}, {{ticket_number}}.",
    )
    set_status = graphene.Field(
        TicketStatusEnum, description="Status the ticket gets when applied."
    )

    class Meta:
        description = "A canned reply."

    @staticmethod
    def resolve_id(root: Macro, _info):
        return global_id("SupportMacro", root.pk)

    @staticmethod
    def resolve_set_status(root: Macro, _info):
        return root.set_status or None


class SupportRoutingRule(graphene.ObjectType):
    id = graphene.ID(
        required=True, description="Global ID (`SupportRoutingRule:<uuid>`)."
    )
    name = graphene.String(required=True, description="Name.")
    position = graphene.Int(
        required=True, description="Rules apply in ascending position."
    )
    is_active = graphene.Boolean(
        required=True, description="Inactive rules are skipped."
    )
    categories = graphene.List(
        graphene.NonNull(TicketCategoryEnum),
        required=True,
        description="Match any (empty: all).",
    )
    channels = graphene.List(
        graphene.NonNull(TicketChannelEnum),
        required=True,
        description="Match any (empty: all).",
    )
    keywords = graphene.List(
        graphene.NonNull(graphene.String),
        required=True,
        description="Any in subject or message.",
    )
    order_statuses = graphene.List(
        graphene.NonNull(graphene.String),
        required=True,
        description="Saleor order statuses.",
    )
    set_priority = graphene.Field(TicketPriorityEnum, description="Priority to set.")
    set_tier = graphene.Int(description="Tier to set.")
    assignee_email = graphene.String(description="Staff member to assign.")
    add_tags = graphene.List(
        graphene.NonNull(graphene.String), required=True, description="Tags to add."
    )

    class Meta:
        description = "A rule applied to new tickets."

    @staticmethod
    def resolve_id(root: RoutingRule, _info):
        return global_id("SupportRoutingRule", root.pk)

    @staticmethod
    def resolve_set_priority(root: RoutingRule, _info):
        return root.set_priority or None

    @staticmethod
    def resolve_assignee_email(root: RoutingRule, _info):
        return root.assign_email or None


class StaffToolQueries(graphene.ObjectType):
    support_macros = graphene.List(
        graphene.NonNull(SupportMacro),
        required=True,
        description="All macros, by name (staff).",
    )
    support_routing_rules = graphene.List(
        graphene.NonNull(SupportRoutingRule),
        required=True,
        description="All routing rules, in order (staff).",
    )

    @staticmethod
    def resolve_support_macros(_root, info):
        return list(Macro.objects.order_by("name")) if _staff(info) else []

    @staticmethod
    def resolve_support_routing_rules(_root, info):
        return list(RoutingRule.objects.all()) if _staff(info) else []


class SupportMacroInput(graphene.InputObjectType):
    name = graphene.String(
        required=True, description="Name (unique, max 100 characters)."
    )
    body = graphene.String(required=True, description="Handlebars reply.")
    set_status = graphene.Field(
        TicketStatusEnum, description="Status to set when applied."
    )

    class Meta:
        description = "A macro."


def _macro(id: str) -> Macro:
    pk = decode_id(id, "SupportMacro")
    macro = Macro.objects.filter(pk=pk).first() if pk else None
    if macro is None:
        raise error("id", "Macro not found.", SupportErrorCode.NOT_FOUND)
    return macro


class SupportMacroCreate(SupportMutation):
    macro = graphene.Field(SupportMacro, description="The new macro.")

    class Arguments:
        input = SupportMacroInput(required=True, description="The macro.")

    class Meta:
        description = "Create a macro (staff)."

    @classmethod
    def perform(cls, info, input):
        _require_staff(info)
        macro = services.macro_save(
            requestor=info.context.requestor,
            settings=info.context.settings,
            macro=None,
            name=input["name"],
            body=input["body"],
            set_status=input.get("set_status") or "",
        )
        return {"macro": macro}


class SupportMacroUpdate(SupportMutation):
    macro = graphene.Field(SupportMacro, description="The macro.")

    class Arguments:
        id = graphene.ID(required=True, description="Macro ID.")
        input = SupportMacroInput(required=True, description="New values.")

    class Meta:
        description = "Change a macro (staff)."

    @classmethod
    def perform(cls, info, id, input):
        _require_staff(info)
        macro = services.macro_save(
            requestor=info.context.requestor,
            settings=info.context.settings,
            macro=_macro(id),
            name=input["name"],
            body=input["body"],
            set_status=input.get("set_status") or "",
        )
        return {"macro": macro}


class SupportMacroDelete(SupportMutation):
    ok = graphene.Boolean(description="True when deleted.")

    class Arguments:
        id = graphene.ID(required=True, description="Macro ID.")

    class Meta:
        description = "Delete a macro (staff)."

    @classmethod
    def perform(cls, info, id):
        _require_staff(info)
        _macro(id).delete()
        return {"ok": True}


class SupportTicketMacroApply(SupportMutation):
    ticket = graphene.Field(SupportTicket, description="The ticket.")
    message = graphene.Field(SupportTicketMessage, description="The reply posted.")

    class Arguments:
        id = graphene.ID(required=True, description="Ticket ID.")
        macro = graphene.ID(required=True, description="Macro ID.")

    class Meta:
        description = "Reply with a macro, filled in for the ticket (staff)."

    @classmethod
    def perform(cls, info, id, macro):
        ticket = _ticket(info, id)
        _require_staff(info)
        message = services.macro_apply(
            requestor=info.context.requestor,
            settings=info.context.settings,
            ticket=ticket,
            macro=_macro(macro),
        )
        ticket.refresh_from_db()
        return {"ticket": ticket, "message": message}


class SupportRoutingRuleInput(graphene.InputObjectType):
    name = graphene.String(description="Name.")
    position = graphene.Int(description="Order of application.")
    is_active = graphene.Boolean(description="Active.")
    categories = graphene.List(
        graphene.NonNull(TicketCategoryEnum),
        description="Match any of these categories.",
    )
    channels = graphene.List(
        graphene.NonNull(TicketChannelEnum), description="Match any of these channels."
    )
    keywords = graphene.List(
        graphene.NonNull(graphene.String),
        description="Match any keyword in subject or message.",
    )
    order_statuses = graphene.List(
        graphene.NonNull(graphene.String),
        description="Match these Saleor order statuses.",
    )
    set_priority = graphene.Field(TicketPriorityEnum, description="Set this priority.")
    set_tier = graphene.Int(description="Set this tier (1-9).")
    assignee = graphene.ID(description="Assign to this staff member (Saleor user ID).")
    add_tags = graphene.List(
        graphene.NonNull(graphene.String), description="Add these tags."
    )

    class Meta:
        description = "A routing rule."


def _rule_data(input) -> dict:
    data = dict(input)
    if "assignee" in data:
        assignee = data.pop("assignee")
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
            data["assign_user_id"], data["assign_email"] = str(user.pk), user.email
        else:
            data["assign_user_id"], data["assign_email"] = "", ""
    return data


def _rule(id: str) -> RoutingRule:
    pk = decode_id(id, "SupportRoutingRule")
    rule = RoutingRule.objects.filter(pk=pk).first() if pk else None
    if rule is None:
        raise error("id", "Routing rule not found.", SupportErrorCode.NOT_FOUND)
    return rule


class SupportRoutingRuleCreate(SupportMutation):
    rule = graphene.Field(SupportRoutingRule, description="The new rule.")

    class Arguments:
        input = SupportRoutingRuleInput(required=True, description="The rule.")

    class Meta:
        description = "Create a routing rule (staff)."

    @classmethod
    def perform(cls, info, input):
        _require_staff(info)
        rule = services.routing_rule_save(
            requestor=info.context.requestor,
            settings=info.context.settings,
            rule=None,
            data=_rule_data(input),
        )
        return {"rule": rule}


class SupportRoutingRuleUpdate(SupportMutation):
    rule = graphene.Field(SupportRoutingRule, description="The rule.")

    class Arguments:
        id = graphene.ID(required=True, description="Rule ID.")
        input = SupportRoutingRuleInput(required=True, description="Changes.")

    class Meta:
        description = "Change a routing rule (staff)."

    @classmethod
    def perform(cls, info, id, input):
        _require_staff(info)
        rule = services.routing_rule_save(
            requestor=info.context.requestor,
            settings=info.context.settings,
            rule=_rule(id),
            data=_rule_data(input),
        )
        return {"rule": rule}


class SupportRoutingRuleDelete(SupportMutation):
    ok = graphene.Boolean(description="True when deleted.")

    class Arguments:
        id = graphene.ID(required=True, description="Rule ID.")

    class Meta:
        description = "Delete a routing rule (staff)."

    @classmethod
    def perform(cls, info, id):
        _require_staff(info)
        _rule(id).delete()
        return {"ok": True}


class StaffToolMutations(graphene.ObjectType):
    support_macro_create = SupportMacroCreate.Field(
        description=SupportMacroCreate._meta.description
    )
    support_macro_update = SupportMacroUpdate.Field(
        description=SupportMacroUpdate._meta.description
    )
    support_macro_delete = SupportMacroDelete.Field(
        description=SupportMacroDelete._meta.description
    )
    support_ticket_macro_apply = SupportTicketMacroApply.Field(
        description=SupportTicketMacroApply._meta.description
    )
    support_routing_rule_create = SupportRoutingRuleCreate.Field(
        description=SupportRoutingRuleCreate._meta.description
    )
    support_routing_rule_update = SupportRoutingRuleUpdate.Field(
        description=SupportRoutingRuleUpdate._meta.description
    )
    support_routing_rule_delete = SupportRoutingRuleDelete.Field(
        description=SupportRoutingRuleDelete._meta.description
    )
