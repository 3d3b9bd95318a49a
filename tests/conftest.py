import os

# The Saleor suite (tests/saleor/) runs under Saleor's own settings and fixtures;
# the sandbox fixtures load only for the sandbox host.
if os.environ.get("DJANGO_SETTINGS_MODULE", "tests.settings").startswith("saleor"):
    pytest_plugins = ["tests.saleor.saleor_conftest"]
else:
    pytest_plugins = [
        "tests.fixtures.database",
        "tests.fixtures.users",
        "tests.fixtures.graphql",
        "tests.fixtures.services",
        "tests.fixtures.support",
        "tests.fixtures.price_protection",
        "tests.fixtures.tickets",
        "tests.fixtures.browser",
    ]
