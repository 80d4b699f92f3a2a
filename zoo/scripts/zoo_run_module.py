"""``zoo_run_module.py MODULE ARGS...`` does what ``python -m MODULE ARGS...`` does, except
that the caller's working directory is not put on sys.path (``-P`` needs Python 3.11).

zoo starts ``paddle.distributed.launch`` and VisualDL through it.
"""

import runpy
import sys

if __name__ == "__main__":
    module = sys.argv.pop(1)
    runpy.run_module(module, run_name="__main__", alter_sys=True)
