"""What serving costs: latency at batch 1 and throughput at larger batches.

Fixed counts, never "as many as fit in N seconds", so a measurement takes the same work
on a fast and a slow machine and two runs are comparable.  Warm-up calls come first:
the first calls of every runtime allocate, compile kernels or pick algorithms.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Latency:
    requests: int
    p50_ms: float
    p99_ms: float


def latency(predict: Callable[[np.ndarray], np.ndarray], sample: np.ndarray, requests: int,
            warmup: int) -> Latency:
    """p50 and p99 of ``requests`` single-image calls after ``warmup`` unmeasured ones."""
    one = np.ascontiguousarray(sample[:1])
    for _ in range(warmup):
        predict(one)
    times = np.empty(requests)
    for i in range(requests):
        began = time.perf_counter()
        predict(one)
        times[i] = time.perf_counter() - began
    return Latency(requests, float(np.percentile(times, 50) * 1e3),
                   float(np.percentile(times, 99) * 1e3))


def fill(batch: np.ndarray, size: int) -> np.ndarray:
    """``size`` images from ``batch``, repeated if it has fewer (real images either way)."""
    reps = -(-size // len(batch))
    return np.ascontiguousarray(np.concatenate([batch] * reps)[:size])


def throughput(predict: Callable[[np.ndarray], np.ndarray], batch: np.ndarray,
               repeats: int) -> float:
    """Images per second of whole-batch calls: the median of ``repeats`` calls after one warm-up."""
    predict(batch)
    times = []
    for _ in range(repeats):
        began = time.perf_counter()
        predict(batch)
        times.append(time.perf_counter() - began)
    return len(batch) / max(float(np.median(times)), 1e-9)
