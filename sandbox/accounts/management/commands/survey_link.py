from django.core.management.base import BaseCommand, CommandError

from saleor_support_plugin.ports import load_settings
from saleor_support_plugin.surveys.links import survey_url
from saleor_support_plugin.surveys.models import Survey, SurveyState
from saleor_support_plugin.surveys.tokens import make_survey_token


class Command(BaseCommand):
    help = (
        "Print the links of a sent survey, as its email has them: the survey page and "
        "one link per score (sandbox only: the token is the customer's secret)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "order", help="Order number (its purchase survey), e.g. 1004."
        )
        parser.add_argument(
            "--token", action="store_true", help="Print only the link's token."
        )

    def handle(self, *args, order, token, **options):
        survey = (
            Survey.objects.filter(order__number=order.lstrip("#"), kind="nps")
            .exclude(state__in=(SurveyState.SCHEDULED, SurveyState.CANCELLED))
            .first()
        )
        if survey is None:
            raise CommandError(
                f"Order #{order} has no survey that was sent (the demo's is #1004)."
            )
        if token:
            self.stdout.write(make_survey_token(str(survey.pk), survey.customer_email))
            return
        settings = load_settings()
        low, high = survey.score_range
        self.stdout.write(
            f"Survey of order #{order} ({survey.customer_email}, {survey.state}):"
        )
        self.stdout.write(f"page: {survey_url(survey, settings)}")
        for score in range(low, high + 1):
            self.stdout.write(f"{score}: {survey_url(survey, settings, score)}")
