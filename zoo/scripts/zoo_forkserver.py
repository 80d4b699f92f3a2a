"""Script form of ``zoo.exec.forkserver``: ``zoo_forkserver.py REQUEST_FD REPLY_FD``.

A script, not ``python -m``, so the caller's working directory is never on sys.path.
"""

import sys

from zoo.exec.forkserver import serve

if __name__ == "__main__":
    sys.exit(serve(int(sys.argv[1]), int(sys.argv[2])))
