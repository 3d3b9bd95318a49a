from django.db import models


class OrderPermissions(models.Model):
    """No table: only the permissions, named like Saleor's (`order.manage_orders`)."""

    class Meta:
        managed = False
        default_permissions = ()
        permissions = [("manage_orders", "Manage orders.")]
