"""``zoo report``: one self-contained HTML page (and PNGs) of a run or a sweep.

``sources`` reads what runs and sweeps leave on disk, ``run_plots`` and ``sweep_plots``
draw it with matplotlib's Agg backend, ``html`` lays out the page, ``build`` puts them
together and writes the files.  Importing this package imports nothing heavy.
"""
