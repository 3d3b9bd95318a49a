"""What Saleor's own root conftest.py does, for running tests/saleor/ inside Saleor.

Loaded by tests/conftest.py when DJANGO_SETTINGS_MODULE is Saleor's; never imported
in the sandbox run.
"""

import django.test
from django.conf import settings
from saleor.tests.utils import prepare_test_db_connections

# Saleor routes reads to a replica connection; tests use both databases.
TEST_DATABASES = {
    getattr(settings, "DATABASE_CONNECTION_DEFAULT_NAME"),  # noqa: B009 (Saleor-only settings)
    getattr(settings, "DATABASE_CONNECTION_REPLICA_NAME"),  # noqa: B009
}
django.test.TransactionTestCase.databases = TEST_DATABASES
django.test.TestCase.databases = TEST_DATABASES

prepare_test_db_connections()

pytest_plugins = [
    "saleor.tests.fixtures",
    "saleor.app.tests.fixtures",
    "saleor.plugins.tests.fixtures",
    "saleor.graphql.tests.fixtures",
    "saleor.webhook.tests.fixtures",
    "saleor.tax.tests.fixtures",
    "saleor.channel.tests.fixtures",
    "saleor.page.tests.fixtures",
    "saleor.menu.tests.fixtures",
    "saleor.warehouse.tests.fixtures",
    "saleor.thumbnail.tests.fixtures",
    "saleor.order.tests.fixtures",
    "saleor.product.tests.fixtures",
    "saleor.site.tests.fixtures",
    "saleor.shipping.tests.fixtures",
    "saleor.permission.tests.fixtures",
    "saleor.giftcard.tests.fixtures",
    "saleor.discount.tests.fixtures",
    "saleor.checkout.tests.fixtures",
    "saleor.attribute.tests.fixtures",
    "saleor.account.tests.fixtures",
    "saleor.graphql.account.tests.fixtures",
    "saleor.payment.tests.fixtures",
    "saleor.webhook.tests.circuit_breaker.fixtures",
    "tests.saleor.fixtures",
]
