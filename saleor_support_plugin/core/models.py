from django.db import models


class RateLimitCounter(models.Model):
    """Hits per key and fixed window; shared by every process through the database."""

    key = models.CharField(max_length=255)
    window_start = models.DateTimeField()
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["key", "window_start"], name="ssp_ratelimit_key_window"
            )
        ]
