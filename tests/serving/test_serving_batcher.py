"""The dynamic batcher on a plain numpy model: gathering, splitting back, the max-batch
bound, and a failing request that fails alone.  (tests/serving/test_serve.py proves the same
through a real server and a real Paddle backend.)"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from zoo.serving.batcher import BackendFailure, Batcher

WEIGHTS = np.random.default_rng(0).standard_normal((12, 3)).astype(np.float32)


class Linear:
    """A real (tiny) model: logits = flatten(x) @ W; refuses any batch holding a negative pixel."""

    def __init__(self) -> None:
        self.calls: list[int] = []

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        self.calls.append(len(batch))
        if np.any(batch < 0):
            raise ValueError("negative pixel")
        return batch.reshape(len(batch), -1) @ WEIGHTS


def run(model: Linear, batches: list[np.ndarray], max_batch: int, delay: float = 0.05) -> list:
    async def scenario():
        with ThreadPoolExecutor(max_workers=1) as thread:
            batcher = Batcher(model, thread, 3, max_batch, delay)
            batcher.start()
            try:
                # wait_for only turns a batcher that never answers into a failure, not a hang.
                return await asyncio.wait_for(asyncio.gather(*(batcher.infer(b) for b in batches),
                                                             return_exceptions=True), 30)
            finally:
                await batcher.stop()

    return asyncio.run(scenario())


def images(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0, 1, (n, 3, 2, 2)).astype(np.float32)


def test_concurrent_requests_share_calls_and_get_their_own_rows():
    model = Linear()
    batches = [images(n, seed) for seed, n in enumerate([1, 2, 1, 3, 1, 1, 4, 1])]
    answers = run(model, batches, max_batch=64)
    for batch, answer in zip(batches, answers):
        np.testing.assert_allclose(answer, batch.reshape(len(batch), -1) @ WEIGHTS, atol=1e-5)
    assert sum(model.calls) == 14 and len(model.calls) < len(batches)


def test_a_call_never_exceeds_max_batch_unless_one_request_does():
    model = Linear()
    run(model, [images(n, seed) for seed, n in enumerate([2, 2, 3, 1, 6, 1])], max_batch=4)
    assert all(size <= 4 for size in model.calls if size != 6), model.calls
    assert 6 in model.calls  # a request larger than max-batch runs whole, never split


def test_a_failing_request_fails_alone():
    model = Linear()
    good = [images(1, seed) for seed in range(5)]
    bad = -images(1, 99)
    answers = run(model, good[:2] + [bad] + good[2:], max_batch=64)
    failed = answers.pop(2)
    assert isinstance(failed, BackendFailure) and "ValueError: negative pixel" in str(failed)
    for batch, answer in zip(good, answers):
        np.testing.assert_allclose(answer, batch.reshape(1, -1) @ WEIGHTS, atol=1e-5)


@pytest.mark.parametrize("wrong", [lambda b: np.zeros((len(b), 2)), lambda b: np.full((len(b), 3), np.nan)])
def test_nonsense_from_the_backend_is_a_failure(wrong):
    async def scenario():
        with ThreadPoolExecutor(max_workers=1) as thread:
            batcher = Batcher(wrong, thread, 3, 8, 0.0)
            batcher.start()
            try:
                with pytest.raises(BackendFailure):
                    await batcher.infer(images(1, 0))
            finally:
                await batcher.stop()

    asyncio.run(scenario())


def test_a_batch_never_waits_for_requests_nobody_sent():
    # Two clients, each sending its next request only once it has its answer: after each
    # batch nothing is on its way, so a batch that waited for more would wait the whole
    # max_delay (an hour here) every time; wait_for turns that into a failure.
    model = Linear()

    async def client(batcher, seed):
        for step in range(5):
            await batcher.infer(images(1, seed * 10 + step))

    async def scenario():
        with ThreadPoolExecutor(max_workers=1) as thread:
            batcher = Batcher(model, thread, 3, 64, 3600.0)
            batcher.start()
            try:
                await asyncio.wait_for(asyncio.gather(client(batcher, 1), client(batcher, 2)), 30)
            finally:
                await batcher.stop()

    asyncio.run(scenario())
    assert sum(model.calls) == 10


def test_a_batch_waits_for_a_request_being_read():
    # A request the server is still reading (inside arriving()) when the model falls free
    # joins the batch of the one already queued, however long it takes within max_delay.
    model = Linear()
    first, second = images(1, 1), images(2, 2)

    async def scenario():
        with ThreadPoolExecutor(max_workers=1) as thread:
            batcher = Batcher(model, thread, 3, 64, 3600.0)
            batcher.start()
            try:
                with batcher.arriving():
                    queued = asyncio.ensure_future(batcher.infer(first))
                    for _ in range(20):  # the collector's turns: it must still be waiting
                        await asyncio.sleep(0)
                    assert model.calls == []
                late = asyncio.ensure_future(batcher.infer(second))
                return await asyncio.wait_for(asyncio.gather(queued, late), 30)
            finally:
                await batcher.stop()

    answers = asyncio.run(scenario())
    assert model.calls == [3]
    for batch, answer in zip((first, second), answers):
        np.testing.assert_allclose(answer, batch.reshape(len(batch), -1) @ WEIGHTS, atol=1e-5)
