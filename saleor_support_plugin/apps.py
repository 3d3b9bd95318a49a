from django.apps import AppConfig


class SupportPluginConfig(AppConfig):
    name = "saleor_support_plugin"
    label = "saleor_support_plugin"
    verbose_name = "Customer Support"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Periodic tasks join the host's beat schedule (Saleor's or the sandbox's)
        # without a settings edit; an entry the host defines itself wins.
        from celery import current_app

        from .tasks import BEAT_SCHEDULE

        # Mutated in place: with a settings namespace (CELERY_*) the host's own
        # dict is what beat reads, and assigning a new one would be shadowed.
        schedule = current_app.conf.beat_schedule
        if schedule is None:
            current_app.conf.beat_schedule = schedule = {}
        for name, entry in BEAT_SCHEDULE.items():
            schedule.setdefault(name, entry)
