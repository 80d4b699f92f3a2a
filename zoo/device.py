"""Device names: ``cpu``, ``gpu`` and ``gpu:N``, checked against this build and machine."""

from __future__ import annotations

import re

from zoo.errors import DeviceError


def available_devices() -> list[str]:
    import paddle

    devices = ["cpu"]
    if paddle.is_compiled_with_cuda():
        count = paddle.device.cuda.device_count()
        devices += [f"gpu:{i}" for i in range(count)]
    return devices


def check_device(name: str) -> str:
    """The canonical Paddle device string for ``name``, or a DeviceError saying what exists."""
    import paddle

    wanted = name.strip().lower()
    if not re.fullmatch(r"cpu|gpu(:\d+)?", wanted):
        raise DeviceError(f"unknown device '{name}' (use cpu, gpu or gpu:N; "
                          f"available: {', '.join(available_devices())})")
    if wanted == "cpu":
        return "cpu"
    canonical = "gpu:0" if wanted == "gpu" else wanted
    have = available_devices()
    if canonical not in have:
        why = ("this Paddle build has no CUDA support" if not paddle.is_compiled_with_cuda()
               else "no such GPU on this machine")
        raise DeviceError(f"device '{name}' is not available: {why} (available: {', '.join(have)})")
    return canonical


def use_device(name: str) -> str:
    """Check ``name`` (``check_device``) and make it Paddle's current device; the normalized
    name.  Imports paddle."""
    import paddle

    device = check_device(name)
    paddle.set_device(device)
    return device
