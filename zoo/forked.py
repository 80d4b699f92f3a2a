"""Run plugin code in a forked child under a time limit per step.

Building entries calls third-party factories, which can hang.  A hang in the CLI's own
process could only be ended by the user; in a child it is a one-line error.  Forking
keeps what the parent already loaded (the catalogue), so the check costs no second start.
The child reports progress (which step it is on) and its result over a private pipe; its
stdout goes to stderr, so nothing a plugin prints can corrupt the CLI's own output.
"""

from __future__ import annotations

import json
import os
import select
import signal
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any

from zoo.errors import ZooError, one_line

Say = Callable[[str], None]


class StepTimeout(ZooError):
    """A step in the child did not finish in time; the child was killed."""


def _child(target: Callable[[Say], Any], write_fd: int) -> None:
    os.dup2(2, 1)  # a plugin's print() must not reach the parent's stdout
    sys.stdout = sys.stderr

    def send(message: dict) -> None:
        os.write(write_fd, json.dumps(message, default=str).encode() + b"\n")

    code = 0
    try:
        send({"result": target(lambda step: send({"step": step}))})
    except ZooError as exc:
        send({"error": str(exc), "zoo": True})
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, never lost
        traceback.print_exc()
        send({"error": one_line(exc, with_type=True), "zoo": False})
        code = 1
    finally:
        sys.stderr.flush()
        os._exit(code)


def run_forked(target: Callable[[Say], Any], step_timeout: float, what: str) -> Any:
    """``target(say)`` in a child; each ``say(step)`` restarts the clock.

    Returns the target's (JSON-able) result.  A ZooError in the child is raised again
    here with its message; a step over ``step_timeout`` seconds kills the child and
    raises StepTimeout naming the step.
    """
    read_fd, write_fd = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        os.close(read_fd)
        _child(target, write_fd)
    os.close(write_fd)
    step, buffer, result = "starting", b"", None
    deadline = time.monotonic() + step_timeout
    try:
        while True:
            ready, _, _ = select.select([read_fd], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                raise StepTimeout(f"{what}: {step} did not finish within {step_timeout:g} s "
                                  f"(raise --preflight-timeout if it is only slow)")
            chunk = os.read(read_fd, 65536)
            if not chunk:
                break
            buffer += chunk
            *lines, buffer = buffer.split(b"\n")
            for line in lines:
                message = json.loads(line)
                if "step" in message:
                    step, deadline = message["step"], time.monotonic() + step_timeout
                elif "error" in message:
                    raise ZooError(message["error"] if message["zoo"]
                                   else f"{what}: {step} failed: {message['error']}")
                else:
                    result = message
        if result is None:
            _, status = os.waitpid(pid, 0)
            pid = 0
            raise ZooError(f"{what}: the check process died during {step} "
                           f"(exit status {os.waitstatus_to_exitcode(status)})")
        return result["result"]
    finally:
        os.close(read_fd)
        if pid:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            os.waitpid(pid, 0)
