"""A warm process that forks one child per ``single`` cell (``zoo.exec.forkserver_client``).

Starting Python and importing paddle costs a second or two, more than everything else
the runner does for a cell.  This process pays it once.  It imports paddle and zoo's
training code but never runs a Paddle operation, so each forked child starts as clean as
a fresh process: it seeds, chooses its device and builds everything from its job file.

Started as ``zoo/scripts/zoo_forkserver.py REQUEST_FD REPLY_FD``.  The protocol runs
over those two pipes, one JSON object per line, never over stdout or stderr (they are
the server's log, where anything a plugin prints lands): the server says
{"ready": true}; the client sends {"job": FILE, "log": FILE, "cwd": DIR, "cpus": [N...],
"env": {NAME: VALUE}} (absolute paths; "cwd", "cpus" and "env" optional: the folder the
child runs in, the CPUs it may use, variables added to its environment); the server
answers {"pid": N} when the child runs and {"pid": N, "exit": CODE} when it has ended
(CODE < 0: killed by signal).  End of the request pipe ends the server.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import traceback


def _child(job_file: str, log_file: str, cwd: str | None, cpus: list[int] | None = None,
           env: dict[str, str] | None = None) -> int:
    os.setsid()  # a group of its own, so the runner can stop it like any other cell
    from zoo.exec.process import SCRIPTS, die_with_parent

    die_with_parent()
    if cwd:
        os.chdir(cwd)
    if cpus:
        # Before any Paddle operation: its thread pool starts on the CPUs allowed then.
        os.sched_setaffinity(0, cpus)
    os.environ.update(env or {})
    log = os.open(log_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_DFL)  # run_job installs the training handlers
    import zoo.exec.worker

    sys.argv = [str(SCRIPTS / "zoo_worker.py"), job_file]  # as a fresh worker sees it
    return zoo.exec.worker.run_job(job_file)


def serve(requests_fd: int, replies_fd: int) -> int:
    from zoo.exec.process import die_with_parent

    die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the runner decides what Ctrl-C stops
    for fd in (requests_fd, replies_fd):
        os.set_inheritable(fd, False)  # no program a cell runs gets the channel
    import paddle  # noqa: F401  (the point: import once, fork many)

    import zoo.train.loop  # noqa: F401
    import zoo.exec.worker  # noqa: F401
    from zoo.plugin import load_catalog

    load_catalog(check=False)  # imports the plugin modules; children load their own catalog

    def say(message: dict) -> None:
        data = json.dumps(message).encode() + b"\n"
        while data:
            data = data[os.write(replies_fd, data):]

    say({"ready": True})
    requests = os.fdopen(requests_fd, "rb")
    for line in requests:
        request = json.loads(line)
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                # Only the server may hold the channel: the client sees the server's death
                # as the end of the reply pipe, which a child holding it would delay.
                os.close(requests_fd)
                os.close(replies_fd)
                code = _child(request["job"], request["log"], request.get("cwd"),
                              request.get("cpus"), request.get("env"))
            except BaseException:
                traceback.print_exc()
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        say({"pid": pid})
        _, status = os.waitpid(pid, 0)
        say({"pid": pid, "exit": os.waitstatus_to_exitcode(status)})
    return 0
