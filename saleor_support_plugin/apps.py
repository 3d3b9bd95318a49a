from django.apps import AppConfig


class SupportPluginConfig(AppConfig):
    name = "saleor_support_plugin"
    label = "saleor_support_plugin"
    verbose_name = "Customer Support"
    default_auto_field = "django.db.models.BigAutoField"
