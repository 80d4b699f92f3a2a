"""The app's lifespan: what the server loaded before its first request is frozen out of
garbage collection (a full collection over Paddle's objects stalled every request in
flight for ~50 ms)."""

from __future__ import annotations

import asyncio
import gc

from zoo.serving.app import create_app


def test_what_was_loaded_before_serving_is_frozen_out_of_collections():
    gc.unfreeze()
    loaded = [[] for _ in range(1000)]  # containers: tracked by the collector
    app = create_app([], None)

    async def serving() -> int:
        async with app.router.lifespan_context(app):
            return gc.get_freeze_count()

    try:
        assert gc.get_freeze_count() == 0
        assert asyncio.run(serving()) >= len(loaded)
    finally:
        gc.unfreeze()
