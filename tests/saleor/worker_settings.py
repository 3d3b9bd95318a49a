"""Settings of the real Celery worker the Saleor suite starts: Saleor's own.

Saleor's production settings (broker and database from the environment, no
eager tasks), with the writer check of Saleor's test settings: a task that
reads the writer database without `allow_writer` raises instead of logging.
"""

from saleor.settings import *  # noqa: F403

CELERY_RESTRICT_WRITER_METHOD = "saleor.core.db.connection.restrict_writer"
