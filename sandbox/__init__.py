"""A small Django host that serves the plugin as Saleor would, without Saleor."""

from .celery import app as celery_app

__all__ = ["celery_app"]
