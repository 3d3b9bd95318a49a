"""Batch loaders: the surveys of a page of tickets or orders in one query each.

One loader of each kind per request, kept on the request's context; graphene
resolves every `load` of a page before the batch runs (Saleor's pattern).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Iterable
from typing import Any

from django.db.models import Q, QuerySet
from promise import Promise
from promise.dataloader import DataLoader

from ...surveys.models import Survey
from ..context import SupportContext

LOADERS = "support_dataloaders"


class SupportDataLoader(DataLoader):
    """A loader shared by every resolver of one request."""

    context_key: str

    def __new__(cls, context: SupportContext):
        loaders = vars(context).setdefault(LOADERS, {})
        if cls.context_key not in loaders:
            loaders[cls.context_key] = super().__new__(cls)
        return loaders[cls.context_key]

    def __init__(self, context: SupportContext) -> None:
        if getattr(self, "context", None) is not context:
            self.context = context
            super().__init__()

    def batch_load_fn(self, keys: list[Hashable]) -> Promise:
        return Promise.resolve(self.batch_load(keys))

    def batch_load(self, keys: list[Hashable]) -> list[Any]:
        raise NotImplementedError


def surveys_shown() -> QuerySet[Survey]:
    """Surveys with everything the survey type reads, oldest first."""
    return Survey.objects.select_related(
        "order", "ticket__order", "follow_up_ticket"
    ).order_by("created_at", "pk")


def _grouped(surveys: Iterable[Survey], key: Any) -> dict[Any, list[Survey]]:
    groups: dict[Any, list[Survey]] = defaultdict(list)
    for survey in surveys:
        groups[key(survey)].append(survey)
    return groups


class SurveysByTicketIdLoader(SupportDataLoader):
    """The surveys about each ticket (its CSAT)."""

    context_key = "surveys_by_ticket_id"

    def batch_load(self, keys):
        groups = _grouped(
            surveys_shown().filter(ticket_id__in=keys), lambda s: s.ticket_id
        )
        return [groups.get(key, []) for key in keys]


class SurveyByFollowUpTicketIdLoader(SupportDataLoader):
    """The survey whose low score opened each ticket, or None."""

    context_key = "survey_by_follow_up_ticket_id"

    def batch_load(self, keys):
        groups = _grouped(
            surveys_shown().filter(follow_up_ticket_id__in=keys),
            lambda s: s.follow_up_ticket_id,
        )
        return [groups[key][0] if groups.get(key) else None for key in keys]


class SurveysByOrderIdLoader(SupportDataLoader):
    """The surveys of each order: its NPS and the CSAT of every ticket about it."""

    context_key = "surveys_by_order_id"

    def batch_load(self, keys):
        surveys = surveys_shown().filter(
            Q(order_id__in=keys) | Q(ticket__order_id__in=keys)
        )
        groups = _grouped(
            surveys,
            lambda s: s.order_id if s.order_id is not None else s.ticket.order_id,
        )
        return [groups.get(key, []) for key in keys]
