"""``zoo serve``: exports behind the Open Inference Protocol (KServe v2) over HTTP, with
dynamic batching; ``zoo bench-serve`` measures a server under load.

Needs the ``zoo[serve]`` extra (Starlette, uvicorn, httpx); nothing else in zoo does, and
nothing here is imported until one of those commands runs.
"""

from __future__ import annotations

import importlib.util

from zoo.errors import ZooError

INSTALL_HINT = "pip install 'zoo[serve]' (Starlette, uvicorn and httpx)"


def require(*packages: str) -> None:
    """A one-line error naming the install command when one of ``packages`` is missing."""
    missing = [p for p in packages if importlib.util.find_spec(p) is None]
    if missing:
        raise ZooError(f"{' and '.join(missing)} not installed; zoo serve and zoo bench-serve "
                       f"need the serve extra: {INSTALL_HINT}")
