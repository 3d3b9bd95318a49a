"""Settings of the sandbox host (also used by the test suite)."""

import os
from pathlib import Path

import dj_database_url

from .services.postgres import LocalPostgres
from .services.redis import LocalRedis


def _bool(name: str, default: bool = False) -> bool:
    return os.environ.get(name, str(default)).strip().lower() in {
        "1",
        "true",
        "yes",
        "on",
    }


BASE_DIR = Path(__file__).resolve().parent
SECRET_KEY = os.environ.get(
    "SECRET_KEY", "sandbox-only-secret-key-change-me-for-anything-real"
)
DEBUG = _bool("DEBUG", False)
ALLOWED_HOSTS = [
    host.strip()
    for host in os.environ.get("ALLOWED_HOSTS", "localhost,127.0.0.1,testserver").split(
        ","
    )
]

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "sandbox.accounts",
    "sandbox.order",
    "saleor_support_plugin",
]
MIDDLEWARE = ["django.middleware.common.CommonMiddleware"]
ROOT_URLCONF = "sandbox.urls"
WSGI_APPLICATION = "sandbox.wsgi.application"
STATIC_URL = "/static/"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "DIRS": [],
    }
]

# DATABASE_URL overrides; otherwise the local cluster that `./dev` and the test
# run start by themselves (sandbox.services.postgres).
DATABASE_URL = os.environ.get("DATABASE_URL") or LocalPostgres.default().url("sandbox")
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=0)}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTHENTICATION_BACKENDS = ["sandbox.accounts.backends.BearerTokenBackend"]
SANDBOX_TOKEN_TTL_SECONDS = int(
    os.environ.get("SANDBOX_TOKEN_TTL_SECONDS", 30 * 24 * 3600)
)

USE_TZ = True
TIME_ZONE = "UTC"
LANGUAGE_CODE = "en"

CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL") or LocalRedis.default().url(0)
CELERY_TASK_ALWAYS_EAGER = _bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True

EMAIL_BACKEND = os.environ.get(
    "EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend"
)
EMAIL_HOST = os.environ.get("EMAIL_HOST", "127.0.0.1")
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", 1025))
PUBLIC_URL = os.environ.get("PUBLIC_URL", "http://127.0.0.1:8000")
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "support@sandbox.example.com")

# The shop's name (in Saleor: the current Site's name); emails use it when
# sender_name is left at its default.
# The worker reads orders "as they are now" from the sandbox's own order tables.
SUPPORT_PLUGIN_PORTS = "sandbox.ports:build_ports"
SUPPORT_SHOP_NAME = os.environ.get("SUPPORT_SHOP_NAME", "Sandbox Store")

# What Saleor keeps in its PluginConfiguration row; see saleor_support_plugin.standalone.
SUPPORT_PLUGIN = {
    "active": _bool("SUPPORT_PLUGIN_ACTIVE", True),
    "configuration": {
        "sender_name": os.environ.get("SUPPORT_SENDER_NAME", "Sandbox Store Support"),
        "sender_address": os.environ.get(
            "SUPPORT_SENDER_ADDRESS", "support@sandbox.example.com"
        ),
        "smtp_url": os.environ.get("SUPPORT_SMTP_URL", ""),
        "support_staff_addresses": os.environ.get(
            "SUPPORT_STAFF_ADDRESSES", "team@sandbox.example.com"
        ),
        "carrier_webhook_secret": os.environ.get(
            "SUPPORT_CARRIER_SECRET", "sandbox-carrier-secret"
        ),
        "tracking_url_template": "https://track.sandbox.example/{{tracking_number}}",
        # Inbound email and ticket links, so every feature can be tried: post mail
        # with `./dev manage inbound_email`, follow the links in ticket emails.
        "inbound_email_secret": os.environ.get(
            "SUPPORT_INBOUND_SECRET", "sandbox-inbound-secret"
        ),
        "inbound_email_address": os.environ.get(
            "SUPPORT_INBOUND_ADDRESS", "support@sandbox.example.com"
        ),
        "ticket_url_template": f"{PUBLIC_URL}/storefront/tickets/"
        "{{ticket_id}}/?token={{token}}",
        "outgoing_webhook_url": os.environ.get("SUPPORT_FORWARD_URL", ""),
        # Price protection on, so `./dev run` shows drops refunded (`./dev manage
        # set_price`) and customer claims; the store's own pages are PUBLIC_URL's.
        "price_protection_enabled": _bool("SUPPORT_PRICE_PROTECTION", True),
        "price_protection_other_shops": True,
        # Surveys on: the demo order #1004 was delivered a week ago and gets one.
        "surveys_enabled": _bool("SUPPORT_SURVEYS", True),
        "public_url": PUBLIC_URL,
    },
}
# The sandbox's payment stand-in answers this late (after the refund is made):
# a slow payment provider, for trying what a crash mid-refund does.
SANDBOX_REFUND_PAUSE_SECONDS = float(os.environ.get("SANDBOX_REFUND_PAUSE_SECONDS", 0))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
}
