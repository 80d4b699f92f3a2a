"""How a cell's processes start and are watched, in one place.

``launch``      the Launcher contract and the built-in command lines (the worker command)
``process``     starting commands in a process group that dies with zoo; watching and stopping it
``forkserver``  the warm process that forks ``single`` cells with paddle already imported
``worker``      the entry point every training process runs (``zoo/scripts/zoo_worker.py``)
"""
