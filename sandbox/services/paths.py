from __future__ import annotations

import hashlib
import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def runtime_dir() -> Path:
    """Where local services keep data: outside the checkout, one per checkout.

    Outside because the checkout may live in a directory the `postgres` system
    user cannot enter (e.g. /root).
    """
    explicit = os.environ.get("SANDBOX_RUNTIME_DIR")
    if explicit:
        path = Path(explicit)
    else:
        digest = hashlib.sha1(str(REPO_ROOT).encode()).hexdigest()[:10]
        path = Path("/tmp") / f"saleor-support-plugin-{digest}"
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o755)
    return path
