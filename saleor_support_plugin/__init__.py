"""Customer service for Saleor: proactive updates, tickets, price protection, surveys."""

__version__ = "0.1.0"

# Stable identifier: the database key of the plugin's configuration and the
# URL segment of its route (/plugins/global/<PLUGIN_ID>/...). Never change it.
PLUGIN_ID = "saleor-support-plugin"
PLUGIN_NAME = "Customer Support"
