"""Settings of the test run: the sandbox host's, with test services."""

import os

from sandbox.services.redis import LocalRedis
from sandbox.settings import *  # noqa: F403

# Tests publish to their own Redis database so a running sandbox never sees them.
CELERY_BROKER_URL = os.environ.get(
    "TEST_CELERY_BROKER_URL"
) or LocalRedis.default().url(15)
# Unit tests run tasks eagerly, as Saleor's do; tests marked `services` run a real worker.
CELERY_TASK_ALWAYS_EAGER = os.environ.get("CELERY_TASK_ALWAYS_EAGER", "true") == "true"
CELERY_TASK_EAGER_PROPAGATES = True

EMAIL_BACKEND = os.environ.get(
    "EMAIL_BACKEND", "django.core.mail.backends.locmem.EmailBackend"
)
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

PUBLIC_URL = "http://testserver"
# Outgoing webhooks refuse loopback addresses; tests that post to a local
# receiver switch this on explicitly.
SUPPORT_WEBHOOK_ALLOW_LOOPBACK = False
SUPPORT_RETRY_BASE_SECONDS = float(os.environ.get("SUPPORT_RETRY_BASE_SECONDS", 30))
SUPPORT_STUCK_AFTER_SECONDS = float(os.environ.get("SUPPORT_STUCK_AFTER_SECONDS", 120))
