"""Script form of ``zoo.exec.worker``: every launcher starts its workers with this file.

A script, not ``python -m zoo.exec.worker``, because ``-m`` puts the caller's working
directory first on sys.path; a script puts its own folder there instead.  It lives in a
folder of its own because inside the package that folder would let zoo's modules shadow
the standard library's.
"""

import sys

from zoo.exec.worker import main

if __name__ == "__main__":
    sys.exit(main())
