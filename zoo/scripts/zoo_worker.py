"""Script form of ``zoo.worker`` for ``python -m paddle.distributed.launch``, which wants a file.

It lives in a folder of its own because the script's folder goes first on sys.path:
inside the package it would let zoo's modules shadow the standard library's.
"""

import sys

from zoo.worker import main

if __name__ == "__main__":
    sys.exit(main())
