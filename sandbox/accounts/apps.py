from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "sandbox.accounts"
    label = "sandbox_accounts"
