"""A warm process that forks one child per ``single`` cell (``zoo.process.ForkServer``).

Starting Python and importing paddle costs a second or two, more than everything else
the runner does for a cell.  This process pays it once.  It imports paddle and zoo's
training code but never runs a Paddle operation, so each forked child starts as clean as
a fresh process: it seeds, chooses its device and builds everything from its job file.

Protocol on stdin/stdout, one JSON object per line: the server says {"ready": true};
the client sends {"job": FILE, "log": FILE}; the server answers {"pid": N} when the
child runs and {"pid": N, "exit": CODE} when it has ended (CODE < 0: killed by signal).
"""

from __future__ import annotations

import json
import os
import signal
import sys
import traceback


def _child(job_file: str, log_file: str) -> int:
    os.setsid()  # a group of its own, so the runner can stop it like any other cell
    from zoo.process import die_with_parent

    die_with_parent()
    log = os.open(log_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_DFL)  # run_job installs the training handlers
    import zoo.worker

    sys.argv = [zoo.worker.__file__, job_file]  # as a fresh `python -m zoo.worker JOB` sees it
    return zoo.worker.run_job(job_file)


def serve() -> int:
    from zoo.process import die_with_parent

    die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the runner decides what Ctrl-C stops
    import paddle  # noqa: F401  (the point: import once, fork many)

    import zoo.train.loop  # noqa: F401
    import zoo.worker  # noqa: F401
    from zoo.plugin import load_catalog

    load_catalog(check=False)  # imports the plugin modules; children load their own catalog
    out = sys.stdout.buffer

    def say(message: dict) -> None:
        out.write(json.dumps(message).encode() + b"\n")
        out.flush()

    say({"ready": True})
    for line in sys.stdin.buffer:
        request = json.loads(line)
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                code = _child(request["job"], request["log"])
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


if __name__ == "__main__":
    sys.exit(serve())
